//! Custom Assetwarden rules as sandboxed WebAssembly modules.
//!
//! A rule module is a WebAssembly core module (Rust, C, Go, AssemblyScript, Zig, ...) or a
//! component (JavaScript through componentize-js, Python through componentize-py) speaking the
//! rule ABI described in this crate's README. [`Runtime::load`] checks it (size, sha256, imports,
//! exports, metadata), compiles it once (cached on disk by content hash and engine
//! configuration), and returns its rules as ordinary [`Check`]s: the engine hands them batches of
//! resources, in parallel, and each call runs in a fresh instance with a fuel budget, a memory
//! cap, a bounded log, and no access to anything outside its input.

#![deny(unsafe_code)]

pub mod abi;
pub mod cases;
pub mod reference;
mod sandbox;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use assetwarden_core::check::{Check, CheckMeta, EvalContext, Outcome, ParamSpec};
use assetwarden_core::finding::{CheckKind, Evidence};
use assetwarden_core::path::AttrPath;
use assetwarden_core::resource::Resource;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use wasmtime::{Store, Trap};

use crate::abi::{ABI_VERSION, ModuleMeta, RuleMeta};
use crate::sandbox::HostState;
pub use crate::sandbox::{HOST, HOST_INTERFACE, WASI, WASI_STUBS};

/// A rule module could not be loaded; the message names the file and, where there is one, the
/// rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {message}")]
pub struct RuleError {
    /// The module (and the policy entry that named it, when there is one).
    pub place: String,
    /// What is wrong.
    pub message: String,
}

/// The sandbox's limits for one rule module. None is ever unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Fuel (about one unit per WebAssembly instruction) per resource evaluated; a batch gets
    /// this times its size. Default 10,000,000: a tight loop burns it in about 5 ms.
    pub fuel: u64,
    /// Fuel for instantiation, a runtime's start-up (`_initialize`) and `metadata`.
    pub init_fuel: u64,
    /// Linear memory cap per instance, in bytes (default 64 MiB).
    pub memory_bytes: usize,
    /// Table elements cap (default 100,000).
    pub table_elements: usize,
    /// WebAssembly stack, in bytes (default 512 KiB).
    pub stack_bytes: usize,
    /// Largest module file accepted, checked before compilation (default 32 MiB).
    pub module_bytes: usize,
    /// Largest output per resource, in bytes (default 64 KiB).
    pub output_bytes_per_resource: usize,
    /// Captured log per call, in bytes (default 16 KiB); the rest is dropped and counted.
    pub log_bytes: usize,
    /// Resources per call (default 256).
    pub batch: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 10_000_000,
            init_fuel: 2_000_000_000,
            memory_bytes: 64 << 20,
            table_elements: 100_000,
            stack_bytes: 512 << 10,
            module_bytes: 32 << 20,
            output_bytes_per_resource: 64 << 10,
            log_bytes: 16 << 10,
            batch: 256,
        }
    }
}

impl Limits {
    /// Applies a policy entry's `limits` (every value must be positive).
    pub fn with_overrides(mut self, o: &Map<String, Value>) -> Result<Limits, String> {
        for (k, v) in o {
            let n = v
                .as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("limit `{k}` must be a positive whole number, not {v}"))?;
            let n_usize = usize::try_from(n).map_err(|_| format!("limit `{k}` is too large"))?;
            let mib = |n: usize| {
                n.checked_mul(1 << 20)
                    .ok_or(format!("limit `{k}` is too large"))
            };
            let kib = |n: usize| {
                n.checked_mul(1 << 10)
                    .ok_or(format!("limit `{k}` is too large"))
            };
            match k.as_str() {
                "fuel" => self.fuel = n,
                "init_fuel" => self.init_fuel = n,
                "memory_mib" => self.memory_bytes = mib(n_usize)?,
                "table_elements" => self.table_elements = n_usize,
                "stack_kib" => self.stack_bytes = kib(n_usize)?,
                "module_mib" => self.module_bytes = mib(n_usize)?,
                "output_kib" => self.output_bytes_per_resource = kib(n_usize)?,
                "log_kib" => self.log_bytes = kib(n_usize)?,
                "batch" => self.batch = n_usize,
                _ => {
                    return Err(format!(
                        "unknown limit `{k}` (fuel, init_fuel, memory_mib, table_elements, stack_kib, module_mib, output_kib, log_kib, batch)"
                    ));
                }
            }
        }
        Ok(self)
    }
}

/// What to load: a module file, its expected digest, parameters and limits.
#[derive(Debug, Clone, Default)]
pub struct RuleSpec {
    /// The `.wasm` file.
    pub path: PathBuf,
    /// Its expected sha256 (hex); when set, any other content is refused.
    pub sha256: Option<String>,
    /// Parameter values (by the rules' declared names).
    pub params: Map<String, Value>,
    /// Sandbox limits.
    pub limits: Limits,
    /// Where the spec comes from, for messages (e.g. `policy.yaml: wasm_rules[0]`).
    pub origin: Option<String>,
}

/// Compiles and caches rule modules. One per process is enough; it is cheap to share.
pub struct Runtime {
    engines: Mutex<HashMap<EngineKey, Pool>>,
    cache_dir: Option<PathBuf>,
    /// Whether core modules that fit may use a pooled engine ([`Runtime::pooling`]).
    pooling: bool,
}

/// What an engine is set up for: the stack size, and for a pooled engine the memory and table
/// caps of its slots.
type EngineKey = (usize, Option<(usize, usize)>);

/// An engine, and for a pooled one the count of its free instance slots.
#[derive(Clone)]
struct Pool {
    engine: wasmtime::Engine,
    slots: Option<Arc<Slots>>,
}

/// The free instance slots of a pooled engine: a call waits for one rather than fail when every
/// slot is taken (more threads calling rules at once than the pool holds).
struct Slots {
    free: Mutex<usize>,
    freed: std::sync::Condvar,
}

impl Slots {
    fn take(self: &Arc<Self>) -> SlotGuard {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        SlotGuard(self.clone())
    }
}

/// A slot taken; given back when dropped (after the call's store and instance).
struct SlotGuard(Arc<Slots>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(|p| p.into_inner());
        *free += 1;
        self.0.freed.notify_one();
    }
}

/// Instance slots of a pooled engine: enough for every core to call rules at once, twice over.
fn pool_slots() -> usize {
    let cores = std::thread::available_parallelism().map_or(4, usize::from);
    (2 * cores).clamp(16, 256)
}

/// Bytes of a slot's linear memory kept mapped and zeroed with `memset` when the instance ends,
/// instead of returned to the kernel and faulted in again by the next instance (page faults and
/// TLB shootdowns were a fifth of a WASM rule's cost with a fresh mapping per batch).
const KEEP_RESIDENT: usize = 4 << 20;

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache_dir", &self.cache_dir)
            .finish()
    }
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

/// The default cache folder: `$ASSETWARDEN_WASM_CACHE` (`off` disables the cache), else
/// `$XDG_CACHE_HOME/assetwarden/wasm`, else `~/.cache/assetwarden/wasm`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(v) = std::env::var_os("ASSETWARDEN_WASM_CACHE") {
        if v == "off" || v.is_empty() {
            return None;
        }
        return Some(PathBuf::from(v));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("assetwarden").join("wasm"))
}

/// What kind of WebAssembly binary a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModuleKind {
    /// A core module (the pointer-and-length ABI).
    CoreModule,
    /// A component (the `assetwarden:rule` WIT world).
    Component,
}

fn kind_of(bytes: &[u8]) -> Option<ModuleKind> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return None;
    }
    match &bytes[4..8] {
        [1, 0, 0, 0] => Some(ModuleKind::CoreModule),
        [_, _, 1, 0] => Some(ModuleKind::Component),
        _ => None,
    }
}

enum Compiled {
    Core(wasmtime::InstancePre<HostState>),
    Component(wasmtime::component::InstancePre<HostState>),
}

/// A loaded rule module: compiled, pre-linked, its metadata read and checked.
pub struct RuleModule {
    name: String,
    sha256: String,
    kind: ModuleKind,
    size: usize,
    imports: Vec<String>,
    exports: Vec<String>,
    engine: wasmtime::Engine,
    /// The free slots of a pooled engine (`None`: a fresh mapping per instance).
    slots: Option<Arc<Slots>>,
    compiled: Compiled,
    limits: Limits,
    meta: ModuleMeta,
    params: Map<String, Value>,
    /// Whether the compiled code came from the disk cache.
    pub from_cache: bool,
}

impl std::fmt::Debug for RuleModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleModule")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
            .field("kind", &self.kind)
            .finish()
    }
}

/// A module's description, as `assetwarden rules info` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleInfo {
    /// The file.
    pub path: String,
    /// Its sha256 (hex), as a policy file pins it.
    pub sha256: String,
    /// Its size in bytes.
    pub size: usize,
    /// Core module or component.
    pub kind: ModuleKind,
    /// Its imports (`module::name`, or a component's interface names).
    pub imports: Vec<String>,
    /// Its exports.
    pub exports: Vec<String>,
    /// The ABI version it declares.
    pub abi: u64,
    /// Its rules, as the engine sees them.
    pub rules: Vec<Value>,
}

/// Why one call failed (a trap, fuel, memory, bad output), for an ERROR result.
type RunError = String;

struct Sha256Hasher(Sha256);
impl std::hash::Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Runtime {
    /// A runtime caching compiled modules in [`default_cache_dir`].
    pub fn new() -> Runtime {
        Runtime::with_cache(default_cache_dir())
    }

    /// A runtime caching compiled modules in `dir` (`None`: no disk cache). Instances of core
    /// modules come from a pool ([`RuleModule::pooled`]) unless the environment variable
    /// `ASSETWARDEN_WASM_POOL` is `0` or `off` (see [`Runtime::pooling`]).
    pub fn with_cache(dir: Option<PathBuf>) -> Runtime {
        let off = std::env::var("ASSETWARDEN_WASM_POOL").is_ok_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "0" | "off" | "false" | "no"
            )
        });
        Runtime {
            engines: Mutex::new(HashMap::new()),
            cache_dir: dir,
            pooling: !off,
        }
    }

    /// Whether core modules loaded from now on may run in pooled instances (default: yes).
    /// Without, every call maps, faults in and unmaps its instance's memory afresh: slower, but
    /// nothing is reserved ahead (a pool reserves address space for its slots, which a process
    /// limited in virtual memory may not have).
    pub fn pooling(mut self, on: bool) -> Runtime {
        self.pooling = on;
        self
    }

    /// The engine for `stack`; `pooled` (a module's memory and table caps) gives one whose
    /// instances come from a pool of reused slots, which core modules use when they fit it.
    fn engine(&self, stack: usize, pooled: Option<(usize, usize)>) -> Result<Pool, String> {
        let mut map = self
            .engines
            .lock()
            .map_err(|_| "the WebAssembly engine cache is poisoned".to_string())?;
        if let Some(e) = map.get(&(stack, pooled)) {
            return Ok(e.clone());
        }
        let mut c = wasmtime::Config::new();
        c.consume_fuel(true)
            .max_wasm_stack(stack)
            .wasm_component_model(true)
            .cranelift_opt_level(wasmtime::OptLevel::Speed);
        let mut slots = None;
        if let Some((memory, table)) = pooled {
            let n = pool_slots();
            let count = u32::try_from(n).unwrap_or(u32::MAX);
            let mut p = wasmtime::PoolingAllocationConfig::new();
            // The store's limiter refuses growth past the caps first, with its own message;
            // the slots are as large as the caps allow.
            p.total_core_instances(count)
                .total_memories(count)
                .total_tables(count)
                .total_component_instances(count)
                .max_memory_size(memory.next_multiple_of(PAGE))
                .table_elements(table)
                .linear_memory_keep_resident(KEEP_RESIDENT)
                .table_keep_resident(64 << 10);
            c.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(p));
            slots = Some(Arc::new(Slots {
                free: Mutex::new(n),
                freed: std::sync::Condvar::new(),
            }));
        }
        let e = wasmtime::Engine::new(&c).map_err(|e| format!("cannot set up wasmtime: {e}"))?;
        let pool = Pool { engine: e, slots };
        map.insert((stack, pooled), pool.clone());
        Ok(pool)
    }

    /// Loads a module: size cap, digest, kind, compile (or the cache), imports and exports,
    /// metadata. Every refusal names the file.
    pub fn load(&self, spec: &RuleSpec) -> Result<Arc<RuleModule>, RuleError> {
        let name = spec.path.display().to_string();
        let place = match &spec.origin {
            Some(o) => format!("{o} ({name})"),
            None => name.clone(),
        };
        let err = |m: String| RuleError {
            place: place.clone(),
            message: m,
        };
        let lim = &spec.limits;
        let size = std::fs::metadata(&spec.path)
            .map_err(|e| err(format!("cannot read the module: {e}")))?
            .len();
        if size > lim.module_bytes as u64 {
            return Err(err(format!(
                "the module is {size} bytes, over the {} byte cap (limit `module_mib`); refused before compiling",
                lim.module_bytes
            )));
        }
        let bytes =
            std::fs::read(&spec.path).map_err(|e| err(format!("cannot read the module: {e}")))?;
        if bytes.len() > lim.module_bytes {
            return Err(err("the module grew past the size cap while read".into()));
        }
        let sha = hex(&Sha256::digest(&bytes));
        if let Some(want) = &spec.sha256
            && !want.trim().eq_ignore_ascii_case(&sha)
        {
            return Err(err(format!(
                "sha256 mismatch: the policy pins {}, the file is {sha}; refused",
                want.trim()
            )));
        }
        let kind = kind_of(&bytes).ok_or_else(|| {
            err("not a WebAssembly module or component (bad magic number or version)".into())
        })?;
        let mut pool = self.engine(lim.stack_bytes, None).map_err(err)?;
        let (compiled, from_cache, imports, exports) = match kind {
            ModuleKind::CoreModule => {
                // A pooled engine when the module fits its slots (one memory and one table,
                // within the caps); otherwise a fresh mapping per instance, as for components.
                let caps = (lim.memory_bytes, lim.table_elements);
                // (A pooled engine refuses to compile what does not fit; the other engine then
                // compiles it, or says why it cannot.)
                let pooled = match self.pooling {
                    true => Some(self.engine(lim.stack_bytes, Some(caps)).map_err(err)?),
                    false => None,
                };
                let fitted =
                    pooled.and_then(|p| match self.compile_core(&p.engine, &bytes, &sha) {
                        Ok((m, cached)) if fits_pool(&m.resources_required(), caps) => {
                            Some((p, m, cached))
                        }
                        _ => None,
                    });
                let (m, cached) = match fitted {
                    Some((p, m, cached)) => {
                        pool = p;
                        (m, cached)
                    }
                    None => self.compile_core(&pool.engine, &bytes, &sha).map_err(err)?,
                };
                let engine = &pool.engine;
                let imports: Vec<String> = m
                    .imports()
                    .map(|i| format!("{}::{}", i.module(), i.name()))
                    .collect();
                for i in m.imports() {
                    let ok = matches!(i.ty(), wasmtime::ExternType::Func(_))
                        && ((i.module() == HOST && i.name() == "log")
                            || (i.module() == WASI && WASI_STUBS.contains(&i.name())));
                    if !ok {
                        return Err(err(format!(
                            "imports `{}::{}`, which the sandbox does not provide (a rule may import `{HOST}::log` and the WASI preview 1 stubs {}; none grants files, network, environment or clocks)",
                            i.module(),
                            i.name(),
                            WASI_STUBS.join(", ")
                        )));
                    }
                }
                let exports: Vec<String> = m.exports().map(|e| e.name().to_string()).collect();
                for (want, what) in [
                    ("memory", "a memory"),
                    ("aw_alloc", "`aw_alloc: (i32) -> i32`"),
                    ("aw_metadata", "`aw_metadata: () -> i64`"),
                    ("aw_evaluate", "`aw_evaluate: (i32, i32) -> i64`"),
                ] {
                    if !exports.iter().any(|e| e == want) {
                        return Err(err(format!(
                            "does not export {what} (`{want}`): not an Assetwarden rule module of ABI {ABI_VERSION}; it exports [{}]",
                            exports.join(", ")
                        )));
                    }
                }
                let linker = sandbox::core_linker(engine).map_err(|e| err(e.to_string()))?;
                let pre = linker
                    .instantiate_pre(&m)
                    .map_err(|e| err(format!("its imports do not match the sandbox's: {e}")))?;
                (Compiled::Core(pre), cached, imports, exports)
            }
            ModuleKind::Component => {
                let engine = &pool.engine;
                let (c, cached) = self.compile_component(engine, &bytes, &sha).map_err(err)?;
                let ty = c.component_type();
                let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
                let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
                if let Some(bad) = imports.iter().find(|i| i.as_str() != HOST_INTERFACE) {
                    return Err(err(format!(
                        "imports `{bad}`, which the sandbox does not provide (a component rule may import only `{HOST_INTERFACE}`; build JavaScript with every WASI feature disabled)"
                    )));
                }
                for want in ["metadata", "evaluate"] {
                    if !exports.iter().any(|e| e == want) {
                        return Err(err(format!(
                            "does not export `{want}`: not a component of the `assetwarden:rule` world; it exports [{}]",
                            exports.join(", ")
                        )));
                    }
                }
                let linker = sandbox::component_linker(engine).map_err(|e| err(e.to_string()))?;
                let pre = linker
                    .instantiate_pre(&c)
                    .map_err(|e| err(format!("its imports do not match the sandbox's: {e}")))?;
                (Compiled::Component(pre), cached, imports, exports)
            }
        };
        let mut module = RuleModule {
            name: name.clone(),
            sha256: sha,
            kind,
            size: bytes.len(),
            imports,
            exports,
            engine: pool.engine,
            slots: pool.slots,
            compiled,
            limits: lim.clone(),
            meta: ModuleMeta {
                abi: ABI_VERSION,
                rules: Vec::new(),
            },
            params: Map::new(),
            from_cache,
        };
        let raw = module
            .call_metadata()
            .map_err(|e| err(format!("`metadata` failed: {e}")))?;
        let meta = parse_metadata(&raw).map_err(err)?;
        // Parameters: only declared ones, each of its default's JSON type.
        let mut declared: HashMap<&str, &Value> = HashMap::new();
        for r in &meta.rules {
            for p in &r.params {
                declared.insert(&p.name, &p.default);
            }
        }
        for (k, v) in &spec.params {
            let Some(d) = declared.get(k.as_str()) else {
                let mut names: Vec<&&str> = declared.keys().collect();
                names.sort();
                return Err(err(format!(
                    "unknown parameter `{k}` (the module's rules declare: {})",
                    names
                        .iter()
                        .map(|s| format!("`{s}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            };
            if json_kind(d) != json_kind(v) {
                return Err(err(format!(
                    "parameter `{k}` must be a {} like its default, not {v}",
                    json_kind(d)
                )));
            }
        }
        module.meta = meta;
        module.params = spec.params.clone();
        Ok(Arc::new(module))
    }

    fn cache_path(&self, engine: &wasmtime::Engine, sha: &str, kind: &str) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        let mut h = Sha256Hasher(Sha256::new());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut h);
        let cfg = hex(&h.0.finalize()[..8]);
        Some(dir.join(format!("{sha}-{cfg}.{kind}.cwasm")))
    }

    fn compile_core(
        &self,
        engine: &wasmtime::Engine,
        bytes: &[u8],
        sha: &str,
    ) -> Result<(wasmtime::Module, bool), String> {
        let path = self.cache_path(engine, sha, "module");
        if let Some(ser) = cached_bytes(path.as_deref()) {
            // SAFETY: the bytes come from our own cache folder, which `store_cache` creates
            // private to this user (0700) and `cached_bytes` checked is still private; wasmtime
            // itself checks that they were made by this version with this configuration.
            #[allow(unsafe_code)]
            if let Ok(m) = unsafe { wasmtime::Module::deserialize(engine, &ser) } {
                return Ok((m, true));
            }
        }
        let m = wasmtime::Module::new(engine, bytes)
            .map_err(|e| format!("the module does not compile: {e:#}"))?;
        if let Some(p) = path
            && let Ok(ser) = m.serialize()
        {
            store_cache(&p, &ser);
        }
        Ok((m, false))
    }

    fn compile_component(
        &self,
        engine: &wasmtime::Engine,
        bytes: &[u8],
        sha: &str,
    ) -> Result<(wasmtime::component::Component, bool), String> {
        let path = self.cache_path(engine, sha, "component");
        if let Some(ser) = cached_bytes(path.as_deref()) {
            // SAFETY: as for core modules above.
            #[allow(unsafe_code)]
            if let Ok(c) = unsafe { wasmtime::component::Component::deserialize(engine, &ser) } {
                return Ok((c, true));
            }
        }
        let c = wasmtime::component::Component::new(engine, bytes)
            .map_err(|e| format!("the component does not compile: {e:#}"))?;
        if let Some(p) = path
            && let Ok(ser) = c.serialize()
        {
            store_cache(&p, &ser);
        }
        Ok((c, false))
    }
}

/// A WebAssembly page.
const PAGE: usize = 64 << 10;

/// Whether a core module's instances fit a pooled engine's slots: one memory and one table at
/// most, their initial sizes within the caps (a larger one is refused by the store's limiter
/// with its own message, which a pool would pre-empt).
fn fits_pool(need: &wasmtime::ResourcesRequired, (memory, table): (usize, usize)) -> bool {
    need.num_memories <= 1
        && need.num_tables <= 1
        && need
            .max_initial_memory_size
            .is_none_or(|pages| pages.saturating_mul(PAGE as u64) <= memory as u64)
        && need
            .max_initial_table_size
            .is_none_or(|n| n <= table as u64)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "map",
    }
}

#[cfg(unix)]
fn private_dir(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_dir() && m.mode() & 0o022 == 0)
}

#[cfg(not(unix))]
fn private_dir(p: &Path) -> bool {
    p.is_dir()
}

/// A cache entry's bytes, when the file exists in a private folder. Read into memory rather
/// than mapped: a file truncated under a mapping would kill the process with SIGBUS.
fn cached_bytes(p: Option<&Path>) -> Option<Vec<u8>> {
    let p = p?;
    if !(p.is_file() && p.parent().is_some_and(private_dir)) {
        return None;
    }
    std::fs::read(p).ok()
}

fn store_cache(p: &Path, bytes: &[u8]) {
    let Some(dir) = p.parent() else {
        return;
    };
    if !dir.exists() {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        if b.create(dir).is_err() {
            return;
        }
    }
    if !private_dir(dir) {
        tracing::warn!(dir = %dir.display(), "the WebAssembly cache folder is writable by others; not caching");
        return;
    }
    let tmp = p.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, p).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

fn parse_metadata(raw: &[u8]) -> Result<ModuleMeta, String> {
    let text = std::str::from_utf8(raw).map_err(|e| {
        format!(
            "`metadata` returned invalid UTF-8 (at byte {})",
            e.valid_up_to()
        )
    })?;
    let meta: ModuleMeta = serde_json::from_str(text).map_err(|e| {
        format!(
            "`metadata` is not valid rule metadata: {e} (it starts `{}`)",
            abi::preview(text, 80)
        )
    })?;
    if meta.abi != ABI_VERSION {
        return Err(format!(
            "the module speaks rule ABI {}, this Assetwarden speaks {ABI_VERSION}",
            meta.abi
        ));
    }
    if meta.rules.is_empty() {
        return Err("`metadata` declares no rules".into());
    }
    let mut ids = std::collections::HashSet::new();
    for r in &meta.rules {
        let at = |m: String| format!("rule `{}`: {m}", r.id);
        if !assetwarden_core::policy::valid_check_id(&r.id) {
            return Err(at(
                "not a valid check id (lowercase dotted, e.g. `acme.s3.block-public-access`)"
                    .into(),
            ));
        }
        if !ids.insert(r.id.clone()) {
            return Err(at("declared twice".into()));
        }
        if r.resource_types.is_empty() {
            return Err(at("declares no resource types".into()));
        }
        for p in &r.reads {
            AttrPath::parse(p).map_err(|e| at(format!("reads a bad path `{p}`: {e}")))?;
        }
        for p in &r.params {
            if p.name.is_empty() || p.name.contains(char::is_whitespace) {
                return Err(at(format!("bad parameter name `{}`", p.name)));
            }
        }
    }
    Ok(meta)
}

/// What one instance call produced.
struct CallOutput {
    bytes: Vec<u8>,
}

impl RuleModule {
    /// The module's file name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its sha256 (hex).
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Whether its instances come from a pool of reused slots (a core module within one memory
    /// and one table; components and other modules get a fresh mapping per call). Either way
    /// each call starts from the module's initial state.
    pub fn pooled(&self) -> bool {
        self.slots.is_some()
    }

    /// Its rules, as checks for the engine.
    pub fn checks(self: &Arc<Self>) -> Result<Vec<Arc<dyn Check>>, RuleError> {
        let mut out: Vec<Arc<dyn Check>> = Vec::new();
        for (index, r) in self.meta.rules.iter().enumerate() {
            out.push(Arc::new(WasmCheck::new(self.clone(), index, r)?));
        }
        Ok(out)
    }

    /// The description `rules info` prints.
    pub fn info(self: &Arc<Self>) -> ModuleInfo {
        let rules = self
            .meta
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| match WasmCheck::new(self.clone(), i, r) {
                Ok(c) => meta_json(c.meta()),
                Err(e) => Value::String(e.to_string()),
            })
            .collect();
        ModuleInfo {
            path: self.name.clone(),
            sha256: self.sha256.clone(),
            size: self.size,
            kind: self.kind,
            imports: self.imports.clone(),
            exports: self.exports.clone(),
            abi: self.meta.abi,
            rules,
        }
    }

    fn new_store(&self) -> Store<HostState> {
        let mut store = Store::new(
            &self.engine,
            HostState::new(
                self.limits.memory_bytes,
                self.limits.table_elements,
                self.limits.log_bytes,
            ),
        );
        store.limiter(|s| s);
        store
    }

    fn explain(&self, store: &Store<HostState>, e: &wasmtime::Error, fuel: u64) -> String {
        let st = store.data();
        let mut reason = if let Some(want) = st.memory_refused {
            format!(
                "memory limit: the rule asked for {} MiB, its cap is {} MiB (limit `memory_mib`); then: {}",
                want >> 20,
                self.limits.memory_bytes >> 20,
                short_error(e)
            )
        } else if let Some(want) = st.table_refused {
            format!(
                "table limit: the rule asked for {want} elements, its cap is {} (limit `table_elements`); then: {}",
                self.limits.table_elements,
                short_error(e)
            )
        } else {
            match e.downcast_ref::<Trap>() {
                Some(Trap::OutOfFuel) => format!(
                    "out of fuel: the rule did more than {fuel} units of work in this call (limit `fuel`, per resource) and was stopped"
                ),
                Some(Trap::StackOverflow) => format!(
                    "stack overflow: the rule used more than {} KiB of stack (limit `stack_kib`)",
                    self.limits.stack_bytes >> 10
                ),
                Some(t) => format!("the rule trapped: {t}"),
                None => short_error(e),
            }
        };
        let log = st.log_text();
        if !log.trim().is_empty() {
            reason.push_str(&format!("; its log: {}", abi::preview(log.trim_end(), 300)));
        }
        reason
    }

    fn call_metadata(&self) -> Result<Vec<u8>, RunError> {
        // Declared before the store: given back after the instance is gone.
        let _slot = self.slots.as_ref().map(Slots::take);
        let mut store = self.new_store();
        let fuel = self.limits.init_fuel;
        let r = match &self.compiled {
            Compiled::Core(pre) => self.core_call(&mut store, pre, fuel, None),
            Compiled::Component(pre) => self.component_call(&mut store, pre, fuel, None),
        };
        match r {
            Ok(o) => Ok(o.bytes),
            Err(Ok(e)) => Err(self.explain(&store, &e, fuel)),
            Err(Err(msg)) => Err(msg),
        }
    }

    /// Runs `evaluate` on `input` in a fresh instance with `fuel`; at most `max_output` bytes.
    fn call_evaluate(
        &self,
        input: &[u8],
        fuel: u64,
        max_output: usize,
    ) -> Result<(Vec<u8>, String), RunError> {
        // Declared before the store: given back after the instance is gone.
        let _slot = self.slots.as_ref().map(Slots::take);
        let mut store = self.new_store();
        let r = match &self.compiled {
            Compiled::Core(pre) => self.core_call(&mut store, pre, fuel, Some((input, max_output))),
            Compiled::Component(pre) => {
                self.component_call(&mut store, pre, fuel, Some((input, max_output)))
            }
        };
        match r {
            Ok(o) => Ok((o.bytes, store.data().log_text())),
            Err(Ok(e)) => Err(self.explain(&store, &e, fuel)),
            Err(Err(msg)) => Err(msg),
        }
    }

    /// One call in `store`: `evaluate` when `input` is given, else `metadata`. The error is
    /// either wasmtime's (explained with the store) or already a message.
    #[allow(clippy::type_complexity)]
    fn core_call(
        &self,
        store: &mut Store<HostState>,
        pre: &wasmtime::InstancePre<HostState>,
        fuel: u64,
        input: Option<(&[u8], usize)>,
    ) -> Result<CallOutput, Result<wasmtime::Error, String>> {
        store.set_fuel(self.limits.init_fuel).map_err(Ok)?;
        let inst = pre.instantiate(&mut *store).map_err(Ok)?;
        if let Ok(init) = inst.get_typed_func::<(), ()>(&mut *store, "_initialize") {
            init.call(&mut *store, ()).map_err(Ok)?;
        }
        let memory = inst
            .get_memory(&mut *store, "memory")
            .ok_or_else(|| Err("the module exports no memory".to_string()))?;
        let abi_err = |what: &str, e: wasmtime::Error| {
            Err(format!(
                "the module's `{what}` does not have the rule ABI's signature: {e}"
            ))
        };
        let packed = match input {
            None => {
                let f = inst
                    .get_typed_func::<(), i64>(&mut *store, "aw_metadata")
                    .map_err(|e| abi_err("aw_metadata: () -> i64", e))?;
                store.set_fuel(fuel).map_err(Ok)?;
                f.call(&mut *store, ()).map_err(Ok)?
            }
            Some((bytes, _)) => {
                let alloc = inst
                    .get_typed_func::<i32, i32>(&mut *store, "aw_alloc")
                    .map_err(|e| abi_err("aw_alloc: (i32) -> i32", e))?;
                let eval = inst
                    .get_typed_func::<(i32, i32), i64>(&mut *store, "aw_evaluate")
                    .map_err(|e| abi_err("aw_evaluate: (i32, i32) -> i64", e))?;
                store.set_fuel(fuel).map_err(Ok)?;
                let len = i32::try_from(bytes.len())
                    .map_err(|_| Err("the input is larger than 2 GiB".to_string()))?;
                let ptr = alloc.call(&mut *store, len).map_err(Ok)?;
                memory
                    .write(&mut *store, ptr as u32 as usize, bytes)
                    .map_err(|_| {
                        Err(format!(
                            "`aw_alloc({len})` returned {ptr}, which is not {len} bytes of the module's memory"
                        ))
                    })?;
                eval.call(&mut *store, (ptr, len)).map_err(Ok)?
            }
        };
        let (ptr, len) = (
            (packed as u64 >> 32) as usize,
            (packed as u64 & 0xffff_ffff) as usize,
        );
        let cap = input.map(|(_, m)| m).unwrap_or(1 << 20);
        if len > cap {
            return Err(Err(format!(
                "the rule's output is {len} bytes, over the cap of {cap} (limit `output_kib`, per resource)"
            )));
        }
        let data = memory.data(&*store);
        let bytes = ptr
            .checked_add(len)
            .and_then(|end| data.get(ptr..end))
            .ok_or_else(|| {
                Err(format!(
                    "the rule's output ({len} bytes at {ptr}) lies outside its memory"
                ))
            })?;
        Ok(CallOutput {
            bytes: bytes.to_vec(),
        })
    }

    fn component_call(
        &self,
        store: &mut Store<HostState>,
        pre: &wasmtime::component::InstancePre<HostState>,
        fuel: u64,
        input: Option<(&[u8], usize)>,
    ) -> Result<CallOutput, Result<wasmtime::Error, String>> {
        store.set_fuel(self.limits.init_fuel).map_err(Ok)?;
        let inst = pre.instantiate(&mut *store).map_err(Ok)?;
        let out = match input {
            None => {
                let f = inst
                    .get_typed_func::<(), (String,)>(&mut *store, "metadata")
                    .map_err(|e| Err(format!("`metadata` is not `func() -> string`: {e}")))?;
                store.set_fuel(fuel).map_err(Ok)?;
                f.call(&mut *store, ()).map_err(Ok)?.0
            }
            Some((bytes, _)) => {
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| Err("the input is not UTF-8".to_string()))?;
                let f = inst
                    .get_typed_func::<(&str,), (String,)>(&mut *store, "evaluate")
                    .map_err(|e| {
                        Err(format!(
                            "`evaluate` is not `func(input: string) -> string`: {e}"
                        ))
                    })?;
                store.set_fuel(fuel).map_err(Ok)?;
                f.call(&mut *store, (text,)).map_err(Ok)?.0
            }
        };
        let cap = input.map(|(_, m)| m).unwrap_or(1 << 20);
        if out.len() > cap {
            return Err(Err(format!(
                "the rule's output is {} bytes, over the cap of {cap} (limit `output_kib`, per resource)",
                out.len()
            )));
        }
        Ok(CallOutput {
            bytes: out.into_bytes(),
        })
    }
}

fn short_error(e: &wasmtime::Error) -> String {
    let s = format!("{e:#}");
    abi::preview(s.lines().next().unwrap_or(""), 300)
}

fn meta_json(m: &CheckMeta) -> Value {
    serde_json::json!({
        "id": m.id,
        "title": m.title,
        "description": m.description,
        "severity": m.severity,
        "resource_types": m.resource_types,
        "references": m.references,
        "remediation": m.remediation,
        "reads": m.reads,
        "params": m.params,
    })
}

/// One rule of a module, as a check.
pub struct WasmCheck {
    module: Arc<RuleModule>,
    index: usize,
    meta: CheckMeta,
    reads: Vec<AttrPath>,
    params: Vec<(String, Value)>,
}

impl std::fmt::Debug for WasmCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmCheck")
            .field("id", &self.meta.id)
            .field("module", &self.module.name)
            .finish()
    }
}

impl WasmCheck {
    fn new(module: Arc<RuleModule>, index: usize, r: &RuleMeta) -> Result<WasmCheck, RuleError> {
        let mut reads = Vec::new();
        for p in &r.reads {
            reads.push(AttrPath::parse(p).map_err(|e| RuleError {
                place: module.name.clone(),
                message: format!("rule `{}` reads a bad path `{p}`: {e}", r.id),
            })?);
        }
        let params: Vec<(String, Value)> = r
            .params
            .iter()
            .map(|p| {
                let v = module.params.get(&p.name).unwrap_or(&p.default).clone();
                (p.name.clone(), v)
            })
            .collect();
        let meta = CheckMeta {
            id: r.id.clone(),
            title: r.title.clone(),
            description: r.description.clone(),
            severity: r.severity,
            resource_types: r.resource_types.clone(),
            references: r.references.to_references(),
            remediation: r.remediation.clone(),
            reads: r.reads.clone(),
            params: params
                .iter()
                .zip(&r.params)
                .map(|((name, v), p)| ParamSpec {
                    name: name.clone(),
                    default: v.clone(),
                    description: p.description.clone(),
                })
                .collect(),
            kind: CheckKind::Wasm,
        };
        Ok(WasmCheck {
            module,
            index,
            meta,
            reads,
            params,
        })
    }

    /// One call for the whole batch.
    fn run_batch(&self, items: &[(&Resource, EvalContext<'_>)]) -> Result<Vec<Outcome>, String> {
        let mut input = Vec::with_capacity(64 + items.len() * 32 * (1 + self.reads.len()));
        abi::encode_input(
            &mut input,
            self.index,
            &self.params,
            items.first().map(|(_, c)| c.params),
            &self.reads,
            items,
        );
        let n = items.len();
        let fuel = self.module.limits.fuel.saturating_mul(n as u64);
        let max_out = self
            .module
            .limits
            .output_bytes_per_resource
            .saturating_mul(n);
        let (out, log) = self.module.call_evaluate(&input, fuel, max_out)?;
        if !log.is_empty() {
            tracing::debug!(rule = %self.meta.id, log = %log, "rule log");
        }
        let results = abi::parse_output(&out, n)?;
        let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
        for r in results {
            let evidence = r
                .evidence
                .into_iter()
                .map(|e| Evidence::new(e.path, e.value))
                .collect();
            let reason = r.reason.unwrap_or_default();
            let o = match r.status.as_str() {
                "pass" => Outcome::Pass { evidence },
                "fail" => Outcome::Fail {
                    reason: if reason.is_empty() {
                        self.meta.title.clone()
                    } else {
                        reason
                    },
                    evidence,
                },
                "not_applicable" => Outcome::NotApplicable { reason },
                _ => Outcome::Error {
                    reason: format!("the rule reported an error: {reason}"),
                },
            };
            if let Some(slot) = outcomes.get_mut(r.i) {
                *slot = Some(o);
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or(Outcome::Error {
                    reason: "no result".into(),
                })
            })
            .collect())
    }
}

impl Check for WasmCheck {
    fn meta(&self) -> &CheckMeta {
        &self.meta
    }

    fn evaluate(&self, resource: &Resource, ctx: &EvalContext<'_>) -> Outcome {
        self.evaluate_many(&[(resource, ctx.clone())])
            .pop()
            .unwrap_or(Outcome::Error {
                reason: "no result".into(),
            })
    }

    fn batch_hint(&self) -> Option<usize> {
        Some(self.module.limits.batch.max(1))
    }

    fn evaluate_many(&self, items: &[(&Resource, EvalContext<'_>)]) -> Vec<Outcome> {
        match self.run_batch(items) {
            Ok(v) => v,
            // A batch that failed as a whole is run again one resource at a time, so that only
            // the resources that make the rule fail get an ERROR and the others their verdict.
            Err(_) if items.len() > 1 => items
                .iter()
                .map(|it| match self.run_batch(std::slice::from_ref(it)) {
                    Ok(mut v) => v.pop().unwrap_or(Outcome::Error {
                        reason: "no result".into(),
                    }),
                    Err(reason) => Outcome::Error { reason },
                })
                .collect(),
            Err(reason) => vec![Outcome::Error { reason }],
        }
    }
}

/// Loads a module and returns its checks (shorthand for the CLI and the bindings).
pub fn load_checks(rt: &Runtime, spec: &RuleSpec) -> Result<Vec<Arc<dyn Check>>, RuleError> {
    rt.load(spec)?.checks()
}

/// The module path a policy names, resolved against the policy file's folder.
pub fn resolve_path(policy_file: Option<&Path>, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    match policy_file.and_then(Path::parent) {
        Some(dir) => dir.join(p),
        None => p.to_path_buf(),
    }
}

/// Why a policy with WebAssembly rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    /// The document itself is invalid (located diagnostics).
    #[error("{0}")]
    Policy(#[from] assetwarden_core::PolicyError),
    /// A rule module named by the document could not be loaded (the message names the entry's
    /// file, line and column, and the module).
    #[error("{0}")]
    Rule(String),
}

/// Reads a policy document and loads the WebAssembly rules it names (`wasm_rules`, paths relative
/// to `policy_path`'s folder), so the policy can select and configure them like any other check.
/// `catalog` is the built-in pack's metadata. Errors name the file, line and column of the entry.
pub fn load_policy(
    rt: &Runtime,
    text: &str,
    file: &str,
    policy_path: Option<&Path>,
    catalog: &[CheckMeta],
) -> Result<assetwarden_core::Policy, PolicyLoadError> {
    let doc = assetwarden_core::policy::parse_doc(text, file)?;
    let index = assetwarden_core::location::LocationIndex::build(text);
    let mut checks: Vec<Arc<dyn Check>> = Vec::new();
    for (i, w) in doc.wasm_rules.iter().enumerate() {
        let at = format!("wasm_rules[{i}]");
        let place = match index.find(&at) {
            Some((line, col)) => format!("{file}:{line}:{col}: {at}"),
            None => format!("{file}: {at}"),
        };
        // A malformed digest is the policy's own error, reported with the others below.
        if w.sha256.len() != 64 {
            continue;
        }
        let limits = Limits::default()
            .with_overrides(&w.limits)
            .map_err(|m| PolicyLoadError::Rule(format!("{place}.limits: {m}")))?;
        let spec = RuleSpec {
            path: resolve_path(policy_path, &w.path),
            sha256: Some(w.sha256.clone()),
            params: w.params.clone(),
            limits,
            origin: Some(place),
        };
        let loaded = load_checks(rt, &spec).map_err(|e| PolicyLoadError::Rule(e.to_string()))?;
        for c in loaded {
            if checks.iter().any(|x| x.meta().id == c.meta().id)
                || catalog.iter().any(|m| m.id == c.meta().id)
            {
                return Err(PolicyLoadError::Rule(format!(
                    "{}: rule `{}` has the id of another check",
                    spec.origin.as_deref().unwrap_or(file),
                    c.meta().id
                )));
            }
            checks.push(c);
        }
    }
    let mut cat = catalog.to_vec();
    cat.extend(checks.iter().map(|c| c.meta().clone()));
    let mut policy = assetwarden_core::Policy::from_str_named(text, file, &cat)?;
    policy.rules.extend(checks);
    policy.wasm_rules_loaded = true;
    Ok(policy)
}
