//! What the process is doing right now, for the two failures that leave no chance to unwind:
//! an input that exhausts its memory budget (stopped inside the allocator) and an input that
//! hangs (stopped by a watchdog thread). Either way the input is saved where a crash would be,
//! a line says what happened, and the process exits with status 3.
//!
//! The allocator's path must not allocate, so the file name and the message are prepared as C
//! strings before each target starts, and the input is published as a raw pointer and length
//! before each run (it stays borrowed, unchanged, for the whole run).

use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

static INPUT: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static INPUT_LEN: AtomicUsize = AtomicUsize::new(0);
/// Milliseconds since [`EPOCH`] when the current input started; 0 when none runs.
static STARTED_MS: AtomicU64 = AtomicU64::new(0);
static HANG_MS: AtomicU64 = AtomicU64::new(u64::MAX);
static WATCHDOG: AtomicBool = AtomicBool::new(false);
/// Leaked C strings: where the memory and hang inputs go, and the target's name.
static MEMORY_PATH: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
static HANG_PATH: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());
static NAME: AtomicPtr<libc::c_char> = AtomicPtr::new(std::ptr::null_mut());

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

fn leak(text: &str) -> *mut libc::c_char {
    CString::new(text.replace('\0', "?"))
        .unwrap_or_default()
        .into_raw()
}

/// Prepare for fuzzing `target`: where its memory and hang inputs go (`dir` is created), and
/// how long one input may run.
pub fn prepare(target: &str, dir: &Path, hang: Duration) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let name = leak(target);
    let memory = leak(&dir.join("memory-input").display().to_string());
    let hang_path = leak(&dir.join("hang-input").display().to_string());
    // The previous strings stay leaked: a few bytes per target and run.
    NAME.store(name, SeqCst);
    MEMORY_PATH.store(memory, SeqCst);
    HANG_PATH.store(hang_path, SeqCst);
    HANG_MS.store(hang.as_millis().max(1) as u64, SeqCst);
    epoch();
    if !WATCHDOG.swap(true, SeqCst) {
        std::thread::Builder::new()
            .name("hs-fuzz-watchdog".into())
            .spawn(watchdog)?;
    }
    Ok(())
}

/// `input` is about to run.
pub fn enter(input: &[u8]) {
    INPUT_LEN.store(input.len(), SeqCst);
    INPUT.store(input.as_ptr().cast_mut(), SeqCst);
    STARTED_MS.store(now_ms(), SeqCst);
}

/// The input of the last [`enter`] has finished.
pub fn leave() {
    STARTED_MS.store(0, SeqCst);
    INPUT.store(std::ptr::null_mut(), SeqCst);
    INPUT_LEN.store(0, SeqCst);
}

fn write_all(fd: libc::c_int, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a live slice; write reads at most its length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

fn c_bytes<'a>(p: *const libc::c_char) -> &'a [u8] {
    if p.is_null() {
        return b"?";
    }
    // SAFETY: every non-null pointer stored here comes from `CString::into_raw` and is never
    // freed.
    unsafe { std::ffi::CStr::from_ptr(p) }.to_bytes()
}

/// Save the running input to `path` and say `what` on stderr, then exit with status 3.
/// Allocates nothing.
fn stop(path: *const libc::c_char, what: &[u8]) -> ! {
    let input = INPUT.load(SeqCst);
    let len = INPUT_LEN.load(SeqCst);
    if !path.is_null() {
        // SAFETY: `path` is a NUL-terminated string (see `c_bytes`).
        let fd = unsafe {
            libc::open(
                path,
                libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_CLOEXEC,
                0o644,
            )
        };
        if fd >= 0 {
            if !input.is_null() {
                // SAFETY: the runner keeps the input published by `enter` alive and unchanged
                // until `leave`, and this runs before `leave` (or ends the process first).
                write_all(fd, unsafe { std::slice::from_raw_parts(input, len) });
            }
            // SAFETY: `fd` was opened above.
            unsafe { libc::close(fd) };
        }
    }
    write_all(2, b"hs-fuzz: ");
    write_all(2, c_bytes(NAME.load(SeqCst)));
    write_all(2, b": ");
    write_all(2, what);
    write_all(2, b"; the input is saved as ");
    write_all(2, c_bytes(path));
    write_all(2, b"\n");
    // SAFETY: _exit ends the process at once, running nothing that could allocate or lock.
    unsafe { libc::_exit(3) }
}

/// Called by the allocator when the running input goes over its memory budget.
pub fn over_budget() -> ! {
    stop(
        MEMORY_PATH.load(SeqCst),
        b"an input went over its memory budget (see --memory-mib)",
    )
}

fn watchdog() {
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let started = STARTED_MS.load(SeqCst);
        if started != 0 && now_ms().saturating_sub(started) > HANG_MS.load(SeqCst) {
            stop(
                HANG_PATH.load(SeqCst),
                b"an input ran longer than the hang limit (see --hang-seconds)",
            );
        }
    }
}
