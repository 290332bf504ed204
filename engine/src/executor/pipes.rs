//! Relay pipes kept from task to task.
//!
//! A task's relayed stdout and stderr are pipes the engine reads. Made fresh for every task and
//! with the engine's copy of the write end closed at once, each pipe cost two descriptors to make
//! and close per stream, and its hang-up woke the slot a second time per task, a few microseconds
//! before the exit itself did: on a machine whose cores all run tasks, that is CPU the tasks
//! lose. So a slot keeps both ends of its pipes: the write end held open means the pipe never
//! hangs up, the slot wakes once when the task exits, and drains what is there without waiting
//! for an end of file.
//!
//! A pipe goes back to the [`PipePool`] only when nothing of its task is left in its process
//! group, once it was drained after that: a background process still holding it must not write
//! into a later task's output. Such pipes are dropped, and their writers get `EPIPE`, as a fresh
//! pipe's would. What a task may have changed on its end (`O_NONBLOCK`, which some runtimes set
//! on their stdout, and would then hand every later task) is put back first. A process that
//! left its task's process group (`setsid`, a daemon that double-forks) while keeping the task's
//! stdout is not seen: its later output is relayed with a later task, of any slot.
//!
//! Without a pidfd (Linux before 5.3) the pipe's hang-up is what tells the slot early that a
//! task is ending, so there the engine keeps only the read end after the spawn
//! ([`RelayPipe::into_read_end`]), and the pipe is not kept.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Mutex;

use super::sys;

/// Both ends of one relay pipe: a non-blocking read end for the engine and the write end a
/// task's stdout or stderr is duplicated from.
#[derive(Debug)]
pub(crate) struct RelayPipe {
    read: File,
    write: OwnedFd,
    /// The write end's status flags as made, to put back before the pipe is kept.
    write_flags: libc::c_int,
}

impl RelayPipe {
    /// A new pipe (both ends close-on-exec; the child gets its end through dup2).
    pub(crate) fn new() -> io::Result<Self> {
        let (read, write) = io::pipe()?;
        let read = OwnedFd::from(read);
        sys::set_nonblocking(read.as_fd())?;
        let write = OwnedFd::from(write);
        Ok(RelayPipe {
            read: File::from(read),
            write_flags: sys::status_flags(write.as_fd())?,
            write,
        })
    }

    /// The end a task writes to.
    pub(crate) fn child_end(&self) -> BorrowedFd<'_> {
        self.write.as_fd()
    }

    /// Closes the engine's copy of the write end, so the pipe hangs up once the task's copies
    /// are gone; what is left is the read end alone, which is never kept.
    pub(crate) fn into_read_end(self) -> File {
        self.read
    }

    /// The end the engine reads, non-blocking.
    pub(crate) fn reader(&mut self) -> &mut File {
        &mut self.read
    }

    /// The read end's descriptor, for poll(2).
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }
}

/// Relay pipes waiting for the next task; there are never more than the tasks that ran at once.
#[derive(Debug, Default)]
pub(crate) struct PipePool {
    idle: Mutex<Vec<RelayPipe>>,
}

impl PipePool {
    /// A kept pipe, or a new one when none is idle.
    pub(crate) fn take(&self) -> io::Result<RelayPipe> {
        let kept = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match kept {
            Some(pipe) => Ok(pipe),
            None => RelayPipe::new(),
        }
    }

    /// Keeps `pipe` for a later task, with its write end's flags as they were made. Only for a
    /// pipe that is empty and that no live process other than the engine can still write to;
    /// one whose flags cannot be put back is dropped.
    pub(crate) fn give_back(&self, pipe: RelayPipe) {
        let end = pipe.child_end();
        let restored = match sys::status_flags(end) {
            Ok(flags) if flags == pipe.write_flags => true,
            Ok(_) => sys::set_status_flags(end, pipe.write_flags).is_ok(),
            Err(_) => false,
        };
        if restored {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(pipe);
        }
    }

    /// How many pipes wait to be reused.
    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        self.idle.lock().expect("lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn a_kept_pipe_reads_without_blocking_and_never_hangs_up() {
        let pool = PipePool::default();
        let mut pipe = pool.take().expect("pipe");
        let mut buf = [0u8; 16];
        let err = pipe.reader().read(&mut buf).expect_err("empty");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        let mut writer = File::from(pipe.child_end().try_clone_to_owned().expect("dup"));
        writer.write_all(b"x\n").expect("write");
        drop(writer);
        assert_eq!(pipe.reader().read(&mut buf).expect("data"), 2);
        // The writer is gone but the pool's own write end keeps the pipe open: no end of file.
        let err = pipe.reader().read(&mut buf).expect_err("still open");
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        let fd = pipe.raw_fd();
        pool.give_back(pipe);
        assert_eq!(
            pool.take().expect("kept").raw_fd(),
            fd,
            "the same pipe again"
        );
    }

    #[test]
    fn flags_a_task_set_on_its_end_are_put_back_before_the_pipe_is_kept() {
        let pool = PipePool::default();
        let pipe = pool.take().expect("pipe");
        let end = pipe.child_end();
        let made = sys::status_flags(end).expect("flags");
        sys::set_status_flags(end, made | libc::O_NONBLOCK).expect("set");
        pool.give_back(pipe);
        let kept = pool.take().expect("kept");
        let flags = sys::status_flags(kept.child_end()).expect("flags");
        assert_eq!(flags & libc::O_NONBLOCK, 0, "O_NONBLOCK was cleared");
    }
}
