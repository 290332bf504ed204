//! A minimal epoll set over ZeroMQ sockets' `ZMQ_FD`s, so that a thread holding a thousand
//! engines wakes for the few sockets that have something, instead of `zmq_poll` walking all of
//! them for every message (which made the swarm, not the controller, the bottleneck).
//!
//! `ZMQ_FD` is readable while the socket has commands to process; receiving until `EAGAIN`
//! processes them. It does not say a message is waiting once those commands were processed by
//! something else (a send), so callers also look at every socket now and then.

use std::os::fd::RawFd;

pub struct Epoll {
    fd: RawFd,
    events: Vec<libc::epoll_event>,
}

impl Epoll {
    pub fn new() -> anyhow::Result<Epoll> {
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        anyhow::ensure!(
            fd >= 0,
            "epoll_create1: {}",
            std::io::Error::last_os_error()
        );
        Ok(Epoll {
            fd,
            events: vec![libc::epoll_event { events: 0, u64: 0 }; 1024],
        })
    }

    /// Watch `fd` for reading; `token` comes back with its events.
    pub fn add(&mut self, fd: RawFd, token: u64) -> anyhow::Result<()> {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
        // SAFETY: both descriptors are open and `ev` is a valid event.
        let rc = unsafe { libc::epoll_ctl(self.fd, libc::EPOLL_CTL_ADD, fd, &mut ev) };
        anyhow::ensure!(rc == 0, "epoll_ctl: {}", std::io::Error::last_os_error());
        Ok(())
    }

    /// Wait up to `timeout_ms` and return the tokens of the descriptors that are ready.
    pub fn wait(&mut self, timeout_ms: i32, ready: &mut Vec<u64>) {
        ready.clear();
        // SAFETY: `events` is a valid buffer of the length given.
        let n = unsafe {
            libc::epoll_wait(
                self.fd,
                self.events.as_mut_ptr(),
                self.events.len() as i32,
                timeout_ms,
            )
        };
        // An interrupted or failed wait is just an early wake-up: the caller sweeps anyway.
        for ev in self.events.iter().take(n.max(0) as usize) {
            ready.push(ev.u64);
        }
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: our own descriptor, closed once.
        unsafe { libc::close(self.fd) };
    }
}
