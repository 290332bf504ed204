//! Host affinity with several engines: a controller and two engines in this process, one of them
//! registered under another host name, the way a LAN cluster looks to the broker. (`hs stream`
//! has only its own engine, so this is where tasks are seen to land on the right host.)

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hs_broker::store::TaskRecord;
use hs_broker::{BindSet, ControllerBuilder, ControllerConfig, ControllerSummary, EngineInfo};
use hs_broker::{ResultSink, Running, feed};
use hs_engine::engine::{Endpoints, EngineConfig, EngineControl, OutputConfig, StopMode};
use hs_engine::executor::LineSink;
use hs_engine::task::{JobOptions, Outcome, Task, TaskResult, sentinel};

use crate::helpers::*;

/// The other engine's host, as it registers (the tasks spell it differently on purpose).
const OTHER: &str = "affinity-B.cluster";

/// One final result as the broker reported it.
#[derive(Clone, Debug)]
struct Seen {
    args: String,
    /// The engine's host; `None` when the task never reached an engine.
    host: Option<String>,
    outcome: Outcome,
    exit_status: i32,
    error: Option<String>,
    at: Instant,
}

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<Seen>>>);

impl Collect {
    fn push(&self, task: &Task, result: &TaskResult, host: Option<&str>) {
        self.0.lock().unwrap().push(Seen {
            args: task.args.clone(),
            host: host.map(str::to_string),
            outcome: result.outcome,
            exit_status: result.exit_status,
            error: result.error.clone(),
            at: Instant::now(),
        });
    }

    fn seen(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }
}

impl ResultSink for Collect {
    fn task_finished(&mut self, task: &Task, result: &TaskResult, engine: &EngineInfo) {
        self.push(task, result, Some(&engine.host));
    }

    fn task_failed_to_start(&mut self, task: &Task, result: &TaskResult) {
        self.push(task, result, None);
    }
}

/// A controller fed through its feed, with one engine on this host and one on [`OTHER`].
struct Cluster {
    feed: Option<feed::FeedSender>,
    running: Running<Collect>,
    engines: Vec<Arc<EngineControl>>,
    started: Instant,
}

/// A quiet engine with two slots, registered under `host` (else this host's name).
fn engine_on(host: Option<&str>, endpoints: Endpoints, key: &str) -> EngineConfig {
    let output = OutputConfig {
        stdout: Arc::new(LineSink::from_writer(Box::new(std::io::sink()))),
        stderr: Arc::new(LineSink::from_writer(Box::new(std::io::sink()))),
        capture_dir: None,
    };
    let mut cfg = EngineConfig::new(endpoints, key.to_string(), 2, output);
    cfg.signalwait = Duration::from_millis(200);
    if let Some(h) = host {
        cfg.host = h.to_string();
    }
    cfg
}

impl Cluster {
    fn start(affinity_wait: Duration) -> Cluster {
        let key = hs_engine::protocol::generate_key();
        let mut cfg = ControllerConfig::new(key.clone(), BindSet::default());
        cfg.affinity_wait = affinity_wait;
        cfg.heartrate = Duration::from_millis(200);
        cfg.evict = Duration::from_secs(2);
        let mut builder = ControllerBuilder::new(cfg);
        let endpoints = builder.local_endpoints();
        let mut controller = builder.bind().unwrap();
        let feed = controller.feed().unwrap();
        let engines = [None, Some(OTHER)]
            .into_iter()
            .map(|host| {
                let engine = engine_on(host, endpoints.clone(), &key);
                controller.add_engine(engine, Duration::ZERO)
            })
            .collect();
        Cluster {
            feed: Some(feed),
            running: controller.spawn(Collect::default()).unwrap(),
            engines,
            started: Instant::now(),
        }
    }

    /// Submit `(command, hosts)` tasks.
    fn submit(&mut self, tasks: &[(String, &[&str])]) {
        let submit_id = uuid::Uuid::new_v4();
        let rows = tasks
            .iter()
            .map(|(cmd, hosts)| {
                let mut row = TaskRecord::new(cmd.clone(), submit_id, None);
                if !hosts.is_empty() {
                    row.job = Some(JobOptions {
                        hosts: hosts.iter().map(|h| h.to_string()).collect(),
                        ..JobOptions::default()
                    });
                }
                row
            })
            .collect();
        let feed = self.feed.as_mut().expect("input still open");
        feed.send(rows).expect("broker takes tasks");
    }

    /// End the input and wait (bounded) for the broker and engines to finish.
    fn finish(mut self, limit: Duration) -> (ControllerSummary, Vec<Seen>) {
        if let Some(feed) = self.feed.take() {
            feed.finish().expect("broker takes the end");
        }
        let done = Arc::new(AtomicBool::new(false));
        let watchdog = {
            let done = done.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                while !done.load(Ordering::SeqCst) {
                    assert!(
                        start.elapsed() < limit,
                        "the run did not end within {limit:?}"
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let (ended, results) = self.running.wait();
        let summary = ended.expect("the controller and its engines run").broker;
        done.store(true, Ordering::SeqCst);
        watchdog.join().expect("finished in time");
        (summary, results.seen())
    }
}

#[test]
fn host_bound_tasks_land_only_on_their_host_and_an_absent_host_fails_in_time() {
    let wait = Duration::from_secs(2);
    let mut c = Cluster::start(wait);
    let mut tasks: Vec<(String, &[&str])> = vec![("true # stuck".into(), &["nosuchhost"])];
    for i in 0..20 {
        tasks.push((format!("true # other {i}"), &["AFFINITY-b"]));
        tasks.push((format!("true # anywhere {i}"), &[]));
    }
    tasks.push((
        "true # fqdn".into(),
        &["affinity-b.elsewhere.org", "nosuchhost"],
    ));
    c.submit(&tasks);
    let started = c.started;
    let (summary, seen) = c.finish(Duration::from_secs(30));

    assert_eq!(
        seen.len(),
        tasks.len(),
        "every task has one result: {seen:?}"
    );
    assert_eq!((summary.succeeded, summary.failed), (41, 1), "{summary:?}");
    for s in seen
        .iter()
        .filter(|s| s.args.contains("other") || s.args.contains("fqdn"))
    {
        assert_eq!(s.host.as_deref(), Some(OTHER), "{s:?}");
        assert_eq!(s.outcome, Outcome::Exited);
    }
    let stuck = seen.iter().find(|s| s.args.contains("stuck")).unwrap();
    assert_eq!(stuck.host, None, "it never reached an engine");
    assert_eq!(
        (stuck.outcome, stuck.exit_status),
        (Outcome::NoHost, sentinel::RESOURCE_ERROR)
    );
    assert_eq!(
        stuck.error.as_deref(),
        Some("no engine on host(s) nosuchhost joined within 2s")
    );
    assert!(
        stuck.at >= started + wait,
        "it waited its time: {:?}",
        stuck.at - started
    );
    // Nothing waited behind it: every other task was done well before it gave up.
    for s in seen.iter().filter(|s| !s.args.contains("stuck")) {
        assert!(s.at < stuck.at, "{s:?} finished after the stuck task");
        assert!(s.at - started < wait, "{s:?} was held up");
    }
    let here = seen.iter().filter(|s| s.args.contains("anywhere"));
    assert!(
        here.clone()
            .all(|s| s.outcome == Outcome::Exited && s.exit_status == 0)
    );
}

#[test]
fn tasks_handed_back_by_their_engine_keep_their_hosts() {
    let wait = Duration::from_millis(800);
    let mut c = Cluster::start(wait);
    let marker = format!("sleep {}", unique_seconds());
    c.submit(&[
        (format!("{marker}; true # held 1"), &["affinity-b"]),
        (format!("{marker}; true # held 2"), &["affinity-b"]),
    ]);
    assert!(
        // Each task is a bash and its sleep.
        wait_until(Duration::from_secs(10), || processes_with(&marker).len()
            >= 4),
        "the other host's engine did not start its tasks"
    );
    // Its operator stops it: the interrupted tasks go back to the queue, but only that host may
    // run them, so they wait for it and then fail; the engine on this host never takes them.
    c.engines[1].request(StopMode::Abort);
    let (summary, seen) = c.finish(Duration::from_secs(30));
    assert_eq!((summary.succeeded, summary.failed), (0, 2), "{seen:?}");
    for s in &seen {
        assert_eq!(s.host, None, "{s:?}");
        assert_eq!(s.outcome, Outcome::NoHost, "{s:?}");
    }
    assert_none_left(&marker, Duration::from_secs(3));
}
