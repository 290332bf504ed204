//! The launcher's control socket: a Unix socket in a profile's private `security/` folder through
//! which `hs start --profile P --add K` (`--remove K`) asks the running cluster's launcher for
//! more (fewer) engines, and `hs status --profile P` asks how many it runs and what its
//! autoscaler aims for.
//!
//! The launcher, not the controller, owns the engines it starts (their process groups, their
//! stdin): engines added this way join its fleet, so `hs stop` ends them like the first ones.
//! Only the profile's owner can reach the socket (the folder is 0700). A request and its reply
//! are one line of JSON each; the launcher answers between its looks at its processes.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a client asks the launcher.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// Start `count` more engines with the profile's launcher.
    Add { count: u32 },
    /// Ask the `count` most recently launched processes to leave ([`super::Fleet::retire`]).
    Remove { count: u32 },
    /// The launcher's processes and its autoscaler's settings and target.
    Status,
}

/// What the launcher answers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The engines were started (they register with the controller on their own).
    Added {
        count: u32,
    },
    /// This many processes were asked to leave (fewer than asked for when fewer ran).
    Removed {
        count: u32,
    },
    Status(LaunchStatus),
    Error {
        message: String,
    },
}

/// The launcher's view of its cluster (the controller's view is `hs status`'s engine list).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaunchStatus {
    /// `local`, `ssh`, `mpi` or `command`.
    pub launcher: String,
    /// Processes it started that still run (an engine, or an ssh session, mpirun, srun …).
    pub running: u64,
    /// Processes it started since the cluster started.
    pub launched: u64,
    pub autoscale: Option<ScaleStatus>,
}

/// An autoscaled cluster's policy and the size it aims for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleStatus {
    pub policy: String,
    pub factor: f64,
    pub period: f64,
    pub init: u32,
    pub min: u32,
    pub max: u32,
    /// The size decided at the autoscaler's last look (running engines, plus one while it adds).
    pub target: u32,
}

/// Longest request or reply line read: anything longer is not from hs.
const MAX_LINE: u64 = 64 * 1024;

/// The listening end, owned by the launch supervisor; the socket file goes with it.
pub struct ControlSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl ControlSocket {
    /// Listen at `path` (a file left by a cluster that died is replaced).
    pub fn bind(path: &Path) -> std::io::Result<ControlSocket> {
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(ControlSocket {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// Answer every request waiting now, without waiting for more.
    pub fn serve(&self, mut answer: impl FnMut(Request) -> Reply) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if let Err(e) = handle(stream, &mut answer) {
                        tracing::debug!("control socket: a request failed: {e}");
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::warn!("control socket {}: {e}", self.path.display());
                    return;
                }
            }
        }
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// How long one side waits for the other's line.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a client waits for the answer to a change: the launcher answers once it has
/// started every engine asked for, which for many engines takes a while.
const CHANGE_TIMEOUT: Duration = Duration::from_secs(60);

fn handle(stream: UnixStream, answer: &mut impl FnMut(Request) -> Reply) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let line = read_line(&stream)?;
    let reply = match serde_json::from_str::<Request>(&line) {
        Ok(request) => answer(request),
        Err(e) => Reply::Error {
            message: format!("not a launcher request: {e}"),
        },
    };
    write_line(&stream, &reply)
}

fn read_line(stream: &UnixStream) -> std::io::Result<String> {
    let mut line = String::new();
    BufReader::new(stream.take(MAX_LINE)).read_line(&mut line)?;
    Ok(line)
}

fn write_line(mut stream: &UnixStream, value: &impl Serialize) -> std::io::Result<()> {
    let mut text = serde_json::to_string(value).map_err(std::io::Error::other)?;
    text.push('\n');
    stream.write_all(text.as_bytes())?;
    stream.flush()
}

/// Send `request` to the launcher listening at `path` and return its reply.
pub fn ask(path: &Path, request: &Request) -> std::io::Result<Reply> {
    let stream = UnixStream::connect(path)?;
    let answer_within = match request {
        Request::Status => IO_TIMEOUT,
        Request::Add { .. } | Request::Remove { .. } => CHANGE_TIMEOUT,
    };
    stream.set_read_timeout(Some(answer_within))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    write_line(&stream, request)?;
    let line = read_line(&stream)?;
    if line.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the launcher closed the connection without answering",
        ));
    }
    serde_json::from_str(&line).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_gets_its_answer_and_the_socket_file_goes_with_the_listener() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("launcher.sock");
        let socket = ControlSocket::bind(&path).unwrap();
        let asker = {
            let path = path.clone();
            std::thread::spawn(move || ask(&path, &Request::Add { count: 3 }))
        };
        let mut seen = Vec::new();
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while seen.is_empty() && std::time::Instant::now() < until {
            socket.serve(|r| {
                seen.push(r);
                Reply::Added { count: 3 }
            });
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(seen, [Request::Add { count: 3 }]);
        assert_eq!(asker.join().unwrap().unwrap(), Reply::Added { count: 3 });
        drop(socket);
        assert!(!path.exists());
        assert!(ask(&path, &Request::Status).is_err(), "nobody listens");
    }

    #[test]
    fn a_line_that_is_no_request_gets_an_error_reply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("launcher.sock");
        let socket = ControlSocket::bind(&path).unwrap();
        let asker = {
            let path = path.clone();
            std::thread::spawn(move || {
                let stream = UnixStream::connect(&path).unwrap();
                write_line(&stream, &serde_json::json!({"request": "explode"})).unwrap();
                read_line(&stream).unwrap()
            })
        };
        let until = std::time::Instant::now() + Duration::from_secs(10);
        while !asker.is_finished() && std::time::Instant::now() < until {
            socket.serve(|_| unreachable!("not a request"));
            std::thread::sleep(Duration::from_millis(10));
        }
        let reply: Reply = serde_json::from_str(&asker.join().unwrap()).unwrap();
        assert!(
            matches!(&reply, Reply::Error { message } if message.contains("not a launcher request")),
            "{reply:?}"
        );
    }
}
