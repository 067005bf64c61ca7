//! Tags and AWS's rules for them.
//!
//! AWS allows at most 50 user tags a resource; a key is 1–128 Unicode characters and a value
//! 0–256; keys starting with `aws:` (in any case) are reserved for AWS; letters, digits,
//! white space and `_ . : / = + - @` are the characters every tagging service accepts.

use std::collections::BTreeMap;
use std::fmt;

/// Most user tags a resource may carry.
pub const MAX_TAGS: usize = 50;
/// Longest key, in characters.
pub const MAX_KEY_CHARS: usize = 128;
/// Longest value, in characters.
pub const MAX_VALUE_CHARS: usize = 256;

/// A resource's tags, ordered by key.
pub type Tags = BTreeMap<String, String>;

/// Whether a key is reserved for AWS (`aws:` in any case).
pub fn is_reserved_key(key: &str) -> bool {
    key.len() >= 4 && key.as_bytes()[..4].eq_ignore_ascii_case(b"aws:")
}

fn allowed_char(c: char) -> bool {
    c.is_alphanumeric()
        || c.is_whitespace()
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// Why one tag may not be written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TagViolation {
    /// The key concerned (empty for rules on the whole set).
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for TagViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "tag `{}`: {}", self.key, self.reason)
        }
    }
}

/// Checks one tag that is to be written.
pub fn validate_tag(key: &str, value: &str) -> Vec<TagViolation> {
    let mut out = Vec::new();
    let mut bad = |reason: String| {
        out.push(TagViolation {
            key: key.to_string(),
            reason,
        })
    };
    let kc = key.chars().count();
    if kc == 0 {
        bad("the key is empty".into());
    } else if kc > MAX_KEY_CHARS {
        bad(format!(
            "the key has {kc} characters, more than {MAX_KEY_CHARS}"
        ));
    }
    if is_reserved_key(key) {
        bad("the `aws:` prefix is reserved for AWS".into());
    }
    if let Some(c) = key.chars().find(|c| !allowed_char(*c)) {
        bad(format!(
            "the key holds `{}`, which AWS does not allow",
            c.escape_default()
        ));
    }
    let vc = value.chars().count();
    if vc > MAX_VALUE_CHARS {
        bad(format!(
            "the value has {vc} characters, more than {MAX_VALUE_CHARS}"
        ));
    }
    if let Some(c) = value.chars().find(|c| !allowed_char(*c)) {
        bad(format!(
            "the value holds `{}`, which AWS does not allow",
            c.escape_default()
        ));
    }
    out
}

/// Checks the tags a writer is about to set on a resource that already carries `existing`.
///
/// Every tag in `to_write` is validated; the resulting set (existing plus written, `aws:` tags not
/// counted) must hold at most [`MAX_TAGS`] user tags.
pub fn validate_write(existing: &Tags, to_write: &Tags) -> Vec<TagViolation> {
    let mut out: Vec<TagViolation> = to_write
        .iter()
        .flat_map(|(k, v)| validate_tag(k, v))
        .collect();
    let user = existing
        .keys()
        .chain(to_write.keys().filter(|k| !existing.contains_key(*k)))
        .filter(|k| !is_reserved_key(k))
        .count();
    if user > MAX_TAGS {
        out.push(TagViolation {
            key: String::new(),
            reason: format!("the resource would carry {user} user tags, more than {MAX_TAGS}"),
        });
    }
    out
}

/// Checks a whole tag set as if it were written at once.
pub fn validate(tags: &Tags) -> Vec<TagViolation> {
    validate_write(&Tags::new(), tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn counts_characters_not_bytes() {
        let key: String = "é".repeat(128);
        assert!(key.len() > 128);
        assert!(validate_tag(&key, "").is_empty());
        let key: String = "é".repeat(129);
        let v = validate_tag(&key, "");
        assert_eq!(v.len(), 1);
        assert!(v[0].reason.contains("129 characters"));
        assert!(validate_tag("k", &"日".repeat(256)).is_empty());
        assert!(!validate_tag("k", &"日".repeat(257)).is_empty());
    }

    #[test]
    fn reserved_prefix_in_any_case() {
        for k in ["aws:x", "AWS:x", "Aws:cloudformation:stack-name"] {
            let v = validate_tag(k, "v");
            assert!(v.iter().any(|v| v.reason.contains("reserved")), "{k}");
        }
        assert!(validate_tag("awsome", "v").is_empty());
    }

    #[test]
    fn characters() {
        assert!(validate_tag("Cost Center/Team_1.a:b=c+d-e@f", "x y").is_empty());
        let v = validate_tag("bad*key", "ok");
        assert_eq!(v[0].key, "bad*key");
        assert!(v[0].reason.contains("`*`"));
        assert!(!validate_tag("k", "semi;colon").is_empty());
        assert!(!validate_tag("", "v").is_empty());
    }

    #[test]
    fn at_most_fifty_user_tags() {
        let mut existing = Tags::new();
        for i in 0..49 {
            existing.insert(format!("k{i}"), "v".into());
        }
        existing.insert("aws:cloudformation:stack-name".into(), "s".into());
        let mut w = Tags::new();
        w.insert("k50".into(), "v".into());
        assert!(validate_write(&existing, &w).is_empty());
        w.insert("k51".into(), "v".into());
        let v = validate_write(&existing, &w);
        assert_eq!(v.len(), 1);
        assert!(v[0].reason.contains("51 user tags"));
        // rewriting an existing key does not add a tag
        let mut w = Tags::new();
        w.insert("k0".into(), "new".into());
        w.insert("k50".into(), "v".into());
        assert!(validate_write(&existing, &w).is_empty());
    }

    proptest! {
        #[test]
        fn valid_tags_pass(key in "[\\p{L}\\p{N} _.:/=+@-]{1,128}", value in "[\\p{L}\\p{N} _.:/=+@-]{0,256}") {
            prop_assume!(!is_reserved_key(&key));
            prop_assert!(validate_tag(&key, &value).is_empty());
        }

        #[test]
        fn too_long_keys_fail(key in "[a-z]{129,200}") {
            prop_assert!(validate_tag(&key, "").iter().any(|v| v.reason.contains("more than 128")));
        }
    }
}
