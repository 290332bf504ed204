//! Turning one run's observations into figures, and figures into a Markdown table.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::controller::{Exit, Usage};
use crate::drive::DriveArgs;
use crate::worker::WorkerTotals;

/// One swarm size's figures.
#[derive(Serialize, Debug)]
pub struct Row {
    pub engines: usize,
    pub tasks: usize,
    /// From starting the swarm until the last engine was welcomed (idle controller).
    pub registration_s: Option<f64>,
    /// Tasks the controller says it finished (its summary line).
    pub done: Option<u64>,
    /// Tasks the swarm received and answered (more than `done` only if some ran twice).
    pub answered: u64,
    /// `done` over the time from the first task line fed to the last result sent.
    pub tasks_per_s: Option<f64>,
    /// From feeding the first line until the controller exited.
    pub wall_s: f64,
    pub heartrate_s: f64,
    /// Longest wait between two pings seen by any engine.
    pub max_ping_gap_s: f64,
    /// Engines that heard fewer than two pings (the run was shorter than two heartbeats).
    pub unpinged: usize,
    /// Engines evicted for silence, buggy peers apart (one of a pair sharing an id may be
    /// left registered when its worker exits, and is then evicted).
    pub evictions: usize,
    pub reregisters: u64,
    pub engines_left: usize,
    pub ctl_peak_rss_mib: f64,
    /// Peak RSS once every engine was registered, before any task (the engines' own cost).
    pub ctl_rss_registered_mib: f64,
    pub ctl_cpu_registration_s: f64,
    /// CPU over the `--idle` wait (heartbeats and pongs only), and that wait's length.
    pub ctl_cpu_idle_s: f64,
    /// Of which the broker thread's (the rest: ZeroMQ's I/O thread fanning out pings).
    pub ctl_main_cpu_idle_s: f64,
    pub idle_s: f64,
    pub ctl_cpu_total_s: f64,
    /// The broker loop's thread, from the end of the idle wait to its last sample: CPU per task.
    pub ctl_main_thread_us_per_task: Option<f64>,
    /// CPU of all worker processes (the simulated engines).
    pub swarm_cpu_s: f64,
    /// Tasks per `tasks` message.
    pub tasks_per_bundle: f64,
    pub ctl_exit: Option<i32>,
    pub ctl_timed_out: bool,
    pub workers_reported: bool,
    pub hostility: Option<Hostility>,
}

/// What the buggy peers did and what became of it.
#[derive(Serialize, Debug)]
pub struct Hostility {
    pub peers: usize,
    pub bad_messages_sent: u64,
    /// Task numbers never answered by any engine.
    pub missing: usize,
    /// Task numbers answered by more than one engine (recorded once: first result wins).
    pub answered_twice: usize,
    /// Controller log lines in all; refusal lines naming a buggy peer, the most for one peer;
    /// refusal lines naming no buggy peer; other lines naming one (its join line aside).
    pub log_lines: usize,
    pub log_lines_per_peer_max: usize,
    pub log_lines_unattributed: usize,
    pub log_lines_other: usize,
    pub evicted: usize,
    /// How long the buggy peers ran (from the swarm's start), and whether every peer stayed
    /// within one warning per started minute.
    pub minutes: f64,
    pub once_a_minute: bool,
}

impl Hostility {
    pub fn assess(
        answered: &[&Path],
        tasks: usize,
        log: &str,
        totals: &WorkerTotals,
        minutes: f64,
    ) -> Hostility {
        let mut counts = vec![0u32; tasks];
        for path in answered {
            let bytes = std::fs::read(path).unwrap_or_default();
            for n in bytes.chunks_exact(4) {
                let n = u32::from_le_bytes([n[0], n[1], n[2], n[3]]) as usize;
                if let Some(c) = counts.get_mut(n) {
                    *c += 1;
                }
            }
        }
        let mut per_peer: HashMap<String, usize> = HashMap::new();
        let ids: Vec<String> = totals.hostile_ids.iter().map(|i| i.to_string()).collect();
        let mut unattributed = 0;
        let mut other = 0;
        for line in log.lines().filter(|l| !l.contains("joined from")) {
            let peer = ids.iter().find(|id| line.contains(id.as_str()));
            match (line.contains("dropped a message"), peer) {
                (true, Some(id)) => *per_peer.entry(id.clone()).or_default() += 1,
                (true, None) => unattributed += 1,
                (false, Some(_)) => other += 1,
                (false, None) => {}
            }
        }
        let max = per_peer.values().copied().max().unwrap_or(0);
        Hostility {
            peers: ids.len(),
            bad_messages_sent: totals.stats.junk_sent,
            missing: counts.iter().filter(|&&c| c == 0).count(),
            answered_twice: counts.iter().filter(|&&c| c > 1).count(),
            log_lines: log.lines().count(),
            log_lines_per_peer_max: max,
            log_lines_unattributed: unattributed,
            log_lines_other: other,
            evicted: evictions(log, totals, true),
            minutes,
            once_a_minute: max as f64 <= minutes.ceil().max(1.0),
        }
    }
}

/// Evictions for silence in the controller's log, of buggy peers (`hostile`) or of the others.
fn evictions(log: &str, totals: &WorkerTotals, hostile: bool) -> usize {
    let ids: Vec<String> = totals.hostile_ids.iter().map(|i| i.to_string()).collect();
    log.lines()
        .filter(|l| l.contains("lost (no heartbeat"))
        .filter(|l| ids.iter().any(|id| l.contains(id.as_str())) == hostile)
        .count()
}

/// `tasks: N done` from the controller's summary line.
fn done_from_log(log: &str) -> Option<u64> {
    log.lines()
        .rev()
        .find_map(|l| l.split("tasks: ").nth(1)?.split(' ').next()?.parse().ok())
}

impl Row {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engines: usize,
        args: &DriveArgs,
        registration_s: Option<f64>,
        feed_ms: u64,
        end_ms: u64,
        totals: &WorkerTotals,
        workers_reported: bool,
        exit: &Exit,
        [before, at_registration, after_idle]: [Usage; 3],
        swarm_cpu_s: f64,
        log: &str,
        hostility: Option<Hostility>,
    ) -> Row {
        let done = done_from_log(log);
        let tasks_per_s = match (done, totals.last_result_ms) {
            (Some(d), Some(last)) if last > feed_ms => {
                Some(d as f64 / ((last - feed_ms) as f64 / 1e3))
            }
            _ => None,
        };
        Row {
            engines,
            tasks: args.tasks,
            registration_s,
            done,
            answered: totals.stats.tasks,
            tasks_per_s,
            wall_s: end_ms.saturating_sub(feed_ms) as f64 / 1e3,
            heartrate_s: args.heartrate,
            max_ping_gap_s: totals.stats.max_ping_gap_ms as f64 / 1e3,
            unpinged: totals.unpinged,
            evictions: evictions(log, totals, false),
            reregisters: totals.stats.reregisters,
            engines_left: totals.left,
            ctl_peak_rss_mib: exit.usage.hwm_kib as f64 / 1024.0,
            ctl_rss_registered_mib: at_registration.hwm_kib as f64 / 1024.0,
            ctl_cpu_registration_s: at_registration.cpu_s - before.cpu_s,
            ctl_cpu_idle_s: after_idle.cpu_s - at_registration.cpu_s,
            ctl_main_cpu_idle_s: after_idle.main_cpu_s - at_registration.main_cpu_s,
            idle_s: args.idle,
            ctl_cpu_total_s: exit.usage.cpu_s,
            ctl_main_thread_us_per_task: done
                .filter(|&d| d > 0)
                .map(|d| (exit.last_sample.main_cpu_s - after_idle.main_cpu_s) * 1e6 / d as f64),
            swarm_cpu_s,
            tasks_per_bundle: totals.stats.tasks as f64 / totals.stats.bundles.max(1) as f64,
            ctl_exit: exit.code,
            ctl_timed_out: exit.timed_out,
            workers_reported,
            hostility,
        }
    }

    /// The run completed: every task done once, every engine registered and gone, no eviction,
    /// and (with buggy peers) no task lost.
    pub fn sound(&self) -> bool {
        self.ctl_exit == Some(0)
            && !self.ctl_timed_out
            && self.done == Some(self.tasks as u64)
            && self.registration_s.is_some()
            && self.evictions == 0
            && self.workers_reported
            && self.hostility.as_ref().is_none_or(|h| h.missing == 0)
    }

    pub fn one_line(&self) -> String {
        format!(
            "hs-swarm: {} engines: registered in {}, {} tasks done at {} tasks/s, oldest ping gap \
             {:.2}s, {} evictions, controller {:.0} MiB peak, {:.1}s CPU",
            self.engines,
            secs(self.registration_s),
            self.done.map_or("?".into(), |d| d.to_string()),
            self.tasks_per_s.map_or("?".into(), |r| format!("{r:.0}")),
            self.max_ping_gap_s,
            self.evictions,
            self.ctl_peak_rss_mib,
            self.ctl_cpu_total_s
        )
    }
}

fn secs(s: Option<f64>) -> String {
    s.map_or("not all (timeout)".into(), |s| format!("{s:.2}s"))
}

/// The Markdown table of all runs, and the buggy peers' outcome when there were any.
pub fn table(rows: &[Row], args: &DriveArgs) -> String {
    let mut out = format!(
        "store {:?}, heartrate {}s, evict {}s, 1..{} slots per engine, {} worker processes x {} \
         threads\n\n",
        args.store, args.heartrate, args.evict, args.slots, args.procs, args.threads
    );
    out.push_str(
        "| engines | all registered | tasks done | tasks/s | oldest ping gap | evictions | \
         controller peak RSS (registered / end) | controller CPU (registration / total) | wall |\n",
    );
    out.push_str("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} / {} | {} | {:.2}s ({:.1}x) | {} | {:.0} / {:.0} MiB | {:.1}s / {:.1}s | {:.1}s |\n",
            r.engines,
            secs(r.registration_s),
            r.done.map_or("?".into(), |d| d.to_string()),
            r.tasks,
            r.tasks_per_s.map_or("?".into(), |x| format!("{x:.0}")),
            r.max_ping_gap_s,
            r.max_ping_gap_s / r.heartrate_s,
            r.evictions,
            r.ctl_rss_registered_mib,
            r.ctl_peak_rss_mib,
            r.ctl_cpu_registration_s,
            r.ctl_cpu_total_s,
            r.wall_s,
        ));
    }
    out.push('\n');
    for r in rows {
        out.push_str(&format!(
            "{} engines: {:.1} tasks per bundle; controller main thread {} µs per task; swarm \
             CPU {:.1}s\n",
            r.engines,
            r.tasks_per_bundle,
            r.ctl_main_thread_us_per_task
                .map_or("?".into(), |u| format!("{u:.1}")),
            r.swarm_cpu_s
        ));
    }
    for r in rows.iter().filter(|r| r.idle_s > 0.0) {
        out.push_str(&format!(
            "\nidle at {} engines: controller CPU {:.2}s over {:.0}s ({:.1}% of a core for \
             heartbeats and pongs; broker thread {:.2}s, {:.1} µs per engine per second)\n",
            r.engines,
            r.ctl_cpu_idle_s,
            r.idle_s,
            100.0 * r.ctl_cpu_idle_s / r.idle_s,
            r.ctl_main_cpu_idle_s,
            1e6 * r.ctl_cpu_idle_s / r.idle_s / r.engines.max(1) as f64
        ));
    }
    for r in rows {
        if let Some(h) = &r.hostility {
            out.push_str(&format!(
                "\nbuggy peers at {} engines: {} peers (pairs sharing an id) sent {} bad messages; \
                 tasks never answered: {}, answered twice: {}, recorded: {} of {}; controller log: \
                 {} lines, at most {} refusals logged for one peer in {:.1} minutes ({}), {} \
                 refusals naming no buggy peer, {} other lines naming one; {} evicted\n",
                r.engines,
                h.peers,
                h.bad_messages_sent,
                h.missing,
                h.answered_twice,
                r.done.map_or("?".into(), |d| d.to_string()),
                r.tasks,
                h.log_lines,
                h.log_lines_per_peer_max,
                h.minutes,
                if h.once_a_minute {
                    "within one a minute"
                } else {
                    "more than one a minute"
                },
                h.log_lines_unattributed,
                h.log_lines_other,
                h.evicted
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_gives_the_tasks_done() {
        let log = "2026 INFO serving on 127.0.0.1:1\n2026 INFO tasks: 5000 done, 5000 succeeded, \
                   0 failed in 3.20s\n";
        assert_eq!(done_from_log(log), Some(5000));
        assert_eq!(done_from_log("nothing here\n"), None);
    }
}
