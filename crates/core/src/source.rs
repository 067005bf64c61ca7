//! Resource sources: the `ResourceSource` trait and the inventory-file source.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::{self, BoxStream};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::normalize::{self, Envelope, Normalised, RawContext};
use crate::projection::Projection;
use crate::resource::Resource;

/// A part of the estate a source could not see: its checks are UNKNOWN there, never PASS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageGap {
    /// The source's name.
    pub source: String,
    /// The resource types affected (CloudFormation names; `*` for all).
    pub resource_types: Vec<String>,
    /// The account, when the gap is limited to one.
    pub account: Option<String>,
    /// The region, when the gap is limited to one.
    pub region: Option<String>,
    /// Why: e.g. ``AccessDenied from `config:ListDiscoveredResources` ``.
    pub reason: String,
}

/// What a source yields.
#[derive(Debug)]
pub enum SourceEvent {
    /// A resource.
    Resource(Box<Resource>),
    /// A record that could not be read; the rest of the source goes on.
    Error {
        /// Where: `file:line` or `file:line:column`, an API call, a region.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// Something the source could not see.
    Gap(CoverageGap),
    /// A record skipped on purpose (e.g. a deleted resource's configuration item).
    Skipped {
        /// Where.
        location: String,
        /// Why.
        reason: String,
    },
}

/// A source of resources: AWS APIs, an inventory file, a Terraform plan, Python dicts.
/// Object-safe: engines hold `Box<dyn ResourceSource>`.
#[async_trait]
pub trait ResourceSource: Send + Sync {
    /// A short name for reports (`inventory.ndjson`, `aws:us-east-1`).
    fn name(&self) -> &str;
    /// Opens the stream of resources. Failing to open at all is an error; failures inside the
    /// stream are [`SourceEvent::Error`] or [`SourceEvent::Gap`] events.
    async fn open(&self) -> Result<BoxStream<'_, SourceEvent>>;
}

/// Reads an inventory file: a JSON array or NDJSON of AWS Config configuration items (or of raw
/// API responses, see [`crate::normalize`]), one record at a time, so memory does not grow with
/// the file. A bad record is reported with its line (and column) and the rest is read.
#[derive(Debug, Clone)]
pub struct InventoryFile {
    path: PathBuf,
    label: String,
    ctx: RawContext,
    projection: Option<Arc<Projection>>,
}

impl InventoryFile {
    /// A source for `path`.
    pub fn new(path: impl AsRef<Path>) -> InventoryFile {
        let path = path.as_ref().to_path_buf();
        InventoryFile {
            label: path.display().to_string(),
            path,
            ctx: RawContext::default(),
            projection: None,
        }
    }
    /// Defaults for raw API responses that do not name their account and region.
    pub fn raw_context(mut self, ctx: RawContext) -> InventoryFile {
        self.ctx = ctx;
        self
    }
    /// Parses only the configuration keys `projection` keeps (see [`crate::projection`]):
    /// the resources then hold only what the engine that made the projection reads.
    pub fn projection(mut self, projection: Option<Arc<Projection>>) -> InventoryFile {
        self.projection = projection.filter(|p| !p.keeps_everything());
        self
    }
    /// Opens the file as a synchronous iterator of events.
    pub fn events(&self) -> Result<RecordEvents<Box<dyn BufRead + Send>>> {
        let f = File::open(&self.path).map_err(|source| Error::Io {
            path: self.label.clone(),
            source,
        })?;
        let ndjson = matches!(
            self.path.extension().and_then(|e| e.to_str()),
            Some("ndjson") | Some("jsonl")
        );
        let reader: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(1 << 16, f));
        let mut ev = RecordEvents::new(reader, &self.label, ndjson, self.ctx.clone());
        ev.projection = self.projection.clone();
        Ok(ev)
    }
}

#[async_trait]
impl ResourceSource for InventoryFile {
    fn name(&self) -> &str {
        &self.label
    }
    async fn open(&self) -> Result<BoxStream<'_, SourceEvent>> {
        let it = self.events()?;
        Ok(Box::pin(stream::iter(it)))
    }
}

impl<R: BufRead> RecordEvents<R> {
    /// Reads records from any buffered reader (`label` names it in messages).
    pub fn from_reader(reader: R, label: &str, ctx: RawContext) -> RecordEvents<R> {
        RecordEvents::new(reader, label, false, ctx)
    }
    /// Parses only what `projection` keeps (see [`InventoryFile::projection`]).
    pub fn projection(mut self, projection: Option<Arc<Projection>>) -> RecordEvents<R> {
        self.projection = projection.filter(|p| !p.keeps_everything());
        self
    }
}

/// In-memory records (e.g. from Python, or a test), read the same way as a file.
pub struct InventoryBytes {
    label: String,
    bytes: Vec<u8>,
    ctx: RawContext,
    projection: Option<Arc<Projection>>,
}

impl InventoryBytes {
    /// A source over `bytes` named `label`.
    pub fn new(label: impl Into<String>, bytes: Vec<u8>) -> InventoryBytes {
        InventoryBytes {
            label: label.into(),
            bytes,
            ctx: RawContext::default(),
            projection: None,
        }
    }
    /// Defaults for raw API responses that do not name their account and region.
    pub fn raw_context(mut self, ctx: RawContext) -> InventoryBytes {
        self.ctx = ctx;
        self
    }
    /// Parses only what `projection` keeps (see [`InventoryFile::projection`]).
    pub fn projection(mut self, projection: Option<Arc<Projection>>) -> InventoryBytes {
        self.projection = projection.filter(|p| !p.keeps_everything());
        self
    }
    /// Synchronous iterator of events.
    pub fn events(&self) -> RecordEvents<Cursor<&[u8]>> {
        let mut ev = RecordEvents::new(
            Cursor::new(&self.bytes[..]),
            &self.label,
            false,
            self.ctx.clone(),
        );
        ev.projection = self.projection.clone();
        ev
    }
}

#[async_trait]
impl ResourceSource for InventoryBytes {
    fn name(&self) -> &str {
        &self.label
    }
    async fn open(&self) -> Result<BoxStream<'_, SourceEvent>> {
        Ok(Box::pin(stream::iter(self.events())))
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Undecided,
    Lines,
    Values,
    Done,
}

/// Splits a byte stream into records and normalises them.
pub struct RecordEvents<R: BufRead> {
    reader: R,
    label: String,
    mode: Mode,
    force_lines: bool,
    line: usize,
    pending: std::collections::VecDeque<SourceEvent>,
    /// Records read but not parsed yet, in order (parsed in parallel by chunks).
    staged: Vec<Staged>,
    ctx: RawContext,
    projection: Option<Arc<Projection>>,
    array: bool,
    started: bool,
}

impl<R: BufRead> RecordEvents<R> {
    fn new(reader: R, label: &str, force_lines: bool, ctx: RawContext) -> Self {
        RecordEvents {
            reader,
            label: label.to_string(),
            mode: Mode::Undecided,
            force_lines,
            line: 1,
            pending: Default::default(),
            staged: Vec::new(),
            ctx,
            projection: None,
            array: false,
            started: false,
        }
    }

    fn err(&mut self, location: String, message: String) {
        self.staged
            .push(Staged::Ready(SourceEvent::Error { location, message }));
    }

    fn end_array(&mut self) {
        self.array = false;
        self.started = false;
        self.mode = Mode::Undecided;
    }

    fn parse_and_record(&mut self, bytes: &[u8], line: usize, col: usize) {
        self.staged.push(Staged::Raw(bytes.to_vec(), line, col));
    }

    /// Parses now (values that may need recovery), keeping the order of events.
    fn parse_now(&mut self, bytes: &[u8], line: usize, col: usize, recover: bool) {
        let mut q = std::collections::VecDeque::new();
        parse_record(
            &self.label,
            &self.ctx,
            self.projection.as_deref(),
            bytes,
            line,
            col,
            &mut q,
        );
        let failed = q.len() == 1
            && matches!(q.back(), Some(SourceEvent::Error { message, .. }) if message.starts_with("invalid JSON"));
        if failed && recover && bytes.contains(&b'\n') {
            recover_lines(&self.label, &self.ctx, bytes, line, &mut q);
        }
        self.staged.extend(q.into_iter().map(Staged::Ready));
    }

    /// Parses the staged records in parallel, in order, into `pending`.
    fn flush(&mut self) {
        use rayon::prelude::*;
        let staged = std::mem::take(&mut self.staged);
        let (label, ctx, proj) = (&self.label, &self.ctx, self.projection.as_deref());
        let outs: Vec<std::collections::VecDeque<SourceEvent>> = staged
            .into_par_iter()
            .map(|s| match s {
                Staged::Ready(e) => std::collections::VecDeque::from([e]),
                Staged::Raw(b, l, c) => {
                    let mut q = std::collections::VecDeque::new();
                    parse_record(label, ctx, proj, &b, l, c, &mut q);
                    q
                }
            })
            .collect();
        for q in outs {
            self.pending.extend(q);
        }
    }

    fn decide(&mut self) -> std::io::Result<()> {
        // Skip leading white space (and a UTF-8 byte-order mark).
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                self.mode = Mode::Done;
                return Ok(());
            }
            let mut n = 0;
            if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                n = 3;
            }
            while n < buf.len() && buf[n].is_ascii_whitespace() {
                if buf[n] == b'\n' {
                    self.line += 1;
                }
                n += 1;
            }
            let done = n < buf.len();
            let first = buf.get(n).copied();
            self.reader.consume(n);
            if done {
                if self.force_lines {
                    self.mode = Mode::Lines;
                } else if first == Some(b'[') {
                    self.mode = Mode::Values;
                    self.array = true;
                } else {
                    // Objects: pretty-printed JSON when the first line is a lone `{`; NDJSON when
                    // one of the first lines is a whole value (a damaged first record must not
                    // turn the rest of the file into one broken value); else one or more values.
                    let buf = self.reader.fill_buf()?;
                    let mut lines = buf
                        .split(|&b| b == b'\n')
                        .map(trim_ascii)
                        .filter(|l| !l.is_empty());
                    let whole = |l: Option<&[u8]>| {
                        l.is_some_and(|l| {
                            l.len() > 1
                                && serde_json::from_slice::<serde::de::IgnoredAny>(l).is_ok()
                        })
                    };
                    let first = lines.next();
                    let pretty = first == Some(&b"{"[..]);
                    let any_whole = whole(first) || lines.take(8).any(|l| whole(Some(l)));
                    self.mode = if !pretty && any_whole {
                        Mode::Lines
                    } else {
                        Mode::Values
                    };
                }
                return Ok(());
            }
        }
    }

    fn next_line(&mut self) -> std::io::Result<bool> {
        // `read_until` with a vectorised search for the line's end; the line's own buffer,
        // trimmed in place, becomes the staged record (no copy).
        let mut buf = Vec::new();
        loop {
            let avail = self.reader.fill_buf()?;
            if avail.is_empty() {
                break;
            }
            let (n, end) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            buf.extend_from_slice(&avail[..n]);
            self.reader.consume(n);
            if end {
                break;
            }
        }
        if buf.is_empty() {
            self.mode = Mode::Done;
            return Ok(false);
        }
        let line = self.line;
        self.line += 1;
        let (start, end) = trim_bounds(&buf);
        if start < end {
            buf.truncate(end);
            buf.drain(..start);
            self.staged.push(Staged::Raw(buf, line, 1));
        }
        Ok(true)
    }

    /// Reads the next top-level value (or array element) by tracking depth and strings.
    fn next_value(&mut self) -> std::io::Result<bool> {
        let mut out: Vec<u8> = Vec::new();
        let mut depth: usize = 0;
        let mut in_str = false;
        let mut esc = false;
        let mut start: Option<(usize, usize)> = None;
        let mut col = 1usize;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                self.mode = Mode::Done;
                if let Some((l, c)) = start {
                    if !trim_ascii(&out).is_empty() {
                        let what = if self.array {
                            "an array element"
                        } else {
                            "a value"
                        };
                        if depth > 0 || in_str {
                            self.err(
                                format!("{}:{l}:{c}", self.label),
                                format!("unexpected end of file inside {what} starting here"),
                            );
                            let broken = std::mem::take(&mut out);
                            let mut q = std::collections::VecDeque::new();
                            recover_lines(&self.label, &self.ctx, &broken, l, &mut q);
                            self.staged.extend(q.into_iter().map(Staged::Ready));
                        } else {
                            let o = out.clone();
                            self.parse_and_record(&o, l, c);
                        }
                    }
                } else if self.array && self.started {
                    self.err(
                        format!("{}:{}", self.label, self.line),
                        "unexpected end of file: the array is not closed with `]`".into(),
                    );
                }
                return Ok(false);
            }
            let mut consumed = 0;
            let mut finished = false;
            for &b in buf {
                consumed += 1;
                let base: usize = if self.array { 1 } else { 0 };
                if !self.started && self.array {
                    // The opening bracket.
                    if b == b'[' {
                        self.started = true;
                        col += 1;
                        continue;
                    }
                }
                if b == b'\n' {
                    self.line += 1;
                    col = 1;
                } else {
                    col += 1;
                }
                if start.is_none() {
                    if b.is_ascii_whitespace() || (self.array && b == b',') {
                        continue;
                    }
                    if !self.array && (b == b'}' || b == b']') {
                        let (l, c) = (self.line, col - 1);
                        self.staged.push(Staged::Ready(SourceEvent::Error {
                            location: format!("{}:{l}:{c}", self.label),
                            message: format!("unexpected `{}` between records", b as char),
                        }));
                        continue;
                    }
                    if self.array && b == b']' {
                        // The array ends; whatever follows is read afresh (another array,
                        // NDJSON), never dropped.
                        self.end_array();
                        finished = true;
                        break;
                    }
                    start = Some((if b == b'\n' { self.line - 1 } else { self.line }, col - 1));
                }
                if in_str && b == b'\n' {
                    // JSON strings hold no raw line breaks: this value is broken. Report it,
                    // recover whole records among its lines, and resynchronise on the next line.
                    if let Some((l, c)) = start.take() {
                        self.staged.push(Staged::Ready(SourceEvent::Error {
                            location: format!("{}:{l}:{c}", self.label),
                            message:
                                "invalid JSON: a string is not closed before the end of its line"
                                    .into(),
                        }));
                        let broken = std::mem::take(&mut out);
                        let mut q = std::collections::VecDeque::new();
                        recover_lines(&self.label, &self.ctx, &broken, l, &mut q);
                        self.staged.extend(q.into_iter().map(Staged::Ready));
                    }
                    depth = 0;
                    in_str = false;
                    esc = false;
                    continue;
                }
                if in_str {
                    out.push(b);
                    if esc {
                        esc = false;
                    } else if b == b'\\' {
                        esc = true;
                    } else if b == b'"' {
                        in_str = false;
                    }
                    continue;
                }
                match b {
                    b'"' => {
                        in_str = true;
                        out.push(b);
                    }
                    b'{' | b'[' => {
                        depth += 1;
                        out.push(b);
                    }
                    b'}' | b']' => {
                        if depth == 0 {
                            // A closing bracket of the enclosing array (scalar element).
                            if self.array && b == b']' {
                                self.end_array();
                                finished = true;
                                break;
                            }
                            out.push(b);
                            continue;
                        }
                        depth -= 1;
                        out.push(b);
                        if depth == 0 {
                            finished = true;
                            break;
                        }
                    }
                    b',' if depth == 0 && base == 1 => {
                        finished = true;
                        break;
                    }
                    _ => out.push(b),
                }
            }
            self.reader.consume(consumed);
            if finished {
                if let Some((l, c)) = start
                    && !trim_ascii(&out).is_empty()
                {
                    self.parse_now(&out, l, c, true);
                }
                return Ok(true);
            }
        }
    }
}

/// A record read, waiting to be parsed, or an event ready to go.
enum Staged {
    Raw(Vec<u8>, usize, usize),
    Ready(SourceEvent),
}

/// Records parsed per parallel chunk.
const CHUNK: usize = 2048;

/// Parses one record's bytes and queues its events (errors located from `line`/`col`).
fn parse_record(
    label: &str,
    ctx: &RawContext,
    proj: Option<&Projection>,
    bytes: &[u8],
    line: usize,
    col: usize,
    pending: &mut std::collections::VecDeque<SourceEvent>,
) {
    // JSON is UTF-8: the record is validated once, as a whole (fast on ASCII), and its strings
    // are then not validated one by one, nor are the ones a projection skips left unchecked.
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.valid_up_to();
            let before = &bytes[..at];
            let (l, c) = match before.iter().rposition(|&b| b == b'\n') {
                None => (line, col + at),
                Some(nl) => (
                    line + before.iter().filter(|&&b| b == b'\n').count(),
                    at - nl,
                ),
            };
            pending.push_back(SourceEvent::Error {
                location: format!("{label}:{l}:{c}"),
                message: format!(
                    "invalid JSON: invalid UTF-8 (byte 0x{:02x})",
                    bytes.get(at).copied().unwrap_or_default()
                ),
            });
            return;
        }
    };
    let parsed = match proj {
        Some(p) => p.parse_parts(text),
        None => serde_json::from_str::<Value>(text).map(|v| (Envelope::default(), v, None)),
    };
    match parsed {
        Ok((env, v, shape)) => {
            let mut out = Vec::new();
            expand_parts(env, v, shape, &format!("{label}:{line}"), ctx, &mut out);
            pending.extend(out);
        }
        Err(e) => {
            let (l, c) = if e.line() <= 1 {
                (line, col + e.column().saturating_sub(1))
            } else {
                (line + e.line() - 1, e.column())
            };
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            pending.push_back(SourceEvent::Error {
                location: format!("{label}:{l}:{c}"),
                message: format!("invalid JSON: {msg}"),
            });
        }
    }
}

/// Records whole objects found on single lines of a broken multi-line value (lines after its
/// first: the first holds the start of the broken value).
fn recover_lines(
    label: &str,
    ctx: &RawContext,
    bytes: &[u8],
    first_line: usize,
    pending: &mut std::collections::VecDeque<SourceEvent>,
) {
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate().skip(1) {
        let t = trim_ascii(line);
        let t = t.strip_suffix(b",").unwrap_or(t);
        if t.first() == Some(&b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(t).is_ok() {
            parse_record(label, ctx, None, t, first_line + i, 1, pending);
        }
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let (s, e) = trim_bounds(b);
    &b[s..e]
}

/// Where `b` starts and ends without its leading and trailing ASCII white space.
fn trim_bounds(b: &[u8]) -> (usize, usize) {
    let s = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    (s, e)
}

/// Expands a record into events: wrappers unwrapped, raw responses normalised.
pub fn expand(v: Value, loc: &str, ctx: &RawContext, out: &mut Vec<SourceEvent>) {
    expand_shaped(v, None, loc, ctx, out)
}

/// [`expand_shaped`] of a record whose envelope strings were read into `env`: a plain item
/// goes to normalisation as it is, anything else gets its fields back first.
fn expand_parts(
    env: Envelope,
    v: Value,
    shape: Option<bool>,
    loc: &str,
    ctx: &RawContext,
    out: &mut Vec<SourceEvent>,
) {
    match v {
        Value::Object(m) if plain_map(&m, env.resource_type().is_some()) => {
            push_result(normalize::config_item_parts(env, m, shape), loc, out);
        }
        Value::Object(mut m) => {
            env.restore(&mut m);
            expand_shaped(Value::Object(m), shape, loc, ctx, out);
        }
        other => expand_shaped(other, shape, loc, ctx, out),
    }
}

/// [`expand`] for a record parsed with a [`Projection`]: `shape` is what
/// [`Projection::parse`] said of its top-level `configuration`.
fn expand_shaped(
    v: Value,
    shape: Option<bool>,
    loc: &str,
    ctx: &RawContext,
    out: &mut Vec<SourceEvent>,
) {
    // The common case, an AWS Config item: `resourceType`, and none of the keys of a wrapper, a
    // page or a raw response. One pass over its keys instead of asking for each by name.
    if plain_item(&v) {
        push_item(v, shape, loc, out);
        return;
    }
    let (data, shape) = match (&v.get("status_code"), v.get("data")) {
        (Some(_), Some(d)) => (d.clone(), None),
        _ => (v, shape),
    };
    if let Value::Array(items) = data {
        for (i, it) in items.into_iter().enumerate() {
            expand(it, &format!("{loc}[{i}]"), ctx, out);
        }
        return;
    }
    // What AWS Config left out of a saved page is not in the file: say so, key by key.
    if let Some(Value::Array(keys)) = data.get("unprocessedResourceKeys") {
        for k in keys {
            out.push(SourceEvent::Error {
                location: loc.to_string(),
                message: format!(
                    "AWS Config did not process `{}` `{}` (unprocessedResourceKeys): its configuration is not in this file",
                    k.get("resourceType").and_then(Value::as_str).unwrap_or("?"),
                    k.get("resourceId").and_then(Value::as_str).unwrap_or("?")
                ),
            });
        }
    }
    if let Some(token) = data
        .get("NextToken")
        .or_else(|| data.get("nextToken"))
        .and_then(Value::as_str)
        && !token.is_empty()
    {
        out.push(SourceEvent::Error {
            location: loc.to_string(),
            message: "this page has a `NextToken`: more results exist that are not in this file"
                .into(),
        });
    }
    for key in PAGE_KEYS {
        if let Some(Value::Array(items)) = data.get(key) {
            for (i, it) in items.iter().enumerate() {
                let it = match it {
                    Value::String(s) => match serde_json::from_str::<Value>(s) {
                        Ok(v) => v,
                        Err(e) => {
                            out.push(SourceEvent::Error {
                                location: format!("{loc} {key}[{i}]"),
                                message: format!("invalid JSON in a result string: {e}"),
                            });
                            continue;
                        }
                    },
                    other => other.clone(),
                };
                expand(it, &format!("{loc} {key}[{i}]"), ctx, out);
            }
            return;
        }
    }
    if normalize::is_raw_response(&data) {
        let (rs, errs) = normalize::raw_response(&data, ctx);
        for r in rs {
            let mut r = r;
            r.origin = Some(loc.to_string());
            out.push(SourceEvent::Resource(Box::new(r)));
        }
        for e in errs {
            out.push(SourceEvent::Error {
                location: loc.to_string(),
                message: e,
            });
        }
        return;
    }
    if data.get("resourceType").is_none()
        && let Some(wrapped) = normalize::wrap_raw_item(&data)
    {
        expand(wrapped, loc, ctx, out);
        return;
    }
    if data.get("resourceType").is_none()
        && data.get("arn").is_none()
        && data.get("ARN").is_none()
        && data.get("configuration").is_none()
        && data.get("invokingEvent").is_none()
        && data.get("configurationItem").is_none()
        && data.get("detail-type").is_none()
        && data.get("eventName").is_none()
    {
        if let Some(err) = data.get("Error") {
            let code = err.get("Code").and_then(Value::as_str).unwrap_or("unknown");
            let msg = err.get("Message").and_then(Value::as_str).unwrap_or("");
            out.push(SourceEvent::Error {
                location: loc.to_string(),
                message: format!("the recorded call failed with `{code}`: {msg}"),
            });
            return;
        }
        let keys: Vec<String> = data
            .as_object()
            .map(|m| {
                m.keys()
                    .filter(|k| *k != "ResponseMetadata")
                    .map(|k| format!("`{k}`"))
                    .collect()
            })
            .unwrap_or_default();
        out.push(SourceEvent::Error {
            location: loc.to_string(),
            message: if keys.is_empty() {
                "an empty record (expected an AWS Config configuration item or a Describe/List API response)".into()
            } else {
                format!(
                    "not a record Assetwarden can read: its keys are {} (expected an AWS Config configuration item, or a response of a supported Describe/List call; see `normalize` in the docs)",
                    keys.join(", ")
                )
            },
        });
        return;
    }
    push_item(data, shape, loc, out);
}

/// The keys under which AWS Config's pages and query results list their items.
const PAGE_KEYS: [&str; 4] = [
    "configurationItems",
    "baseConfigurationItems",
    "Results",
    "ConfigurationItems",
];

/// Whether a record is an AWS Config item and nothing else (see [`expand_shaped`]).
fn plain_item(v: &Value) -> bool {
    v.as_object().is_some_and(|m| plain_map(m, false))
}

/// [`plain_item`] of an item's map, `typed` when its `resourceType` was read into a slot.
fn plain_map(m: &serde_json::Map<String, Value>, typed: bool) -> bool {
    (typed || m.contains_key("resourceType"))
        && !m.keys().any(|k| {
            let k = k.as_str();
            matches!(
                k,
                "status_code" | "data" | "unprocessedResourceKeys" | "NextToken" | "nextToken"
            ) || PAGE_KEYS.contains(&k)
                || normalize::RAW_RESPONSE_KEYS.contains(&k)
        })
}

/// Normalises one configuration item and queues its resources (or why it has none).
fn push_item(data: Value, shape: Option<bool>, loc: &str, out: &mut Vec<SourceEvent>) {
    push_result(normalize::config_item_shaped(data, shape), loc, out);
}

/// Queues what normalising one item gave.
fn push_result(normalised: Result<Normalised, String>, loc: &str, out: &mut Vec<SourceEvent>) {
    match normalised {
        Ok(Normalised::Resources(rs)) => {
            for mut r in rs {
                r.origin = Some(loc.to_string());
                out.push(SourceEvent::Resource(Box::new(r)));
            }
        }
        Ok(Normalised::Deleted(arn)) => out.push(SourceEvent::Skipped {
            location: loc.to_string(),
            reason: format!("`{arn}` is deleted"),
        }),
        Err(e) => out.push(SourceEvent::Error {
            location: loc.to_string(),
            message: e,
        }),
    }
}

impl<R: BufRead> Iterator for RecordEvents<R> {
    type Item = SourceEvent;
    fn next(&mut self) -> Option<SourceEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            if self.staged.len() >= CHUNK || (self.mode == Mode::Done && !self.staged.is_empty()) {
                self.flush();
                continue;
            }
            let step = match self.mode {
                Mode::Undecided => self.decide().map(|_| true),
                Mode::Lines => self.next_line(),
                Mode::Values => self.next_value(),
                Mode::Done => return None,
            };
            if let Err(e) = step {
                self.mode = Mode::Done;
                self.staged.push(Staged::Ready(SourceEvent::Error {
                    location: format!("{}:{}", self.label, self.line),
                    message: format!("read error: {e}"),
                }));
            }
        }
    }
}

/// Reads a whole reader into events (small inputs).
pub fn read_all(mut r: impl Read, label: &str) -> Vec<SourceEvent> {
    let mut b = Vec::new();
    if let Err(e) = r.read_to_end(&mut b) {
        return vec![SourceEvent::Error {
            location: label.to_string(),
            message: format!("read error: {e}"),
        }];
    }
    InventoryBytes::new(label, b).events().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str) -> Vec<SourceEvent> {
        InventoryBytes::new("inv", text.as_bytes().to_vec())
            .events()
            .collect()
    }

    fn item(i: usize) -> String {
        format!(
            "{{\"resourceType\":\"AWS::EC2::Volume\",\"arn\":\"arn:aws:ec2:us-east-1:123456789012:volume/vol-{i}\",\"configuration\":{{\"encrypted\":true}}}}"
        )
    }

    fn summary(ev: &[SourceEvent]) -> (usize, Vec<String>) {
        let n = ev
            .iter()
            .filter(|e| matches!(e, SourceEvent::Resource(_)))
            .count();
        let errs = ev
            .iter()
            .filter_map(|e| match e {
                SourceEvent::Error { location, message } => Some(format!("{location} {message}")),
                _ => None,
            })
            .collect();
        (n, errs)
    }

    #[test]
    fn ndjson_bad_line_is_reported_and_rest_read() {
        let text = format!(
            "{}\n{{\"resourceType\": \n{}\n\n{}\n",
            item(1),
            item(2),
            item(3)
        );
        let (n, errs) = summary(&events(&text));
        assert_eq!(n, 3, "{errs:?}");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("inv:2:"), "{errs:?}");
    }

    #[test]
    fn ndjson_lines_are_read_whatever_their_ends_and_lengths() {
        // CRLF ends, blank and white-space lines, indentation, a line far longer than the
        // reader's buffer, a bad line, and no final line break.
        let long = format!(
            "{{\"resourceType\":\"AWS::EC2::Volume\",\"arn\":\"arn:aws:ec2:us-east-1:123456789012:volume/vol-9\",\"configuration\":{{\"encrypted\":true,\"pad\":\"{}\"}}}}",
            "x".repeat(5000)
        );
        let text = format!(
            "{}\r\n\r\n  \t\r\n   {}\r\n{long}\n{{\"resourceType\": \r\n{}",
            item(1),
            item(2),
            item(3)
        );
        for capacity in [16, 64 * 1024] {
            let reader = std::io::BufReader::with_capacity(capacity, Cursor::new(text.as_bytes()));
            let ev: Vec<SourceEvent> =
                RecordEvents::new(reader, "inv", false, RawContext::default()).collect();
            let (n, errs) = summary(&ev);
            assert_eq!(n, 4, "{errs:?}");
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert!(errs[0].starts_with("inv:6:"), "{errs:?}");
            let origins: Vec<&str> = ev
                .iter()
                .filter_map(|e| match e {
                    SourceEvent::Resource(r) => r.origin.as_deref(),
                    _ => None,
                })
                .collect();
            assert_eq!(origins, ["inv:1", "inv:4", "inv:5", "inv:7"]);
        }
    }

    #[test]
    fn invalid_utf8_is_reported_where_it_is_and_the_rest_read() {
        let proj = {
            let mut b = crate::projection::Projection::builder();
            b.read(
                &["AWS::EC2::Volume".into()],
                &crate::path::AttrPath::parse("configuration.encrypted").unwrap(),
            );
            Arc::new(b.build())
        };
        // The bad byte is in a value no check reads: a projection skips it, and it is still an
        // error (JSON is UTF-8), with and without the projection.
        let bad = [
            br#"{"resourceType":"AWS::EC2::Volume","arn":"arn:aws:ec2:us-east-1:123456789012:volume/vol-2","configuration":{"z":""#.as_slice(),
            &[0xff],
            br#"","encrypted":true}}"#,
        ]
        .concat();
        let col = bad.iter().position(|&b| b == 0xff).unwrap() + 1;
        let text = [
            format!("{}\n", item(1)).as_bytes(),
            &bad,
            format!("\n{}\n", item(3)).as_bytes(),
        ]
        .concat();
        for p in [None, Some(proj)] {
            let ev: Vec<SourceEvent> = InventoryBytes::new("inv", text.clone())
                .projection(p)
                .events()
                .collect();
            let (n, errs) = summary(&ev);
            assert_eq!(n, 2, "{errs:?}");
            assert_eq!(
                errs,
                [format!(
                    "inv:2:{col} invalid JSON: invalid UTF-8 (byte 0xff)"
                )]
            );
        }
        // In a value spread over lines: the line and column of the byte itself.
        let pretty = [
            b"{\n  \"resourceType\": \"AWS::EC2::Volume\",\n  \"z\": \"".as_slice(),
            &[0xff],
            b"\"\n}\n",
        ]
        .concat();
        let (_, errs) = summary(
            &InventoryBytes::new("inv", pretty)
                .events()
                .collect::<Vec<_>>(),
        );
        assert_eq!(errs, ["inv:3:9 invalid JSON: invalid UTF-8 (byte 0xff)"]);
    }

    #[test]
    fn json_array_streams_elements_with_lines() {
        let text = format!(
            "[\n  {},\n  {{\"oops\": tru}},\n  {}\n]\n",
            item(1),
            item(3)
        );
        let (n, errs) = summary(&events(&text));
        assert_eq!(n, 2, "{errs:?}");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("inv:3:"), "{errs:?}");
        assert!(errs[0].contains("invalid JSON"), "{errs:?}");
    }

    #[test]
    fn pretty_single_object_and_wrappers() {
        let text = format!(
            "{{\n \"configurationItems\": [{}, {}]\n}}\n",
            item(1),
            item(2)
        );
        let (n, errs) = summary(&events(&text));
        assert_eq!((n, errs.len()), (2, 0));
        let sel = format!("{{\"Results\": [{:?}]}}", item(5));
        let (n, errs) = summary(&events(&sel));
        assert_eq!((n, errs.len()), (1, 0), "{errs:?}");
    }

    #[test]
    fn truncated_array_is_reported() {
        let text = format!("[{}, {{\"a\": [1, 2", item(1));
        let (n, errs) = summary(&events(&text));
        assert_eq!(n, 1);
        assert!(errs[0].contains("unexpected end of file"), "{errs:?}");
    }

    #[test]
    fn records_without_type_are_errors() {
        let (n, errs) = summary(&events("{\"foo\": 1}\n{\"bar\": 2}\n"));
        assert_eq!(n, 0);
        assert_eq!(errs.len(), 2);
        assert!(errs[1].starts_with("inv:2"), "{errs:?}");
        assert!(errs[0].contains("its keys are `foo`"), "{errs:?}");
        let (_, errs) = summary(&events(
            "{\"arn\": \"arn:aws:foo:us-east-1:123456789012:thing/x\"}\n",
        ));
        assert!(
            errs[0].contains("not of a type Assetwarden knows"),
            "{errs:?}"
        );
        let (_, errs) = summary(&events(
            "{\"Error\": {\"Code\": \"AccessDenied\", \"Message\": \"no\"}}\n",
        ));
        assert!(errs[0].contains("failed with `AccessDenied`"), "{errs:?}");
    }

    #[test]
    fn partial_pages_say_what_is_missing() {
        let text = format!(
            "{{\"baseConfigurationItems\": [{}], \"unprocessedResourceKeys\": [{{\"resourceType\": \"AWS::S3::Bucket\", \"resourceId\": \"b2\"}}]}}",
            item(1)
        );
        let (n, errs) = summary(&events(&text));
        assert_eq!(n, 1);
        assert!(errs[0].contains("`AWS::S3::Bucket` `b2`"), "{errs:?}");
        let (_, errs) = summary(&events("{\"Results\": [], \"NextToken\": \"abc\"}"));
        assert!(errs[0].contains("NextToken"), "{errs:?}");
    }

    #[test]
    fn narrow_items_leave_tags_and_supplementary_unobserved() {
        let ev = events(
            "{\"resourceType\":\"AWS::S3::Bucket\",\"arn\":\"arn:aws:s3:::b\",\"configuration\":{\"name\":\"b\"}}\n",
        );
        let SourceEvent::Resource(r) = &ev[0] else {
            panic!("{ev:?}")
        };
        let paths: Vec<&str> = r.unobserved.iter().map(|u| u.path.as_str()).collect();
        assert_eq!(paths, vec!["tags", "supplementaryConfiguration"]);
    }

    #[test]
    fn bare_describe_items_are_recognised() {
        let ev = events(
            "{\"GroupId\": \"sg-1\", \"OwnerId\": \"123456789012\", \"IpPermissions\": [], \"GroupName\": \"g\"}\n",
        );
        let SourceEvent::Error { message, .. } = &ev[0] else {
            panic!("{ev:?}")
        };
        assert!(message.contains("--region"), "{message}");
        let ctx = RawContext {
            account: None,
            region: Some("eu-west-1".into()),
            partition: None,
        };
        let mut out = Vec::new();
        expand(
            serde_json::json!({"VolumeId": "vol-1", "Size": 8, "Encrypted": true}),
            "x",
            &RawContext {
                account: Some("123456789012".into()),
                ..ctx
            },
            &mut out,
        );
        let SourceEvent::Resource(r) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(r.resource_type, "AWS::EC2::Volume");
    }

    #[test]
    fn deleted_items_are_skipped() {
        let ev = events(
            "{\"resourceType\":\"AWS::S3::Bucket\",\"arn\":\"arn:aws:s3:::b\",\"configurationItemStatus\":\"ResourceDeleted\"}\n",
        );
        assert!(matches!(ev[0], SourceEvent::Skipped { .. }));
    }
}
