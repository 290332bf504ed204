//! Exit codes: documented in the README and in `hs --help`, and the same for every command.

use std::process::ExitCode;

/// What an `hs` process reports to its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The run completed. `hs cluster`/`hs server` exit 0 even when tasks failed, as HyperShell
    /// does (the summary line and `hs list --failed` count them), unless `--fail-exit` is given.
    Ok = 0,
    /// An input line was rejected (every other task still ran), a task failed under
    /// `--fail-exit`, a job of `hs stream` was not `ok`, or no arguments were given and the
    /// usage was printed (HyperShell's 1).
    TasksFailed = 1,
    /// Bad command-line arguments or input that cannot be used (unknown option, weak key, …).
    Usage = 2,
    /// A configuration file could not be used.
    Config = 3,
    /// Interrupted (Ctrl-C, SIGTERM, SIGHUP): running tasks were stopped.
    Interrupted = 4,
    /// The run could not proceed: file not found, port in use, controller unreachable, I/O error.
    Runtime = 5,
    /// A bug in hs (it should never happen; please report it).
    Internal = 6,
    /// Authentication failed: the key does not match the controller's.
    AuthFailed = 7,
    /// `hs start`: the profile's cluster is already running (ipcluster's code).
    AlreadyRunning = 10,
    /// `hs stop`/`hs status`: the profile has no running cluster (ipcluster's code).
    NotRunning = 11,
}

impl Status {
    const ALL: [Status; 10] = [
        Status::Ok,
        Status::TasksFailed,
        Status::Usage,
        Status::Config,
        Status::Interrupted,
        Status::Runtime,
        Status::Internal,
        Status::AuthFailed,
        Status::AlreadyRunning,
        Status::NotRunning,
    ];

    /// How a run that ended by itself or by an interrupt exits: 4 when interrupted, else 1
    /// when anything that counts as a failure for its command happened, else 0.
    pub fn of_run(interrupted: bool, failed: bool) -> Status {
        if interrupted {
            Status::Interrupted
        } else if failed {
            Status::TasksFailed
        } else {
            Status::Ok
        }
    }

    /// The status another `hs` process exited with, so a command that ran it (`hs start
    /// --daemonize`) can pass it on.
    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL.into_iter().find(|s| *s as i32 == code)
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        ExitCode::from(s as u8)
    }
}

/// An error that knows its exit status. Anything else that reaches `main` is a runtime error.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub status: Status,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> anyhow::Error {
        Failure {
            status: Status::Usage,
            message: message.into(),
        }
        .into()
    }

    pub fn runtime(message: impl Into<String>) -> anyhow::Error {
        Failure {
            status: Status::Runtime,
            message: message.into(),
        }
        .into()
    }
}

/// The exit status for an error that reached `main`.
pub fn status_of(err: &anyhow::Error) -> Status {
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.status;
        }
        if let Some(e) = cause.downcast_ref::<hs_engine::engine::EngineError>() {
            return match e {
                hs_engine::engine::EngineError::AuthFailed { .. }
                | hs_engine::engine::EngineError::ModeMismatch { .. } => Status::AuthFailed,
                _ => Status::Runtime,
            };
        }
        if cause
            .downcast_ref::<hs_engine::template::TemplateError>()
            .is_some()
        {
            return Status::Usage;
        }
    }
    Status::Runtime
}

/// True when the error is a closed stdout (`hs … | head`): exit quietly.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_comes_back_from_its_code() {
        for s in Status::ALL {
            assert_eq!(Status::from_code(s as i32), Some(s));
        }
        assert_eq!(Status::from_code(9), None);
        assert_eq!(Status::from_code(-1), None);
    }
}
