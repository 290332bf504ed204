//! What a status reply tells beyond counts: how many tasks finished within the last minute (the
//! live view's rate and ETA) and the most recent failures (what went wrong, on which host).
//!
//! Both are bounded whatever the run's size: finishes are counted per second over one minute
//! (at most 60 buckets), and only the last [`StatusReply::MAX_FAILURES`] failures are kept.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use hs_engine::protocol::{FailureStatus, StatusReply};
use hs_engine::task::{Task, TaskResult};

/// How far back "recently" reaches.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Recent finishes and failures of one controller; see the module documentation.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    /// `(whole seconds since started, finishes in that second)`, oldest first, none older than
    /// [`WINDOW`] once pruned.
    seconds: VecDeque<(u64, u64)>,
    /// Newest last.
    failures: VecDeque<Failure>,
}

#[derive(Debug)]
struct Failure {
    status: FailureStatus,
    at: Instant,
}

impl Activity {
    pub fn new(now: Instant) -> Activity {
        Activity {
            started: now,
            seconds: VecDeque::new(),
            failures: VecDeque::new(),
        }
    }

    /// A final result was recorded at `now`; `host` ran it (empty: the controller failed it
    /// without running it).
    pub fn finished(&mut self, now: Instant, task: &Task, result: &TaskResult, host: &str) {
        let second = now.saturating_duration_since(self.started).as_secs();
        match self.seconds.back_mut() {
            Some((s, n)) if *s == second => *n += 1,
            _ => self.seconds.push_back((second, 1)),
        }
        self.prune(now);
        if result.succeeded() {
            return;
        }
        if self.failures.len() == StatusReply::MAX_FAILURES {
            self.failures.pop_front();
        }
        self.failures.push_back(Failure {
            status: FailureStatus {
                id: task.id,
                args: cut(&task.args, FailureStatus::MAX_ARGS),
                exit_status: result.exit_status,
                signal: result.signal,
                host: host.to_string(),
                ago_ms: 0,
            },
            at: now,
        });
    }

    /// Final results recorded within the window ending at `now`, and that window (shorter
    /// than a minute while the controller is younger).
    pub fn recent(&self, now: Instant) -> (u64, Duration) {
        let age = now.saturating_duration_since(self.started);
        let oldest = oldest_second(age);
        let n = self
            .seconds
            .iter()
            .filter(|(s, _)| *s >= oldest)
            .map(|(_, n)| n)
            .sum();
        (n, age.min(WINDOW))
    }

    /// The recent failures, newest first, aged as of `now`.
    pub fn failures(&self, now: Instant) -> Vec<FailureStatus> {
        self.failures
            .iter()
            .rev()
            .map(|f| FailureStatus {
                ago_ms: now.saturating_duration_since(f.at).as_millis() as u64,
                ..f.status.clone()
            })
            .collect()
    }

    fn prune(&mut self, now: Instant) {
        let oldest = oldest_second(now.saturating_duration_since(self.started));
        while self.seconds.front().is_some_and(|(s, _)| *s < oldest) {
            self.seconds.pop_front();
        }
    }
}

/// The first whole second (since the start) still inside the window at `age`.
fn oldest_second(age: Duration) -> u64 {
    age.saturating_sub(WINDOW).as_secs()
}

/// `s` cut to at most `max` characters, marked with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((end, _)) => {
            let mut cut: String = s[..end].chars().take(max - 1).collect();
            cut.push('…');
            cut
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hs_engine::task::Outcome;

    fn task(args: &str) -> Task {
        Task::new(args)
    }

    fn result(task: &Task, exit_status: i32) -> TaskResult {
        TaskResult::not_run(task.id, 1, Outcome::Exited, exit_status, None)
    }

    #[test]
    fn finishes_older_than_a_minute_leave_the_count() {
        let t0 = Instant::now();
        let mut a = Activity::new(t0);
        let t = task("true");
        for s in 0..10 {
            a.finished(t0 + Duration::from_secs(s), &t, &result(&t, 0), "h1");
        }
        assert_eq!(
            a.recent(t0 + Duration::from_secs(10)),
            (10, Duration::from_secs(10))
        );
        assert_eq!(a.recent(t0 + Duration::from_secs(65)), (5, WINDOW));
        assert_eq!(a.recent(t0 + Duration::from_secs(200)), (0, WINDOW));
        // Later finishes drop the old buckets: memory stays bounded by the window.
        a.finished(t0 + Duration::from_secs(500), &t, &result(&t, 0), "h1");
        assert_eq!(a.seconds.len(), 1);
    }

    #[test]
    fn only_the_latest_failures_are_kept_newest_first() {
        let t0 = Instant::now();
        let mut a = Activity::new(t0);
        for i in 0..(StatusReply::MAX_FAILURES as u64 + 5) {
            let t = task(&format!("exit {i}"));
            a.finished(t0 + Duration::from_secs(i), &t, &result(&t, 1), "h2");
        }
        let ok = task("true");
        a.finished(t0, &ok, &result(&ok, 0), "h2");
        let now = t0 + Duration::from_secs(20);
        let f = a.failures(now);
        assert_eq!(f.len(), StatusReply::MAX_FAILURES);
        assert_eq!(f[0].args, "exit 14");
        assert_eq!(f[0].ago_ms, 6_000);
        assert_eq!(f[0].host, "h2");
        assert_eq!(f.last().unwrap().args, "exit 5");
    }

    #[test]
    fn long_input_lines_are_cut_on_a_character_boundary() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("ééééé", 3), "éé…");
        let long = "x".repeat(5 * FailureStatus::MAX_ARGS);
        assert_eq!(
            cut(&long, FailureStatus::MAX_ARGS).chars().count(),
            FailureStatus::MAX_ARGS
        );
    }
}
