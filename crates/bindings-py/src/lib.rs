//! The `assetwarden._native` extension module; the `assetwarden` Python package wraps it.
//!
//! Every entry point catches Rust panics and raises `AssetwardenError` instead, so no
//! `PanicException` ever reaches Python. Long evaluations run with the GIL released, in chunks,
//! checking for Ctrl-C between them.

use std::collections::VecDeque;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use assetwarden_core::checks::catalog;
use assetwarden_core::classify::TagPlan as CoreTagPlan;
use assetwarden_core::finding::Finding as CoreFinding;
use assetwarden_core::normalize::RawContext;
use assetwarden_core::output::{self, AsffOptions};
use assetwarden_core::report::ScanReport as CoreReport;
use assetwarden_core::source::{RecordEvents, SourceEvent, expand};
use assetwarden_core::{Engine as CoreEngine, Keep, Policy as CorePolicy, Resource};
use pyo3::exceptions::{PyStopIteration, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Value};

/// Resources converted and evaluated per chunk (the GIL is released for each).
const CHUNK: usize = 2048;

fn errors_module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("assetwarden.errors")
}

fn raise(py: Python<'_>, class: &str, args: impl IntoPyObjectArgs) -> PyErr {
    match errors_module(py)
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.call1(args.into_args(py)?))
    {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}

/// A helper trait: tuples of Python-convertible arguments.
trait IntoPyObjectArgs {
    fn into_args(self, py: Python<'_>) -> PyResult<Bound<'_, PyTuple>>;
}

impl IntoPyObjectArgs for (String,) {
    fn into_args(self, py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
        PyTuple::new(py, [self.0])
    }
}

impl IntoPyObjectArgs for (String, Value) {
    fn into_args(self, py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
        let b = to_py(py, &self.1)?;
        PyTuple::new(py, [self.0.into_pyobject(py)?.into_any(), b])
    }
}

fn internal(py: Python<'_>, what: &str) -> PyErr {
    raise(
        py,
        "AssetwardenError",
        (format!("internal error in {what} (please report it)"),),
    )
}

/// Runs `f`, turning a panic into `AssetwardenError`.
fn guard<T>(py: Python<'_>, what: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(internal(py, what)),
    }
}

fn policy_error(py: Python<'_>, e: &assetwarden_core::PolicyError) -> PyErr {
    let diags: Vec<Value> = e
        .diagnostics
        .iter()
        .map(|d| {
            serde_json::json!({
                "file": d.location.as_ref().map(|l| l.file.clone()),
                "line": d.location.as_ref().map(|l| l.line),
                "column": d.location.as_ref().map(|l| l.column),
                "path": d.path,
                "message": d.message,
            })
        })
        .collect();
    raise(py, "PolicyError", (e.to_string(), Value::Array(diags)))
}

// ---- conversions ----

/// A Python object (dict, list, str, number, bool, None, datetime, Decimal) as JSON.
fn to_value(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > 256 {
        return Err(PyTypeError::new_err("the object is nested too deeply"));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        if let Ok(v) = i.extract::<i64>() {
            return Ok(Value::from(v));
        }
        if let Ok(v) = i.extract::<u64>() {
            return Ok(Value::from(v));
        }
        return Ok(Value::String(i.str()?.to_cow()?.into_owned()));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .unwrap_or(Value::Null));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = Map::new();
        for (k, v) in d.iter() {
            let key = match k.cast::<PyString>() {
                Ok(s) => s.to_cow()?.into_owned(),
                Err(_) => k.str()?.to_cow()?.into_owned(),
            };
            m.insert(key, to_value(&v, depth + 1)?);
        }
        return Ok(Value::Object(m));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|x| to_value(&x, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|x| to_value(&x, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::String(
            String::from_utf8_lossy(b.as_bytes()).into_owned(),
        ));
    }
    // boto3 returns datetime objects; Decimal comes from DynamoDB.
    if obj.hasattr("isoformat")? {
        return Ok(Value::String(
            obj.call_method0("isoformat")?.str()?.to_cow()?.into_owned(),
        ));
    }
    if obj.get_type().name()?.to_cow()? == "Decimal" {
        let f: f64 = obj.call_method0("__float__")?.extract()?;
        return Ok(serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null));
    }
    Err(PyTypeError::new_err(format!(
        "cannot read a `{}` as part of a resource",
        obj.get_type().name()?.to_cow()?
    )))
}

/// JSON as Python objects.
fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.into_pyobject(py)?.into_any(),
            (_, Some(u), _) => u.into_pyobject(py)?.into_any(),
            (_, _, Some(f)) => f.into_pyobject(py)?.into_any(),
            _ => py.None().into_bound(py),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let l = PyList::empty(py);
            for x in a {
                l.append(to_py(py, x)?)?;
            }
            l.into_any()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, x) in m {
                d.set_item(k, to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

fn ser<T: serde::Serialize>(py: Python<'_>, v: &T) -> PyResult<Value> {
    serde_json::to_value(v)
        .map_err(|e| raise(py, "AssetwardenError", (format!("cannot serialise: {e}"),)))
}

// ---- Policy ----

/// Parses a policy and loads the WebAssembly rules it names (paths relative to the policy
/// file's folder, else to the working directory), compiling them without the GIL.
fn load_policy(
    py: Python<'_>,
    text: &str,
    name: &str,
    path: Option<&std::path::Path>,
) -> PyResult<Policy> {
    let res = py.detach(|| {
        let rt = assetwarden_rules_wasm::Runtime::new();
        assetwarden_rules_wasm::load_policy(&rt, text, name, path, &catalog())
    });
    match res {
        Ok(inner) => Ok(Policy { inner }),
        Err(assetwarden_rules_wasm::PolicyLoadError::Policy(e)) => Err(policy_error(py, &e)),
        Err(assetwarden_rules_wasm::PolicyLoadError::Rule(m)) => Err(raise(py, "RuleError", (m,))),
    }
}

/// A validated policy document.
#[pyclass(module = "assetwarden._native", frozen)]
struct Policy {
    inner: CorePolicy,
}

#[pymethods]
impl Policy {
    /// Reads a policy file (YAML or JSON).
    #[staticmethod]
    fn from_file(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Policy> {
        guard(py, "Policy.from_file", || {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                raise(
                    py,
                    "PolicyError",
                    (
                        format!("cannot read `{}`: {e}", path.display()),
                        Value::Array(vec![]),
                    ),
                )
            })?;
            load_policy(py, &text, &path.display().to_string(), Some(&path))
        })
    }

    /// Parses a policy from text; `name` labels it in error locations.
    #[staticmethod]
    #[pyo3(signature = (text, name = "<string>"))]
    fn from_str(py: Python<'_>, text: &str, name: &str) -> PyResult<Policy> {
        guard(py, "Policy.from_str", || load_policy(py, text, name, None))
    }

    /// Builds a policy from a dict (as `yaml.safe_load` returns it).
    #[staticmethod]
    #[pyo3(signature = (document, name = "<dict>"))]
    fn from_dict(py: Python<'_>, document: &Bound<'_, PyAny>, name: &str) -> PyResult<Policy> {
        guard(py, "Policy.from_dict", || {
            let v = to_value(document, 0)?;
            let text = serde_json::to_string_pretty(&v)
                .map_err(|e| PyTypeError::new_err(e.to_string()))?;
            load_policy(py, &text, name, None)
        })
    }

    /// The policy's name (or its file's).
    #[getter]
    fn name(&self) -> String {
        self.inner
            .doc
            .name
            .clone()
            .unwrap_or_else(|| self.inner.source_name.clone())
    }

    /// The tag keys the classification scheme governs.
    #[getter]
    fn governed_tags(&self) -> Vec<String> {
        use assetwarden_core::TagPolicy;
        self.inner
            .classification
            .as_ref()
            .map(|c| c.keys())
            .unwrap_or_default()
    }

    fn __repr__(&self) -> String {
        format!("<Policy {:?}>", self.name())
    }
}

// ---- Finding ----

/// One check's verdict on one resource.
#[pyclass(module = "assetwarden._native", frozen)]
struct Finding {
    inner: CoreFinding,
}

#[pymethods]
impl Finding {
    /// Stable id: same check and resource, same id, across runs.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }
    /// The check's id.
    #[getter]
    fn check_id(&self) -> &str {
        &self.inner.check_id
    }
    /// The check's title.
    #[getter]
    fn title(&self) -> &str {
        &self.inner.title
    }
    /// `PASS`, `FAIL`, `UNKNOWN`, `NOT_APPLICABLE`, `SUPPRESSED` or `ERROR`.
    #[getter]
    fn status(&self) -> &'static str {
        self.inner.status.as_str()
    }
    /// `informational`, `low`, `medium`, `high` or `critical`.
    #[getter]
    fn severity(&self) -> &'static str {
        self.inner.severity.as_str()
    }
    /// What was found.
    #[getter]
    fn message(&self) -> &str {
        &self.inner.message
    }
    /// The resource's ARN.
    #[getter]
    fn resource_arn(&self) -> &str {
        &self.inner.resource.arn
    }
    /// The resource's CloudFormation type.
    #[getter]
    fn resource_type(&self) -> &str {
        &self.inner.resource.resource_type
    }
    /// The resource's name.
    #[getter]
    fn resource_name(&self) -> &str {
        &self.inner.resource.name
    }
    /// The account.
    #[getter]
    fn account_id(&self) -> &str {
        &self.inner.resource.account_id
    }
    /// The region.
    #[getter]
    fn region(&self) -> &str {
        &self.inner.resource.region
    }
    /// The resource's tags after its tag plan.
    #[getter]
    fn tags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ser(py, &self.inner.resource.tags)?)
    }
    /// The attribute paths and values that decided.
    #[getter]
    fn evidence<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ser(py, &self.inner.evidence)?)
    }
    /// Standards references (Security Hub control, CIS, CCE, frameworks).
    #[getter]
    fn references<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ser(py, &self.inner.references)?)
    }
    /// How to fix it.
    #[getter]
    fn remediation(&self) -> Option<&str> {
        self.inner.remediation.as_deref()
    }
    /// The exception that suppressed it, if any.
    #[getter]
    fn suppression<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ser(py, &self.inner.suppression)?)
    }
    /// Everything, as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ser(py, &self.inner)?)
    }
    /// The finding in the AWS Security Finding Format.
    #[pyo3(signature = (product_account = None, product_region = None))]
    fn to_asff<'py>(
        &self,
        py: Python<'py>,
        product_account: Option<String>,
        product_region: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = AsffOptions {
            product_account,
            product_region,
        };
        match output::asff_finding(&self.inner, &opts) {
            Ok(v) => to_py(py, &v),
            Err(e) => Err(raise(py, "AssetwardenError", (e,))),
        }
    }
    fn __repr__(&self) -> String {
        format!(
            "<Finding {} {} {} on {}>",
            self.inner.status, self.inner.severity, self.inner.check_id, self.inner.resource.arn
        )
    }
}

// ---- TagPlan ----

/// The tags a resource would get (a plan; nothing is written).
#[pyclass(module = "assetwarden._native", frozen)]
struct TagPlan {
    inner: CoreTagPlan,
}

#[pymethods]
impl TagPlan {
    /// The resource.
    #[getter]
    fn arn(&self) -> &str {
        &self.inner.arn
    }
    /// Its type.
    #[getter]
    fn resource_type(&self) -> &str {
        &self.inner.resource_type
    }
    /// The tags to write, as a dict.
    #[getter]
    fn tags<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ser(py, &self.inner.to_write())?)
    }
    /// The changes: key, action (`add`/`fix`), old and new value, reason.
    #[getter]
    fn changes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ser(py, &self.inner.changes)?)
    }
    /// Changes refused because they would break AWS's tag rules.
    #[getter]
    fn refused(&self) -> Vec<String> {
        self.inner.refused.clone()
    }
    /// Everything, as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ser(py, &self.inner)?)
    }
    fn __repr__(&self) -> String {
        format!(
            "<TagPlan {} ({} changes)>",
            self.inner.arn,
            self.inner.changes.len()
        )
    }
}

// ---- ScanReport ----

/// The result of `Engine.scan`: findings, tag plans, errors, coverage.
#[pyclass(module = "assetwarden._native", frozen)]
struct ScanReport {
    inner: Arc<CoreReport>,
}

#[pymethods]
impl ScanReport {
    /// The findings, as an iterator.
    fn findings(&self) -> FindingIterator {
        FindingIterator {
            state: std::sync::Mutex::new(IterState::Report {
                report: self.inner.clone(),
                next: 0,
            }),
        }
    }
    /// The tag plans that change something.
    #[getter]
    fn tag_plans(&self) -> Vec<TagPlan> {
        self.inner
            .tag_plans
            .iter()
            .map(|p| TagPlan { inner: p.clone() })
            .collect()
    }
    /// Errors, each with its kind, location and message.
    #[getter]
    fn errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ser(py, &self.inner.errors)?)
    }
    /// The coverage ledger: resources by type, per-check tallies, UNKNOWN reasons, gaps.
    #[getter]
    fn coverage<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ser(py, &self.inner.coverage)?)
    }
    /// Counts by status and severity.
    #[getter]
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ser(py, &self.inner.summary)?)
    }
    /// Everything, as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ser(py, &*self.inner)?)
    }
    /// The report rendered: `json`, `sarif`, `asff`, `markdown` or `table`.
    #[pyo3(signature = (format = "json"))]
    fn render(&self, py: Python<'_>, format: &str) -> PyResult<String> {
        Ok(match format {
            "json" => output::json(&self.inner),
            "sarif" => {
                serde_json::to_string_pretty(&output::sarif(&self.inner)).unwrap_or_default()
            }
            "asff" => {
                serde_json::to_string_pretty(&output::asff(&self.inner, &AsffOptions::default()).0)
                    .unwrap_or_default()
            }
            "markdown" => output::markdown(&self.inner),
            "table" => output::table(&self.inner, 160),
            other => {
                return Err(raise(
                    py,
                    "AssetwardenError",
                    (format!(
                        "unknown format `{other}` (json, sarif, asff, markdown, table)"
                    ),),
                ));
            }
        })
    }
    fn __repr__(&self) -> String {
        format!("<ScanReport {}>", output::summary_line(&self.inner))
    }
}

// ---- inputs ----

enum Input {
    /// JSON or NDJSON text, read in Rust.
    Text(RecordEvents<Cursor<Vec<u8>>>),
    /// A Python iterator of records.
    Iter(Py<PyAny>),
    /// Nothing left.
    Done,
}

/// Pulls up to `CHUNK` events from the input.
fn pull(
    py: Python<'_>,
    input: &mut Input,
    ctx: &RawContext,
    index: &mut usize,
) -> PyResult<Vec<SourceEvent>> {
    let mut out = Vec::new();
    match input {
        Input::Text(ev) => {
            let chunk: Vec<SourceEvent> = py.detach(|| ev.by_ref().take(CHUNK).collect());
            if chunk.len() < CHUNK {
                *input = Input::Done;
            }
            out = chunk;
        }
        Input::Iter(it) => {
            let it = it.bind(py).clone();
            while out.len() < CHUNK {
                let Some(item) = it.call_method0("__next__").map(Some).or_else(|e| {
                    if e.is_instance_of::<PyStopIteration>(py) {
                        Ok(None)
                    } else {
                        Err(e)
                    }
                })?
                else {
                    *input = Input::Done;
                    break;
                };
                let loc = format!("resources[{}]", *index);
                *index += 1;
                if let Ok(b) = item.cast::<PyBytes>() {
                    let bytes = b.as_bytes().to_vec();
                    out.extend(RecordEvents::from_reader(
                        Cursor::new(bytes),
                        &loc,
                        ctx.clone(),
                    ));
                } else if let Ok(s) = item.cast::<PyString>() {
                    let bytes = s.to_cow()?.as_bytes().to_vec();
                    out.extend(RecordEvents::from_reader(
                        Cursor::new(bytes),
                        &loc,
                        ctx.clone(),
                    ));
                } else {
                    let v = to_value(&item, 0)
                        .map_err(|e| raise(py, "SourceError", (format!("{loc}: {e}"),)))?;
                    expand(v, &loc, ctx, &mut out);
                }
            }
        }
        Input::Done => {}
    }
    Ok(out)
}

/// `projection`: parse only what the engine reads (for evaluation; never for results that
/// hand resources back).
fn make_input(
    py: Python<'_>,
    resources: &Bound<'_, PyAny>,
    ctx: &RawContext,
    projection: Option<Arc<assetwarden_core::projection::Projection>>,
) -> PyResult<Input> {
    if let Ok(b) = resources.cast::<PyBytes>() {
        return Ok(Input::Text(
            RecordEvents::from_reader(Cursor::new(b.as_bytes().to_vec()), "<bytes>", ctx.clone())
                .projection(projection),
        ));
    }
    if let Ok(s) = resources.cast::<PyString>() {
        return Ok(Input::Text(
            RecordEvents::from_reader(
                Cursor::new(s.to_cow()?.as_bytes().to_vec()),
                "<string>",
                ctx.clone(),
            )
            .projection(projection),
        ));
    }
    if resources.cast::<PyDict>().is_ok() {
        let l = PyList::new(py, [resources])?;
        return Ok(Input::Iter(l.as_any().try_iter()?.into_any().unbind()));
    }
    match resources.try_iter() {
        Ok(it) => Ok(Input::Iter(it.into_any().unbind())),
        Err(_) => Err(PyTypeError::new_err(format!(
            "resources must be a dict, a JSON str or bytes, or an iterable of them, not `{}`",
            resources.get_type().name()?.to_cow()?
        ))),
    }
}

// ---- FindingIterator ----

#[allow(clippy::large_enum_variant)]
enum IterState {
    Eval {
        engine: Arc<CoreEngine>,
        input: Input,
        ctx: RawContext,
        buffer: VecDeque<CoreFinding>,
        include_pass: bool,
        include_na: bool,
        index: usize,
    },
    Report {
        report: Arc<CoreReport>,
        next: usize,
    },
}

/// Findings, produced as they are consumed (a chunk of resources at a time).
#[pyclass(module = "assetwarden._native")]
struct FindingIterator {
    state: std::sync::Mutex<IterState>,
}

#[pymethods]
impl FindingIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Finding>> {
        guard(py, "FindingIterator.__next__", || {
            let mut st = self
                .state
                .lock()
                .map_err(|_| internal(py, "FindingIterator"))?;
            match &mut *st {
                IterState::Report { report, next } => {
                    let f = report.findings.get(*next).cloned();
                    *next += 1;
                    Ok(f.map(|inner| Finding { inner }))
                }
                IterState::Eval {
                    engine,
                    input,
                    ctx,
                    buffer,
                    include_pass,
                    include_na,
                    index,
                } => loop {
                    if let Some(f) = buffer.pop_front() {
                        return Ok(Some(Finding { inner: f }));
                    }
                    if matches!(input, Input::Done) {
                        return Ok(None);
                    }
                    py.check_signals()?;
                    let events = pull(py, input, ctx, index)?;
                    let mut resources = Vec::with_capacity(events.len());
                    for e in events {
                        match e {
                            SourceEvent::Resource(r) => resources.push(*r),
                            SourceEvent::Error { location, message } => {
                                return Err(raise(
                                    py,
                                    "SourceError",
                                    (format!("{location}: {message}"),),
                                ));
                            }
                            SourceEvent::Gap(_) | SourceEvent::Skipped { .. } => {}
                        }
                    }
                    let engine = engine.clone();
                    let (inc_pass, inc_na) = (*include_pass, *include_na);
                    let found: Vec<CoreFinding> = py.detach(move || {
                        let keep = Keep {
                            pass: inc_pass,
                            not_applicable: inc_na,
                        };
                        // The verdicts left out are not even built.
                        engine
                            .evaluate_batch_keeping(&resources, keep)
                            .into_iter()
                            .flat_map(|r| r.findings)
                            .collect()
                    });
                    buffer.extend(found);
                },
            }
        })
    }
}

// ---- Engine ----

/// Evaluates resources against a policy.
#[pyclass(module = "assetwarden._native", frozen)]
struct Engine {
    inner: Arc<CoreEngine>,
}

fn parse_time(
    py: Python<'_>,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<chrono::DateTime<chrono::Utc>>> {
    let Some(now) = now else { return Ok(None) };
    if now.is_none() {
        return Ok(None);
    }
    let text = if now.hasattr("isoformat")? {
        now.call_method0("isoformat")?.str()?.to_cow()?.into_owned()
    } else {
        now.str()?.to_cow()?.into_owned()
    };
    let fixed = if text.len() == 19 {
        format!("{text}Z")
    } else {
        text.clone()
    };
    chrono::DateTime::parse_from_rfc3339(&fixed)
        .map(|d| Some(d.with_timezone(&chrono::Utc)))
        .map_err(|e| {
            raise(
                py,
                "AssetwardenError",
                (format!("invalid time `{text}`: {e}"),),
            )
        })
}

#[pymethods]
impl Engine {
    /// An engine for `policy` (default: every built-in check, no classification).
    #[new]
    #[pyo3(signature = (policy = None, *, rules = None, now = None, batch_size = 4096))]
    fn new(
        py: Python<'_>,
        policy: Option<&Policy>,
        rules: Option<Vec<PyRef<'_, Rule>>>,
        now: Option<&Bound<'_, PyAny>>,
        batch_size: usize,
    ) -> PyResult<Engine> {
        guard(py, "Engine()", || {
            let mut b = CoreEngine::builder().batch_size(batch_size);
            if let Some(p) = policy {
                b = b.policy(p.inner.clone());
            }
            for r in rules.iter().flatten() {
                for c in &r.checks {
                    b = b.check(c.clone());
                }
            }
            if let Some(t) = parse_time(py, now)? {
                b = b.now(t);
            }
            b.build()
                .map(|e| Engine { inner: Arc::new(e) })
                .map_err(|e| match e {
                    assetwarden_core::Error::Policy(p) => policy_error(py, &p),
                    other => raise(py, "AssetwardenError", (other.to_string(),)),
                })
        })
    }

    /// Evaluates resources and yields their findings. `resources`: a dict (an AWS Config
    /// configuration item, a boto3 Describe/List response, or one item of one), JSON or NDJSON
    /// as `str`/`bytes` (the fast path, parsed in Rust), or an iterable of those. `account` and
    /// `region` name what raw responses do not. A record that cannot be read raises
    /// `SourceError` naming it.
    #[pyo3(signature = (resources, *, account = None, region = None, include_pass = true, include_not_applicable = false))]
    fn evaluate(
        &self,
        py: Python<'_>,
        resources: &Bound<'_, PyAny>,
        account: Option<String>,
        region: Option<String>,
        include_pass: bool,
        include_not_applicable: bool,
    ) -> PyResult<FindingIterator> {
        guard(py, "Engine.evaluate", || {
            let ctx = RawContext {
                account,
                region,
                partition: None,
            };
            let input = make_input(py, resources, &ctx, Some(Arc::new(self.inner.projection())))?;
            Ok(FindingIterator {
                state: std::sync::Mutex::new(IterState::Eval {
                    engine: self.inner.clone(),
                    input,
                    ctx,
                    buffer: VecDeque::new(),
                    include_pass,
                    include_na: include_not_applicable,
                    index: 0,
                }),
            })
        })
    }

    /// Scans resources into a report: findings, tag plans, errors (bad records are listed,
    /// not raised) and the coverage ledger.
    #[pyo3(signature = (resources, *, account = None, region = None))]
    fn scan(
        &self,
        py: Python<'_>,
        resources: &Bound<'_, PyAny>,
        account: Option<String>,
        region: Option<String>,
    ) -> PyResult<ScanReport> {
        guard(py, "Engine.scan", || {
            let ctx = RawContext {
                account,
                region,
                partition: None,
            };
            let mut input =
                make_input(py, resources, &ctx, Some(Arc::new(self.inner.projection())))?;
            let mut b = self.inner.report_builder(true);
            let mut index = 0;
            while !matches!(input, Input::Done) {
                py.check_signals()?;
                let events = pull(py, &mut input, &ctx, &mut index)?;
                let engine = self.inner.clone();
                b = py.detach(move || {
                    engine.scan_iter(events.into_iter(), &mut b);
                    b
                });
            }
            Ok(ScanReport {
                inner: Arc::new(self.inner.finish(b)),
            })
        })
    }

    /// The tag plans for resources (what the classification would add or fix).
    #[pyo3(signature = (resources, *, account = None, region = None))]
    fn plan_tags(
        &self,
        py: Python<'_>,
        resources: &Bound<'_, PyAny>,
        account: Option<String>,
        region: Option<String>,
    ) -> PyResult<Vec<TagPlan>> {
        let report = self.scan(py, resources, account, region)?;
        Ok(report.tag_plans())
    }

    /// The checks this engine runs, as dicts.
    #[getter]
    fn checks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let metas: Vec<&assetwarden_core::CheckMeta> = self.inner.checks();
        to_py(py, &ser(py, &metas)?)
    }

    fn __repr__(&self) -> String {
        format!("<Engine with {} checks>", self.inner.checks().len())
    }
}

// ---- Live AWS ----

/// Live AWS for ops scripts: the inventory, the tag writer, the auto-tag path and the Security
/// Hub export, on the standard AWS configuration (environment, profile, instance role) or the
/// one given. Calls release the GIL while they wait on AWS.
#[pyclass(module = "assetwarden._native", frozen)]
struct Aws {
    sdk: aws_config::SdkConfig,
    rt: Arc<tokio::runtime::Runtime>,
    regions: Vec<String>,
    use_config: bool,
}

fn aws_error(py: Python<'_>, message: String, code: Option<String>) -> PyErr {
    raise(
        py,
        "AwsError",
        (message, code.map(Value::String).unwrap_or(Value::Null)),
    )
}

#[pymethods]
impl Aws {
    /// `regions`: those to read (default: every region enabled for the account).
    /// `endpoint_url`: send every call there (a test server such as moto).
    #[new]
    #[pyo3(signature = (*, regions = None, profile = None, endpoint_url = None, region = None, use_config = true))]
    fn new(
        py: Python<'_>,
        regions: Option<Vec<String>>,
        profile: Option<String>,
        endpoint_url: Option<String>,
        region: Option<String>,
        use_config: bool,
    ) -> PyResult<Aws> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| aws_error(py, format!("cannot start the I/O runtime: {e}"), None))?;
        let sdk = py.detach(|| {
            rt.block_on(async {
                let mut l = aws_config::defaults(aws_config::BehaviorVersion::latest());
                if let Some(p) = &profile {
                    l = l.profile_name(p);
                }
                if let Some(u) = &endpoint_url {
                    l = l.endpoint_url(u);
                }
                if let Some(r) = region {
                    l = l.region(aws_config::Region::new(r));
                }
                let c = l.load().await;
                if c.region().is_none() {
                    c.to_builder()
                        .region(aws_config::Region::new("us-east-1"))
                        .build()
                } else {
                    c
                }
            })
        });
        Ok(Aws {
            sdk,
            rt: Arc::new(rt),
            regions: regions.unwrap_or_default(),
            use_config,
        })
    }

    /// Scans the live inventory with `engine`: findings, tag plans, errors and the coverage
    /// ledger (what could not be read is UNKNOWN there, never PASS).
    fn scan(&self, py: Python<'_>, engine: &Engine) -> PyResult<ScanReport> {
        use assetwarden_core::source::ResourceSource;
        use futures::StreamExt;
        let inv = assetwarden_aws::AwsInventory::new(&self.sdk, self.regions.clone()).config_mode(
            if self.use_config {
                assetwarden_aws::ConfigMode::Auto
            } else {
                assetwarden_aws::ConfigMode::Off
            },
        );
        let engine = engine.inner.clone();
        let rt = self.rt.clone();
        let res: Result<CoreReport, String> = py.detach(move || {
            let events: Vec<SourceEvent> = rt.block_on(async {
                match inv.open().await {
                    Ok(s) => Ok(s.collect::<Vec<_>>().await),
                    Err(e) => Err(e.to_string()),
                }
            })?;
            let mut b = engine.report_builder(true).keep_pass(true);
            engine.scan_iter(events.into_iter(), &mut b);
            Ok(engine.finish(b))
        });
        match res {
            Ok(r) => Ok(ScanReport { inner: Arc::new(r) }),
            Err(e) => Err(aws_error(py, e, None)),
        }
    }

    /// Applies tag plans: a dry run unless `apply=True`. Returns one dict per plan: `arn`,
    /// `outcome` (`Written`, `WouldWrite`, `Unchanged`, `{"Refused": why}`,
    /// `{"Failed": {"code", "message"}}`), `written` and `dropped` (tags set by someone since
    /// the plan, kept).
    #[pyo3(signature = (plans, *, apply = false))]
    fn apply_tags<'py>(
        &self,
        py: Python<'py>,
        plans: Vec<PyRef<'py, TagPlan>>,
        apply: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        use assetwarden_core::notify::TagWriter;
        let plans: Vec<CoreTagPlan> = plans.iter().map(|p| p.inner.clone()).collect();
        let writer = assetwarden_aws::AwsTagWriter::new(&self.sdk);
        let rt = self.rt.clone();
        let results = py.detach(move || rt.block_on(writer.apply(&plans, !apply)));
        to_py(py, &ser(py, &results)?)
    }

    /// Runs the auto-tag path on a CloudTrail event (EventBridge envelope, bare record, or log
    /// file as a dict): tags from `engine`'s classification scheme (written only with
    /// `apply=True`), then its checks on the new resources. Returns one dict per record.
    #[pyo3(signature = (event, engine, *, apply = false))]
    fn handle_event<'py>(
        &self,
        py: Python<'py>,
        event: &Bound<'py, PyAny>,
        engine: &Engine,
        apply: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let doc = to_value(event, 0)?;
        let engine = engine.inner.clone();
        let tagger = assetwarden_aws::autotag::AutoTagger::new(&self.sdk);
        let rt = self.rt.clone();
        let res = py.detach(move || rt.block_on(tagger.handle(&doc, &engine, !apply)));
        match res {
            Ok(outcomes) => to_py(py, &ser(py, &outcomes)?),
            Err(e) => Err(raise(py, "SourceError", (e.to_string(),))),
        }
    }

    /// Exports a report's findings to Security Hub (this tool's findings that pass now are
    /// archived). Returns the counts and every finding refused or failed.
    #[pyo3(signature = (report, *, region = None))]
    fn export_securityhub<'py>(
        &self,
        py: Python<'py>,
        report: &ScanReport,
        region: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let sdk = self.sdk.clone();
        let findings = report.inner.findings.clone();
        let rt = self.rt.clone();
        let res = py.detach(move || {
            rt.block_on(async {
                let (account, _) = assetwarden_aws::util::caller_account(&sdk).await?;
                let region = region
                    .or_else(|| sdk.region().map(|r| r.to_string()))
                    .unwrap_or_else(|| "us-east-1".into());
                assetwarden_aws::securityhub::SecurityHubExporter::new(&sdk, &account, &region)
                    .export(&findings)
                    .await
            })
        });
        match res {
            Ok(r) => to_py(py, &ser(py, &r)?),
            Err(f) => Err(aws_error(py, f.to_string(), Some(f.code))),
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "<Aws regions={} {}>",
            if self.regions.is_empty() {
                "enabled".to_string()
            } else {
                self.regions.join(",")
            },
            self.sdk
                .endpoint_url()
                .map(|u| format!("endpoint={u}"))
                .unwrap_or_default()
        )
    }
}

/// Every built-in check, as dicts.
#[pyfunction]
fn builtin_checks<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    to_py(py, &ser(py, &catalog())?)
}

/// Normalises one record (Config item or raw response) into resources, as dicts.
#[pyfunction]
#[pyo3(signature = (record, *, account = None, region = None))]
fn normalize<'py>(
    py: Python<'py>,
    record: &Bound<'py, PyAny>,
    account: Option<String>,
    region: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, "normalize", || {
        let v = to_value(record, 0)?;
        let mut out = Vec::new();
        expand(
            v,
            "record",
            &RawContext {
                account,
                region,
                partition: None,
            },
            &mut out,
        );
        let mut res: Vec<Resource> = Vec::new();
        for e in out {
            match e {
                SourceEvent::Resource(r) => res.push(*r),
                SourceEvent::Error { location, message } => {
                    return Err(raise(
                        py,
                        "SourceError",
                        (format!("{location}: {message}"),),
                    ));
                }
                _ => {}
            }
        }
        to_py(py, &ser(py, &res)?)
    })
}

// ---- WebAssembly rules ----

/// A WebAssembly rule module, loaded, checked and compiled (see the rule ABI in the
/// `assetwarden-rules-wasm` crate's README).
#[pyclass(module = "assetwarden._native", frozen)]
struct Rule {
    module: Arc<assetwarden_rules_wasm::RuleModule>,
    checks: Vec<Arc<dyn assetwarden_core::Check>>,
}

#[pymethods]
impl Rule {
    /// Loads a `.wasm` rule module. `sha256` refuses any other content; `params` sets the
    /// parameters its rules declare; `limits` overrides sandbox limits (`fuel`, `memory_mib`,
    /// ...). Raises `RuleError` naming the module and what is wrong.
    #[staticmethod]
    #[pyo3(signature = (path, *, sha256 = None, params = None, limits = None))]
    fn load(
        py: Python<'_>,
        path: std::path::PathBuf,
        sha256: Option<String>,
        params: Option<&Bound<'_, PyAny>>,
        limits: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Rule> {
        guard(py, "Rule.load", || {
            let as_map = |v: Option<&Bound<'_, PyAny>>,
                          what: &str|
             -> PyResult<serde_json::Map<String, Value>> {
                match v.map(|v| to_value(v, 0)).transpose()? {
                    None => Ok(serde_json::Map::new()),
                    Some(Value::Object(m)) => Ok(m),
                    Some(_) => Err(PyTypeError::new_err(format!("`{what}` must be a dict"))),
                }
            };
            let params = as_map(params, "params")?;
            let limits = assetwarden_rules_wasm::Limits::default()
                .with_overrides(&as_map(limits, "limits")?)
                .map_err(|m| raise(py, "RuleError", (m,)))?;
            let spec = assetwarden_rules_wasm::RuleSpec {
                path,
                sha256,
                params,
                limits,
                origin: None,
            };
            let res = py.detach(move || {
                let rt = assetwarden_rules_wasm::Runtime::new();
                let module = rt.load(&spec)?;
                let checks = module.checks()?;
                Ok::<_, assetwarden_rules_wasm::RuleError>((module, checks))
            });
            let (module, checks) = res.map_err(|e| raise(py, "RuleError", (e.to_string(),)))?;
            Ok(Rule { module, checks })
        })
    }

    /// The module's sha256, as a policy pins it.
    #[getter]
    fn sha256(&self) -> &str {
        self.module.sha256()
    }

    /// The ids of its rules.
    #[getter]
    fn ids(&self) -> Vec<String> {
        self.checks.iter().map(|c| c.meta().id.clone()).collect()
    }

    /// What `assetwarden rules info` prints: digest, kind, imports, exports, rules.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &ser(py, &self.module.info())?)
    }

    /// Runs the YAML test cases in `cases` (a file) and returns one dict per case, with `ok`.
    fn test<'py>(&self, py: Python<'py>, cases: std::path::PathBuf) -> PyResult<Bound<'py, PyAny>> {
        guard(py, "Rule.test", || {
            let text = std::fs::read_to_string(&cases).map_err(|e| {
                raise(
                    py,
                    "RuleError",
                    (format!("cannot read `{}`: {e}", cases.display()),),
                )
            })?;
            let name = cases.display().to_string();
            let checks = self.checks.clone();
            let res =
                py.detach(move || assetwarden_rules_wasm::cases::run_cases(&checks, &text, &name));
            let results = res.map_err(|m| raise(py, "RuleError", (m,)))?;
            to_py(py, &ser(py, &results)?)
        })
    }

    fn __repr__(&self) -> String {
        format!("<Rule {} [{}]>", self.module.name(), self.ids().join(", "))
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Policy>()?;
    m.add_class::<Engine>()?;
    m.add_class::<Finding>()?;
    m.add_class::<TagPlan>()?;
    m.add_class::<ScanReport>()?;
    m.add_class::<FindingIterator>()?;
    m.add_class::<Aws>()?;
    m.add_class::<Rule>()?;
    m.add_function(wrap_pyfunction!(builtin_checks, m)?)?;
    m.add_function(wrap_pyfunction!(normalize, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
