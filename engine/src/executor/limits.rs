//! Process-wide preparation of an engine, done once before its first task.
//!
//! - Descriptors 0, 1 and 2 must be open: started with one closed, the engine's own files would
//!   take its number, and a task's stdout pipe could then be overwritten by its stdin on the
//!   way to the child.
//! - Every slot keeps two pipes open (both ends) plus a pidfd while a task runs, so an engine of
//!   a few hundred slots needs more descriptors than the usual soft limit of 1,024. The soft
//!   limit is raised to the hard one for the engine, and tasks get the original back: programs
//!   that use select(2) break on descriptors above 1,023, so they must not be handed a higher
//!   limit than the user set.

use std::sync::OnceLock;

use super::sys;

/// The open-file limit tasks get back, when the engine raised its own.
static TASK_NOFILE: OnceLock<Option<libc::rlimit>> = OnceLock::new();

/// Opens `/dev/null` on any of descriptors 0–2 that is closed, and raises the open-file soft
/// limit to the hard limit. Idempotent; failures only cost headroom and are logged.
pub fn prepare_engine_process() {
    if let Err(e) = sys::fill_standard_descriptors() {
        tracing::debug!("cannot open /dev/null on a closed standard descriptor: {e}");
    }
    TASK_NOFILE.get_or_init(|| match sys::raise_nofile_limit() {
        Ok(original) => original,
        Err(e) => {
            tracing::debug!("cannot raise the open-file limit: {e}");
            None
        }
    });
}

/// The open-file limit to restore in a task, if [`prepare_engine_process`] raised it.
pub(crate) fn task_nofile() -> Option<libc::rlimit> {
    TASK_NOFILE.get().copied().flatten()
}

/// Make `command`'s child (a task's bash, or a slot shell) start with the open-file limit the
/// engine was given, not the one it raised for itself.
pub(crate) fn restore_task_nofile(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    if let Some(limit) = task_nofile() {
        // SAFETY: runs in the forked child before exec and only calls setrlimit, which is
        // async-signal-safe, on a copied value.
        unsafe {
            command.pre_exec(move || {
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }
}
