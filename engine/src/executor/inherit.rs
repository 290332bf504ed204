//! Keeping the engine's own descriptors out of its tasks.
//!
//! Everything hs opens itself is close-on-exec (Rust's default), but libzmq creates its
//! internal epoll instances without the flag, so every task would inherit them: a task that
//! outlives its engine would hold the engine's event loop open, and every exec would carry them.
//! Descriptors the user gave hs on purpose (`hs cluster 3<file`) are left alone: only epoll
//! instances, which no task can use, are sealed.

use super::sys;

/// Mark this process's epoll descriptors close-on-exec. Call once the ZeroMQ sockets exist
/// (the context creates its epoll instances with its first socket).
pub fn seal_internal_descriptors() {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<libc::c_int>().ok())
        else {
            continue;
        };
        let internal = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy() == "anon_inode:[eventpoll]");
        if fd > 2
            && internal
            && let Err(e) = sys::set_cloexec(fd)
        {
            tracing::debug!("cannot mark descriptor {fd} close-on-exec: {e}");
        }
    }
}
