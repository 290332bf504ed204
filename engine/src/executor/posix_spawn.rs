//! Starting bash with posix_spawn(3) directly, and waiting for it.
//!
//! This is what std's `Command` does on Linux when it can (glibc then uses
//! `clone(CLONE_VM|CLONE_VFORK)`, which does not copy the engine's page tables), without its
//! per-spawn rebuilding of the environment (see [`environ`](super::environ)): the child gets its
//! own process group, an empty signal mask, SIGPIPE back at its default (Rust ignores it), the
//! three descriptors given, and the working directory given. Like sys.rs, this file keeps its
//! `unsafe` to thin wrappers with safe signatures.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::OnceLock;

use super::environ::Envp;

/// What the child's descriptors 0, 1 and 2 become.
pub(crate) struct ChildFds<'a> {
    pub stdin: BorrowedFd<'a>,
    pub stdout: BorrowedFd<'a>,
    pub stderr: BorrowedFd<'a>,
}

/// Turns a posix_spawn-style return (0 or an errno) into a result.
fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(ret))
    }
}

/// `posix_spawn_file_actions_addchdir_np`, looked up at run time: glibc has it since 2.29, and
/// linking it directly would stop hs from building against an older one.
type AddChdir =
    unsafe extern "C" fn(*mut libc::posix_spawn_file_actions_t, *const libc::c_char) -> libc::c_int;

fn add_chdir() -> Option<AddChdir> {
    static ADD_CHDIR: OnceLock<Option<AddChdir>> = OnceLock::new();
    *ADD_CHDIR.get_or_init(|| {
        // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads the name.
        let sym = unsafe {
            libc::dlsym(
                libc::RTLD_DEFAULT,
                c"posix_spawn_file_actions_addchdir_np".as_ptr(),
            )
        };
        // SAFETY: when present, the symbol is glibc's function of exactly this signature.
        (!sym.is_null()).then(|| unsafe { std::mem::transmute::<*mut libc::c_void, AddChdir>(sym) })
    })
}

/// Whether a working directory can be set on a spawned child (else the caller must use std's
/// `Command`, which falls back to fork + chdir + exec).
pub(crate) fn can_chdir() -> bool {
    add_chdir().is_some()
}

/// Initialised posix_spawn attributes, destroyed on drop. (glibc's attribute and file-action
/// structs hold no pointers into themselves, so they may move once initialised.)
struct Attributes(libc::posix_spawnattr_t);

impl Attributes {
    /// Own process group, empty signal mask, SIGPIPE back at its default.
    fn for_task() -> io::Result<Self> {
        // SAFETY: all-zero is a valid bit pattern for this plain C struct, and init overwrites
        // it; the sigset calls only write the local sets.
        let mut attr = Attributes(unsafe {
            let mut raw = std::mem::zeroed();
            check(libc::posix_spawnattr_init(&mut raw))?;
            raw
        });
        // SAFETY: every call gets a pointer to the initialised attributes or to a live local.
        unsafe {
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            let mut pipe: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut pipe);
            libc::sigaddset(&mut pipe, libc::SIGPIPE);
            check(libc::posix_spawnattr_setpgroup(&mut attr.0, 0))?;
            check(libc::posix_spawnattr_setsigmask(&mut attr.0, &empty))?;
            check(libc::posix_spawnattr_setsigdefault(&mut attr.0, &pipe))?;
            let flags = libc::POSIX_SPAWN_SETPGROUP
                | libc::POSIX_SPAWN_SETSIGMASK
                | libc::POSIX_SPAWN_SETSIGDEF;
            check(libc::posix_spawnattr_setflags(
                &mut attr.0,
                flags as libc::c_short,
            ))?;
        }
        Ok(attr)
    }
}

impl Drop for Attributes {
    fn drop(&mut self) {
        // SAFETY: initialised in `for_task`.
        unsafe { libc::posix_spawnattr_destroy(&mut self.0) };
    }
}

/// Initialised posix_spawn file actions, destroyed on drop.
struct Actions(libc::posix_spawn_file_actions_t);

impl Actions {
    /// dup2 of the three descriptors, then the working directory if one is given.
    fn for_task(fds: &ChildFds<'_>, cwd: Option<&CStr>) -> io::Result<Self> {
        // SAFETY: as for `Attributes`.
        let mut actions = Actions(unsafe {
            let mut raw = std::mem::zeroed();
            check(libc::posix_spawn_file_actions_init(&mut raw))?;
            raw
        });
        for (fd, target) in [(fds.stdin, 0), (fds.stdout, 1), (fds.stderr, 2)] {
            // SAFETY: initialised actions; the descriptor is borrowed for the whole spawn.
            check(unsafe {
                libc::posix_spawn_file_actions_adddup2(&mut actions.0, fd.as_raw_fd(), target)
            })?;
        }
        if let Some(dir) = cwd {
            let add = add_chdir().ok_or_else(|| io::Error::from_raw_os_error(libc::ENOSYS))?;
            // SAFETY: initialised actions; glibc copies the NUL-terminated path.
            check(unsafe { add(&mut actions.0, dir.as_ptr()) })?;
        }
        Ok(actions)
    }
}

impl Drop for Actions {
    fn drop(&mut self) {
        // SAFETY: initialised in `for_task`.
        unsafe { libc::posix_spawn_file_actions_destroy(&mut self.0) };
    }
}

/// Starts `program` with `argv` and `envp` in a new process group of its own; returns its pid.
pub(crate) fn spawn(
    program: &CStr,
    argv: &[&CStr],
    envp: &Envp<'_>,
    fds: &ChildFds<'_>,
    cwd: Option<&CStr>,
) -> io::Result<libc::pid_t> {
    let attributes = Attributes::for_task()?;
    let actions = Actions::for_task(fds, cwd)?;
    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut pid: libc::pid_t = 0;
    // SAFETY: `program`, every argv entry and every envp entry are NUL-terminated strings that
    // outlive the call; both arrays end with a null pointer; attributes and actions are
    // initialised.
    check(unsafe {
        libc::posix_spawn(
            &mut pid,
            program.as_ptr(),
            &actions.0,
            &attributes.0,
            argv_ptrs.as_ptr() as *const *mut libc::c_char,
            envp.as_ptr() as *const *mut libc::c_char,
        )
    })?;
    Ok(pid)
}
