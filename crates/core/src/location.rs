//! Where each element of a YAML (or JSON) document sits, so that errors found after
//! deserialisation can still name the file, line and column.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// Maps element paths (`checks.settings[2].severity`) to 1-based (line, column).
#[derive(Debug, Default, Clone)]
pub struct LocationIndex {
    map: HashMap<String, (usize, usize)>,
}

enum Frame {
    Map {
        path: String,
        key: Option<String>,
        expect_key: bool,
    },
    Seq {
        path: String,
        index: usize,
    },
}

struct Builder {
    stack: Vec<Frame>,
    map: HashMap<String, (usize, usize)>,
}

fn child(path: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == ':');
    match (path.is_empty(), simple) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (true, false) => format!("[{key:?}]"),
        (false, false) => format!("{path}[{key:?}]"),
    }
}

impl Builder {
    /// The path of the value node about to start, advancing the parent.
    fn value_path(&mut self, mark: Marker, scalar: Option<&str>) -> Option<String> {
        match self.stack.last_mut() {
            None => Some(String::new()),
            Some(Frame::Seq { path, index }) => {
                let p = format!("{path}[{index}]");
                *index += 1;
                Some(p)
            }
            Some(Frame::Map {
                path,
                key,
                expect_key,
            }) => {
                if *expect_key {
                    // This node is a key: record where the key is (for "unknown field" style errors).
                    let k = scalar.unwrap_or("").to_string();
                    let p = child(path, &k);
                    self.map
                        .insert(format!("{p}#key"), (mark.line(), mark.col() + 1));
                    *key = Some(k);
                    *expect_key = false;
                    None
                } else {
                    let p = child(path, key.as_deref().unwrap_or(""));
                    *expect_key = true;
                    Some(p)
                }
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(ref s, ..) => {
                if let Some(p) = self.value_path(mark, Some(s)) {
                    self.map.entry(p).or_insert((mark.line(), mark.col() + 1));
                }
            }
            Event::Alias(_) => {
                if let Some(p) = self.value_path(mark, None) {
                    self.map.entry(p).or_insert((mark.line(), mark.col() + 1));
                }
            }
            Event::MappingStart(..) => {
                let p = self.value_path(mark, None).unwrap_or_default();
                self.map
                    .entry(p.clone())
                    .or_insert((mark.line(), mark.col() + 1));
                self.stack.push(Frame::Map {
                    path: p,
                    key: None,
                    expect_key: true,
                });
            }
            Event::SequenceStart(..) => {
                let p = self.value_path(mark, None).unwrap_or_default();
                self.map
                    .entry(p.clone())
                    .or_insert((mark.line(), mark.col() + 1));
                self.stack.push(Frame::Seq { path: p, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

impl LocationIndex {
    /// Indexes a document; an unparsable document gives an empty index.
    pub fn build(text: &str) -> LocationIndex {
        let mut b = Builder {
            stack: Vec::new(),
            map: HashMap::new(),
        };
        let mut parser = Parser::new_from_str(text);
        if parser.load(&mut b, false).is_err() {
            return LocationIndex::default();
        }
        LocationIndex { map: b.map }
    }

    /// The place of `path`, or of its nearest located ancestor.
    pub fn find(&self, path: &str) -> Option<(usize, usize)> {
        let mut p = path.to_string();
        loop {
            if let Some(v) = self.map.get(&p) {
                return Some(*v);
            }
            if p.is_empty() {
                return None;
            }
            let cut = p.rfind(['.', '[']).unwrap_or(0);
            p.truncate(cut);
        }
    }

    /// The place of a mapping key (for unknown-field errors), falling back to [`Self::find`].
    pub fn find_key(&self, path: &str) -> Option<(usize, usize)> {
        self.map
            .get(&format!("{path}#key"))
            .copied()
            .or_else(|| self.find(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_nested_elements() {
        let y = "version: 1\nchecks:\n  settings:\n    - check: a\n      severity: high\n    - check: b\n      severity: bogus\n";
        let ix = LocationIndex::build(y);
        assert_eq!(ix.find("version"), Some((1, 10)));
        assert_eq!(ix.find("checks.settings[1].severity"), Some((7, 17)));
        assert_eq!(ix.find_key("checks.settings[1].severity"), Some((7, 7)));
        assert_eq!(ix.find("checks.settings[1].nothing").map(|l| l.0), Some(6));
        let j = "{\n  \"version\": 1,\n  \"rules\": [ {\"id\": \"x\"} ]\n}";
        let ix = LocationIndex::build(j);
        assert_eq!(ix.find("rules[0].id"), Some((3, 21)));
    }
}
