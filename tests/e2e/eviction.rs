//! Loss detection keeps to the configured eviction time, on both sides: a controller evicts a
//! silent engine, and an engine gives up on a silent controller, about `--evict` seconds after
//! the other side fell silent — not at a built-in default, and not at the first missed beat.
//!
//! The silent side is frozen with SIGSTOP rather than killed: its sockets stay open, so the only
//! thing the other side can go by is the missing heartbeats.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::helpers::*;

const HEARTRATE: &str = "0.2";
const EVICT: &str = "1";

/// Earliest acceptable detection, counted from the freeze. The frozen side's last beat may have
/// come up to one heartrate (0.2 s) before it, so silence can exceed `--evict` (1 s) from 0.8 s
/// on; anything earlier would mean the eviction time was not the one configured.
const EARLIEST: Duration = Duration::from_millis(750);

/// Latest acceptable detection: 1 s of silence plus one heartrate before the next check, with
/// room for a loaded machine — still short enough that an eviction time of 3 s, or the 5 s
/// default, fails.
const LATEST: Duration = Duration::from_millis(2500);

/// A child's stderr, read line by line as it comes, each line with the moment it arrived: the
/// time of a log line is measured while the process keeps running.
struct LogTail {
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl LogTail {
    fn start(stderr: ChildStderr) -> Self {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push((Instant::now(), line));
            }
        });
        LogTail { lines }
    }

    /// When the first line containing `needle` that arrived at or after `since` arrived, waiting
    /// at most `limit` for it.
    fn wait_for(&self, needle: &str, since: Instant, limit: Duration) -> Option<Instant> {
        let mut found = None;
        wait_until(limit, || {
            found = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .find(|(at, l)| *at >= since && l.contains(needle))
                .map(|(at, _)| *at);
            found.is_some()
        });
        found
    }

    fn text(&self) -> String {
        let lines = self.lines.lock().unwrap();
        lines.iter().map(|(_, l)| format!("{l}\n")).collect()
    }
}

/// Everything a test started, ended by pid when the test ends — also when an assertion fails,
/// so a frozen process never outlives its test: each is continued, killed and reaped, and then
/// any task process still carrying the test's marker is killed too (a killed engine's tasks
/// live on in their own process groups).
struct Started {
    children: Vec<Child>,
    marker: String,
}

impl Started {
    /// Start `cmd` with stdout discarded and stderr followed by a [`LogTail`].
    fn spawn(&mut self, mut cmd: Command) -> (u32, LogTail) {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn hs");
        let tail = LogTail::start(child.stderr.take().expect("stderr"));
        let pid = child.id();
        self.children.push(child);
        (pid, tail)
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        for child in &mut self.children {
            signal(child.id(), libc::SIGCONT);
            let _ = child.kill();
            let _ = child.wait();
        }
        for pid in processes_with(&self.marker) {
            signal(pid, libc::SIGKILL);
        }
    }
}

/// A controller on a fresh port with the short heartbeat, running two long tasks on one engine
/// with two slots; returns once both tasks run, with the pids and logs of both processes.
fn controller_and_busy_engine(
    s: &Scratch,
    started: &mut Started,
) -> ((u32, LogTail), (u32, LogTail)) {
    let port = free_ports().to_string();
    let tasks = format!("{m}\n{m}\n", m = started.marker);
    let file = s.write("tasks.txt", &tasks);
    let server = started.spawn(s.hs(&[
        "server",
        file.to_str().unwrap(),
        "-p",
        &port,
        "--heartrate",
        HEARTRATE,
        "--evict",
        EVICT,
    ]));
    s.wait_for_server(&port);
    let client = started.spawn(s.hs(&["client", "-p", &port, "-N2"]));
    assert!(
        wait_until(Duration::from_secs(10), || processes_with(&started.marker)
            .len()
            >= 2),
        "both tasks running\nserver:\n{}\nclient:\n{}",
        server.1.text(),
        client.1.text()
    );
    (server, client)
}

/// Freeze `pid` and wait for the other side's `log` to show `needle`; asserts it came within
/// [`EARLIEST`]..=[`LATEST`] of the freeze, and returns that log.
fn freeze_and_time(pid: u32, log: &LogTail, needle: &str, what: &str) -> String {
    let frozen = Instant::now();
    signal(pid, libc::SIGSTOP);
    let lost = log.wait_for(needle, frozen, Duration::from_secs(8));
    let text = log.text();
    let took = lost.unwrap_or_else(|| panic!("{what}: never logged:\n{text}")) - frozen;
    eprintln!("{what} after {:.3}s", took.as_secs_f64());
    assert!(
        (EARLIEST..=LATEST).contains(&took),
        "{what} after {took:?}, expected {EARLIEST:?}..={LATEST:?} with --evict {EVICT}\n{text}"
    );
    text
}

#[test]
fn a_frozen_engine_is_evicted_after_the_configured_eviction_time() {
    let s = Scratch::new();
    let mut started = Started {
        children: Vec::new(),
        marker: format!("sleep 87.{}", std::process::id()),
    };
    let ((_, server_log), (client, _)) = controller_and_busy_engine(&s, &mut started);
    let log = freeze_and_time(client, &server_log, "lost (no heartbeat", "engine evicted");
    assert!(
        log.contains("lost (no heartbeat for 1.0s): 2 tasks requeued"),
        "both tasks it held go back: {log}"
    );
}

#[test]
fn an_engine_notices_a_frozen_controller_after_the_eviction_time_it_was_given() {
    let s = Scratch::new();
    let mut started = Started {
        children: Vec::new(),
        marker: format!("sleep 88.{}", std::process::id()),
    };
    let ((server, _), (_, client_log)) = controller_and_busy_engine(&s, &mut started);
    let log = freeze_and_time(
        server,
        &client_log,
        "lost the controller",
        "controller lost",
    );
    // The engine was never told 1 s on its own command line: it came with the welcome.
    assert!(
        log.contains("lost the controller (silent for over 1.0s)"),
        "{log}"
    );
    // Its two running tasks were stopped before that, ahead of the controller's eviction
    // (which would requeue them), and are gone.
    let stop = log
        .find("stopping 2 running tasks")
        .unwrap_or_else(|| panic!("the running tasks stopped: {log}"));
    assert!(stop < log.find("lost the controller").unwrap(), "{log}");
    assert!(
        wait_until(Duration::from_secs(5), || processes_with(&started.marker)
            .is_empty()),
        "the stopped tasks are gone: {log}"
    );
}

/// Each task's `runs/N` file: one line per time it started, naming the engine that ran it.
fn runs_per_task(s: &Scratch, tasks: usize) -> Vec<Vec<String>> {
    (1..=tasks)
        .map(|i| {
            s.read(&format!("runs/{i}"))
                .lines()
                .map(String::from)
                .collect()
        })
        .collect()
}

#[test]
fn an_evicted_engine_that_wakes_up_starts_nothing_it_had_queued() {
    let s = Scratch::new();
    let mut started = Started {
        children: Vec::new(),
        marker: format!("sleep 1.50{}", std::process::id()),
    };
    let port = free_ports().to_string();
    std::fs::create_dir(s.path("runs")).expect("runs folder");
    let tasks: String = (1..=12)
        .map(|i| format!("echo $TASK_CLIENT_ID >> runs/{i}; {}\n", started.marker))
        .collect();
    let file = s.write("tasks.txt", &tasks);
    let (_, server_log) = started.spawn(s.hs(&[
        "server",
        file.to_str().unwrap(),
        "-p",
        &port,
        "--heartrate",
        HEARTRATE,
        "--evict",
        EVICT,
    ]));
    s.wait_for_server(&port);
    // The first engine takes all 12 tasks: 2 run, 10 wait in its queue.
    let (first, first_log) = started.spawn(s.hs(&["client", "-p", &port, "-N2"]));
    let running = || std::fs::read_dir(s.path("runs")).map_or(0, |d| d.count());
    assert!(
        wait_until(Duration::from_secs(10), || running() >= 2),
        "two tasks running\n{}",
        server_log.text()
    );
    signal(first, libc::SIGSTOP);
    let frozen = Instant::now();
    // What ran before the freeze: only these may run twice.
    let at_freeze: Vec<usize> = (1..=12)
        .filter(|i| s.path(&format!("runs/{i}")).exists())
        .collect();
    assert_eq!(at_freeze.len(), 2, "{at_freeze:?}");
    // Evicted after 1 s; the second engine runs everything meanwhile. The first wakes up with
    // its queue and its two tasks finished, its leases long revoked.
    let (_, second_log) = started.spawn(s.hs(&["client", "-p", &port, "-N2"]));
    std::thread::sleep(Duration::from_millis(2500));
    signal(first, libc::SIGCONT);
    let end = server_log.wait_for("tasks: 12 done", frozen, Duration::from_secs(40));
    let log = server_log.text();
    assert!(end.is_some(), "the run ends\n{log}");
    assert!(log.contains("tasks: 12 done, 12 succeeded"), "{log}");

    let runs = runs_per_task(&s, 12);
    for (i, engines) in runs.iter().enumerate() {
        let task = i + 1;
        match engines.len() {
            1 => {}
            2 => assert!(
                at_freeze.contains(&task),
                "task {task} ran twice but was not running at the freeze: {runs:?}\nfirst \
                 engine:\n{}\nsecond engine:\n{}",
                first_log.text(),
                second_log.text()
            ),
            n => panic!("task {task} ran {n} times: {runs:?}"),
        }
    }
    // It gave back its whole queue when it noticed the silence.
    assert!(
        wait_until(Duration::from_secs(5), || first_log
            .text()
            .contains("10 not started go back")),
        "{}",
        first_log.text()
    );
    // Exactly one result recorded per task: for a task that ran twice, the second run's (its
    // first engine's result came under a revoked lease).
    let out = s
        .hs(&["list", "args", "client_id", "--format", "csv"])
        .output()
        .expect("hs list");
    let listed = stdout(&out);
    let recorded: Vec<&str> = listed.lines().skip(1).collect();
    assert_eq!(recorded.len(), 12, "{listed}");
    for task in at_freeze.iter().filter(|&&t| runs[t - 1].len() == 2) {
        let row = recorded
            .iter()
            .find(|l| l.contains(&format!("runs/{task};")))
            .unwrap_or_else(|| panic!("task {task} recorded: {listed}"));
        assert!(
            row.ends_with(&runs[task - 1][1]),
            "task {task}: the re-run's result counts, not {row}"
        );
    }
}
