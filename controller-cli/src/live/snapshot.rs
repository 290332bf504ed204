//! One status reply and what follows from it: tasks waiting, the rate over the last minute, the
//! time left at that rate, and the JSON that `--json` prints.

use std::time::Duration;

use hs_broker::client::StatusReply;
use serde_json::{Value, json};

use super::target::{Dialed, ProfileRun};

/// What the controller said, and about which controller.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub reply: StatusReply,
    /// `host:port` of the controller's engine socket.
    pub address: String,
    pub profile: Option<ProfileRun>,
}

impl Snapshot {
    pub fn new(reply: StatusReply, dialed: &Dialed) -> Snapshot {
        Snapshot {
            reply,
            address: dialed.address(),
            profile: dialed.profile.clone(),
        }
    }

    /// Tasks not handed to an engine yet: queued in the controller, and given to it but still
    /// in the store (an older controller does not say how many of those there are).
    pub fn waiting(&self) -> u64 {
        self.reply.queued + self.reply.totals.as_ref().map_or(0, |t| t.unscheduled)
    }

    /// Tasks with a final result in this run.
    pub fn done(&self) -> u64 {
        self.reply.succeeded + self.reply.failed
    }

    /// Final results per minute over the last minute (or the controller's life, when shorter);
    /// `None` from an older controller, or one that has just started.
    pub fn rate_per_minute(&self) -> Option<f64> {
        let totals = self.reply.totals.as_ref()?;
        (totals.window_ms >= 1000)
            .then(|| totals.finished_recently as f64 * 60_000.0 / totals.window_ms as f64)
    }

    /// Time until what waits and runs now is done at the recent rate: zero when nothing is
    /// left, `None` when nothing finished recently (no rate to go by).
    pub fn eta(&self) -> Option<Duration> {
        let left = self.waiting() + self.reply.running;
        if left == 0 {
            return Some(Duration::ZERO);
        }
        let per_minute = self.rate_per_minute().filter(|r| *r > 0.0)?;
        Duration::try_from_secs_f64(left as f64 / per_minute * 60.0).ok()
    }

    /// The JSON of `hs status --json` and `hs top --json`: the profile's facts when it is one,
    /// the task counts with rate and ETA, totals over every engine, the engine rows (busiest
    /// first, at most [`StatusReply::MAX_ENGINES`]) and the recent failures.
    pub fn to_json(&self) -> Value {
        let r = &self.reply;
        let mut out = serde_json::Map::new();
        if let Some(p) = &self.profile {
            out.insert("profile".into(), json!(p.name));
            out.insert("pid".into(), json!(p.pid));
            out.insert("started".into(), json!(p.started));
            out.insert("launcher".into(), json!(p.launcher));
        }
        out.insert("controller_id".into(), json!(r.controller_id));
        out.insert("address".into(), json!(self.address));
        out.insert(
            "tasks".into(),
            json!({
                "queued": r.queued,
                "waiting": self.waiting(),
                "running": r.running,
                "succeeded": r.succeeded,
                "failed": r.failed,
                "finished_last_minute": r.totals.as_ref().map(|t| t.finished_recently),
                "rate_per_minute": self.rate_per_minute().map(|x| (x * 10.0).round() / 10.0),
                "eta_seconds": self.eta().map(|d| d.as_secs()),
            }),
        );
        out.insert(
            "totals".into(),
            json!({
                "engines": r.engine_total(),
                "slots": r.slot_total(),
                "busy": r.busy_total(),
            }),
        );
        out.insert("engines".into(), json!(r.engines));
        out.insert("failures".into(), json!(r.failures));
        Value::Object(out)
    }
}

/// A short human duration: `45s`, `3m05s`, `2h07m`, `3d04h`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hs_engine::protocol::StatusTotals;

    fn snapshot(queued: u64, running: u64, totals: Option<StatusTotals>) -> Snapshot {
        Snapshot {
            reply: StatusReply {
                queued,
                running,
                totals,
                ..StatusReply::default()
            },
            address: "127.0.0.1:1".into(),
            profile: None,
        }
    }

    fn totals(unscheduled: u64, finished: u64, window_ms: u64) -> Option<StatusTotals> {
        Some(StatusTotals {
            unscheduled,
            finished_recently: finished,
            window_ms,
            ..StatusTotals::default()
        })
    }

    #[test]
    fn the_rate_is_per_minute_over_the_window_and_the_eta_follows() {
        // 30 finished in the last 30 s: 60 a minute; 90 left take 90 s.
        let s = snapshot(50, 10, totals(30, 30, 30_000));
        assert_eq!(s.waiting(), 80);
        assert_eq!(s.rate_per_minute(), Some(60.0));
        assert_eq!(s.eta(), Some(Duration::from_secs(90)));
    }

    #[test]
    fn no_rate_no_eta_except_when_nothing_is_left() {
        assert_eq!(snapshot(5, 0, totals(0, 0, 60_000)).eta(), None);
        assert_eq!(
            snapshot(5, 0, None).rate_per_minute(),
            None,
            "an older controller"
        );
        assert_eq!(
            snapshot(5, 0, totals(0, 3, 200)).rate_per_minute(),
            None,
            "too young"
        );
        assert_eq!(snapshot(0, 0, None).eta(), Some(Duration::ZERO));
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(format_duration(Duration::from_secs(45)), "45s");
        assert_eq!(format_duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(
            format_duration(Duration::from_secs(2 * 3600 + 7 * 60)),
            "2h07m"
        );
        assert_eq!(
            format_duration(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "3d04h"
        );
    }

    #[test]
    fn the_json_keeps_the_older_keys_and_adds_the_new_ones() {
        let j = snapshot(2, 1, totals(0, 6, 60_000)).to_json();
        assert_eq!(j["tasks"]["queued"], 2);
        assert_eq!(j["tasks"]["running"], 1);
        assert_eq!(j["tasks"]["rate_per_minute"], 6.0);
        assert_eq!(j["tasks"]["eta_seconds"], 30);
        assert!(j["engines"].is_array());
        assert!(j["failures"].is_array());
        assert!(j.get("profile").is_none());
    }
}
