//! The Assetwarden rule SDK for Rust guests (rule ABI 1). Copy this file into a rule crate built
//! for `wasm32-unknown-unknown`; it has no dependencies.
//!
//! The host writes the input (see the ABI in crates/rules-wasm/README.md) into memory it got
//! from `aw_alloc`, calls `aw_evaluate`, and reads the JSON result list it returns. Each call
//! runs in a fresh instance, so nothing here is ever freed.

/// One resource of a batch: its index, type, ARN and the raw JSON of each declared path
/// (`None` when the resource has no value there), in the rule's `reads` order.
pub struct Resource<'a> {
    /// Index in the batch (echoed in the result).
    pub index: usize,
    /// CloudFormation type.
    pub resource_type: &'a str,
    /// ARN.
    pub arn: &'a str,
    values: Vec<Option<&'a str>>,
}

impl<'a> Resource<'a> {
    /// The raw JSON of the `i`-th declared path.
    pub fn raw(&self, i: usize) -> Option<&'a str> {
        self.values.get(i).copied().flatten()
    }
    /// Whether the `i`-th value is the JSON `true` (a string "true" is not).
    pub fn is_true(&self, i: usize) -> bool {
        self.raw(i) == Some("true")
    }
    /// The `i`-th value as a string, when it is a JSON string.
    pub fn string(&self, i: usize) -> Option<String> {
        self.raw(i).and_then(json_string)
    }
}

/// A decoded input.
pub struct Input<'a> {
    /// Which of the module's rules to run (index into `metadata().rules`).
    pub rule: usize,
    params: Vec<(&'a str, &'a str)>,
    /// The resources.
    pub resources: Vec<Resource<'a>>,
}

impl<'a> Input<'a> {
    /// Parses the input; `n_reads` is the number of paths the rule declared.
    pub fn parse(text: &'a str, reads_of: impl Fn(usize) -> usize) -> Result<Input<'a>, String> {
        let mut lines = text.split('\n');
        let header = lines.next().unwrap_or("");
        let mut h = header.split(' ');
        if h.next() != Some("AW1") {
            return Err(format!("unexpected input header `{header}`"));
        }
        let rule: usize = h.next().and_then(|s| s.parse().ok()).ok_or("bad rule index")?;
        let count: usize = h.next().and_then(|s| s.parse().ok()).ok_or("bad count")?;
        let n_reads = reads_of(rule);
        let mut params = Vec::new();
        let mut resources = Vec::with_capacity(count);
        let mut pending = lines.peekable();
        while let Some(line) = pending.peek() {
            if let Some(rest) = line.strip_prefix("P ") {
                let (name, value) = rest.split_once(' ').ok_or("bad parameter line")?;
                params.push((name, value));
                pending.next();
            } else {
                break;
            }
        }
        for _ in 0..count {
            let line = pending.next().ok_or("input ends early")?;
            let rest = line.strip_prefix("R ").ok_or("expected a resource line")?;
            let mut parts = rest.splitn(3, ' ');
            let index = parts.next().and_then(|s| s.parse().ok()).ok_or("bad index")?;
            let resource_type = parts.next().ok_or("no type")?;
            let arn = parts.next().unwrap_or("");
            let mut values = Vec::with_capacity(n_reads);
            for _ in 0..n_reads {
                let v = pending.next().ok_or("input ends early")?;
                values.push(if v.is_empty() { None } else { Some(v) });
            }
            resources.push(Resource { index, resource_type, arn, values });
        }
        Ok(Input { rule, params, resources })
    }

    /// A parameter's raw JSON.
    pub fn param_raw(&self, name: &str) -> Option<&'a str> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
    /// A string parameter.
    pub fn param_string(&self, name: &str) -> Option<String> {
        self.param_raw(name).and_then(json_string)
    }
}

/// Decodes a JSON string literal (with escapes); `None` when `raw` is not one.
pub fn json_string(raw: &str) -> Option<String> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?).unwrap_or('\u{fffd}'));
            }
            other => out.push(other),
        }
    }
    Some(out)
}

/// Appends `s` as a JSON string literal.
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A verdict on one resource.
pub enum Verdict {
    /// Complies.
    Pass,
    /// Does not comply, and why.
    Fail(String),
    /// Does not apply, and why.
    NotApplicable(String),
    /// The rule could not decide.
    Error(String),
}

/// Builds the result list.
#[derive(Default)]
pub struct Output {
    buf: String,
    n: usize,
}

impl Output {
    /// Adds the result for resource `index` with evidence as (path, raw JSON or `None`).
    pub fn push(&mut self, index: usize, verdict: Verdict, evidence: &[(&str, Option<&str>)]) {
        self.buf.push_str(if self.n == 0 { "[" } else { "," });
        self.n += 1;
        let (status, reason) = match &verdict {
            Verdict::Pass => ("pass", None),
            Verdict::Fail(r) => ("fail", Some(r)),
            Verdict::NotApplicable(r) => ("not_applicable", Some(r)),
            Verdict::Error(r) => ("error", Some(r)),
        };
        self.buf.push_str(&format!("{{\"i\":{index},\"status\":\"{status}\""));
        if let Some(r) = reason {
            self.buf.push_str(",\"reason\":");
            push_json_string(&mut self.buf, r);
        }
        if !evidence.is_empty() {
            self.buf.push_str(",\"evidence\":[");
            for (k, (path, value)) in evidence.iter().enumerate() {
                if k > 0 {
                    self.buf.push(',');
                }
                self.buf.push_str("{\"path\":");
                push_json_string(&mut self.buf, path);
                self.buf.push_str(",\"value\":");
                self.buf.push_str(value.unwrap_or("null"));
                self.buf.push('}');
            }
            self.buf.push(']');
        }
        self.buf.push('}');
    }

    /// The finished list.
    pub fn finish(mut self) -> String {
        if self.n == 0 {
            self.buf.push('[');
        }
        self.buf.push(']');
        self.buf
    }
}

/// `aw_alloc`: memory for the host to write the input into.
pub fn alloc(len: i32) -> i32 {
    let mut v: Vec<u8> = Vec::with_capacity(len.max(0) as usize);
    let p = v.as_mut_ptr();
    std::mem::forget(v);
    p as usize as i32
}

/// Hands `bytes` to the host: their address and length packed as the ABI's i64.
pub fn give(bytes: Vec<u8>) -> i64 {
    let b = bytes.leak();
    ((b.as_ptr() as usize as i64) << 32) | (b.len() as i64)
}

/// The input the host wrote at (`ptr`, `len`).
///
/// # Safety
/// `ptr` and `len` must be what the host passed to `aw_evaluate`.
pub unsafe fn input<'a>(ptr: i32, len: i32) -> &'a str {
    // SAFETY: the host wrote `len` bytes at `ptr`, memory it got from `aw_alloc`.
    let bytes = unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len as usize) };
    std::str::from_utf8(bytes).unwrap_or("")
}

/// Sends a line to the host's bounded log.
pub fn log(msg: &str) {
    #[link(wasm_import_module = "assetwarden")]
    unsafe extern "C" {
        #[link_name = "log"]
        fn host_log(ptr: i32, len: i32);
    }
    // SAFETY: the host reads `len` bytes at `ptr`, which are `msg`'s.
    unsafe { host_log(msg.as_ptr() as usize as i32, msg.len() as i32) }
}
