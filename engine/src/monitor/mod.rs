//! `--monitor`: about once a second, the cores and memory of every running task's processes,
//! as HyperShell records them: each sample appended to `<site>/lib/task/<id>.csv`
//! (`time,cores,memory`), the peaks reported with the result (`cores_max`, `memory_max`), and
//! one warning in the engine's log when a task uses more than it asked for. Nothing is enforced.
//!
//! One sampler thread per engine does all the reading and writing. A slot only registers its
//! task once bash has started ([`Monitor::watch`]) and takes the peaks back when it ends
//! ([`Monitor::finish`]): a map insert and a removal, so tasks start and end as fast with the
//! monitor as without. An engine run without `--monitor` has no monitor at all.
//!
//! A task's processes are the members of its slot's cgroup where the executor made one (which
//! holds whatever the task started, wherever it went), else its shell's process group and
//! descendants, found in one walk of `/proc` per round. A task shorter than a sample interval
//! gets no sample, so no file and no peaks.

mod procfs;
mod usage;

use std::collections::HashMap;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::resources::Request;
use crate::task::Usage;
use procfs::ProcStat;
use usage::{Excess, TaskUsage, Units};

/// Time between two rounds of samples (HyperShell's executors check their task each second).
pub const INTERVAL: Duration = Duration::from_secs(1);

/// The header of every samples file, HyperShell's.
const CSV_HEADER: &str = "time,cores,memory\n";

/// The engine's sampler thread and the tasks it watches. Dropping it stops the thread.
pub struct Monitor {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    tasks: Mutex<HashMap<Uuid, Watched>>,
    /// Set when the engine stops; the thread wakes at once.
    stopping: Mutex<bool>,
    wake: Condvar,
    /// Where samples files go; `None` (an engine embedded without a site) keeps only peaks.
    csv_dir: Option<PathBuf>,
    /// Normally `/proc`; a test may point elsewhere.
    proc: PathBuf,
}

/// A running task as the sampler sees it.
struct Watched {
    /// Its shell, leader of its process group.
    pid: i32,
    /// Its slot's cgroup, when the executor runs tasks in one.
    cgroup: Option<PathBuf>,
    usage: TaskUsage,
    /// Its samples file, opened at its first sample.
    csv: Option<File>,
    /// The file's path once it was created.
    csvpath: Option<PathBuf>,
    /// The file could not be written: said once, peaks are still kept.
    csv_failed: bool,
}

impl Monitor {
    /// Start the sampler thread. `csv_dir` is the site's `lib/task` (which must exist).
    pub fn start(csv_dir: Option<PathBuf>) -> std::io::Result<Monitor> {
        let shared = Arc::new(Shared {
            tasks: Mutex::new(HashMap::new()),
            stopping: Mutex::new(false),
            wake: Condvar::new(),
            csv_dir,
            proc: PathBuf::from("/proc"),
        });
        let sampler = shared.clone();
        let thread = std::thread::Builder::new()
            .name("hs-monitor".into())
            .spawn(move || sampler.run())?;
        Ok(Monitor {
            shared,
            thread: Some(thread),
        })
    }

    /// Watch task `id`, whose shell `pid` has just started (in the slot cgroup `cgroup`, when
    /// there is one), asking for `request`.
    pub fn watch(&self, id: Uuid, pid: i32, cgroup: Option<PathBuf>, request: Request) {
        let watched = Watched {
            pid,
            cgroup,
            usage: TaskUsage::new(request, Instant::now()),
            csv: None,
            csvpath: None,
            csv_failed: false,
        };
        self.shared.tasks().insert(id, watched);
    }

    /// Stop watching task `id` (it ended): its peaks and samples file, if it was sampled.
    pub fn finish(&self, id: &Uuid) -> Option<Usage> {
        let watched = self.shared.tasks().remove(id)?;
        (watched.usage.samples > 0).then(|| Usage {
            cores_max: watched.usage.cores_max,
            memory_max: watched.usage.memory_max,
            csvpath: watched.csvpath.map(|p| p.display().to_string()),
        })
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        *self
            .shared
            .stopping
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn tasks(&self) -> MutexGuard<'_, HashMap<Uuid, Watched>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sample every [`INTERVAL`] until the engine stops.
    fn run(&self) {
        let units = Units::of_host();
        let mut next = Instant::now() + INTERVAL;
        loop {
            let mut stopping = self.stopping.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                if *stopping {
                    return;
                }
                let now = Instant::now();
                if now >= next {
                    break;
                }
                stopping = self
                    .wake
                    .wait_timeout(stopping, next - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            drop(stopping);
            self.sample_round(units);
            next += INTERVAL;
            // A round that took longer than the interval (a stalled /proc) does not queue up.
            next = next.max(Instant::now());
        }
    }

    /// One round: which tasks to read is taken under the lock, /proc is read without it (slots
    /// register and finish meanwhile), and the samples are recorded under it again for the tasks
    /// still running.
    fn sample_round(&self, units: Units) {
        let now = Instant::now();
        let due: Vec<(Uuid, i32, Option<PathBuf>)> = self
            .tasks()
            .iter()
            .filter(|(_, w)| w.usage.due(now))
            .map(|(id, w)| (*id, w.pid, w.cgroup.clone()))
            .collect();
        if due.is_empty() {
            return;
        }
        let mut listing: Option<Vec<ProcStat>> = None;
        let read: Vec<(Uuid, Vec<ProcStat>)> = due
            .into_iter()
            .map(|(id, pid, cgroup)| {
                let members = cgroup.as_deref().and_then(procfs::cgroup_members);
                let procs = match members {
                    Some(pids) => pids
                        .into_iter()
                        .filter_map(|p| procfs::read_stat(&self.proc, p))
                        .collect(),
                    None => {
                        let all = listing.get_or_insert_with(|| procfs::all_processes(&self.proc));
                        procfs::task_tree(all, pid)
                    }
                };
                (id, procs)
            })
            .collect();
        let at = Instant::now();
        let time = chrono::Local::now();
        let mut tasks = self.tasks();
        for (id, procs) in read {
            // Ended meanwhile: its result has gone with what it had.
            let Some(watched) = tasks.get_mut(&id) else {
                continue;
            };
            // Nothing left to read (its shell ended, the slot is reaping it): no sample.
            if procs.is_empty() {
                continue;
            }
            let sample = watched.usage.record(at, &procs, units);
            for excess in watched.usage.excess() {
                warn_excess(&id, excess);
            }
            let row = format!(
                "{},{:.2},{}\n",
                time.format("%Y-%m-%d %H:%M:%S%.6f"),
                sample.cores,
                sample.memory
            );
            self.append(&id, watched, &row);
        }
    }

    /// Append `row` to the task's samples file, creating it (0600, with its header) at the
    /// first sample.
    fn append(&self, id: &Uuid, watched: &mut Watched, row: &str) {
        if watched.csv_failed {
            return;
        }
        let Some(dir) = &self.csv_dir else {
            return;
        };
        let written = match &mut watched.csv {
            Some(file) => file.write_all(row.as_bytes()),
            None => {
                let path = dir.join(format!("{id}.csv"));
                create_csv(&path, row).map(|file| {
                    watched.csv = Some(file);
                    watched.csvpath = Some(path);
                })
            }
        };
        if let Err(e) = written {
            watched.csv_failed = true;
            tracing::warn!(task = %id, "cannot write its resource samples in {}: {e}", dir.display());
        }
    }
}

fn create_csv(path: &Path, first_row: &str) -> std::io::Result<File> {
    let mut file = crate::private::create(path)?;
    file.write_all(format!("{CSV_HEADER}{first_row}").as_bytes())?;
    Ok(file)
}

fn warn_excess(id: &Uuid, excess: Excess) {
    const MIB: f64 = (1u64 << 20) as f64;
    match excess {
        Excess::Cores { used, requested } => tracing::warn!(
            task = %id,
            "resource limit exceeded: cores {used:.2} (used) > {requested} (requested)"
        ),
        Excess::Memory { used, requested } => tracing::warn!(
            task = %id,
            "resource limit exceeded: memory {:.1} MiB (used) > {:.1} MiB (requested)",
            used as f64 / MIB,
            requested as f64 / MIB
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};

    /// A busy shell loop, in its own process group like a task's.
    fn busy_task() -> std::process::Child {
        use std::os::unix::process::CommandExt;
        Command::new("/bin/sh")
            .args(["-c", "while :; do :; done"])
            .process_group(0)
            .stdout(Stdio::null())
            .spawn()
            .expect("sh")
    }

    #[test]
    fn a_busy_task_gets_samples_a_file_and_peaks_and_an_unsampled_one_gets_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let monitor = Monitor::start(Some(dir.path().to_path_buf())).expect("monitor");
        let mut child = busy_task();
        let id = Uuid::new_v4();
        monitor.watch(id, child.id() as i32, None, Request::default());
        let quick = Uuid::new_v4();
        monitor.watch(quick, i32::MAX, None, Request::default());
        assert_eq!(monitor.finish(&quick), None, "ended before any sample");
        let path = dir.path().join(format!("{id}.csv"));
        // Wait for two rows (no bound on how long a loaded machine takes).
        while std::fs::read_to_string(&path).map_or(0, |t| t.lines().count()) < 3 {
            std::thread::sleep(Duration::from_millis(100));
        }
        let usage = monitor.finish(&id).expect("sampled");
        let _ = child.kill();
        let _ = child.wait();
        assert!(usage.cores_max > 0.0 && usage.memory_max > 0, "{usage:?}");
        assert_eq!(usage.csvpath.as_deref(), Some(path.to_str().unwrap()));
        let text = std::fs::read_to_string(&path).expect("csv");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("time,cores,memory"));
        let row: Vec<&str> = lines.next().expect("a row").split(',').collect();
        assert_eq!(row.len(), 3, "{row:?}");
        assert!(
            row[1].parse::<f64>().is_ok() && row[2].parse::<u64>().is_ok(),
            "{row:?}"
        );
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_task_whose_processes_vanished_is_skipped_without_a_sample() {
        let proc = tempfile::tempdir().expect("tempdir");
        // A /proc listing a process whose stat is gone by the time it is read.
        std::fs::create_dir(proc.path().join("4242")).expect("mkdir");
        let shared = Shared {
            tasks: Mutex::new(HashMap::new()),
            stopping: Mutex::new(false),
            wake: Condvar::new(),
            csv_dir: None,
            proc: proc.path().to_path_buf(),
        };
        let id = Uuid::new_v4();
        let long_ago = Instant::now() - Duration::from_secs(5);
        shared.tasks().insert(
            id,
            Watched {
                pid: 4242,
                cgroup: Some(proc.path().join("no-such-cgroup")),
                usage: TaskUsage::new(Request::default(), long_ago),
                csv: None,
                csvpath: None,
                csv_failed: false,
            },
        );
        shared.sample_round(Units::of_host());
        assert_eq!(shared.tasks()[&id].usage.samples, 0);
    }
}
