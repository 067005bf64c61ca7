//! Projected parsing: read only the parts of a record that the selected checks can look at.
//!
//! An inventory record is mostly configuration that no selected check reads (an EC2 instance's
//! network interfaces, a bucket's ACL grants). Building a `serde_json::Value` for all of it is
//! most of a scan's cost. A [`Projection`] lists, per resource type, the top-level keys of
//! `configuration` that the engine's checks, scopes and classification scheme declare they read
//! (their `reads`); while a record is parsed, the other keys are skipped without building
//! anything. The record is then normalised exactly as a fully parsed one would be.
//!
//! The projection is conservative: a check that declares no `reads`, a path that reads the
//! whole configuration or any key (`configuration.*`), or a classification scheme that is not
//! the built-in one keeps every key of the types concerned. An S3 bucket's Describe-shaped
//! document is restructured by normalisation (its `Acl` becomes
//! `supplementaryConfiguration.AccessControlList` and `configuration.owner`): reading such an
//! attribute keeps the document keys it is made of. Keys are compared case-insensitively (a Describe-shaped
//! `StorageEncrypted` is the Config item's `storageEncrypted`), and keys that normalisation moves
//! or reads for names and tags are always kept. Only `configuration` is projected; the envelope
//! (`arn`, `tags`, `supplementaryConfiguration`, ...) is always read whole.
//!
//! A configuration's own tag list (`Tags`, `TagList`) is read only for the resource's tags when
//! the item has no `tags` of its own: when the item's `tags` come before its configuration, the
//! list is skipped unless a check declares it reads it.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::normalize::{self, Envelope};
use crate::path::{AttrPath, Segment};

/// What to keep of one type's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Keep {
    /// Every key.
    All,
    /// These keys, lower-cased, and a bit per length (up to 63 bytes) that one of them has:
    /// most keys of a configuration are not kept, and their length alone says so.
    Keys(Vec<String>, u64),
}

/// The bit of a key's length in [`Keep::Keys`]' mask (every length from 63 bytes on shares one).
fn len_bit(key: &str) -> u64 {
    1 << key.len().min(63)
}

impl Keep {
    fn add(&mut self, key: &str) {
        if let Keep::Keys(ks, lens) = self {
            let k = key.to_ascii_lowercase();
            if !ks.contains(&k) {
                *lens |= len_bit(&k);
                ks.push(k);
            }
        }
    }
    fn merge(&mut self, other: &Keep) {
        match other {
            Keep::All => *self = Keep::All,
            Keep::Keys(ks, _) => ks.iter().for_each(|k| self.add(k)),
        }
    }
    fn keeps(&self, key: &str) -> bool {
        match self {
            Keep::All => true,
            Keep::Keys(ks, lens) => {
                lens & len_bit(key) != 0 && ks.iter().any(|k| k.eq_ignore_ascii_case(key))
            }
        }
    }
}

/// Configuration keys normalisation reads whatever the checks are: names, tags, the ARN; and
/// `type`, by which load balancer checks that read only attributes tell the kind of balancer
/// (falling back to the ARN when the configuration was not observed at all).
const ALWAYS: &[&str] = &[
    "type",
    "name",
    "functionname",
    "groupname",
    "dbinstanceidentifier",
    "username",
    "repositoryname",
    "servicename",
    "clustername",
    "trailname",
    "bucket",
    "tags",
    "taglist",
    "arn",
];

/// Describe-shaped keys that normalisation renames or moves into `supplementaryConfiguration`
/// (source, target), lower-cased: reading the target means keeping the source.
const MOVED: &[(&str, &str)] = &[
    ("accesskeymetadata", "accesskeys"),
    ("userpolicies", "userpolicylist"),
    ("attributes", "loadbalancerattributes"),
    ("settings", "clustersettings"),
];

/// The type whose Describe-shaped document normalisation restructures: an attribute of the
/// converted bucket is made of other keys of the document ([`normalize::S3_SOURCES`]).
const S3_BUCKET: &str = "AWS::S3::Bucket";

/// Which configuration keys to parse, per resource type. Build it with
/// [`Engine::projection`](crate::Engine::projection) or [`Projection::builder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    by_type: HashMap<String, Keep>,
    /// For a record whose type is not known when its configuration is read.
    any: Keep,
    /// For types no check reads.
    other: Keep,
    /// The types (`*`: every type) some check reads the configuration's tag list of.
    tag_readers: Vec<String>,
}

/// Builds a [`Projection`] from the paths that checks read.
#[derive(Debug, Clone)]
pub struct ProjectionBuilder {
    by_type: HashMap<String, Keep>,
    every: Keep,
    tag_readers: Vec<String>,
}

impl Projection {
    /// A builder keeping nothing but what normalisation needs.
    pub fn builder() -> ProjectionBuilder {
        ProjectionBuilder {
            by_type: HashMap::new(),
            every: base(),
            tag_readers: Vec::new(),
        }
    }

    /// Whether a record of `resource_type` keeps configuration key `key`.
    pub fn keeps(&self, resource_type: Option<&str>, key: &str) -> bool {
        self.keep_for(resource_type).keeps(key)
    }

    /// Whether every key of every type is kept (projecting would change nothing).
    pub fn keeps_everything(&self) -> bool {
        self.any == Keep::All && self.other == Keep::All
    }

    /// Whether a record of `resource_type` whose item carries `tags` may skip its
    /// configuration's tag list: normalisation takes the item's, and no check reads the list.
    fn skips_tag_list(&self, resource_type: Option<&str>, item_has_tags: bool) -> bool {
        item_has_tags
            && matches!(self.keep_for(resource_type), Keep::Keys(..))
            && !self
                .tag_readers
                .iter()
                .any(|t| t == "*" || Some(t.as_str()) == resource_type)
    }

    fn keep_for(&self, resource_type: Option<&str>) -> &Keep {
        match resource_type {
            None => &self.any,
            Some(t) => self.by_type.get(t).unwrap_or(&self.other),
        }
    }

    /// Parses one JSON record, skipping the configuration keys this projection does not keep.
    /// Returns the record and, when its `configuration` was an object, whether that object as
    /// a whole was Describe-shaped (most keys in Pascal case): normalisation decides on the full
    /// key set, not on the kept keys.
    ///
    /// A record whose `resourceType` comes after its `configuration` (as in AWS Config's own
    /// exports) is read twice: once to learn the type, skipping the configuration, then with
    /// that type's keys.
    pub fn parse(&self, bytes: &[u8]) -> serde_json::Result<(Value, Option<bool>)> {
        let (env, v, shape) = self.parse_read(|| serde_json::de::SliceRead::new(bytes), false)?;
        Ok((restored(env, v), shape))
    }

    /// [`Projection::parse`] of a record already known to be UTF-8 (validated once, as a whole,
    /// by the caller): its strings are not validated again one by one.
    pub fn parse_str(&self, text: &str) -> serde_json::Result<(Value, Option<bool>)> {
        let (env, v, shape) = self.parse_read(|| serde_json::de::StrRead::new(text), false)?;
        Ok((restored(env, v), shape))
    }

    /// [`Projection::parse_str`] with the envelope's string fields in their slots, out of the
    /// record's map (see [`Envelope`]).
    ///
    /// A Describe-shaped configuration's kept keys are camel-cased while parsing, as its
    /// conversion would (`Envelope::camel_config` says so); a record that turns out not to need
    /// it, or whose camel-cased keys would collide, is parsed again without.
    pub(crate) fn parse_parts(
        &self,
        text: &str,
    ) -> serde_json::Result<(Envelope, Value, Option<bool>)> {
        self.parse_read(|| serde_json::de::StrRead::new(text), true)
    }

    fn parse_read<'de, R: serde_json::de::Read<'de>>(
        &self,
        read: impl Fn() -> R,
        camel: bool,
    ) -> serde_json::Result<(Envelope, Value, Option<bool>)> {
        let first = self.parse_with(read(), None, camel)?;
        let out = if first.deferred {
            let rtype = first.env.resource_type();
            let keep = self.keep_for(rtype);
            let has_tags = first.env.has_tags() || first.value.get("tags").is_some();
            let skip_tags = self.skips_tag_list(rtype, has_tags);
            self.parse_with(read(), Some((keep, skip_tags)), false)?
        } else {
            first
        };
        // Camel-cased on a guess (the first key): right only for a Describe-shaped whole whose
        // keys did not collide once camel-cased; otherwise read again as it is.
        if out.env.camel_config && (out.shape != Some(true) || out.collided) {
            return self.parse_read(read, false);
        }
        Ok((out.env, out.value, out.shape))
    }

    fn parse_with<'de, R: serde_json::de::Read<'de>>(
        &self,
        read: R,
        keep: Option<(&Keep, bool)>,
        camel: bool,
    ) -> serde_json::Result<Parsed> {
        let mut de = serde_json::Deserializer::new(read);
        let collided = Cell::new(false);
        let mut out = Record {
            proj: self,
            keep,
            camel,
            collided: &collided,
        }
        .deserialize(&mut de)?;
        de.end()?;
        out.collided = collided.get();
        Ok(out)
    }
}

/// The record as a full parse reads it: the envelope's fields back in its map.
fn restored(env: Envelope, v: Value) -> Value {
    match v {
        Value::Object(mut m) => {
            env.restore(&mut m);
            Value::Object(m)
        }
        other => other,
    }
}

/// Whether a configuration key is its tag list.
fn is_tag_list(key: &str) -> bool {
    key.eq_ignore_ascii_case("tags") || key.eq_ignore_ascii_case("taglist")
}

fn base() -> Keep {
    let mut k = Keep::Keys(Vec::new(), 0);
    ALWAYS.iter().for_each(|a| k.add(a));
    k
}

impl ProjectionBuilder {
    /// Everything of these types (`*`: of every type).
    pub fn all(&mut self, types: &[String]) -> &mut Self {
        for t in types {
            if t == "*" {
                self.every = Keep::All;
            } else {
                self.by_type.insert(t.clone(), Keep::All);
            }
        }
        self
    }

    /// What `path` reads on resources of `types` (`*`: every type).
    pub fn read(&mut self, types: &[String], path: &AttrPath) -> &mut Self {
        let segs = path.segments();
        let key = match segs {
            [Segment::Key(root), Segment::Key(k), ..] if root == "configuration" => {
                Some((root.as_str(), k.as_str()))
            }
            // Normalisation may move a configuration key of the same name here.
            [Segment::Key(root), Segment::Key(k), ..] if root == "supplementaryConfiguration" => {
                Some((root.as_str(), k.as_str()))
            }
            [Segment::Key(root), ..]
                if root == "configuration" || root == "supplementaryConfiguration" =>
            {
                return self.all(types);
            }
            // The envelope (arn, tags, ...) is always read whole.
            _ => None,
        };
        let Some((root, key)) = key else {
            return self;
        };
        let lower = key.to_ascii_lowercase();
        if is_tag_list(&lower) {
            self.tag_readers.extend(types.iter().cloned());
        }
        // What a Describe-shaped bucket document makes the attribute of.
        let s3: Vec<&str> = normalize::S3_SOURCES
            .iter()
            .filter(|(attr, _)| {
                attr.split_once('.')
                    .is_some_and(|(r, k)| r == root && k.eq_ignore_ascii_case(key))
            })
            .flat_map(|(_, sources)| sources.iter().copied())
            .collect();
        let add = |k: &mut Keep, bucket: bool| {
            k.add(&lower);
            for (from, to) in MOVED {
                if *to == lower {
                    k.add(from);
                }
            }
            if bucket {
                s3.iter().for_each(|s| k.add(s));
            }
        };
        for t in types {
            if t == "*" {
                add(&mut self.every, true);
            } else {
                add(
                    self.by_type.entry(t.clone()).or_insert_with(base),
                    t == S3_BUCKET,
                );
            }
        }
        self
    }

    /// The projection.
    pub fn build(&self) -> Projection {
        let mut by_type = self.by_type.clone();
        let mut any = self.every.clone();
        for k in by_type.values_mut() {
            k.merge(&self.every);
            any.merge(k);
        }
        Projection {
            by_type,
            any,
            other: self.every.clone(),
            tag_readers: self.tag_readers.clone(),
        }
    }
}

/// A map key, borrowed from the input when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
    fn into_string(self) -> String {
        match self {
            Key::Borrowed(s) => s.to_string(),
            Key::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(s))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(s))
            }
        }
        d.deserialize_str(V)
    }
}

/// A visitor's methods for anything but a map: the value parsed whole, wrapped by `$wrap`.
macro_rules! visit_whole {
    ($wrap:expr) => {
        fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            let v = de::Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
            Ok(($wrap)(v))
        }
        fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
            Ok(($wrap)(Value::Bool(b)))
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
            Ok(($wrap)(Value::from(n)))
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
            Ok(($wrap)(Value::from(n)))
        }
        fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
            Ok(($wrap)(Value::from(n)))
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            Ok(($wrap)(Value::String(s.to_string())))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(($wrap)(Value::Null))
        }
    };
}

/// A whole record: a JSON object whose `configuration` is projected, or any other value.
struct Record<'p> {
    proj: &'p Projection,
    /// What to keep when known before the type is read, and whether to skip the tag list.
    keep: Option<(&'p Keep, bool)>,
    /// Whether a configuration may be camel-cased while parsed (see [`Projection::parse_parts`]).
    camel: bool,
    /// Set when camel-cased keys collided.
    collided: &'p Cell<bool>,
}

/// A record parsed: the envelope's string fields, the rest of the record, whether its
/// configuration was an object (its shape), and whether the configuration was skipped because
/// the type was not known yet.
struct Parsed {
    env: Envelope,
    value: Value,
    shape: Option<bool>,
    deferred: bool,
    /// Whether camel-cased keys collided (the record is then read again without).
    collided: bool,
}

impl Parsed {
    fn whole(value: Value) -> Parsed {
        Parsed {
            env: Envelope::default(),
            value,
            shape: None,
            deferred: false,
            collided: false,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Record<'_> {
    type Value = Parsed;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Record<'_> {
    type Value = Parsed;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        let mut env = Envelope::default();
        // The envelope keys whose (last) value is in `out`, not in a slot, one bit per slot.
        let mut in_map: u16 = 0;
        let mut shape = None;
        let mut deferred = false;
        let mut camel_config = false;
        while let Some(k) = map.next_key::<Key<'de>>()? {
            if k.as_str() == "configuration" && !out.contains_key("configuration") && !deferred {
                let rtype = env.resource_type();
                let has_tags = env.has_tags() || out.contains_key("tags");
                // Camel-cased while parsed only for a type whose Describe shape converts that way.
                let camel = match (self.keep, rtype) {
                    (None, Some(t)) if self.camel => t != S3_BUCKET && !normalize::pascal_type(t),
                    _ => false,
                };
                let (keep, skip_tags) = match (self.keep, rtype) {
                    (Some(k), _) => k,
                    (None, Some(t)) => (
                        self.proj.keep_for(Some(t)),
                        self.proj.skips_tag_list(Some(t), has_tags),
                    ),
                    (None, None) => {
                        map.next_value::<IgnoredAny>()?;
                        deferred = true;
                        continue;
                    }
                };
                let (v, s, camel_cased) = map.next_value_seed(Config {
                    keep,
                    skip_tags,
                    camel: if camel { None } else { Some(false) },
                    collided: self.collided,
                })?;
                shape = s;
                camel_config = camel_cased;
                out.insert(k.into_string(), v);
            } else if k.as_str() == "tags" {
                // A map of strings goes to the envelope, anything else to the map; a repeated
                // key takes the place of the earlier value, wherever that was.
                match map.next_value_seed(TagsSeed)? {
                    ParsedTags::Strings(tags) => {
                        if in_map & TAGS_BIT != 0 {
                            out.remove("tags");
                            in_map &= !TAGS_BIT;
                        }
                        env.set_tags(Some(tags));
                    }
                    ParsedTags::Other(v) => {
                        env.set_tags(None);
                        in_map |= TAGS_BIT;
                        out.insert(k.into_string(), v);
                    }
                }
            } else {
                let v: Value = map.next_value()?;
                // A repeated key: the last one wins, as in a full parse.
                if k.as_str() == "configuration" {
                    shape = None;
                    deferred = false;
                    camel_config = false;
                }
                // An envelope string goes to its slot, anything else to the map; a repeated key
                // takes the place of the earlier value, wherever that was.
                match (Envelope::slot_of(k.as_str()), v) {
                    (Some(slot), Value::String(text)) => {
                        if in_map & (1 << slot) != 0 {
                            out.remove(k.as_str());
                            in_map &= !(1 << slot);
                        }
                        env.set(slot, Some(text));
                    }
                    (Some(slot), other) => {
                        env.set(slot, None);
                        in_map |= 1 << slot;
                        out.insert(k.into_string(), other);
                    }
                    (None, other) => {
                        out.insert(k.into_string(), other);
                    }
                }
            }
        }
        env.camel_config = camel_config;
        Ok(Parsed {
            env,
            value: Value::Object(out),
            shape,
            deferred,
            collided: false,
        })
    }
    // Anything else is not a configuration item: parse it whole.
    visit_whole!(Parsed::whole);
}

/// The bit of `tags` among the envelope keys whose value went to the record's map.
const TAGS_BIT: u16 = 1 << 15;

/// An item's `tags`: a map of strings, or anything else as it is.
enum ParsedTags {
    Strings(crate::tags::Tags),
    Other(Value),
}

/// Reads an item's `tags` into a tag map when they are a map of strings (not a `TagSet`
/// wrapper), and into a `Value` otherwise.
struct TagsSeed;

impl<'de> DeserializeSeed<'de> for TagsSeed {
    type Value = ParsedTags;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TagsSeed {
    type Value = ParsedTags;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut tags = crate::tags::Tags::new();
        while let Some(k) = map.next_key::<Key<'de>>()? {
            let v: Value = map.next_value()?;
            match v {
                Value::String(text) if !matches!(k.as_str(), "TagSet" | "tagSet") => {
                    tags.insert(k.into_string(), text);
                }
                other => {
                    // Not a plain tag map: the rest is read as it is, the last value of a
                    // repeated key winning as in a full parse.
                    let mut m: Map<String, Value> = tags
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect();
                    m.insert(k.into_string(), other);
                    while let Some((k, v)) = map.next_entry::<String, Value>()? {
                        m.insert(k, v);
                    }
                    return Ok(ParsedTags::Other(Value::Object(m)));
                }
            }
        }
        Ok(ParsedTags::Strings(tags))
    }
    visit_whole!(ParsedTags::Other);
}

/// The `configuration` value: an object is projected, anything else parsed whole.
struct Config<'k> {
    keep: &'k Keep,
    /// Skip the tag list (`Tags`, `TagList`) although `keep` holds it.
    skip_tags: bool,
    /// Camel-case the kept keys (`Some(false)`: never; `None`: when the first key is in
    /// Pascal case, a guess the caller checks against the shape of the whole).
    camel: Option<bool>,
    /// Set when two kept keys are the same once camel-cased.
    collided: &'k Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Config<'_> {
    type Value = (Value, Option<bool>, bool);
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Config<'_> {
    type Value = (Value, Option<bool>, bool);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        let (mut total, mut pascal) = (0usize, 0usize);
        let mut camel = self.camel;
        while let Some(k) = map.next_key::<Key<'de>>()? {
            total += 1;
            let upper = k.as_str().starts_with(|c: char| c.is_ascii_uppercase());
            if upper {
                pascal += 1;
            }
            let camel_cased = *camel.get_or_insert(upper);
            if self.keep.keeps(k.as_str()) && !(self.skip_tags && is_tag_list(k.as_str())) {
                if camel_cased {
                    let v = camel_value(&mut map, k.as_str(), self.collided)?;
                    let key = normalize::camel_key(k.into_string());
                    if out.insert(key, v).is_some() {
                        self.collided.set(true);
                    }
                } else {
                    let v: Value = map.next_value()?;
                    out.insert(k.into_string(), v);
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok((
            Value::Object(out),
            Some(total > 0 && pascal * 2 > total),
            camel == Some(true),
        ))
    }
    visit_whole!(|v| (v, None, false));
}

/// The value of `key` camel-cased as normalisation would: every key below it, except inside the
/// data maps (`Tags`, `Variables`) when they are maps.
fn camel_value<'de, A: MapAccess<'de>>(
    map: &mut A,
    key: &str,
    collided: &Cell<bool>,
) -> Result<Value, A::Error> {
    if normalize::DATA_MAPS.contains(&key) {
        let v: Value = map.next_value()?;
        return Ok(if v.is_object() {
            v
        } else {
            normalize::camel_owned(v)
        });
    }
    map.next_value_seed(CamelValue(collided))
}

/// A value whose map keys are camel-cased while parsed ([`normalize::camel_owned`] of it).
struct CamelValue<'c>(&'c Cell<bool>);

impl<'de> DeserializeSeed<'de> for CamelValue<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CamelValue<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<Key<'de>>()? {
            let v = camel_value(&mut map, k.as_str(), self.0)?;
            let key = normalize::camel_key(k.into_string());
            if out.insert(key, v).is_some() {
                self.0.set(true);
            }
        }
        Ok(Value::Object(out))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(CamelValue(self.0))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        Ok(Value::from(n))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_string()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> AttrPath {
        AttrPath::parse(s).unwrap()
    }

    #[test]
    fn keeps_declared_keys_and_what_normalisation_needs() {
        let mut b = Projection::builder();
        b.read(
            &["AWS::RDS::DBInstance".into()],
            &p("configuration.storageEncrypted"),
        )
        .read(
            &["AWS::IAM::User".into()],
            &p("supplementaryConfiguration.AccessKeys"),
        );
        let pr = b.build();
        assert!(pr.keeps(Some("AWS::RDS::DBInstance"), "StorageEncrypted"));
        assert!(!pr.keeps(Some("AWS::RDS::DBInstance"), "Endpoint"));
        assert!(pr.keeps(Some("AWS::RDS::DBInstance"), "DBInstanceIdentifier"));
        assert!(pr.keeps(Some("AWS::IAM::User"), "AccessKeys"));
        assert!(pr.keeps(Some("AWS::IAM::User"), "AccessKeyMetadata"));
        assert!(!pr.keeps(Some("AWS::EC2::Instance"), "NetworkInterfaces"));
        // Type unknown when the configuration comes: the union of every type's keys.
        assert!(pr.keeps(None, "StorageEncrypted") && pr.keeps(None, "AccessKeyMetadata"));
        assert!(!pr.keeps(None, "NetworkInterfaces"));
        // Keys of 63 bytes and more share one length bit: still compared key by key.
        let long = "k".repeat(70);
        let mut b = Projection::builder();
        b.read(
            &["AWS::EC2::Volume".into()],
            &p(&format!("configuration.{long}")),
        );
        let pr = b.build();
        let t = Some("AWS::EC2::Volume");
        assert!(pr.keeps(t, &long.to_uppercase()));
        assert!(!pr.keeps(t, &"k".repeat(64)) && !pr.keeps(t, &"j".repeat(70)));
        assert!(!pr.keeps(t, "Encrypted") && pr.keeps(t, "Tags"));
    }

    #[test]
    fn a_bucket_document_keeps_the_keys_its_read_attributes_are_made_of() {
        let s3 = ["AWS::S3::Bucket".to_string()];
        let mut b = Projection::builder();
        b.read(
            &s3,
            &p("supplementaryConfiguration.PublicAccessBlockConfiguration.blockPublicAcls"),
        );
        let pr = b.build();
        let t = Some("AWS::S3::Bucket");
        for k in [
            "GetPublicAccessBlock",
            "s3.GetPublicAccessBlock",
            "PublicAccessBlock",
            "PublicAccessBlockConfiguration",
            "Name",
            "Bucket",
        ] {
            assert!(pr.keeps(t, k), "{k}");
        }
        for k in [
            "Acl",
            "GetBucketAcl",
            "Logging",
            "ServerSideEncryptionConfiguration",
        ] {
            assert!(!pr.keeps(t, k), "{k}");
        }
        // Another type reading the same attribute does not keep the bucket's sources.
        assert!(!pr.keeps(Some("AWS::EC2::Volume"), "GetPublicAccessBlock"));
        // The owner is made of the ACL reply; a read on every type keeps it for buckets too.
        let mut b = Projection::builder();
        b.read(&["*".to_string()], &p("configuration.owner.id"));
        let pr = b.build();
        assert!(pr.keeps(t, "Acl") && pr.keeps(t, "GetBucketAcl") && pr.keeps(t, "owner"));
        assert!(!pr.keeps(t, "Logging"));
        // The projected bucket converts to the same attributes as the whole one.
        let mut b = Projection::builder();
        b.read(
            &s3,
            &p("supplementaryConfiguration.ServerSideEncryptionConfiguration"),
        )
        .read(&s3, &p("configuration.owner"));
        let pr = b.build();
        let line = br#"{"arn":"arn:aws:s3:::b","resourceType":"AWS::S3::Bucket","tags":{},"configuration":{"Name":"b","Acl":{"Owner":{"ID":"o"},"Grants":[]},"Logging":{},"ServerSideEncryptionConfiguration":{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]},"Versioning":{"Status":"Enabled"}}}"#;
        let (v, shape) = pr.parse(line).unwrap();
        let mut keys: Vec<_> = v["configuration"].as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["Acl", "Name", "ServerSideEncryptionConfiguration"]);
        let projected = crate::normalize::config_item_shaped(v, shape).unwrap();
        let whole =
            crate::normalize::config_item_shaped(serde_json::from_slice(line).unwrap(), None)
                .unwrap();
        let (
            crate::normalize::Normalised::Resources(a),
            crate::normalize::Normalised::Resources(b),
        ) = (projected, whole)
        else {
            panic!("not resources")
        };
        assert_eq!(a[0].configuration, b[0].configuration);
        let sse = "ServerSideEncryptionConfiguration";
        assert_eq!(
            a[0].supplementary_configuration.get(sse),
            b[0].supplementary_configuration.get(sse)
        );
        assert!(a[0].supplementary_configuration.get(sse).is_some());
        assert!(
            !a[0]
                .supplementary_configuration
                .contains_key("BucketVersioningConfiguration")
        );
        assert!(
            b[0].supplementary_configuration
                .contains_key("BucketVersioningConfiguration")
        );
    }

    #[test]
    fn the_configurations_tag_list_is_skipped_only_when_the_item_has_tags_first() {
        let mut b = Projection::builder();
        b.read(&["AWS::EC2::Volume".into()], &p("configuration.encrypted"));
        let pr = b.build();
        let conf = |v: &Value| {
            v["configuration"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        };
        // The item's tags come first: normalisation will take them, the list is not read.
        let line = br#"{"resourceType":"AWS::EC2::Volume","tags":{"A":"b"},"configuration":{"Encrypted":true,"Tags":[{"Key":"A","Value":"b"}],"Size":8}}"#;
        assert_eq!(conf(&pr.parse(line).unwrap().0), ["Encrypted"]);
        // The item's tags come after the configuration: not known yet, so the list is kept.
        let line = br#"{"resourceType":"AWS::EC2::Volume","configuration":{"Encrypted":true,"Tags":[{"Key":"A","Value":"b"}]},"tags":{"A":"b"}}"#;
        assert_eq!(conf(&pr.parse(line).unwrap().0), ["Encrypted", "Tags"]);
        // No item tags: the list is where the resource's tags come from.
        let line = br#"{"resourceType":"AWS::EC2::Volume","configuration":{"Encrypted":true,"TagList":[]}}"#;
        assert_eq!(conf(&pr.parse(line).unwrap().0), ["Encrypted", "TagList"]);
        // Type known only after the configuration (read twice): the item's tags are known then.
        let line = br#"{"tags":{},"configuration":{"Encrypted":true,"Tags":[]},"resourceType":"AWS::EC2::Volume"}"#;
        assert_eq!(conf(&pr.parse(line).unwrap().0), ["Encrypted"]);
        // A check that reads the list keeps it.
        let mut b = Projection::builder();
        b.read(&["AWS::EC2::Volume".into()], &p("configuration.tags"));
        let pr = b.build();
        let line = br#"{"resourceType":"AWS::EC2::Volume","tags":{"A":"b"},"configuration":{"Encrypted":true,"Tags":[]}}"#;
        assert_eq!(conf(&pr.parse(line).unwrap().0), ["Tags"]);
    }

    #[test]
    fn describe_keys_camel_cased_while_parsing_make_the_resource_normalisation_makes() {
        // Everything kept, so that every key is camel-cased by the parser when it guesses so.
        let mut b = Projection::builder();
        b.all(&["*".into()]);
        let all = b.build();
        let head = |t: &str| {
            format!(
                r#""arn":"arn:aws:ec2:us-east-1:111122223333:x/1","resourceType":"{t}","tags":{{"A":"b"}}"#
            )
        };
        let sg = head("AWS::EC2::SecurityGroup");
        let lines = [
            // Describe-shaped: nested maps and lists of maps.
            format!(
                r#"{{{sg},"configuration":{{"GroupName":"g","IpPermissions":[{{"IpProtocol":"tcp","IpRanges":[{{"CidrIp":"0.0.0.0/0"}}],"FromPort":22}}],"VpcId":"v"}}}}"#
            ),
            // Data maps: `Tags` as a map is kept as it is, as a list it is camel-cased.
            format!(
                r#"{{{},"configuration":{{"FunctionName":"f","Runtime":"python3.8","Environment":{{"Variables":{{"Key":"V"}}}},"Tags":{{"Team":"x"}}}}}}"#,
                head("AWS::Lambda::Function")
            ),
            format!(
                r#"{{{sg},"configuration":{{"GroupName":"g","Tags":[{{"Key":"K","Value":"V"}}],"Owner":{{"Id":1}}}}}}"#
            ),
            // Keys that collide once camel-cased: read again, as normalisation resolves them.
            format!(r#"{{{sg},"configuration":{{"GroupName":"g","groupName":"h","VpcId":"v"}}}}"#),
            format!(r#"{{{sg},"configuration":{{"GroupName":"g","Nested":{{"A":1,"a":2}},"VpcId":"v"}}}}"#),
            // ... also when the document's order is not the sorted one.
            format!(
                r#"{{{sg},"configuration":{{"VpcId":"v","groupName":"h","GroupName":"g","Other":1}}}}"#
            ),
            format!(r#"{{{sg},"configuration":{{"GroupName":"g","Nested":{{"a":2,"A":1}},"VpcId":"v"}}}}"#),
            // Guessed wrong: the first key in Pascal case, most in camel case (not Describe-shaped).
            format!(r#"{{{sg},"configuration":{{"GroupName":"g","vpcId":"v","ipPermissions":[]}}}}"#),
            // The first key in camel case, most in Pascal case: Describe-shaped, not guessed.
            format!(r#"{{{sg},"configuration":{{"groupName":"g","VpcId":"v","IpPermissions":[]}}}}"#),
            // A first letter outside ASCII.
            format!(r#"{{{sg},"configuration":{{"Éclair":{{"Ünit":1}},"GroupName":"g"}}}}"#),
            // Types converted otherwise: Pascal-cased (ECS) or S3's own conversion.
            format!(
                r#"{{{},"configuration":{{"ServiceName":"s","DesiredCount":1}}}}"#,
                head("AWS::ECS::Service")
            ),
            format!(r#"{{{},"configuration":{{"Name":"b","Acl":{{"Owner":{{"ID":"o"}}}}}}}}"#, head("AWS::S3::Bucket")),
            // The type after the configuration: read twice, not camel-cased while parsed.
            r#"{"configuration":{"GroupName":"g","VpcId":"v"},"arn":"arn:aws:ec2:us-east-1:111122223333:x/1","resourceType":"AWS::EC2::SecurityGroup"}"#.to_string(),
            // A repeated configuration: the last one, parsed whole.
            format!(r#"{{{sg},"configuration":{{"GroupName":"g"}},"configuration":{{"VpcId":"v"}}}}"#),
        ];
        let mut camel_cased = 0;
        for line in &lines {
            let (env, v, shape) = all.parse_parts(line).unwrap();
            camel_cased += usize::from(env.camel_config);
            let Value::Object(m) = v else {
                panic!("not an object: {line}")
            };
            let typed = normalize::config_item_parts(env, m, shape);
            let whole = normalize::config_item_shaped(serde_json::from_str(line).unwrap(), None);
            assert_eq!(format!("{typed:?}"), format!("{whole:?}"), "{line}");
        }
        // The first three were camel-cased while parsed, the others read as they are.
        assert_eq!(camel_cased, 3, "records camel-cased while parsed");
    }

    #[test]
    fn envelope_fields_in_slots_make_the_same_record_and_resource_as_a_full_parse() {
        let mut b = Projection::builder();
        b.read(&["AWS::EC2::Volume".into()], &p("configuration.encrypted"));
        let pr = b.build();
        let mut b = Projection::builder();
        b.all(&["*".into()]);
        let all = b.build();
        let vol = "arn:aws:ec2:us-east-1:111122223333:volume/vol-1";
        let lines = [
            format!(
                r#"{{"arn":"{vol}","resourceType":"AWS::EC2::Volume","resourceId":"vol-1","accountId":"111122223333","awsRegion":"us-east-1","resourceName":"n","configurationItemCaptureTime":"2026-01-01T00:00:00Z","resourceCreationTime":"2025-01-01T00:00:00Z","tags":{{"A":"b"}},"configuration":{{"Encrypted":true,"Size":8}}}}"#
            ),
            // Repeated keys: the last value wins, a string or not.
            format!(
                r#"{{"arn":"{vol}","resourceType":"AWS::EC2::Volume","resourceName":"first","resourceName":7,"tags":{{}},"configuration":{{}}}}"#
            ),
            format!(
                r#"{{"arn":"{vol}","resourceType":"AWS::EC2::Volume","resourceId":5,"resourceId":"vol-2","awsRegion":null,"tags":{{}},"configuration":{{}}}}"#
            ),
            // `arn` is not a string: `ARN` is read instead, as in a full parse.
            format!(
                r#"{{"arn":1,"ARN":"{vol}","resourceType":"AWS::EC2::Volume","configuration":{{"Encrypted":false}}}}"#
            ),
            // The type after the configuration: read twice.
            format!(
                r#"{{"configuration":{{"encrypted":false,"size":1}},"accountId":"111122223333","arn":"{vol}","resourceType":"AWS::EC2::Volume"}}"#
            ),
            // Not a plain item: a wrapper, normalised from the restored record.
            format!(
                r#"{{"configurationItem":{{"arn":"{vol}","resourceType":"AWS::EC2::Volume","configuration":{{}}}},"arn":"x"}}"#
            ),
            // A type that is not a string.
            format!(r#"{{"arn":"{vol}","resourceType":["AWS::EC2::Volume"]}}"#),
            // Tags that are not a map of strings: read as they are.
            format!(
                r#"{{"arn":"{vol}","resourceType":"AWS::EC2::Volume","tags":{{"A":"b","N":7,"Z":null,"A":"c"}},"configuration":{{}}}}"#
            ),
            format!(
                r#"{{"arn":"{vol}","resourceType":"AWS::EC2::Volume","tags":{{"TagSet":[{{"Key":"A","Value":"b"}}]}},"configuration":{{}}}}"#
            ),
            format!(
                r#"{{"arn":"{vol}","resourceType":"AWS::EC2::Volume","tags":[{{"key":"A","value":"b"}}],"configuration":{{"Tags":[{{"Key":"B","Value":"c"}}]}}}}"#
            ),
            // Repeated tags: the last ones win.
            format!(
                r#"{{"arn":"{vol}","resourceType":"AWS::EC2::Volume","tags":{{"A":"b"}},"tags":null,"configuration":{{"Tags":[{{"Key":"B","Value":"c"}}]}}}}"#
            ),
            format!(
                r#"{{"arn":"{vol}","resourceType":"AWS::EC2::Volume","tags":7,"tags":{{"A":"b","A":"d"}},"configuration":{{"Tags":[{{"Key":"B","Value":"c"}}]}}}}"#
            ),
        ];
        for line in &lines {
            // Restored, the record is the full parse's, key for key and value for value.
            let whole: Value = serde_json::from_str(line).unwrap();
            assert_eq!(all.parse_str(line).unwrap().0, whole, "{line}");
            // Normalised from its slots, it is the resource of the record normalised whole.
            let (env, v, shape) = pr.parse_parts(line).unwrap();
            let Value::Object(m) = v else {
                panic!("not an object: {line}")
            };
            let typed = normalize::config_item_parts(env, m, shape);
            let (v, shape) = pr.parse_str(line).unwrap();
            let mapped = normalize::config_item_shaped(v, shape);
            assert_eq!(format!("{typed:?}"), format!("{mapped:?}"), "{line}");
        }
        // The slots are read: the resource's identity comes from them.
        let (env, v, shape) = pr.parse_parts(&lines[0]).unwrap();
        assert_eq!(env.resource_type(), Some("AWS::EC2::Volume"));
        assert!(v.get("arn").is_none() && v.get("resourceType").is_none());
        let Value::Object(m) = v else { panic!() };
        let Ok(normalize::Normalised::Resources(rs)) = normalize::config_item_parts(env, m, shape)
        else {
            panic!("not a resource")
        };
        assert_eq!(
            (
                rs[0].arn.as_str(),
                rs[0].resource_id.as_str(),
                rs[0].aws_region.as_str()
            ),
            (vol, "vol-1", "us-east-1")
        );
        assert_eq!(rs[0].resource_name.as_deref(), Some("n"));
        assert_eq!(
            rs[0].resource_creation_time.as_deref(),
            Some("2025-01-01T00:00:00Z")
        );
    }

    #[test]
    fn whole_configuration_reads_keep_everything() {
        let mut b = Projection::builder();
        b.read(&["*".into()], &p("configuration"));
        assert!(b.build().keeps_everything());
        let mut b = Projection::builder();
        b.read(&["AWS::EC2::Volume".into()], &p("configuration[*]"));
        let pr = b.build();
        assert!(pr.keeps(Some("AWS::EC2::Volume"), "Anything"));
        assert!(!pr.keeps(Some("AWS::EC2::Instance"), "Anything"));
    }

    #[test]
    fn parses_the_kept_keys_and_judges_the_shape_on_all_keys() {
        let mut b = Projection::builder();
        b.read(&["AWS::EC2::Volume".into()], &p("configuration.encrypted"));
        let pr = b.build();
        let line = br#"{"arn":"a","resourceType":"AWS::EC2::Volume","configuration":{"Encrypted":true,"Size":8,"Attachments":[{"x":1}],"kmsKeyId":"k","b":2,"c":3},"tags":{"A":"b"}}"#;
        let (v, shape) = pr.parse(line).unwrap();
        assert_eq!(v["configuration"], serde_json::json!({"Encrypted": true}));
        assert_eq!(v["tags"]["A"], "b");
        // 3 of 6 keys are Pascal case: not a majority.
        assert_eq!(shape, Some(false));
        // Configuration before the type (AWS Config's own order): read twice.
        let line =
            br#"{"configuration":{"Encrypted":false,"Size":8},"resourceType":"AWS::EC2::Volume"}"#;
        let (v, shape) = pr.parse(line).unwrap();
        assert_eq!(v["configuration"], serde_json::json!({"Encrypted": false}));
        assert_eq!(v["resourceType"], "AWS::EC2::Volume");
        assert_eq!(shape, Some(true));
        // No type at all: the union of every type's keys.
        let (v, _) = pr
            .parse(br#"{"configuration":{"Size":8,"Encrypted":true}}"#)
            .unwrap();
        assert_eq!(v["configuration"], serde_json::json!({"Encrypted": true}));
        // Not an object: parsed whole.
        let (v, shape) = pr.parse(br#"[{"configuration":{"Size":8}}]"#).unwrap();
        assert_eq!(v[0]["configuration"]["Size"], 8);
        assert_eq!(shape, None);
        // Errors are serde_json's, with their position.
        let e = pr
            .parse(br#"{"arn": "a", "configuration": {"Size": 8,}}"#)
            .unwrap_err();
        assert_eq!((e.line(), e.column()), (1, 42));
    }
}
