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
    o.push_str("<h2>Budgets</h2><p id=\"budgets\">No budget data: budgets are read by the AWS adapters.</p>");
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
        let _ = writeln!(o, "| {} | {n} | {risk} |", name.replace('|', "\\|"));
    }
    o
}
