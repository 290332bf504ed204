//! The measurement: a real controller, a swarm of worker processes, tasks fed once every engine
//! is registered, and one row of figures per swarm size.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::controller::{Controller, Settings, Store};
use crate::report::{Hostility, Row};
use crate::worker::{Report, WorkerTotals, unix_ms_now};

#[derive(clap::Args, Debug, Clone)]
pub struct DriveArgs {
    /// Swarm sizes to measure, one run each (e.g. 1000,5000,10000).
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    pub engines: Vec<usize>,
    /// Tasks per run, fed to the controller's stdin once every engine is registered.
    #[arg(long, default_value_t = 200_000)]
    pub tasks: usize,
    /// Engines have 1..=SLOTS slots (by engine number, evenly).
    #[arg(long, default_value_t = 4)]
    pub slots: u32,
    /// Worker processes the engines are spread over.
    #[arg(long, default_value_t = 4)]
    pub procs: usize,
    /// Polling threads per worker process.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// The controller's --heartrate (seconds).
    #[arg(long, default_value_t = 1.0)]
    pub heartrate: f64,
    /// The controller's --evict (seconds).
    #[arg(long, default_value_t = 5.0)]
    pub evict: f64,
    /// The hs binary to run as the controller.
    #[arg(long, default_value = "target/release/hs")]
    pub hs: PathBuf,
    #[arg(long, value_enum, default_value_t = Store::Memory)]
    pub store: Store,
    /// Also run this many pairs of buggy peers (each pair shares an engine id) that send bad
    /// input, and check every task is answered and recorded exactly once.
    #[arg(long, default_value_t = 0)]
    pub hostile: usize,
    /// Seconds allowed for registration, and again for the tasks, before the run is ended.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Seconds to wait, engines registered and idle (pings and pongs only), before the tasks
    /// are fed: the controller's CPU over that time is the cost of heartbeats alone.
    #[arg(long, default_value_t = 0.0)]
    pub idle: f64,
    /// Print one JSON object per run instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Keep the scratch folder (controller log), and say where it is and the controller's pid.
    #[arg(long)]
    pub keep: bool,
}

struct Worker {
    child: Child,
    answered: Option<PathBuf>,
}

/// Run every swarm size in turn and print the table.
pub fn run(args: &DriveArgs) -> anyhow::Result<bool> {
    anyhow::ensure!(
        args.hs.exists(),
        "{} does not exist: build it first (scripts/swarm does)",
        args.hs.display()
    );
    let limit = raise_fd_limit();
    let mut rows = Vec::new();
    for &asked in &args.engines {
        let n = asked.min(most_engines(limit));
        if n < asked {
            eprintln!(
                "hs-swarm: {asked} engines need {} descriptors in the controller but the limit is \
                 {limit} (raise the hard limit: ulimit -Hn); measuring {n} engines instead",
                2 * asked + CONTROLLER_FDS
            );
        }
        let row = measure(args, n, procs_needed(n, args.procs, limit))?;
        if args.json {
            println!("{}", serde_json::to_string(&row)?);
        } else {
            eprintln!("{}", row.one_line());
        }
        rows.push(row);
    }
    if !args.json {
        print!("{}", crate::report::table(&rows, args));
    }
    Ok(rows.iter().all(Row::sound))
}

/// Descriptors the controller needs besides one per connection (listening sockets, ZeroMQ
/// mailboxes, logs, the input pipe), with room to spare.
const CONTROLLER_FDS: usize = 64;

/// Each engine holds two connections at both ends: ask for the hard limit, which the controller
/// and the workers inherit. Returns the limit in force.
fn raise_fd_limit() -> usize {
    // SAFETY: plain struct out-parameter and setter.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        if lim.rlim_cur < lim.rlim_max && {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                ..lim
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0
        } {
            lim.rlim_cur = lim.rlim_max;
        }
        lim.rlim_cur as usize
    }
}

/// The most engines the controller can hold under `limit` descriptors (two connections each).
fn most_engines(limit: usize) -> usize {
    limit.saturating_sub(CONTROLLER_FDS) / 2
}

/// Worker processes needed so none exceeds `limit`: an engine there costs four descriptors
/// (two connections, and a mailbox per ZeroMQ socket).
fn procs_needed(n: usize, asked: usize, limit: usize) -> usize {
    let per_proc = limit.saturating_sub(CONTROLLER_FDS).max(4) / 4;
    asked.max(n.div_ceil(per_proc)).clamp(1, n.max(1))
}

fn scratch(n: usize) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("hs-swarm-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn measure(args: &DriveArgs, n: usize, procs: usize) -> anyhow::Result<Row> {
    let dir = scratch(n)?;
    let key = hs_protocol::protocol::generate_key();
    let port = crate::controller::free_ports()?;
    let mut ctl = Controller::start(&Settings {
        hs: &args.hs,
        dir: &dir,
        port,
        key: &key,
        heartrate: args.heartrate,
        evict: args.evict,
        store: args.store,
    })?;
    if args.keep {
        // For attaching a profiler: `perf record -g -p PID`.
        eprintln!(
            "hs-swarm: controller pid {}, scratch folder {}",
            ctl.pid(),
            dir.display()
        );
    }
    let timeout = Duration::from_secs(args.timeout);
    let children_before = crate::controller::children_cpu_s();
    let before = ctl.sample().unwrap_or_default();
    let t0 = unix_ms_now();
    let (tx, rx) = mpsc::channel();
    let mut workers = Vec::new();
    for w in 0..procs {
        let (first, count) = share(n, procs, w);
        let hostile = if w == 0 { 2 * args.hostile } else { 0 };
        let answered = (args.hostile > 0).then(|| dir.join(format!("answered-{w}")));
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("worker")
            .args(["--engines-endpoint", &format!("tcp://127.0.0.1:{port}")])
            .args([
                "--heartbeat-endpoint",
                &format!("tcp://127.0.0.1:{}", port + 1),
            ])
            .args(["--key", &key])
            .args(["--count", &(count + hostile).to_string()])
            .args(["--first", &first.to_string()])
            .args(["--slots", &args.slots.to_string()])
            .args(["--threads", &args.threads.to_string()])
            .args(["--hostile", &hostile.to_string()])
            .args(["--timeout", &(3 * args.timeout + 30).to_string()]);
        if let Some(p) = &answered {
            cmd.arg("--answered").arg(p);
        }
        let mut child = cmd.stdout(Stdio::piped()).spawn()?;
        let out = child.stdout.take().expect("piped stdout");
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(r) = serde_json::from_str::<Report>(&line) {
                    let _ = tx.send((w, r));
                }
            }
        });
        workers.push(Worker { child, answered });
    }
    drop(tx);

    // Registration: every worker says when its last engine was welcomed.
    let mut registered_at: HashMap<usize, u64> = HashMap::new();
    let mut done: HashMap<usize, WorkerTotals> = HashMap::new();
    let reg_deadline = Instant::now() + timeout;
    while registered_at.len() < procs && Instant::now() < reg_deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok((w, Report::Registered { at_ms, .. })) => {
                registered_at.insert(w, at_ms);
            }
            Ok((w, Report::Done(t))) => {
                done.insert(w, *t);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let all_registered = registered_at.len() == procs;
    let registration_s = all_registered
        .then(|| {
            registered_at
                .values()
                .max()
                .map(|m| m.saturating_sub(t0) as f64 / 1e3)
        })
        .flatten();
    let at_registration = ctl.sample().unwrap_or_default();
    std::thread::sleep(Duration::from_secs_f64(args.idle));
    let after_idle = ctl.sample().unwrap_or_default();

    // Dispatch: the task lines go in at once; the controller drains the engines and exits
    // when every result is in.
    let feed_ms = unix_ms_now();
    let stdin = ctl.stdin.take().expect("piped stdin");
    let tasks = args.tasks;
    let feeder = std::thread::spawn(move || -> std::io::Result<()> {
        let mut w = BufWriter::with_capacity(1 << 20, stdin);
        for i in 0..tasks {
            writeln!(w, "true {i}")?;
        }
        w.flush()
    });
    let exit = ctl.wait(Instant::now() + timeout)?;
    let end_ms = unix_ms_now();
    let _ = feeder.join();

    // The workers leave once drained; any still there after a grace period are ended.
    let grace = Instant::now() + Duration::from_secs(10);
    while done.len() < procs && Instant::now() < grace {
        if let Ok((w, Report::Done(t))) = rx.recv_timeout(Duration::from_millis(100)) {
            done.insert(w, *t);
        }
    }
    for w in &mut workers {
        end_worker(&mut w.child);
    }
    let swarm_cpu_s = crate::controller::children_cpu_s() - children_before - exit.usage.cpu_s;
    let log = std::fs::read_to_string(dir.join("controller.log")).unwrap_or_default();
    let totals = sum(done.values());
    let hostility = (args.hostile > 0).then(|| {
        let answered: Vec<&Path> = workers
            .iter()
            .filter_map(|w| w.answered.as_deref())
            .collect();
        Hostility::assess(
            &answered,
            args.tasks,
            &log,
            &totals,
            (end_ms - t0) as f64 / 6e4,
        )
    });
    let row = Row::new(
        n,
        args,
        registration_s,
        feed_ms,
        end_ms,
        &totals,
        done.len() == procs,
        &exit,
        [before, at_registration, after_idle],
        swarm_cpu_s,
        &log,
        hostility,
    );
    if args.keep {
        eprintln!("hs-swarm: kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(row)
}

/// Engines `first..first+count` of `n` for worker `w` of `procs`.
fn share(n: usize, procs: usize, w: usize) -> (usize, usize) {
    let base = n / procs;
    let extra = n % procs;
    let count = base + usize::from(w < extra);
    let first = w * base + w.min(extra);
    (first, count)
}

/// End a worker that has not exited yet, by its pid: SIGTERM, then SIGKILL.
fn end_worker(child: &mut Child) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
}

fn sum<'a>(all: impl Iterator<Item = &'a WorkerTotals>) -> WorkerTotals {
    let mut t = WorkerTotals::default();
    for w in all {
        t.engines += w.engines;
        t.registered += w.registered;
        t.left += w.left;
        t.unpinged += w.unpinged;
        let (s, o) = (&mut t.stats, &w.stats);
        s.tasks += o.tasks;
        s.bundles += o.bundles;
        s.pings += o.pings;
        s.max_ping_gap_ms = s.max_ping_gap_ms.max(o.max_ping_gap_ms);
        s.reregisters += o.reregisters;
        s.cancels += o.cancels;
        s.refused += o.refused;
        s.junk_sent += o.junk_sent;
        t.first_task_ms = min_opt(t.first_task_ms, w.first_task_ms);
        t.last_result_ms = t.last_result_ms.max(w.last_result_ms);
        t.hostile_ids.extend(w.hostile_ids.iter().copied());
    }
    t
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) | (None, x) => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_every_engine_once() {
        for (n, procs) in [(10, 3), (1000, 4), (5, 5), (7, 2)] {
            let mut next = 0;
            for w in 0..procs {
                let (first, count) = share(n, procs, w);
                assert_eq!(first, next);
                next += count;
            }
            assert_eq!(next, n);
        }
    }

    #[test]
    fn descriptor_limits_bound_engines_and_spread_workers() {
        assert_eq!(most_engines(20_000), 9_968);
        assert_eq!(procs_needed(1000, 4, 20_000), 4);
        assert_eq!(procs_needed(9_968, 1, 20_000), 2);
        assert_eq!(procs_needed(3, 4, 20_000), 3);
    }
}
