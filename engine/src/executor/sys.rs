//! Thin, audited wrappers around the Linux calls std does not offer (eventfd, pidfd_open, poll,
//! killpg, group-wide waitpid, prctl). With vfork.rs (starting bash), this is
//! where the executor keeps its `unsafe`.
//!
//! Every wrapper takes and returns safe types (`OwnedFd`, `BorrowedFd`, plain integers) and turns
//! `-1` into `io::Error::last_os_error()`, so the rest of the executor never touches raw libc.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

/// Turns a libc `-1` return into the current `errno` as an `io::Error`.
fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A non-blocking, close-on-exec eventfd with counter 0.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd takes no pointers; on success it returns a new fd that nobody else owns.
    let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) }.into())?;
    // SAFETY: `fd` is a freshly created, valid descriptor owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Adds 1 to an eventfd counter, making it readable. Overflow (EAGAIN) cannot happen with +1
/// steps in practice and would leave it readable anyway, so errors are ignored.
pub(crate) fn eventfd_add(fd: BorrowedFd<'_>) {
    let one: u64 = 1;
    // SAFETY: the buffer is a live, properly aligned 8-byte u64, as eventfd requires.
    let _ = unsafe { libc::write(fd.as_raw_fd(), (&raw const one).cast(), 8) };
}

/// Resets an eventfd counter to 0 (one read drains it); EAGAIN means it already was 0.
pub(crate) fn eventfd_drain(fd: BorrowedFd<'_>) {
    let mut value: u64 = 0;
    // SAFETY: the buffer is a live, writable 8-byte u64, as eventfd requires.
    let _ = unsafe { libc::read(fd.as_raw_fd(), (&raw mut value).cast(), 8) };
}

/// A close-on-exec pidfd for `pid`: it becomes readable (POLLIN) when the process exits, which
/// lets one poll(2) wait for the child, its output pipes and the stop signal at once.
pub(crate) fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers; on success it returns a new fd (O_CLOEXEC by
    // default) that nobody else owns.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: `fd` is a freshly created, valid descriptor owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Whether pidfds can be polled here: Linux 5.3, which also brought `pidfd_open`, so one
/// `pidfd_open` of this process, once, tells.
pub(crate) fn pidfds_pollable() -> bool {
    static POLLABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    // SAFETY: getpid has no preconditions.
    *POLLABLE.get_or_init(|| pidfd_open(unsafe { libc::getpid() }).is_ok())
}

/// poll(2) with a `None` = infinite timeout, rounded *up* to whole milliseconds so a deadline
/// is never woken for a few microseconds early (which would spin). EINTR is returned as is.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    let ms = match timeout {
        None => -1,
        Some(t) => {
            let ms = t.as_nanos().div_ceil(1_000_000);
            libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
        }
    };
    // SAFETY: `fds` is a valid, exclusively borrowed slice of pollfd for the whole call and its
    // length is passed alongside it.
    let n = cvt(unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) }.into())?;
    Ok(n as usize)
}

/// Makes a descriptor non-blocking, so draining a relay pipe never waits on a writer that is
/// still alive (e.g. a background grandchild holding the pipe open). One `ioctl(FIONBIO)` instead
/// of an `F_GETFL`/`F_SETFL` pair: this runs twice per relayed task.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: FIONBIO reads one c_int through the pointer, which points to a live local.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONBIO, &raw const on) }.into())?;
    Ok(())
}

/// `setpgid(pid, pgid)`: for a child of ours that has not exec'd, from the parent's side.
pub(crate) fn setpgid(pid: libc::pid_t, pgid: libc::pid_t) -> io::Result<()> {
    // SAFETY: setpgid takes two integers and touches no memory of ours.
    cvt(unsafe { libc::setpgid(pid, pgid) }.into())?;
    Ok(())
}

/// `recv(fd, buf, MSG_DONTWAIT)`: what is waiting on a socket, without blocking (`WouldBlock`
/// when nothing is).
pub(crate) fn recv_now(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: the buffer is live and writable for its whole length.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
        )
    };
    Ok(cvt(n as libc::c_long)? as usize)
}

/// Sends `signal` to every member of process group `pgid`.
pub(crate) fn killpg(pgid: libc::pid_t, signal: libc::c_int) -> io::Result<()> {
    // SAFETY: killpg takes two integers and touches no memory of ours.
    cvt(unsafe { libc::killpg(pgid, signal) }.into())?;
    Ok(())
}

/// waitpid(2), retried when a signal interrupts it: the child reaped and its status, or `None`
/// with `WNOHANG` when none has exited yet.
fn waitpid(pid: libc::pid_t, flags: libc::c_int) -> io::Result<Option<(libc::pid_t, ExitStatus)>> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a live, writable c_int for the duration of the call.
        match cvt(unsafe { libc::waitpid(pid, &raw mut status, flags) }.into()) {
            Ok(0) => return Ok(None),
            Ok(reaped) => return Ok(Some((reaped as libc::pid_t, ExitStatus::from_raw(status)))),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Waits for child `pid` to exit and reaps it.
pub(crate) fn wait_exit(pid: libc::pid_t) -> io::Result<ExitStatus> {
    waitpid(pid, 0)?
        .map(|(_, status)| status)
        .ok_or_else(|| io::Error::other("waitpid returned without a child"))
}

/// Reaps child `pid` if it has exited: its status, or `None` while it runs.
pub(crate) fn try_wait(pid: libc::pid_t) -> io::Result<Option<ExitStatus>> {
    Ok(waitpid(pid, libc::WNOHANG)?.map(|(_, status)| status))
}

/// `waitpid(-pgid, WNOHANG)`: reaps one exited child of ours in group `pgid`. `Ok(Some(pid))`
/// = reaped one, `Ok(None)` = members exist but none has exited, `Err(ECHILD)` = no child of
/// ours is left in that group.
pub(crate) fn waitpid_group_nohang(pgid: libc::pid_t) -> io::Result<Option<libc::pid_t>> {
    Ok(waitpid(-pgid, libc::WNOHANG)?.map(|(pid, _)| pid))
}

/// prctl(PR_SET_CHILD_SUBREAPER, 1).
pub(crate) fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag; the unused arguments are zero.
    cvt(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) }.into())?;
    Ok(())
}

/// Test-only: restores SIGINT's default disposition in this process. A test binary started in
/// the background by a non-interactive shell inherits SIGINT *ignored*, and so would every task it
/// spawns (ignored signals survive exec), which would defeat the first escalation step.
#[cfg(test)]
pub(crate) fn default_sigint() {
    // SAFETY: SIG_DFL installs no handler code; this only changes the process's disposition.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
}

/// Set `FD_CLOEXEC` on a raw descriptor this process owns but did not open itself.
pub(crate) fn set_cloexec(fd: libc::c_int) -> io::Result<()> {
    // SAFETY: F_GETFD/F_SETFD only read and write the descriptor's flags; an fd that is not open
    // makes fcntl fail with EBADF, which is reported, never undefined behaviour.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFD) }.into())?;
    // SAFETY: as above.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, flags as libc::c_int | libc::FD_CLOEXEC) }.into())?;
    Ok(())
}

/// Opens `/dev/null` on each of descriptors 0, 1 and 2 that is not open (open(2) takes the
/// lowest free number, so checking in order fills them in order).
pub(crate) fn fill_standard_descriptors() -> io::Result<()> {
    for fd in 0..3 {
        // SAFETY: F_GETFD only reads the flags of a descriptor number; EBADF means closed.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1 {
            continue;
        }
        // SAFETY: a NUL-terminated path; the new descriptor is deliberately left open for the
        // life of the process, as the standard descriptor it stands in for.
        let opened = cvt(unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) }.into())?;
        if opened != libc::c_long::from(fd) {
            return Err(io::Error::other(format!(
                "/dev/null opened as {opened}, not {fd}"
            )));
        }
    }
    Ok(())
}

/// The RLIMIT_NOFILE limits: (soft, hard).
pub(crate) fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the live local.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }.into())?;
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// Raises the RLIMIT_NOFILE soft limit to the hard limit; returns the limit as it was if it
/// changed.
pub(crate) fn raise_nofile_limit() -> io::Result<Option<libc::rlimit>> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the live local.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }.into())?;
    if limit.rlim_cur >= limit.rlim_max {
        return Ok(None);
    }
    let raised = libc::rlimit {
        rlim_cur: limit.rlim_max,
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit reads one rlimit from the live local.
    cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) }.into())?;
    Ok(Some(limit))
}

/// The status flags (`F_GETFL`) of a descriptor.
pub(crate) fn status_flags(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
    // SAFETY: F_GETFL only reads the flags of a descriptor we borrow.
    let flags = cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) }.into())?;
    Ok(flags as libc::c_int)
}

/// Sets the status flags (`F_SETFL`) of a descriptor.
pub(crate) fn set_status_flags(fd: BorrowedFd<'_>, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: F_SETFL only changes the flags of a descriptor we borrow.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) }.into())?;
    Ok(())
}
