//! One slot shell: `bash --norc --noprofile -o pipefail -c 'enable -f … hs_warm'`, started the
//! way a task's bash is (the tasks' environment, rlimits and signal dispositions, own process
//! group, the engine's directory and umask), whose builtin then serves task requests on a Unix
//! socket for as long as the engine keeps it (see slot_builtin.c).

use std::io::{self, Read as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::super::environ::Inherited;
use super::super::{TaskVars, limits, pdeathsig, spawn::BASH, sys};
use super::library::Library;

/// The slot shell's reply for a task it has cloned (the task sends its own: see slot_builtin.c).
const CLONED: i32 = -1;

/// The first word a slot shell sends once its builtin runs ("HSW1").
const MAGIC: u32 = 0x3157_5348;

/// How long a new slot shell may take to say it is ready.
const READY_WAIT: Duration = Duration::from_secs(10);

/// The script a slot shell runs: loading the builtin is all it does.
const SCRIPT: &str = "enable -f /proc/self/fd/1 hs_warm";

/// Room in the slot shell's arguments (its only positional parameter, blanks) where each task
/// writes its own `bash -o pipefail -c CMD`, so that ps and `pgrep -f` show a task as they show
/// a fresh bash (commands longer than this are cut there).
const TITLE_ROOM: usize = 16 * 1024;

/// What became of one request.
pub(super) enum Reply {
    /// The task runs in this process, a child of the engine and its own group's leader; with
    /// a pidfd for the watch of its end, if one could be opened. Its own reply may still be to
    /// read, once it has ended ([`SlotShell::after_exit`]).
    Running(libc::pid_t, Option<OwnedFd>),
    /// The child could not set itself up (errno) and is exiting with 127: reap it.
    ChildFailed(libc::pid_t, i32),
    /// The slot shell could not fork (errno).
    NotStarted(i32),
}

/// The slot shell is gone (or talks nonsense): no task was started by this request.
#[derive(Debug)]
pub(super) struct Gone(pub(super) io::Error);

#[derive(Debug)]
pub(super) struct SlotShell {
    child: Child,
    socket: UnixStream,
    /// A task this shell started whose own reply is still to be read ([`SlotShell::after_exit`]).
    awaiting: Option<libc::pid_t>,
}

impl SlotShell {
    /// Starts a slot shell and waits for its builtin to report ready. The error is one line:
    /// bash's own message where it printed one (a builtin it cannot load, an unsupported
    /// version).
    pub(super) fn start(library: &Library, inherited: &Inherited) -> Result<Self, String> {
        let (ours, theirs) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
        let (mut diagnostics, diag_end) =
            std::io::pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
        let mut command = Command::new(BASH);
        command
            .arg0("bash")
            .args([
                "--norc",
                "--noprofile",
                "-o",
                "pipefail",
                "-c",
                SCRIPT,
                "bash",
            ])
            .arg(" ".repeat(TITLE_ROOM))
            .process_group(0)
            .env_clear()
            .envs(inherited.pairs_with(TaskVars::none()))
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::from(
                library
                    .descriptor()
                    .map_err(|e| format!("cannot share the builtin: {e}"))?,
            ))
            .stderr(Stdio::from(diag_end));
        limits::restore_task_nofile(&mut command);
        // Started by a thread that lives as long as the engine, which is also the parent thread
        // of every task this shell forks (CLONE_PARENT): they all get their parent-death signal
        // only when the engine dies (see pdeathsig.rs; the builtin asks for it).
        // The command, with its copies of the other ends, is dropped once it has spawned.
        let child = pdeathsig::on_lasting_thread(move || command.spawn())
            .map_err(|e| format!("cannot start {BASH}: {e}"))?;
        let mut shell = SlotShell {
            child,
            socket: ours,
            awaiting: None,
        };
        match shell.wait_ready() {
            Ok(()) => Ok(shell),
            Err(e) => {
                // Everything bash said, once it has gone (killed if it had not).
                drop(shell);
                let mut said = String::new();
                let _ = diagnostics.read_to_string(&mut said);
                let said = said.lines().next().unwrap_or("").trim().to_string();
                Err(if said.is_empty() {
                    format!("the slot shell did not start ({e})")
                } else {
                    said
                })
            }
        }
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        self.socket.set_read_timeout(Some(READY_WAIT))?;
        let mut ready = [0u8; 8];
        self.socket.read_exact(&mut ready)?;
        self.socket.set_read_timeout(None)?;
        let magic = u32::from_ne_bytes(ready[..4].try_into().expect("4 bytes"));
        if magic != MAGIC {
            return Err(io::Error::other("unexpected ready message"));
        }
        Ok(())
    }

    /// The slot shell's pid.
    #[cfg(test)]
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends one request with the task's stdout and stderr (and the cgroup directory its child
    /// is cloned into, if any), and reads who answered.
    pub(super) fn request(
        &mut self,
        request: &[u8],
        stdout: BorrowedFd<'_>,
        stderr: BorrowedFd<'_>,
        cgroup: Option<BorrowedFd<'_>>,
    ) -> Result<Reply, Gone> {
        match cgroup {
            Some(cgroup) => send_with_fds(&self.socket, request, &[stdout, stderr, cgroup]),
            None => send_with_fds(&self.socket, request, &[stdout, stderr]),
        }
        .map_err(Gone)?;
        let (pid, errno) = self.read_reply()?;
        if pid <= 0 {
            return Ok(Reply::NotStarted(errno));
        }
        // Two replies for a started task, in either order: the shell's and the task's own. Once
        // either has named the task, it exists: whatever becomes of the shell or the socket
        // after that (a task may kill its own slot shell), this request started it, and must
        // not be made again in another shell. A shell that cannot answer in step is found
        // gone at its next request, which then never started anything.
        if errno != CLONED {
            // The task's own came first: the shell's follows.
            let _ = self.read_reply();
            if errno != 0 {
                return Ok(Reply::ChildFailed(pid, errno));
            }
        } else {
            // The task's own is not waited for (that would cost every task a wake-up of its
            // slot's thread): it is read once the task has ended ([`after_exit`]), the task
            // writing it before it can exit. What waiting gave is made sure of here: the
            // task's group exists once the engine has the pid (the parent may set a child's
            // group before it execs, and the task never execs).
            self.awaiting = Some(pid);
        }
        let _ = sys::setpgid(pid, pid);
        // The task is the engine's child and not reaped, so its pid names it.
        let pidfd = sys::pidfds_pollable()
            .then(|| sys::pidfd_open(pid).ok())
            .flatten();
        Ok(Reply::Running(pid, pidfd))
    }

    /// Once the task this shell last started has ended: its own reply, if it was not read yet.
    /// `Some(errno)` where it could not set itself up (it then exited with 127 having run
    /// nothing), `None` where it did, or died before it could say (its exit status tells).
    /// `Err` is a shell out of step, not to be used again.
    pub(super) fn after_exit(&mut self) -> Result<Option<i32>, Gone> {
        let Some(pid) = self.awaiting.take() else {
            return Ok(None);
        };
        let mut reply = [0u8; 8];
        match sys::recv_now(self.socket.as_fd(), &mut reply) {
            Ok(8) => {}
            Ok(_) => {
                return Err(Gone(io::Error::other(
                    "the slot shell's replies are cut short",
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(Gone(e)),
        }
        let (from, errno) = decode(reply);
        if from != pid {
            return Err(Gone(io::Error::other(
                "the slot shell's replies are out of step",
            )));
        }
        Ok((errno != 0).then_some(errno))
    }

    fn read_reply(&mut self) -> Result<(i32, i32), Gone> {
        let mut reply = [0u8; 8];
        self.socket.read_exact(&mut reply).map_err(Gone)?;
        Ok(decode(reply))
    }
}

/// A reply's pid and errno (see slot_builtin.c: two native-order i32s).
fn decode(reply: [u8; 8]) -> (i32, i32) {
    let [a, b, c, d, e, f, g, h] = reply;
    (
        i32::from_ne_bytes([a, b, c, d]),
        i32::from_ne_bytes([e, f, g, h]),
    )
}

impl Drop for SlotShell {
    /// Closing the socket ends the shell's loop; the kill covers one that is stuck or gone
    /// strange. Either way it is reaped here (it is the engine's child, not any task's).
    fn drop(&mut self) {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes all of `data`, the descriptors travelling with its first byte. `MSG_NOSIGNAL`: a
/// shell that has gone is an error here, not a SIGPIPE.
fn send_with_fds(socket: &UnixStream, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let mut all: [libc::c_int; 3] = [-1; 3];
    for (raw, fd) in all.iter_mut().zip(fds) {
        *raw = fd.as_raw_fd();
    }
    let raw = &all[..fds.len().min(all.len())];
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of_val(raw) as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; every pointer set below outlives the sendmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: the control buffer is CMSG_SPACE bytes for `raw.len()` ints, as the header says.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(raw) as u32) as _;
        std::ptr::copy_nonoverlapping(raw.as_ptr(), libc::CMSG_DATA(header).cast(), raw.len());
    }
    let sent = loop {
        // SAFETY: msg is fully initialised above.
        let n = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    let mut rest = &data[sent..];
    while !rest.is_empty() {
        // SAFETY: sends from a live slice.
        let n = unsafe {
            libc::send(
                socket.as_raw_fd(),
                rest.as_ptr().cast(),
                rest.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        rest = &rest[n as usize..];
    }
    Ok(())
}
