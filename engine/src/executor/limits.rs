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

/// Open files an engine may need per slot: a task's two relay pipes (both ends kept) and its
/// pidfd, the slot's stop eventfd, its cgroup directory and `cgroup.procs`, and a warm slot
/// shell's pipes and socket while it starts. Measured at the peak of `hs cluster --no-db`
/// running three short tasks a slot, everything in the process included: 9.8 a slot with 100
/// slots, 10.0 with 400, 9.9 with 1,500 (8.4 once all run). Not counted more generously: the
/// usual limit of 1,024 must keep fitting the 100 slots it always held.
pub const FILES_PER_SLOT: u64 = 10;

/// Open files an engine's process needs besides its slots: standard streams, libzmq's sockets
/// and their pipes, a controller's store and connections in the same process.
pub const FILES_BASE: u64 = 24;

/// Too many slots for the open files this process may have.
#[derive(Debug, thiserror::Error)]
#[error(
    "-N {slots} needs about {needed} open files ({FILES_PER_SLOT} a slot), but this process may \
     open only {limit} (`ulimit -n`; its hard limit is {hard}): raise the limit (`ulimit -n`, \
     limits.conf, systemd's LimitNOFILE) or run at most {most} slots here"
)]
pub struct TooManySlots {
    pub slots: u64,
    pub needed: u64,
    pub limit: u64,
    pub hard: u64,
    pub most: u64,
}

/// Whether an engine of `slots` slots can have the files it needs here, with the soft
/// open-file limit raised to the hard one first (see [`prepare_engine_process`]). A limit that
/// cannot be read is not held against it.
pub fn check_slot_files(slots: u32) -> Result<(), TooManySlots> {
    prepare_engine_process();
    match sys::nofile_limit() {
        Ok((soft, hard)) => slots_fit(u64::from(slots), soft, hard),
        Err(e) => {
            tracing::debug!("cannot read the open-file limit: {e}");
            Ok(())
        }
    }
}

/// [`check_slot_files`] for the limits `soft` (what this process may open) and `hard`.
fn slots_fit(slots: u64, soft: u64, hard: u64) -> Result<(), TooManySlots> {
    let needed = slots * FILES_PER_SLOT + FILES_BASE;
    if needed <= soft {
        return Ok(());
    }
    Err(TooManySlots {
        slots,
        needed,
        limit: soft,
        hard,
        most: soft.saturating_sub(FILES_BASE) / FILES_PER_SLOT,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_fit_within_the_open_file_limit_and_a_refusal_names_it() {
        assert!(slots_fit(100, 1024, 1024).is_ok());
        assert!(slots_fit(101, 1024, 4096).is_err());
        assert!(slots_fit(1500, 20_000, 20_000).is_ok());
        let e = slots_fit(2000, 20_000, 20_000).expect_err("refused");
        assert_eq!((e.needed, e.most), (20_024, 1997));
        let text = e.to_string();
        assert!(
            text.contains("-N 2000") && text.contains("ulimit -n"),
            "{text}"
        );
        assert!(slots_fit(u64::from(u32::MAX), u64::MAX, u64::MAX).is_ok());
    }
}
