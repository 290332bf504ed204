//! One task's samples: cores used since the previous sample, resident memory now, the peaks,
//! and whether it has gone over what it asked for.

use std::collections::HashMap;
use std::time::Instant;

use super::procfs::ProcStat;
use crate::resources::Request;

/// Cores a task may use over its request before it is warned about (HyperShell's tolerance).
pub const CORES_TOLERANCE: f64 = 0.05;
/// Bytes a task may hold over its request before it is warned about (HyperShell's 5 MB,
/// 1024-based as its sizes are).
pub const MEMORY_TOLERANCE: u64 = 5 << 20;

/// A sample is taken only over at least this long: over less, clock-tick granularity (10 ms)
/// makes the cores figure noise. A task started just before a round of samples waits for the
/// next.
pub const MIN_SPAN: f64 = 0.5;

/// The host's units: clock ticks per second and bytes per page.
#[derive(Clone, Copy, Debug)]
pub struct Units {
    pub ticks_per_second: f64,
    pub page_bytes: u64,
}

impl Units {
    pub fn of_host() -> Units {
        // SAFETY: sysconf reads a constant and touches no memory of ours.
        let (hz, page) = unsafe {
            (
                libc::sysconf(libc::_SC_CLK_TCK),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        Units {
            ticks_per_second: if hz > 0 { hz as f64 } else { 100.0 },
            page_bytes: if page > 0 { page as u64 } else { 4096 },
        }
    }
}

/// One sample of a task.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub cores: f64,
    /// Bytes.
    pub memory: u64,
}

/// What a task exceeded, said once each.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Excess {
    Cores { used: f64, requested: u64 },
    Memory { used: u64, requested: u64 },
}

/// The sampling state of one running task.
pub struct TaskUsage {
    request: Request,
    /// When the previous sample was taken (at first, when the task started).
    since: Instant,
    /// CPU ticks of each process at the previous sample, by (pid, start time).
    seen: HashMap<(i32, u64), u64>,
    pub cores_max: f64,
    pub memory_max: u64,
    pub samples: usize,
    warned_cores: bool,
    warned_memory: bool,
}

impl TaskUsage {
    pub fn new(request: Request, started: Instant) -> TaskUsage {
        TaskUsage {
            request,
            since: started,
            seen: HashMap::new(),
            cores_max: 0.0,
            memory_max: 0,
            samples: 0,
            warned_cores: false,
            warned_memory: false,
        }
    }

    /// Whether a sample at `now` would span long enough.
    pub fn due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.since).as_secs_f64() >= MIN_SPAN
    }

    /// Record the task's processes as read at `now`. Cores are the CPU time its processes
    /// spent since the previous sample over the time since: a process seen for the first time
    /// started since then (or with the task), so all of its time counts.
    pub fn record(&mut self, now: Instant, procs: &[ProcStat], units: Units) -> Sample {
        let span = now.saturating_duration_since(self.since).as_secs_f64();
        let mut ticks = 0u64;
        let mut pages = 0u64;
        let mut seen = HashMap::with_capacity(procs.len());
        for p in procs {
            let key = (p.pid, p.start);
            let before = self.seen.get(&key).copied().unwrap_or(0);
            ticks += p.ticks.saturating_sub(before);
            pages += p.rss_pages;
            seen.insert(key, p.ticks);
        }
        self.seen = seen;
        self.since = now;
        let cores = if span > 0.0 {
            ticks as f64 / units.ticks_per_second / span
        } else {
            0.0
        };
        let sample = Sample {
            cores,
            memory: pages.saturating_mul(units.page_bytes),
        };
        self.cores_max = self.cores_max.max(sample.cores);
        self.memory_max = self.memory_max.max(sample.memory);
        self.samples += 1;
        sample
    }

    /// What the peaks now exceed of a request the task made, each said only the first time.
    pub fn excess(&mut self) -> Vec<Excess> {
        let mut over = Vec::new();
        let cores = self.request.cores;
        if cores > 0 && !self.warned_cores && self.cores_max > cores as f64 + CORES_TOLERANCE {
            self.warned_cores = true;
            over.push(Excess::Cores {
                used: self.cores_max,
                requested: cores,
            });
        }
        let memory = self.request.memory;
        if memory > 0
            && !self.warned_memory
            && self.memory_max > memory.saturating_add(MEMORY_TOLERANCE)
        {
            self.warned_memory = true;
            over.push(Excess::Memory {
                used: self.memory_max,
                requested: memory,
            });
        }
        over
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const UNITS: Units = Units {
        ticks_per_second: 100.0,
        page_bytes: 4096,
    };

    fn proc(pid: i32, ticks: u64, rss_pages: u64) -> ProcStat {
        ProcStat {
            pid,
            ppid: 1,
            pgrp: pid,
            ticks,
            start: 7,
            rss_pages,
        }
    }

    #[test]
    fn cores_count_only_the_time_spent_since_the_previous_sample() {
        let t0 = Instant::now();
        let mut u = TaskUsage::new(Request::default(), t0);
        assert!(!u.due(t0 + Duration::from_millis(100)));
        let t1 = t0 + Duration::from_secs(1);
        assert!(u.due(t1));
        // 150 ticks in 1 s over two processes: 1.5 cores.
        let s = u.record(t1, &[proc(10, 100, 10), proc(11, 50, 5)], UNITS);
        assert!((s.cores - 1.5).abs() < 1e-9, "{s:?}");
        assert_eq!(s.memory, 15 * 4096);
        // Then pid 11 ended and 12 started: 10 + 20 new ticks in 2 s.
        let t2 = t1 + Duration::from_secs(2);
        let s = u.record(t2, &[proc(10, 110, 10), proc(12, 20, 1)], UNITS);
        assert!((s.cores - 0.15).abs() < 1e-9, "{s:?}");
        assert!((u.cores_max - 1.5).abs() < 1e-9);
        assert_eq!((u.memory_max, u.samples), (15 * 4096, 2));
    }

    #[test]
    fn a_pid_used_again_is_another_process() {
        let t0 = Instant::now();
        let mut u = TaskUsage::new(Request::default(), t0);
        u.record(t0 + Duration::from_secs(1), &[proc(10, 100, 1)], UNITS);
        let mut again = proc(10, 30, 1);
        again.start = 99;
        let s = u.record(t0 + Duration::from_secs(2), &[again], UNITS);
        assert!((s.cores - 0.3).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn going_over_a_request_is_said_once_and_only_past_the_tolerance() {
        let t0 = Instant::now();
        let request = Request {
            cores: 1,
            memory: 10_000_000,
            gpus: 0,
        };
        let mut u = TaskUsage::new(request, t0);
        // 1.04 cores and 14.9 MB: within the tolerances.
        u.record(t0 + Duration::from_secs(1), &[proc(1, 104, 3637)], UNITS);
        assert_eq!(u.excess(), []);
        u.record(
            t0 + Duration::from_secs(2),
            &[proc(1, 104 + 150, 5000)],
            UNITS,
        );
        assert_eq!(
            u.excess(),
            [
                Excess::Cores {
                    used: 1.5,
                    requested: 1
                },
                Excess::Memory {
                    used: 5000 * 4096,
                    requested: 10_000_000
                }
            ]
        );
        u.record(t0 + Duration::from_secs(3), &[proc(1, 554, 9000)], UNITS);
        assert_eq!(u.excess(), [], "once per task");
        let mut unasked = TaskUsage::new(Request::default(), t0);
        unasked.record(t0 + Duration::from_secs(1), &[proc(1, 800, 90000)], UNITS);
        assert_eq!(unasked.excess(), [], "no request, nothing to exceed");
    }
}
