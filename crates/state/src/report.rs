//! The daily report: a self-contained HTML page (charts as inline SVG) and a Markdown version.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

/// What the report shows for a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    /// The period's start.
    pub since: DateTime<Utc>,
    /// Scans in the period.
    pub scans: usize,
    /// Per scan (end time): open failures by severity.
    pub trend: Vec<(String, BTreeMap<String, i64>)>,
    /// Transitions in the period by kind (new, resolved, regressed, suppressed).
    pub changes: BTreeMap<String, i64>,
    /// Per check: title, passing, failing.
    pub by_check: BTreeMap<String, (String, i64, i64)>,
    /// Per framework: passing, failing.
    pub by_framework: BTreeMap<String, (i64, i64)>,
    /// Resources by type.
    pub by_type: BTreeMap<String, i64>,
    /// Resources by DataClassification.
    pub by_class: BTreeMap<String, i64>,
    /// Resources by Owner.
    pub by_owner: BTreeMap<String, i64>,
    /// The riskiest assets: ARN, name, risk score, open failures.
    pub top: Vec<(String, String, i64, i64)>,
    /// Each budget as last read.
    pub budgets: Vec<crate::BudgetRow>,
    /// The latest tag changes in the period (at most 50).
    pub tag_changes: Vec<crate::TagChangeRow>,
    /// Tag changes in the period, all of them.
    pub tag_changes_total: i64,
    /// Remediations applied, failed, refused or rolled back in the period (latest 50).
    pub remediations: Vec<assetwarden_core::remediate::ChangeRecord>,
}

fn outcome_name(o: assetwarden_core::remediate::Outcome) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn pct(x: Option<f64>, limit: Option<f64>) -> Option<f64> {
    match (x, limit) {
        (Some(x), Some(l)) if l > 0.0 => Some(x / l * 100.0),
        _ => None,
    }
}

fn money(x: Option<f64>, unit: &str) -> String {
    x.map(|x| format!("{x:.2} {unit}"))
        .unwrap_or_else(|| "—".into())
}

/// One bar per budget: actual spend as a share of the limit, the forecast as a marker, and a
/// line at 100%.
fn budget_chart(p: &Period) -> String {
    let rows = &p.budgets;
    let height = 26 * rows.len().max(1) + 34;
    let mut s = format!(
        "<figure id=\"budget-chart\"><figcaption>Budgets: actual spend (bar) and forecast (mark), % of the limit</figcaption><svg role=\"img\" aria-label=\"budget status\" width=\"560\" height=\"{height}\" viewBox=\"0 0 560 {height}\">"
    );
    // 0..150% over 300 px, from x = 200.
    let x_of = |p: f64| 200.0 + p.clamp(0.0, 150.0) * 2.0;
    let _ = write!(
        s,
        "<line x1=\"{0}\" y1=\"4\" x2=\"{0}\" y2=\"{1}\" stroke=\"#555\" stroke-dasharray=\"4 3\"/><text x=\"{0}\" y=\"{2}\" text-anchor=\"middle\" class=\"value\">100%</text>",
        x_of(100.0),
        height - 18,
        height - 4
    );
    for (i, b) in rows.iter().enumerate() {
        let y = 8 + i * 26;
        let actual = pct(b.actual, b.limit);
        let forecast = pct(b.forecast, b.limit);
        let color = match (b.status.as_str(), actual) {
            ("FAIL", Some(a)) if a >= 100.0 => "#d32f2f",
            ("FAIL", _) => "#f57c00",
            ("PASS", _) => "#388e3c",
            _ => "#90a4ae",
        };
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" class=\"label\">{}</text>",
            y + 14,
            h(&trunc(&b.name, 30))
        );
        if let Some(a) = actual {
            let _ = write!(
                s,
                "<rect class=\"budget-actual\" x=\"200\" y=\"{y}\" width=\"{:.1}\" height=\"18\" fill=\"{color}\"><title>{}: actual {a:.0}% of {}</title></rect>",
                (x_of(a) - 200.0).max(1.0),
                h(&b.name),
                h(&money(b.limit, &b.unit))
            );
        } else {
            let _ = write!(
                s,
                "<text x=\"205\" y=\"{}\" class=\"empty\">no spend figures</text>",
                y + 14
            );
        }
        if let Some(f) = forecast {
            let _ = write!(
                s,
                "<rect class=\"budget-forecast\" x=\"{:.1}\" y=\"{}\" width=\"3\" height=\"22\" fill=\"#222\"><title>{}: forecast {f:.0}%</title></rect>",
                x_of(f) - 1.5,
                y.saturating_sub(2),
                h(&b.name)
            );
        }
        let _ = write!(
            s,
            "<text x=\"515\" y=\"{}\" class=\"value\">{}</text>",
            y + 14,
            actual.map(|a| format!("{a:.0}%")).unwrap_or_default()
        );
    }
    s.push_str("</svg></figure>");
    s
}

const SEVERITIES: [(&str, &str); 5] = [
    ("critical", "#7b1fa2"),
    ("high", "#d32f2f"),
    ("medium", "#f57c00"),
    ("low", "#fbc02d"),
    ("informational", "#90a4ae"),
];

fn h(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Horizontal bars, one per (label, value).
fn bars(id: &str, title: &str, rows: &[(String, i64)], color: &str) -> String {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let height = 24 * rows.len().max(1) + 30;
    let mut s = format!(
        "<figure id=\"{id}\"><figcaption>{}</figcaption><svg role=\"img\" aria-label=\"{}\" width=\"560\" height=\"{height}\" viewBox=\"0 0 560 {height}\">",
        h(title),
        h(title)
    );
    if rows.is_empty() {
        s.push_str("<text x=\"10\" y=\"20\" class=\"empty\">no data</text>");
    }
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 10 + i * 24;
        let w = (*v as f64 / max as f64 * 300.0).round() as i64;
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" class=\"label\">{}</text><rect x=\"200\" y=\"{y}\" width=\"{}\" height=\"18\" fill=\"{color}\"><title>{}: {v}</title></rect><text x=\"{}\" y=\"{}\" class=\"value\">{v}</text>",
            y + 14,
            h(&trunc(label, 30)),
            w.max(1),
            h(label),
            205 + w,
            y + 14
        );
    }
    s.push_str("</svg></figure>");
    s
}

fn trunc(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// Stacked columns of open failures by severity, one per scan.
fn trend_chart(p: &Period) -> String {
    let n = p.trend.len().max(1);
    let max = p
        .trend
        .iter()
        .map(|(_, c)| c.values().sum::<i64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let w = 560;
    let col = ((w - 60) / n).clamp(4, 60);
    let mut s = format!(
        "<figure id=\"trend\"><figcaption>Open failures by severity, per scan</figcaption><svg role=\"img\" aria-label=\"open failures by severity over time\" width=\"{w}\" height=\"260\" viewBox=\"0 0 {w} 260\">"
    );
    let _ = write!(
        s,
        "<line x1=\"40\" y1=\"220\" x2=\"{}\" y2=\"220\" stroke=\"#555\"/><text x=\"0\" y=\"20\" class=\"value\">{max}</text><text x=\"0\" y=\"220\" class=\"value\">0</text>",
        w - 10
    );
    if p.trend.is_empty() {
        s.push_str("<text x=\"60\" y=\"120\" class=\"empty\">no scans in this period</text>");
    }
    for (i, (at, counts)) in p.trend.iter().enumerate() {
        let x = 45 + i * col;
        let mut y = 220.0;
        for (sev, color) in SEVERITIES.iter().rev() {
            let v = counts.get(*sev).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let hgt = v as f64 / max as f64 * 200.0;
            y -= hgt;
            let _ = write!(
                s,
                "<rect class=\"sev-{sev}\" x=\"{x}\" y=\"{y:.1}\" width=\"{}\" height=\"{hgt:.1}\" fill=\"{color}\"><title>{}: {v} {sev}</title></rect>",
                col.saturating_sub(2),
                h(at)
            );
        }
        let last = i + 1 == p.trend.len();
        if i == 0 || (last && i * col >= 140) {
            let anchor = if last && i > 0 { "end" } else { "start" };
            let lx = if last && i > 0 { x + col } else { x };
            let _ = write!(
                s,
                "<text x=\"{lx}\" y=\"240\" text-anchor=\"{anchor}\" class=\"value\">{}</text>",
                h(&at.chars().take(16).collect::<String>())
            );
        }
    }
    let mut lx = 60;
    for (sev, color) in SEVERITIES {
        let _ = write!(
            s,
            "<rect x=\"{lx}\" y=\"248\" width=\"10\" height=\"10\" fill=\"{color}\"/><text x=\"{}\" y=\"257\" class=\"value\">{sev}</text>",
            lx + 14
        );
        lx += 95;
    }
    s.push_str("</svg></figure>");
    s
}

fn sorted(m: &BTreeMap<String, i64>) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(15);
    v
}

/// The report as one self-contained HTML page.
pub fn html(p: &Period, title: &str) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}}\
         h1{{font-size:22px}} h2{{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}}\
         figure{{display:inline-block;margin:8px 16px 8px 0;vertical-align:top}} figcaption{{font-weight:600;margin-bottom:4px}}\
         table{{border-collapse:collapse;font-size:13px}} td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}\
         .label,.value{{font-size:12px;fill:#333}} .empty{{font-size:13px;fill:#888}}\
         .cards div{{display:inline-block;border:1px solid #ccc;border-radius:6px;padding:8px 14px;margin-right:10px}}\
         .cards b{{display:block;font-size:22px}}</style></head><body>",
        h(title)
    );
    let _ = write!(
        o,
        "<h1>{}</h1><p>Since {} · {} scans</p>",
        h(title),
        p.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        p.scans
    );
    let c = |k: &str| p.changes.get(k).copied().unwrap_or(0);
    let open_now = p
        .trend
        .last()
        .map(|(_, c)| c.values().sum::<i64>())
        .unwrap_or(0);
    let _ = write!(
        o,
        "<div class=\"cards\" id=\"cards\"><div>open failures<b>{open_now}</b></div><div>new<b>{}</b></div><div>resolved<b>{}</b></div><div>regressed<b>{}</b></div><div>suppressed<b>{}</b></div></div>",
        c("new"),
        c("resolved"),
        c("regressed"),
        c("suppressed")
    );
    o.push_str("<h2>Findings over time</h2>");
    o.push_str(&trend_chart(p));
    o.push_str(&bars(
        "changes",
        "New and resolved in the period",
        &[
            ("new".to_string(), c("new")),
            ("resolved".to_string(), c("resolved")),
            ("regressed".to_string(), c("regressed")),
            ("suppressed".to_string(), c("suppressed")),
        ],
        "#1976d2",
    ));
    o.push_str("<h2>Compliance</h2>");
    let fw: Vec<(String, i64)> = p
        .by_framework
        .iter()
        .map(|(k, (pass, fail))| {
            (
                format!(
                    "{k} ({}%)",
                    if pass + fail > 0 {
                        pass * 100 / (pass + fail)
                    } else {
                        100
                    }
                ),
                *fail,
            )
        })
        .collect();
    o.push_str(&bars(
        "frameworks",
        "Open failures by framework (compliance %)",
        &fw,
        "#d32f2f",
    ));
    o.push_str("<h2>Assets</h2>");
    o.push_str(&bars(
        "by-class",
        "By classification",
        &sorted(&p.by_class),
        "#388e3c",
    ));
    o.push_str(&bars(
        "by-owner",
        "By owner",
        &sorted(&p.by_owner),
        "#00796b",
    ));
    o.push_str(&bars("by-type", "By type", &sorted(&p.by_type), "#5d4037"));
    o.push_str("<h2>Riskiest assets</h2><table id=\"top\"><thead><tr><th>resource</th><th>open failures</th><th>risk</th></tr></thead><tbody>");
    for (arn, name, risk, n) in &p.top {
        let _ = write!(
            o,
            "<tr><td title=\"{}\">{}</td><td>{n}</td><td>{risk}</td></tr>",
            h(arn),
            h(name)
        );
    }
    o.push_str("</tbody></table>");
    o.push_str("<h2>Budgets</h2>");
    if p.budgets.is_empty() {
        o.push_str("<p id=\"budgets\">No budget recorded: scan with <code>--aws --budgets</code> to read them.</p>");
    } else {
        o.push_str(&budget_chart(p));
        o.push_str("<table id=\"budgets\"><thead><tr><th>budget</th><th>account</th><th>limit</th><th>actual</th><th>forecast</th><th>status</th><th>read at</th></tr></thead><tbody>");
        for b in &p.budgets {
            let with_pct = |x: Option<f64>| {
                let m = money(x, &b.unit);
                match pct(x, b.limit) {
                    Some(p) => format!("{m} ({p:.0}%)"),
                    None => m,
                }
            };
            let _ = write!(
                o,
                "<tr><td title=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td title=\"{}\">{}</td><td>{}</td></tr>",
                h(&b.arn),
                h(&b.name),
                h(&b.account_id),
                h(&money(b.limit, &b.unit)),
                h(&with_pct(b.actual)),
                h(&with_pct(b.forecast)),
                h(&b.message),
                h(&b.status),
                h(&b.at)
            );
        }
        o.push_str("</tbody></table>");
    }
    let _ = write!(
        o,
        "<h2>Tags applied</h2><p>{} tag changes in the period{}.</p>",
        p.tag_changes_total,
        if p.tag_changes_total > p.tag_changes.len() as i64 {
            format!(", the latest {} below", p.tag_changes.len())
        } else {
            String::new()
        }
    );
    o.push_str("<table id=\"tag-changes\"><thead><tr><th>resource</th><th>tag</th><th>before</th><th>after</th><th>when</th><th>by</th></tr></thead><tbody>");
    for c in &p.tag_changes {
        let _ = write!(
            o,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            h(&c.arn),
            h(&c.key),
            h(c.old_value.as_deref().unwrap_or("(unset)")),
            h(&c.new_value),
            h(&c.applied_at),
            h(&c.applied_by)
        );
    }
    o.push_str("</tbody></table>");
    o.push_str("<h2>Remediations</h2><table id=\"remediations\"><thead><tr><th>when</th><th>remediation</th><th>resource</th><th>before</th><th>after</th><th>outcome</th><th>by</th><th>plan</th></tr></thead><tbody>");
    for r in &p.remediations {
        let _ = write!(
            o,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td title=\"{}\">{}{}</td><td>{}</td><td>{}</td></tr>",
            h(&r.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            h(&r.remediation),
            h(&r.target.arn),
            h(&r.before.to_string()),
            h(&r.after.to_string()),
            h(&r.message),
            h(&outcome_name(r.outcome)),
            if r.resolved() { " (resolved)" } else { "" },
            h(&r.triggered_by),
            h(&r.plan_id)
        );
    }
    o.push_str("</tbody></table>");
    o.push_str("<h2>Compliance by check</h2>");
    o.push_str("<table id=\"checks\"><thead><tr><th>check</th><th>title</th><th>passing</th><th>failing</th><th>compliance</th></tr></thead><tbody>");
    let mut checks: Vec<_> = p.by_check.iter().collect();
    checks.sort_by(|a, b| b.1.2.cmp(&a.1.2).then(a.0.cmp(b.0)));
    for (id, (title, pass, fail)) in checks {
        let pct = if pass + fail > 0 {
            pass * 100 / (pass + fail)
        } else {
            100
        };
        let _ = write!(
            o,
            "<tr><td><code>{}</code></td><td>{}</td><td>{pass}</td><td>{fail}</td><td>{pct}%</td></tr>",
            h(id),
            h(title)
        );
    }
    o.push_str("</tbody></table>");
    o.push_str("</body></html>\n");
    o
}

/// The report in Markdown.
pub fn markdown(p: &Period, title: &str) -> String {
    let mut o = format!(
        "# {title}\n\nSince {} · {} scans\n\n",
        p.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        p.scans
    );
    let c = |k: &str| p.changes.get(k).copied().unwrap_or(0);
    let _ = writeln!(
        o,
        "| new | resolved | regressed | suppressed |\n|---:|---:|---:|---:|\n| {} | {} | {} | {} |\n",
        c("new"),
        c("resolved"),
        c("regressed"),
        c("suppressed")
    );
    if let Some((at, counts)) = p.trend.last() {
        let _ = writeln!(o, "Open failures after the last scan ({at}):\n");
        for (sev, _) in SEVERITIES {
            let _ = writeln!(o, "- {sev}: {}", counts.get(sev).copied().unwrap_or(0));
        }
    }
    let _ = writeln!(
        o,
        "\n## Compliance by framework\n\n| framework | passing | failing |\n|---|---:|---:|"
    );
    for (k, (pass, fail)) in &p.by_framework {
        let _ = writeln!(o, "| {k} | {pass} | {fail} |");
    }
    let _ = writeln!(
        o,
        "\n## Riskiest assets\n\n| resource | open failures | risk |\n|---|---:|---:|"
    );
    for (_, name, risk, n) in &p.top {
        let _ = writeln!(o, "| {} | {n} | {risk} |", md(name));
    }
    let _ = writeln!(o, "\n## Budgets\n");
    if p.budgets.is_empty() {
        let _ = writeln!(o, "No budget recorded.");
    } else {
        let _ = writeln!(
            o,
            "| budget | account | limit | actual | forecast | status |\n|---|---|---:|---:|---:|---|"
        );
        for b in &p.budgets {
            let with_pct = |x: Option<f64>| match pct(x, b.limit) {
                Some(p) => format!("{} ({p:.0}%)", money(x, &b.unit)),
                None => money(x, &b.unit),
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                md(&b.name),
                md(&b.account_id),
                money(b.limit, &md(&b.unit)),
                md(&with_pct(b.actual)),
                md(&with_pct(b.forecast)),
                b.status
            );
        }
    }
    if !p.remediations.is_empty() {
        let _ = writeln!(
            o,
            "\n## Remediations\n\n| remediation | resource | before | after | outcome | by | plan |\n|---|---|---|---|---|---|---|"
        );
        for r in &p.remediations {
            let _ = writeln!(
                o,
                "| {} | {} | `{}` | `{}` | {}{} | {} | {} |",
                md(&r.remediation),
                md(&r.target.arn),
                md(&r.before.to_string()),
                md(&r.after.to_string()),
                outcome_name(r.outcome),
                if r.resolved() { " (resolved)" } else { "" },
                md(&r.triggered_by),
                md(&r.plan_id)
            );
        }
    }
    let _ = writeln!(
        o,
        "\n## Tags applied\n\n{} tag changes in the period.\n",
        p.tag_changes_total
    );
    if !p.tag_changes.is_empty() {
        let _ = writeln!(
            o,
            "| resource | tag | before | after | by |\n|---|---|---|---|---|"
        );
        for c in &p.tag_changes {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                md(&c.arn),
                md(&c.key),
                md(c.old_value.as_deref().unwrap_or("(unset)")),
                md(&c.new_value),
                md(&c.applied_by)
            );
        }
    }
    o
}

/// A Markdown table cell: pipes escaped, line breaks flattened.
fn md(s: &str) -> String {
    s.replace('|', "\\|").replace(['\r', '\n'], " ")
}
