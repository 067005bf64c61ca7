//! The sandbox a rule runs in: a store per evaluation with a fuel budget and a resource limiter,
//! and the only imports a rule may have: `assetwarden::log` and a WASI preview 1 stub that grants
//! nothing (no arguments, no environment, no files, no sockets, no real clock).

use wasmtime::{Caller, Extern, Linker, ResourceLimiter};

/// The imports a core module may have besides `assetwarden::log`: the WASI preview 1 functions the
/// toolchains' runtimes call at start-up (Go, wasi-libc), each a stub that grants nothing.
pub const WASI_STUBS: &[&str] = &[
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_time_get",
    "clock_res_get",
    "fd_write",
    "fd_read",
    "fd_close",
    "fd_seek",
    "fd_fdstat_get",
    "fd_fdstat_set_flags",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "path_open",
    "poll_oneoff",
    "proc_exit",
    "random_get",
    "sched_yield",
];

/// The WASI module name.
pub const WASI: &str = "wasi_snapshot_preview1";
/// Our own import module.
pub const HOST: &str = "assetwarden";
/// The component interface a component rule may import.
pub const HOST_INTERFACE: &str = "assetwarden:rule/host@1.0.0";

const EBADF: i32 = 8;
const EINVAL: i32 = 28;
const ENOTSUP: i32 = 58;
const ENOTCAPABLE: i32 = 76;

/// Per-store state: limits, the bounded log, and the stubs' virtual clock and random stream.
pub struct HostState {
    memory_cap: usize,
    table_cap: usize,
    instance_cap: usize,
    /// Set when the guest asked for more memory than its cap.
    pub memory_refused: Option<usize>,
    /// Set when a table was refused.
    pub table_refused: Option<usize>,
    /// Captured output (`assetwarden::log`, stdout, stderr), bounded.
    pub log: Vec<u8>,
    log_cap: usize,
    /// Bytes dropped once the log was full.
    pub log_dropped: usize,
    /// The guest's `proc_exit` code, when it called it.
    pub exit_code: Option<i32>,
    clock: u64,
    rng: u64,
}

impl HostState {
    /// A fresh state with these caps.
    pub fn new(memory_cap: usize, table_cap: usize, log_cap: usize) -> HostState {
        HostState {
            memory_cap,
            table_cap,
            instance_cap: 64,
            memory_refused: None,
            table_refused: None,
            log: Vec::new(),
            log_cap,
            log_dropped: 0,
            exit_code: None,
            clock: 0,
            rng: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn append_log(&mut self, bytes: &[u8]) {
        let room = self.log_cap.saturating_sub(self.log.len());
        let take = room.min(bytes.len());
        self.log.extend_from_slice(&bytes[..take]);
        self.log_dropped += bytes.len() - take;
    }

    /// The log as text (lossy), with a note of what was dropped.
    pub fn log_text(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.log).into_owned();
        if self.log_dropped > 0 {
            s.push_str(&format!(
                "\n[log truncated: {} more bytes dropped]",
                self.log_dropped
            ));
        }
        s
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*: deterministic, so a rule cannot tell one run from another.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

impl ResourceLimiter for HostState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_cap {
            self.memory_refused = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_cap {
            self.table_refused = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instance_cap
    }
    fn tables(&self) -> usize {
        self.instance_cap
    }
    fn memories(&self) -> usize {
        self.instance_cap
    }
}

fn memory(caller: &mut Caller<'_, HostState>) -> Option<wasmtime::Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Some(m),
        _ => None,
    }
}

fn read_bytes(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> Option<Vec<u8>> {
    let m = memory(caller)?;
    let start = usize::try_from(ptr as u32).ok()?;
    let end = start.checked_add(usize::try_from(len as u32).ok()?)?;
    m.data(&*caller).get(start..end).map(<[u8]>::to_vec)
}

fn write_bytes(caller: &mut Caller<'_, HostState>, ptr: i32, bytes: &[u8]) -> bool {
    let Some(m) = memory(caller) else {
        return false;
    };
    let start = ptr as u32 as usize;
    match m
        .data_mut(&mut *caller)
        .get_mut(start..start.saturating_add(bytes.len()))
    {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

fn read_u32(caller: &mut Caller<'_, HostState>, ptr: u32) -> Option<u32> {
    let b = read_bytes(caller, ptr as i32, 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn read_u64(caller: &mut Caller<'_, HostState>, ptr: u32) -> Option<u64> {
    let b = read_bytes(caller, ptr as i32, 8)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(&b);
    Some(u64::from_le_bytes(a))
}

/// A linker with `assetwarden::log` and the WASI stubs.
pub fn core_linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut l: Linker<HostState> = Linker::new(engine);
    l.func_wrap(
        HOST,
        "log",
        |mut c: Caller<'_, HostState>, ptr: i32, len: i32| {
            if let Some(b) = read_bytes(&mut c, ptr, len) {
                c.data_mut().append_log(&b);
                c.data_mut().append_log(b"\n");
            }
        },
    )?;
    // Arguments and environment: none.
    for (name, _) in [("args_sizes_get", ()), ("environ_sizes_get", ())] {
        l.func_wrap(
            WASI,
            name,
            |mut c: Caller<'_, HostState>, count: i32, size: i32| -> i32 {
                if write_bytes(&mut c, count, &0u32.to_le_bytes())
                    && write_bytes(&mut c, size, &0u32.to_le_bytes())
                {
                    0
                } else {
                    EINVAL
                }
            },
        )?;
    }
    for name in ["args_get", "environ_get"] {
        l.func_wrap(
            WASI,
            name,
            |_: Caller<'_, HostState>, _: i32, _: i32| -> i32 { 0 },
        )?;
    }
    // A virtual clock: starts at zero and moves by a microsecond per reading (and by what the
    // guest sleeps), so runtimes that need time work and no rule learns the real time.
    l.func_wrap(
        WASI,
        "clock_time_get",
        |mut c: Caller<'_, HostState>, _id: i32, _precision: i64, out: i32| -> i32 {
            c.data_mut().clock += 1_000;
            let now = c.data().clock;
            if write_bytes(&mut c, out, &now.to_le_bytes()) {
                0
            } else {
                EINVAL
            }
        },
    )?;
    l.func_wrap(
        WASI,
        "clock_res_get",
        |mut c: Caller<'_, HostState>, _id: i32, out: i32| -> i32 {
            if write_bytes(&mut c, out, &1_000u64.to_le_bytes()) {
                0
            } else {
                EINVAL
            }
        },
    )?;
    // stdout and stderr go to the bounded log; no other descriptor exists.
    l.func_wrap(
        WASI,
        "fd_write",
        |mut c: Caller<'_, HostState>, fd: i32, iovs: i32, n: i32, written: i32| -> i32 {
            if fd != 1 && fd != 2 {
                return EBADF;
            }
            let mut total: u32 = 0;
            for k in 0..(n.max(0) as u32).min(1024) {
                let at = (iovs as u32).wrapping_add(k * 8);
                let (Some(ptr), Some(len)) = (read_u32(&mut c, at), read_u32(&mut c, at + 4))
                else {
                    return EINVAL;
                };
                let Some(b) = read_bytes(&mut c, ptr as i32, len as i32) else {
                    return EINVAL;
                };
                c.data_mut().append_log(&b);
                total = total.wrapping_add(len);
            }
            if write_bytes(&mut c, written, &total.to_le_bytes()) {
                0
            } else {
                EINVAL
            }
        },
    )?;
    l.func_wrap(
        WASI,
        "fd_read",
        |_: Caller<'_, HostState>, _: i32, _: i32, _: i32, _: i32| -> i32 { EBADF },
    )?;
    l.func_wrap(
        WASI,
        "fd_close",
        |_: Caller<'_, HostState>, _: i32| -> i32 { EBADF },
    )?;
    l.func_wrap(
        WASI,
        "fd_seek",
        |_: Caller<'_, HostState>, _: i32, _: i64, _: i32, _: i32| -> i32 { EBADF },
    )?;
    l.func_wrap(
        WASI,
        "fd_fdstat_get",
        |mut c: Caller<'_, HostState>, fd: i32, out: i32| -> i32 {
            if !(0..=2).contains(&fd) {
                return EBADF;
            }
            // filetype character device (2), no flags, rights: write for 1 and 2.
            let mut stat = [0u8; 24];
            stat[0] = 2;
            if fd > 0 {
                stat[8] = 1 << 6;
            }
            if write_bytes(&mut c, out, &stat) {
                0
            } else {
                EINVAL
            }
        },
    )?;
    l.func_wrap(
        WASI,
        "fd_fdstat_set_flags",
        |_: Caller<'_, HostState>, _: i32, _: i32| -> i32 { ENOTSUP },
    )?;
    // No preopened directories: enumeration ends at once.
    l.func_wrap(
        WASI,
        "fd_prestat_get",
        |_: Caller<'_, HostState>, _: i32, _: i32| -> i32 { EBADF },
    )?;
    l.func_wrap(
        WASI,
        "fd_prestat_dir_name",
        |_: Caller<'_, HostState>, _: i32, _: i32, _: i32| -> i32 { EBADF },
    )?;
    l.func_wrap(
        WASI,
        "path_open",
        |_: Caller<'_, HostState>,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i32,
         _: i64,
         _: i64,
         _: i32,
         _: i32|
         -> i32 { ENOTCAPABLE },
    )?;
    // Sleeping: every subscription fires at once and the virtual clock moves on.
    l.func_wrap(
        WASI,
        "poll_oneoff",
        |mut c: Caller<'_, HostState>, subs: i32, events: i32, n: i32, nevents: i32| -> i32 {
            let n = (n.max(0) as u32).min(64);
            for k in 0..n {
                let s = (subs as u32).wrapping_add(k * 48);
                let (Some(userdata), Some(tag)) =
                    (read_u64(&mut c, s), read_bytes(&mut c, (s + 8) as i32, 1))
                else {
                    return EINVAL;
                };
                if tag[0] == 0
                    && let Some(timeout) = read_u64(&mut c, s + 24)
                {
                    let st = c.data_mut();
                    st.clock = st.clock.saturating_add(timeout.min(1_000_000_000));
                }
                let mut ev = [0u8; 32];
                ev[..8].copy_from_slice(&userdata.to_le_bytes());
                ev[10] = tag[0];
                if !write_bytes(&mut c, (events as u32).wrapping_add(k * 32) as i32, &ev) {
                    return EINVAL;
                }
            }
            if write_bytes(&mut c, nevents, &n.to_le_bytes()) {
                0
            } else {
                EINVAL
            }
        },
    )?;
    l.func_wrap(
        WASI,
        "proc_exit",
        |mut c: Caller<'_, HostState>, code: i32| -> wasmtime::Result<()> {
            c.data_mut().exit_code = Some(code);
            Err(wasmtime::Error::msg(format!(
                "the rule called proc_exit({code})"
            )))
        },
    )?;
    l.func_wrap(
        WASI,
        "random_get",
        |mut c: Caller<'_, HostState>, buf: i32, len: i32| -> i32 {
            let len = (len.max(0) as usize).min(1 << 20);
            let mut bytes = Vec::with_capacity(len + 8);
            while bytes.len() < len {
                let x = c.data_mut().next_random();
                bytes.extend_from_slice(&x.to_le_bytes());
            }
            bytes.truncate(len);
            if write_bytes(&mut c, buf, &bytes) {
                0
            } else {
                EINVAL
            }
        },
    )?;
    l.func_wrap(WASI, "sched_yield", |_: Caller<'_, HostState>| -> i32 { 0 })?;
    Ok(l)
}

/// A component linker with `assetwarden:rule/host@1.0.0#log`.
pub fn component_linker(
    engine: &wasmtime::Engine,
) -> wasmtime::Result<wasmtime::component::Linker<HostState>> {
    let mut l = wasmtime::component::Linker::<HostState>::new(engine);
    l.instance(HOST_INTERFACE)?.func_wrap(
        "log",
        |mut store: wasmtime::StoreContextMut<'_, HostState>, (msg,): (String,)| {
            store.data_mut().append_log(msg.as_bytes());
            store.data_mut().append_log(b"\n");
            Ok(())
        },
    )?;
    Ok(l)
}
