//! Autoscaling: how many engines to add, decided once per period from the controller's status.
//!
//! As in HyperShell (reference §6): at most one engine is added per period; `fixed` keeps at
//! least `min` engines and starts one when there are none and work waits; `dynamic` also adds
//! one while the task pressure is above 1 and fewer than `max` run. Engines leave by their own
//! idle timeout (`-T`), which is how a cluster scales back down, to zero if `min` is 0.
//!
//! Task pressure = time to finish what remains at the current rate, divided by `factor` × the
//! average task duration. hs measures both from status snapshots a period apart: the rate is
//! tasks finished per second, and the average duration follows from Little's law (busy slots ×
//! elapsed time / tasks finished). With no task finished in the period the pressure is unknown.

use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Fixed,
    Dynamic,
}

/// Tasks an autoscaled engine may hold beyond its slots: none. An engine the autoscaler adds can
/// only help with tasks still queued at the controller, so engines hold no more than they run.
pub const PREFETCH: u32 = 0;

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::Fixed => "fixed",
            Policy::Dynamic => "dynamic",
        }
    }
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Policy, String> {
        match s {
            "fixed" => Ok(Policy::Fixed),
            "dynamic" => Ok(Policy::Dynamic),
            other => Err(format!(
                "{other:?} is not an autoscaling policy: use fixed or dynamic"
            )),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub policy: Policy,
    pub factor: f64,
    pub period: Duration,
    pub init: u32,
    pub min: u32,
    pub max: u32,
}

/// What the controller reports, reduced to what the policy needs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Observation {
    /// Tasks waiting or running.
    pub remaining: u64,
    /// Tasks finished so far (any outcome).
    pub finished: u64,
    /// Executor slots busy right now.
    pub busy: u64,
}

pub struct Scaler {
    settings: Settings,
    last: Option<(Instant, Observation)>,
    /// The size decided at the last look (the initial size before the first).
    target: u32,
}

impl Scaler {
    pub fn new(settings: Settings) -> Scaler {
        Scaler {
            target: settings.init,
            settings,
            last: None,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The size it aims for: the engines running at its last look, plus the one it then added.
    pub fn target(&self) -> u32 {
        self.target
    }

    /// Engines added by hand (`hs start --add`) count toward the size it aims for until its
    /// next look.
    pub fn added_by_hand(&mut self, count: u32) {
        self.target = self.target.saturating_add(count);
    }

    /// Engines asked to leave by hand (`hs start --remove`), likewise.
    pub fn removed_by_hand(&mut self, count: u32) {
        self.target = self.target.saturating_sub(count);
    }

    /// Task pressure between the last observation and this one; `None` when unknown.
    fn pressure(&self, now: Instant, obs: &Observation) -> Option<f64> {
        let (then, before) = self.last?;
        let elapsed = now.duration_since(then).as_secs_f64();
        let done = obs.finished.checked_sub(before.finished)? as f64;
        if done <= 0.0 || elapsed <= 0.0 {
            return None;
        }
        let rate = done / elapsed;
        let busy = obs.busy.max(before.busy).max(1) as f64;
        let avg_duration = busy * elapsed / done;
        let time_to_finish = obs.remaining as f64 / rate;
        Some(time_to_finish / (self.settings.factor * avg_duration))
    }

    /// Called once per period with the engines running now: true to start one more.
    pub fn should_add(&mut self, now: Instant, obs: Observation, running: u32) -> bool {
        let pressure = self.pressure(now, &obs);
        self.last = Some((now, obs));
        let s = &self.settings;
        let idle_with_work = running == 0 && obs.remaining > 0;
        let add = match s.policy {
            Policy::Fixed => running < s.min || idle_with_work,
            Policy::Dynamic => {
                running < s.min
                    || (running < s.max && pressure.is_some_and(|p| p > 1.0))
                    || (pressure.is_none() && idle_with_work)
            }
        };
        self.target = running + u32::from(add);
        add
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(policy: Policy) -> Settings {
        Settings {
            policy,
            factor: 1.0,
            period: Duration::from_secs(1),
            init: 0,
            min: 0,
            max: 3,
        }
    }

    #[test]
    fn dynamic_grows_under_pressure_up_to_max_and_only_from_zero_when_unknown() {
        let mut s = Scaler::new(settings(Policy::Dynamic));
        let t0 = Instant::now();
        let obs = |remaining, finished, busy| Observation {
            remaining,
            finished,
            busy,
        };
        // Nothing known yet, nothing running, work waiting: start one.
        assert!(s.should_add(t0, obs(30, 0, 0), 0));
        // One engine, one slot, one task a second: 29 s of work for 1 s tasks.
        assert!(s.should_add(t0 + Duration::from_secs(1), obs(29, 1, 1), 1));
        assert!(s.should_add(t0 + Duration::from_secs(2), obs(27, 3, 2), 2));
        // At max: no more.
        assert!(!s.should_add(t0 + Duration::from_secs(3), obs(24, 6, 3), 3));
        // Little work left: pressure below 1.
        let mut s = Scaler::new(settings(Policy::Dynamic));
        s.should_add(t0, obs(2, 0, 1), 1);
        assert!(!s.should_add(t0 + Duration::from_secs(2), obs(1, 2, 1), 1));
        // No work: nothing to add.
        let mut s = Scaler::new(settings(Policy::Dynamic));
        assert!(!s.should_add(t0, obs(0, 0, 0), 0));
    }

    #[test]
    fn the_target_is_the_initial_size_then_what_each_look_decided() {
        let mut s = Scaler::new(Settings {
            init: 2,
            ..settings(Policy::Dynamic)
        });
        assert_eq!(s.target(), 2);
        let t0 = Instant::now();
        let obs = |remaining, finished| Observation {
            remaining,
            finished,
            busy: 1,
        };
        s.should_add(t0, obs(30, 0), 1);
        assert_eq!(s.target(), 1, "pressure unknown with an engine running");
        assert!(s.should_add(t0 + Duration::from_secs(1), obs(29, 1), 1));
        assert_eq!(s.target(), 2);
        s.added_by_hand(2);
        assert_eq!(s.target(), 4);
        s.removed_by_hand(5);
        assert_eq!(s.target(), 0);
        s.added_by_hand(4);
        assert!(!s.should_add(t0 + Duration::from_secs(2), obs(0, 30), 3));
        assert_eq!(s.target(), 3);
    }

    #[test]
    fn fixed_keeps_min_and_restarts_from_zero() {
        let mut s = Scaler::new(Settings {
            min: 2,
            ..settings(Policy::Fixed)
        });
        let t0 = Instant::now();
        assert!(s.should_add(t0, Observation::default(), 1));
        assert!(!s.should_add(
            t0,
            Observation {
                remaining: 100,
                ..Default::default()
            },
            2
        ));
        let mut s = Scaler::new(settings(Policy::Fixed));
        assert!(s.should_add(
            t0,
            Observation {
                remaining: 1,
                ..Default::default()
            },
            0
        ));
        assert!(!s.should_add(
            t0,
            Observation {
                remaining: 1,
                ..Default::default()
            },
            1
        ));
    }

    #[test]
    fn policies_parse() {
        assert_eq!("dynamic".parse::<Policy>(), Ok(Policy::Dynamic));
        assert!("elastic".parse::<Policy>().is_err());
    }
}
