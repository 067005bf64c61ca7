//! The declarative condition language, compiled once at load time.
//!
//! A condition is a mapping. A leaf names a `path` and one operator:
//! `eq ne in not-in regex glob gt gte lt lte contains present absent`; a combinator is
//! `all: [..]`, `any: [..]` or `not: {..}`.
//!
//! Semantics:
//! - a path with `[*]` may reach several values; a leaf holds when *any* value reached satisfies
//!   it (`ne` and `not-in` are the negations of `eq` and `in`, so they hold when *no* value is
//!   equal, including when the attribute is absent);
//! - an absent attribute satisfies `absent` and `ne`/`not-in` only;
//! - `eq`/`in`/`contains` compare a string with a number or boolean by their text, so `"true"`
//!   (as AWS Config writes many flags) equals `true`;
//! - `gt gte lt lte` compare numbers (strings holding numbers included), else strings
//!   lexicographically (RFC 3339 times compare correctly);
//! - a path into something the source could not see is *unknown*, and unknown propagates
//!   (Kleene logic): a rule whose verdict depends on it reports UNKNOWN, never PASS.

use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::finding::Evidence;
use crate::path::AttrPath;
use crate::resource::{Resolved, Resource, Val};
use crate::tags::Tags;

fn some_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A condition as written in the policy document.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionDoc {
    /// The attribute path the leaf reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Equal to.
    #[serde(
        default,
        deserialize_with = "some_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub eq: Option<Value>,
    /// Not equal to (also true when absent).
    #[serde(
        default,
        deserialize_with = "some_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub ne: Option<Value>,
    /// One of.
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub in_: Option<Vec<Value>>,
    /// None of (also true when absent).
    #[serde(default, rename = "not-in", skip_serializing_if = "Option::is_none")]
    pub not_in: Option<Vec<Value>>,
    /// Matches a regular expression (Rust `regex` syntax, unanchored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Matches a glob (`*` any run of characters, `?` one character), whole value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glob: Option<String>,
    /// Greater than.
    #[serde(
        default,
        deserialize_with = "some_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub gt: Option<Value>,
    /// Greater than or equal to.
    #[serde(
        default,
        deserialize_with = "some_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub gte: Option<Value>,
    /// Less than.
    #[serde(
        default,
        deserialize_with = "some_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub lt: Option<Value>,
    /// Less than or equal to.
    #[serde(
        default,
        deserialize_with = "some_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub lte: Option<Value>,
    /// An array holding an equal element, or a string holding the substring.
    #[serde(
        default,
        deserialize_with = "some_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub contains: Option<Value>,
    /// The attribute is present (and not null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
    /// The attribute is absent (or null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absent: Option<bool>,
    /// Every condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Vec<ConditionDoc>>,
    /// At least one condition holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<ConditionDoc>>,
    /// The condition does not hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not: Option<Box<ConditionDoc>>,
}

/// Three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// Holds.
    True,
    /// Does not hold.
    False,
    /// Cannot be decided: something it reads was not observed.
    Unknown,
}

impl Truth {
    fn not(self) -> Truth {
        match self {
            Truth::True => Truth::False,
            Truth::False => Truth::True,
            Truth::Unknown => Truth::Unknown,
        }
    }
    fn of(b: bool) -> Truth {
        if b { Truth::True } else { Truth::False }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    Regex(Regex),
    Glob(Regex),
    Cmp(std::cmp::Ordering, bool, Value),
    Contains(Value),
    Present(bool),
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Condition {
    /// A test of one attribute.
    Leaf {
        /// The path.
        path: AttrPath,
        /// The operator.
        op: Box<OpBox>,
    },
    /// All hold.
    All(Vec<Condition>),
    /// One holds.
    Any(Vec<Condition>),
    /// Negation.
    Not(Box<Condition>),
}

/// An operator (opaque).
#[derive(Debug, Clone)]
pub struct OpBox(Op);

/// Turns a glob into an anchored regular expression.
pub fn glob_to_regex(glob: &str) -> Result<Regex, regex::Error> {
    let mut re = String::from("^");
    for c in glob.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re)
}

impl Condition {
    /// Compiles a condition; problems are returned with their path under `at`.
    pub fn compile(doc: &ConditionDoc, at: &str) -> Result<Condition, Vec<(String, String)>> {
        let mut errs = Vec::new();
        let c = compile_inner(doc, at, &mut errs);
        match c {
            Some(c) if errs.is_empty() => Ok(c),
            _ => Err(errs),
        }
    }

    /// Evaluates against a resource, with `tags` as the resource's tags.
    pub fn eval(&self, r: &Resource, tags: &Tags) -> Truth {
        match self {
            Condition::All(cs) => {
                let mut acc = Truth::True;
                for c in cs {
                    match c.eval(r, tags) {
                        Truth::False => return Truth::False,
                        Truth::Unknown => acc = Truth::Unknown,
                        Truth::True => {}
                    }
                }
                acc
            }
            Condition::Any(cs) => {
                let mut acc = Truth::False;
                for c in cs {
                    match c.eval(r, tags) {
                        Truth::True => return Truth::True,
                        Truth::Unknown => acc = Truth::Unknown,
                        Truth::False => {}
                    }
                }
                acc
            }
            Condition::Not(c) => c.eval(r, tags).not(),
            Condition::Leaf { path, op } => match r.resolve_with(path, tags) {
                Resolved::Unobserved(_) => Truth::Unknown,
                Resolved::Values(vals) => Truth::of(leaf(&op.0, &vals)),
            },
        }
    }

    /// The paths this condition reads.
    pub fn paths(&self, out: &mut Vec<AttrPath>) {
        match self {
            Condition::Leaf { path, .. } => {
                if !out.contains(path) {
                    out.push(path.clone())
                }
            }
            Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| c.paths(out)),
            Condition::Not(c) => c.paths(out),
        }
    }

    /// Evidence: every path this condition reads, with the value found.
    pub fn evidence(&self, r: &Resource, tags: &Tags) -> Vec<Evidence> {
        let mut paths = Vec::new();
        self.paths(&mut paths);
        paths
            .iter()
            .map(|p| match r.resolve_with(p, tags) {
                Resolved::Unobserved(u) => Evidence::new(
                    p.as_str(),
                    Value::String(format!("<not observed: {}>", u.reason)),
                ),
                Resolved::Values(v) if v.is_empty() => Evidence::absent(p.as_str()),
                Resolved::Values(v) if v.len() == 1 => Evidence::new(p.as_str(), v[0].to_json()),
                Resolved::Values(v) => Evidence::new(
                    p.as_str(),
                    Value::Array(v.iter().map(Val::to_json).collect()),
                ),
            })
            .collect()
    }
}

fn compile_inner(
    doc: &ConditionDoc,
    at: &str,
    errs: &mut Vec<(String, String)>,
) -> Option<Condition> {
    let mut ops: Vec<(&str, Op)> = Vec::new();
    let errs_before = errs.len();
    let mut bad = |m: String| errs.push((at.to_string(), m));
    if let Some(v) = &doc.eq {
        ops.push(("eq", Op::Eq(v.clone())));
    }
    if let Some(v) = &doc.ne {
        ops.push(("ne", Op::Ne(v.clone())));
    }
    if let Some(v) = &doc.in_ {
        ops.push(("in", Op::In(v.clone())));
    }
    if let Some(v) = &doc.not_in {
        ops.push(("not-in", Op::NotIn(v.clone())));
    }
    if let Some(v) = &doc.regex {
        match Regex::new(v) {
            Ok(re) => ops.push(("regex", Op::Regex(re))),
            Err(e) => bad(format!("invalid regex `{v}`: {}", one_line(&e.to_string()))),
        }
    }
    if let Some(v) = &doc.glob {
        match glob_to_regex(v) {
            Ok(re) => ops.push(("glob", Op::Glob(re))),
            Err(e) => bad(format!("invalid glob `{v}`: {e}")),
        }
    }
    use std::cmp::Ordering::*;
    for (name, v, ord, eq_ok) in [
        ("gt", &doc.gt, Greater, false),
        ("gte", &doc.gte, Greater, true),
        ("lt", &doc.lt, Less, false),
        ("lte", &doc.lte, Less, true),
    ] {
        if let Some(v) = v {
            if !(v.is_number() || v.is_string()) {
                bad(format!("`{name}` needs a number or a string, not `{v}`"));
            }
            ops.push((name, Op::Cmp(ord, eq_ok, v.clone())));
        }
    }
    if let Some(v) = &doc.contains {
        ops.push(("contains", Op::Contains(v.clone())));
    }
    if let Some(v) = doc.present {
        ops.push(("present", Op::Present(v)));
    }
    if let Some(v) = doc.absent {
        ops.push(("absent", Op::Present(!v)));
    }
    let combinators =
        doc.all.is_some() as usize + doc.any.is_some() as usize + doc.not.is_some() as usize;
    if combinators > 0 {
        if doc.path.is_some() || !ops.is_empty() {
            bad("a condition is either a test (`path` and one operator) or one of `all`, `any`, `not`, not both".into());
            return None;
        }
        if combinators > 1 {
            bad("use only one of `all`, `any`, `not` in one condition; nest them instead".into());
            return None;
        }
        if let Some(cs) = &doc.all {
            let v: Vec<_> = cs
                .iter()
                .enumerate()
                .filter_map(|(i, c)| compile_inner(c, &format!("{at}.all[{i}]"), errs))
                .collect();
            return Some(Condition::All(v));
        }
        if let Some(cs) = &doc.any {
            let v: Vec<_> = cs
                .iter()
                .enumerate()
                .filter_map(|(i, c)| compile_inner(c, &format!("{at}.any[{i}]"), errs))
                .collect();
            return Some(Condition::Any(v));
        }
        if let Some(c) = &doc.not {
            return compile_inner(c, &format!("{at}.not"), errs)
                .map(|c| Condition::Not(Box::new(c)));
        }
    }
    let Some(path_text) = &doc.path else {
        errs.push((
            at.to_string(),
            "a condition needs `path` and an operator, or one of `all`, `any`, `not`".into(),
        ));
        return None;
    };
    let path = match AttrPath::parse(path_text) {
        Ok(p) => p,
        Err(e) => {
            errs.push((format!("{at}.path"), e));
            return None;
        }
    };
    match ops.len() {
        0 if errs.len() > errs_before => None,
        0 => {
            errs.push((
                at.to_string(),
                format!("the test of `{path_text}` has no operator (eq ne in not-in regex glob gt gte lt lte contains present absent)"),
            ));
            None
        }
        1 => ops.pop().map(|(_, op)| Condition::Leaf {
            path,
            op: Box::new(OpBox(op)),
        }),
        _ => {
            let names: Vec<_> = ops.iter().map(|(n, _)| format!("`{n}`")).collect();
            errs.push((
                at.to_string(),
                format!(
                    "the test of `{path_text}` has several operators ({}); use `all` to combine them",
                    names.join(", ")
                ),
            ));
            None
        }
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn text_of(v: &Val<'_>) -> Option<String> {
    match v {
        Val::Str(s) => Some((*s).to_string()),
        Val::Json(Value::String(s)) => Some(s.clone()),
        Val::Json(Value::Number(n)) => Some(n.to_string()),
        Val::Json(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

fn num_of_json(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Equality with the coercions of the language.
pub fn loose_eq(a: &Val<'_>, b: &Value) -> bool {
    match (a, b) {
        (Val::Json(x), y) if *x == y => true,
        (Val::Json(Value::Number(x)), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Val::Json(Value::Array(_) | Value::Object(_) | Value::Null), _) => false,
        (Val::Tags(_), _) => false,
        (a, Value::String(s)) => text_of(a).is_some_and(|t| &t == s),
        (a, Value::Number(n)) => match text_of(a).and_then(|t| t.trim().parse::<f64>().ok()) {
            Some(x) => Some(x) == n.as_f64(),
            None => false,
        },
        (a, Value::Bool(b)) => text_of(a).is_some_and(|t| t == b.to_string()),
        _ => false,
    }
}

fn leaf(op: &Op, vals: &[Val<'_>]) -> bool {
    let present: Vec<&Val<'_>> = vals
        .iter()
        .filter(|v| !matches!(v, Val::Json(Value::Null)))
        .collect();
    match op {
        Op::Present(want) => present.is_empty() != *want,
        Op::Eq(x) => present.iter().any(|v| loose_eq(v, x)),
        Op::Ne(x) => !present.iter().any(|v| loose_eq(v, x)),
        Op::In(xs) => present.iter().any(|v| xs.iter().any(|x| loose_eq(v, x))),
        Op::NotIn(xs) => !present.iter().any(|v| xs.iter().any(|x| loose_eq(v, x))),
        Op::Regex(re) | Op::Glob(re) => present
            .iter()
            .any(|v| text_of(v).is_some_and(|t| re.is_match(&t))),
        Op::Contains(x) => present.iter().any(|v| match v {
            Val::Json(Value::Array(items)) => items.iter().any(|i| loose_eq(&Val::Json(i), x)),
            Val::Tags(t) => x.as_str().is_some_and(|k| t.contains_key(k)),
            v => match (text_of(v), x) {
                (Some(t), Value::String(s)) => t.contains(s.as_str()),
                _ => false,
            },
        }),
        Op::Cmp(ord, eq_ok, x) => present.iter().any(|v| {
            let o = match (v, num_of_json(x)) {
                (Val::Json(j), Some(b)) => num_of_json(j).and_then(|a| a.partial_cmp(&b)),
                (Val::Str(s), Some(b)) => {
                    s.trim().parse::<f64>().ok().and_then(|a| a.partial_cmp(&b))
                }
                _ => match (text_of(v), x.as_str()) {
                    (Some(a), Some(b)) => Some(a.as_str().cmp(b)),
                    _ => None,
                },
            };
            o.is_some_and(|o| o == *ord || (*eq_ok && o == std::cmp::Ordering::Equal))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cond(y: &str) -> Condition {
        let d: ConditionDoc = serde_yaml::from_str(y).unwrap();
        Condition::compile(&d, "c").unwrap()
    }

    fn res() -> Resource {
        let mut r = Resource::new("arn:aws:s3:::b", "AWS::S3::Bucket");
        r.configuration = json!({"n": 5, "s": "true", "list": ["a", "b"], "objs": [{"p": 22}, {"p": 443}], "t": "2024-01-02T00:00:00Z"});
        r.tags.insert("Env".into(), "prod".into());
        r
    }

    #[test]
    fn operators() {
        let r = res();
        let t = r.tags.clone();
        let cases = [
            ("{path: configuration.n, eq: 5}", Truth::True),
            ("{path: configuration.n, eq: '5'}", Truth::True),
            ("{path: configuration.s, eq: true}", Truth::True),
            ("{path: configuration.n, ne: 5}", Truth::False),
            ("{path: configuration.missing, ne: 5}", Truth::True),
            ("{path: configuration.missing, eq: 5}", Truth::False),
            ("{path: tags.Env, in: [prod, staging]}", Truth::True),
            ("{path: tags.Env, not-in: [prod]}", Truth::False),
            ("{path: arn, glob: 'arn:aws:s3:::*'}", Truth::True),
            ("{path: arn, regex: '^arn:aws:ec2'}", Truth::False),
            ("{path: configuration.n, gt: 4}", Truth::True),
            ("{path: configuration.n, gte: 5}", Truth::True),
            ("{path: configuration.n, lt: 5}", Truth::False),
            ("{path: configuration.t, lt: '2025-01-01'}", Truth::True),
            ("{path: configuration.list, contains: b}", Truth::True),
            ("{path: configuration.s, contains: ru}", Truth::True),
            ("{path: tags, contains: Env}", Truth::True),
            ("{path: configuration.missing, absent: true}", Truth::True),
            ("{path: configuration.n, present: true}", Truth::True),
            ("{path: 'configuration.objs[*].p', eq: 22}", Truth::True),
            ("{path: 'configuration.objs[*].p', gt: 1000}", Truth::False),
            (
                "{all: [{path: configuration.n, eq: 5}, {not: {path: tags.Env, eq: dev}}]}",
                Truth::True,
            ),
            (
                "{any: [{path: configuration.n, eq: 6}, {path: tags.Env, eq: dev}]}",
                Truth::False,
            ),
        ];
        for (y, want) in cases {
            assert_eq!(cond(y).eval(&r, &t), want, "{y}");
        }
    }

    #[test]
    fn unknown_propagates() {
        let mut r = res();
        r.mark_unobserved("configuration.secret", "AccessDenied");
        let t = r.tags.clone();
        assert_eq!(
            cond("{path: configuration.secret, eq: 1}").eval(&r, &t),
            Truth::Unknown
        );
        assert_eq!(
            cond("{not: {path: configuration.secret, eq: 1}}").eval(&r, &t),
            Truth::Unknown
        );
        assert_eq!(
            cond("{all: [{path: configuration.secret, eq: 1}, {path: configuration.n, eq: 6}]}")
                .eval(&r, &t),
            Truth::False
        );
        assert_eq!(
            cond("{any: [{path: configuration.secret, eq: 1}, {path: configuration.n, eq: 5}]}")
                .eval(&r, &t),
            Truth::True
        );
        assert_eq!(
            cond("{any: [{path: configuration.secret, eq: 1}, {path: configuration.n, eq: 6}]}")
                .eval(&r, &t),
            Truth::Unknown
        );
    }

    #[test]
    fn compile_errors_name_the_place() {
        let bad = |y: &str| {
            let d: ConditionDoc = serde_yaml::from_str(y).unwrap();
            Condition::compile(&d, "rules[0].assert").unwrap_err()
        };
        let e = bad("{path: configuration.x, eq: 1, ne: 2}");
        assert!(e[0].1.contains("several operators"));
        let e = bad("{all: [{path: configuration.x, regex: '('}]}");
        assert_eq!(e[0].0, "rules[0].assert.all[0]");
        assert!(e[0].1.contains("invalid regex"));
        let e = bad("{path: nope.x, eq: 1}");
        assert_eq!(e[0].0, "rules[0].assert.path");
        let e = bad("{path: configuration.x}");
        assert!(e[0].1.contains("no operator"));
    }
}
