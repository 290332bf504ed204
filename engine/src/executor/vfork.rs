//! Starting bash with `clone(CLONE_VM | CLONE_VFORK)` directly, and waiting for it.
//!
//! This is what glibc's `posix_spawn` does, less three costs that, on a machine whose cores all
//! run tasks, come straight out of the tasks' share:
//! - glibc maps a fresh stack for every child and unmaps it after; the unmap makes every other
//!   core running one of the engine's threads flush its TLB. Here each thread keeps one stack.
//! - glibc's child asks the kernel about all 64 signals before it may unblock them. Here the
//!   parent keeps a list of the signals that have handlers, taken again every second, and the
//!   child resets only those (and SIGPIPE, which Rust ignores).
//! - the child's pidfd comes with the clone (`CLONE_PIDFD`), not from a second system call,
//!   where pidfds can be polled (Linux 5.3; a probe decides).
//!
//! The rules are glibc's: the parent blocks every signal around the clone, so that no handler of
//! the engine can run in the child (which shares its memory until it execs); the child puts
//! handlers back to their defaults, makes its own process group, duplicates the three
//! descriptors, enters the working directory, unblocks every signal and execs. Besides, it asks
//! to die with the engine and joins its slot's cgroup (see [`pdeathsig`](super::pdeathsig) and
//! [`cgroup`](super::cgroup)). A step that
//! fails leaves its errno in the plan the two share, and the child exits with 127; the parent,
//! which the kernel holds until the child has exec'd or exited, reaps it and reports the errno.
//!
//! The child runs only the `extern "C"` function below, which calls async-signal-safe libc
//! functions on data the parent prepared: no allocation, no lock, no panic. It also puts back
//! the open-file limit the engine raised for itself (see [`limits`](super::limits)).
//!
//! Not on glibc before 2.25: its `clone()` wrapper wrote the child's pid into the calling
//! thread's control block when `CLONE_VM` was set, which the child shares with the parent.
//! [`usable`] says so, and the executor then starts tasks through std's `Command` instead.

use std::cell::RefCell;
use std::ffi::{CStr, c_void};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::environ::Envp;
use super::{limits, sys};

/// What the child's descriptors 0, 1 and 2 become, and the cgroup it joins.
pub(crate) struct ChildFds<'a> {
    pub stdin: BorrowedFd<'a>,
    pub stdout: BorrowedFd<'a>,
    pub stderr: BorrowedFd<'a>,
    /// A `cgroup.procs` the child writes itself into before it execs (see
    /// [`cgroup`](super::cgroup)).
    pub cgroup_procs: Option<BorrowedFd<'a>>,
}

/// A child that was started: its pid, and its pidfd when the kernel could give one.
pub(crate) struct Started {
    pub pid: libc::pid_t,
    pub pidfd: Option<OwnedFd>,
    /// Its status, when it was already collected: a warm task killed before it could report
    /// (see `warm::shell`), reaped at once so that no other reaper takes its status first.
    pub exited: Option<std::process::ExitStatus>,
}

impl Started {
    /// A running child of this process, not reaped: its pid names it even if it has exited
    /// already, so a pidfd opened now cannot name another process. With a pidfd where the kernel
    /// can poll one (Linux 5.3 or later); without, the slot checks the child at an interval.
    pub(crate) fn running(pid: libc::pid_t) -> Self {
        Started::running_with(pid, None)
    }

    /// The same, with the pidfd the caller already opened for it, if any (one is opened
    /// otherwise).
    pub(crate) fn running_with(pid: libc::pid_t, pidfd: Option<OwnedFd>) -> Self {
        let pidfd = pidfd.or_else(|| {
            sys::pidfds_pollable()
                .then(|| sys::pidfd_open(pid).ok())
                .flatten()
        });
        Started {
            pid,
            pidfd,
            exited: None,
        }
    }
}

/// Size of each thread's child stack, not counting its guard page. The child only runs a few
/// libc calls before it execs.
const STACK_SIZE: usize = 64 * 1024;

/// How long a thread's list of handled signals is trusted before it is taken again. Handlers are
/// installed when hs starts; this only bounds how stale the list can get if one comes later.
const SIGNALS_REFRESH: Duration = Duration::from_secs(1);

/// `CLONE_PIDFD` (Linux 5.2), from linux/sched.h.
const CLONE_PIDFD: libc::c_int = 0x1000;

/// Whether this process may start tasks with its own clone: glibc 2.25 or later (see the module
/// documentation).
pub(crate) fn usable() -> bool {
    static USABLE: OnceLock<bool> = OnceLock::new();
    *USABLE.get_or_init(|| {
        // SAFETY: glibc returns a pointer to a static NUL-terminated version string.
        let version = unsafe { CStr::from_ptr(libc::gnu_get_libc_version()) };
        glibc_at_least(&version.to_string_lossy(), (2, 25))
    })
}

/// Whether a glibc version string ("2.36", "2.17") is at least `want`.
fn glibc_at_least(version: &str, want: (u32, u32)) -> bool {
    let mut parts = version.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .unwrap_or(0)
    });
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= want
}

/// What a thread keeps for the children it starts: made at its first spawn.
struct Spawner {
    stack: ChildStack,
    handled: HandledSignals,
}

thread_local! {
    static SPAWNER: RefCell<Option<Spawner>> = const { RefCell::new(None) };
}

/// Everything the child reads, prepared by the parent; the child writes only `error`.
struct Plan<'a> {
    program: &'a CStr,
    /// Null-terminated.
    argv: &'a [*const libc::c_char],
    envp: *const *const libc::c_char,
    fds: [libc::c_int; 3],
    cwd: Option<&'a CStr>,
    /// Signals to put back to their default disposition.
    reset: &'a [libc::c_int],
    /// The open-file limit to put back, if the engine raised its own.
    nofile: Option<libc::rlimit>,
    /// The engine's pid: the child dies with it (see [`pdeathsig`](super::pdeathsig)).
    parent: libc::pid_t,
    /// `cgroup.procs` to join, or -1.
    cgroup_procs: libc::c_int,
    /// The errno of the step that failed; 0 if the child exec'd.
    error: libc::c_int,
}

/// The child: runs on its own stack in the parent's memory until execve replaces it.
extern "C" fn child_main(arg: *mut c_void) -> libc::c_int {
    // SAFETY: `arg` is the parent's `Plan`, alive and not touched by the parent (which the
    // kernel holds) until this child execs or exits; every pointer in it was made from live
    // NUL-terminated strings and null-terminated arrays; only async-signal-safe calls follow.
    unsafe {
        let plan = &mut *arg.cast::<Plan<'_>>();
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        for &signal in plan.reset {
            libc::sigaction(signal, &default, std::ptr::null_mut());
        }
        if libc::setpgid(0, 0) != 0 {
            return fail(plan);
        }
        // The slot thread that cloned this child waits for it, so the signal comes only when
        // the engine dies; a failed join leaves the task to its process group.
        super::pdeathsig::arm_in_child(plan.parent);
        if plan.cgroup_procs >= 0 {
            libc::write(plan.cgroup_procs, b"0".as_ptr().cast(), 1);
        }
        for (target, &fd) in plan.fds.iter().enumerate() {
            let target = target as libc::c_int;
            // dup2 onto itself would leave close-on-exec set.
            let ok = if fd == target {
                libc::fcntl(fd, libc::F_SETFD, 0) == 0
            } else {
                libc::dup2(fd, target) == target
            };
            if !ok {
                return fail(plan);
            }
        }
        if let Some(dir) = plan.cwd
            && libc::chdir(dir.as_ptr()) != 0
        {
            return fail(plan);
        }
        if let Some(limit) = &plan.nofile
            && libc::setrlimit(libc::RLIMIT_NOFILE, limit) != 0
        {
            return fail(plan);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        libc::execve(plan.program.as_ptr(), plan.argv.as_ptr(), plan.envp);
        fail(plan)
    }
}

/// Records the failed step's errno for the parent and ends the child.
///
/// # Safety
/// Only for the child, which shares the parent's errno location and memory.
unsafe fn fail(plan: &mut Plan<'_>) -> libc::c_int {
    // SAFETY: the child's errno is readable; `_exit` ends it without running anything of the
    // parent's (no atexit handlers, no buffered stdio).
    unsafe {
        plan.error = (*libc::__errno_location()).max(1);
        libc::_exit(127)
    }
}

/// A thread's child stack: mapped once, with a guard page below it, unmapped with the thread.
struct ChildStack {
    base: *mut c_void,
    /// The whole mapping: the guard page and [`STACK_SIZE`].
    len: usize,
}

impl ChildStack {
    fn new() -> io::Result<Self> {
        let guard = page_size();
        let len = guard + STACK_SIZE;
        // SAFETY: an anonymous private mapping of a fixed size touches no existing memory.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack { base, len };
        // SAFETY: the first page lies inside the mapping just made.
        if unsafe { libc::mprotect(base, guard, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The highest address (stacks grow down), 16-byte aligned.
    fn top(&self) -> *mut c_void {
        // SAFETY: one past the end of the mapping, which is page aligned.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, used by no child any more (each exec'd or exited
        // before its clone returned).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf takes an integer and reads no memory of ours.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// The signals this process has handlers for, plus SIGPIPE: what a child must reset before it
/// unblocks signals (ignored signals stay ignored across exec, as with posix_spawn).
#[derive(Default)]
struct HandledSignals {
    taken: Option<Instant>,
    signals: Vec<libc::c_int>,
}

impl HandledSignals {
    fn current(&mut self) -> &[libc::c_int] {
        if self.taken.is_none_or(|t| t.elapsed() >= SIGNALS_REFRESH) {
            self.signals = handled_signals();
            self.taken = Some(Instant::now());
        }
        &self.signals
    }
}

fn handled_signals() -> Vec<libc::c_int> {
    let mut handled = vec![libc::SIGPIPE];
    for signal in 1..libc::SIGRTMAX() + 1 {
        // SAFETY: an all-zero sigaction is valid to be overwritten by the query.
        let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a query only (null new action); glibc refuses its internal signals with EINVAL.
        if unsafe { libc::sigaction(signal, std::ptr::null(), &mut current) } != 0 {
            continue;
        }
        let disposition = current.sa_sigaction;
        if disposition != libc::SIG_DFL && disposition != libc::SIG_IGN && signal != libc::SIGPIPE {
            handled.push(signal);
        }
    }
    handled
}

/// Starts `program` with `argv` and `envp` in a new process group of its own, with `fds` as its
/// descriptors 0 to 2 and `cwd` (if any) as its working directory.
pub(crate) fn spawn(
    program: &CStr,
    argv: &[&CStr],
    envp: &Envp<'_>,
    fds: &ChildFds<'_>,
    cwd: Option<&CStr>,
) -> io::Result<Started> {
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    SPAWNER.with_borrow_mut(|spawner| {
        let spawner = match spawner {
            Some(spawner) => spawner,
            None => spawner.insert(Spawner {
                stack: ChildStack::new()?,
                handled: HandledSignals::default(),
            }),
        };
        let mut plan = Plan {
            program,
            argv: &argv_ptrs,
            envp: envp.as_ptr(),
            fds: [fds.stdin, fds.stdout, fds.stderr].map(|fd| fd.as_raw_fd()),
            cwd,
            reset: spawner.handled.current(),
            nofile: limits::task_nofile(),
            parent: std::process::id() as libc::pid_t,
            cgroup_procs: fds.cgroup_procs.map_or(-1, |fd| fd.as_raw_fd()),
            error: 0,
        };
        clone_child(&mut plan, &spawner.stack)
    })
}

/// The clone itself, with every signal blocked around it (glibc keeps its two internal signals
/// unblocked; they are only sent to threads of this process, which the child is not); then the
/// child's verdict.
fn clone_child(plan: &mut Plan<'_>, stack: &ChildStack) -> io::Result<Started> {
    // Linux 5.2 gives a pidfd that poll reports ready at once, and older kernels ignore the flag.
    let with_pidfd = sys::pidfds_pollable();
    let mut pidfd: libc::c_int = -1;
    let flags = libc::CLONE_VM
        | libc::CLONE_VFORK
        | libc::SIGCHLD
        | if with_pidfd { CLONE_PIDFD } else { 0 };
    // SAFETY: the sets are locals; the mask change applies to this thread only and is undone
    // right after. The child runs `child_main` on this thread's own stack mapping, which no other
    // child uses (the kernel holds this thread until the child has exec'd or exited), with the
    // live `plan`; with CLONE_PIDFD the kernel writes the pidfd into the live local `pidfd`.
    let (pid, clone_error) = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        let pid = libc::clone(
            child_main,
            stack.top(),
            flags,
            (plan as *mut Plan<'_>).cast(),
            &raw mut pidfd,
        );
        let clone_error = io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        (pid, clone_error)
    };
    if pid < 0 {
        return Err(clone_error);
    }
    // SAFETY: with CLONE_PIDFD and success, the kernel made `pidfd` a new descriptor that only
    // this code owns.
    let pidfd = (with_pidfd && pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    if plan.error != 0 {
        let _ = sys::wait_exit(pid);
        return Err(io::Error::from_raw_os_error(plan.error));
    }
    Ok(Started {
        pid,
        pidfd,
        exited: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn glibc_versions_compare_by_number() {
        assert!(glibc_at_least("2.36", (2, 25)));
        assert!(glibc_at_least("2.25", (2, 25)));
        assert!(glibc_at_least("3.0", (2, 25)));
        assert!(!glibc_at_least("2.17", (2, 25)));
        assert!(!glibc_at_least("2.9", (2, 25)));
        assert!(!glibc_at_least("garbage", (2, 25)));
        assert!(usable(), "this machine's glibc is newer than 2.25");
    }

    #[test]
    fn the_handled_list_always_resets_sigpipe_and_only_names_real_handlers() {
        let handled = handled_signals();
        assert_eq!(handled.iter().filter(|&&s| s == libc::SIGPIPE).count(), 1);
        for &signal in &handled[1..] {
            // SAFETY: a query only.
            let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
            unsafe { libc::sigaction(signal, std::ptr::null(), &mut current) };
            assert_ne!(current.sa_sigaction, libc::SIG_DFL, "signal {signal}");
            assert_ne!(current.sa_sigaction, libc::SIG_IGN, "signal {signal}");
        }
    }

    /// Starts `argv` with this process's environment and every descriptor on /dev/null.
    fn spawn_quiet(argv: &[&CStr], cwd: Option<&CStr>) -> io::Result<Started> {
        let inherited = super::super::environ::Inherited::capture(&[]);
        let envp = inherited
            .with(crate::executor::TaskVars::none())
            .expect("env");
        let null = std::fs::File::open("/dev/null").expect("null");
        let fds = ChildFds {
            stdin: null.as_fd(),
            stdout: null.as_fd(),
            stderr: null.as_fd(),
            cgroup_procs: None,
        };
        spawn(argv[0], argv, &envp, &fds, cwd)
    }

    #[test]
    fn a_failed_exec_or_chdir_reports_its_errno() {
        let err = spawn_quiet(&[c"/nonexistent/bash"], None)
            .err()
            .expect("no such program");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
        let err = spawn_quiet(&[c"/bin/true"], Some(c"/nonexistent"))
            .err()
            .expect("no such directory");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn a_started_child_comes_with_its_pidfd() {
        let started = spawn_quiet(&[c"/bin/sh", c"-c", c"exit 3"], None).expect("started");
        assert!(started.pidfd.is_some(), "Linux 5.2 or later gives a pidfd");
        let status = sys::wait_exit(started.pid).expect("reaped");
        assert_eq!(status.code(), Some(3));
    }
}
