//! JSON-lines job streams (Bakapara's format): one job object per input line, one result line
//! per job on stdout.

pub mod echo;
pub mod emit;
pub mod intake;
pub mod job;
pub mod remote;
pub mod result;

use crate::exit::{Failure, Status};

/// How a stream that ran to its end (or was interrupted) exits, local or through a controller:
/// 4 when interrupted (whatever else happened, its unanswered jobs say `cancelled`), 5 when
/// reading the jobs failed (those read before it ran), 1 when any answer is not `ok` (bad lines
/// included), else 0.
pub fn exit_status(
    interrupted: bool,
    read_error: Option<String>,
    not_ok: u64,
) -> anyhow::Result<Status> {
    if !interrupted && let Some(e) = read_error {
        return Err(Failure::runtime(format!("reading the jobs stopped: {e}")));
    }
    Ok(Status::of_run(interrupted, not_ok > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupt_wins_then_a_read_error_then_any_answer_not_ok() {
        let status = |i, e: Option<&str>, n| {
            exit_status(i, e.map(String::from), n)
                .map_err(|e| e.downcast::<Failure>().map(|f| f.status).ok())
        };
        assert_eq!(
            status(true, Some("gone"), 3).ok(),
            Some(Status::Interrupted)
        );
        assert_eq!(
            status(false, Some("gone"), 3).err(),
            Some(Some(Status::Runtime))
        );
        assert_eq!(status(false, None, 3).ok(), Some(Status::TasksFailed));
        assert_eq!(status(false, None, 0).ok(), Some(Status::Ok));
    }
}
