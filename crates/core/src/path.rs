//! Attribute paths into a resource document, compiled once.
//!
//! Syntax: dotted keys with optional indexes and wildcards, e.g.
//! `configuration.ipPermissions[*].ipv4Ranges[0].cidrIp`; a key holding dots or brackets is
//! written quoted in brackets: `supplementaryConfiguration["odd.key"]`.
//!
//! The root keys are those of an AWS Config configuration item: `arn`, `resourceType`,
//! `resourceId`, `resourceName`, `accountId`, `awsRegion`, `tags`, `configuration` and
//! `supplementaryConfiguration`.

use std::fmt;

use serde_json::Value;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
    /// Every element of an array (or every value of an object).
    Any,
}

/// A compiled attribute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    text: String,
    segments: Vec<Segment>,
}

/// The roots a path may start from.
pub const ROOTS: &[&str] = &[
    "arn",
    "resourceType",
    "resourceId",
    "resourceName",
    "accountId",
    "awsRegion",
    "tags",
    "configuration",
    "supplementaryConfiguration",
];

impl AttrPath {
    /// Compiles a path; the error says what is wrong and at which character.
    pub fn parse(text: &str) -> Result<AttrPath, String> {
        let mut segments = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        let mut expect_key = true;
        while i < chars.len() {
            let c = chars[i];
            if c == '[' {
                let close = chars[i..]
                    .iter()
                    .position(|&c| c == ']')
                    .map(|p| p + i)
                    .ok_or_else(|| format!("unclosed `[` at character {} of `{text}`", i + 1))?;
                let inner: String = chars[i + 1..close].iter().collect();
                if inner == "*" {
                    segments.push(Segment::Any);
                } else if let Ok(n) = inner.parse::<usize>() {
                    segments.push(Segment::Index(n));
                } else if inner.len() >= 2
                    && ((inner.starts_with('"') && inner.ends_with('"'))
                        || (inner.starts_with('\'') && inner.ends_with('\'')))
                {
                    segments.push(Segment::Key(inner[1..inner.len() - 1].to_string()));
                } else {
                    return Err(format!(
                        "`[{inner}]` in `{text}` is neither an index, `*` nor a quoted key"
                    ));
                }
                i = close + 1;
                expect_key = false;
            } else if c == '.' {
                if expect_key {
                    return Err(format!("empty key at character {} of `{text}`", i + 1));
                }
                i += 1;
                expect_key = true;
            } else {
                if !expect_key {
                    return Err(format!(
                        "expected `.` or `[` at character {} of `{text}`",
                        i + 1
                    ));
                }
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                let key: String = chars[start..i].iter().collect();
                segments.push(if key == "*" {
                    Segment::Any
                } else {
                    Segment::Key(key)
                });
                expect_key = false;
            }
        }
        if segments.is_empty() {
            return Err("the path is empty".into());
        }
        if expect_key {
            return Err(format!("`{text}` ends with `.`"));
        }
        match &segments[0] {
            Segment::Key(k) if ROOTS.contains(&k.as_str()) => {}
            Segment::Key(k) => {
                return Err(format!(
                    "unknown root `{k}` in `{text}` (expected one of {})",
                    ROOTS.join(", ")
                ));
            }
            _ => return Err(format!("`{text}` must start with a key")),
        }
        Ok(AttrPath {
            text: text.to_string(),
            segments,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The compiled segments (the first is always a root key).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether this path reads anything at or under `prefix` (a path text such as
    /// `supplementaryConfiguration.PublicAccessBlockConfiguration`), or `prefix` lies under it.
    pub fn overlaps(&self, prefix: &str) -> bool {
        let a = self.text.as_str();
        let b = prefix;
        let is_under = |long: &str, short: &str| {
            long == short
                || (long.starts_with(short)
                    && matches!(long.as_bytes().get(short.len()), Some(b'.') | Some(b'[')))
        };
        is_under(a, b) || is_under(b, a)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Walks `segments` from `start`, pushing every value reached.
pub fn walk<'a>(start: &'a Value, segments: &[Segment], out: &mut Vec<&'a Value>) {
    let Some((first, rest)) = segments.split_first() else {
        out.push(start);
        return;
    };
    match (first, start) {
        (Segment::Key(k), Value::Object(m)) => {
            if let Some(v) = m.get(k) {
                walk(v, rest, out);
            }
        }
        (Segment::Index(i), Value::Array(a)) => {
            if let Some(v) = a.get(*i) {
                walk(v, rest, out);
            }
        }
        (Segment::Any, Value::Array(a)) => {
            for v in a {
                walk(v, rest, out);
            }
        }
        (Segment::Any, Value::Object(m)) => {
            for v in m.values() {
                walk(v, rest, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_walks() {
        let p = AttrPath::parse("configuration.ipPermissions[*].ipv4Ranges[0].cidrIp").unwrap();
        let doc = json!({"ipPermissions": [
            {"ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}]},
            {"ipv4Ranges": []},
            {"ipv4Ranges": [{"cidrIp": "10.0.0.0/8"}, {"cidrIp": "x"}]}
        ]});
        let mut out = Vec::new();
        walk(&doc, &p.segments()[1..], &mut out);
        assert_eq!(out, vec![&json!("0.0.0.0/0"), &json!("10.0.0.0/8")]);
        let q = AttrPath::parse(r#"supplementaryConfiguration["a.b"].c"#).unwrap();
        assert_eq!(q.segments()[1], Segment::Key("a.b".into()));
    }

    #[test]
    fn errors_say_where() {
        assert!(
            AttrPath::parse("configuration..x")
                .unwrap_err()
                .contains("character 15")
        );
        assert!(
            AttrPath::parse("config.x")
                .unwrap_err()
                .contains("unknown root `config`")
        );
        assert!(
            AttrPath::parse("configuration[x]")
                .unwrap_err()
                .contains("`[x]`")
        );
        assert!(
            AttrPath::parse("configuration.")
                .unwrap_err()
                .contains("ends with")
        );
        assert!(
            AttrPath::parse("configuration[0")
                .unwrap_err()
                .contains("unclosed")
        );
    }

    #[test]
    fn overlap() {
        let p = AttrPath::parse(
            "supplementaryConfiguration.PublicAccessBlockConfiguration.blockPublicAcls",
        )
        .unwrap();
        assert!(p.overlaps("supplementaryConfiguration.PublicAccessBlockConfiguration"));
        assert!(p.overlaps("supplementaryConfiguration"));
        assert!(!p.overlaps("supplementaryConfiguration.Public"));
        assert!(!p.overlaps("configuration"));
    }
}
