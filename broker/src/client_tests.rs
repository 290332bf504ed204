//! The client against a real broker and a real engine in this process, over TCP on loopback:
//! watched results are pushed once recorded, cancels reach waiting and running tasks, the
//! per-client limit holds, and a wrong key, a missing controller and a lost one each say so.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hs_engine::engine::{self, Endpoints, EngineConfig, EngineControl, OutputConfig, StopMode};
use hs_engine::executor::LineSink;
use hs_engine::task::Outcome;
use uuid::Uuid;

use crate::client::*;
use crate::store::{SqliteStore, TaskStore};
use crate::{BindSet, ControllerBuilder, ControllerConfig, EngineInfo, ResultSink, Running};

struct Discard;

impl ResultSink for Discard {
    fn task_finished(
        &mut self,
        _task: &hs_engine::task::Task,
        _result: &hs_engine::task::TaskResult,
        _engine: &EngineInfo,
    ) {
    }
}

fn port_of(endpoint: &str) -> u16 {
    endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a bound tcp endpoint")
}

/// A controller serving forever on loopback, with its store in `dir`.
struct Controller {
    info: ConnectionInfo,
    running: Option<Running<Discard>>,
    engines: Vec<(Arc<EngineControl>, JoinHandle<()>)>,
    db: std::path::PathBuf,
}

impl Controller {
    fn start(dir: &std::path::Path, tune: impl FnOnce(&mut ControllerConfig)) -> Controller {
        let key = hs_engine::protocol::generate_key();
        let any = || vec!["tcp://127.0.0.1:*".to_string()];
        let mut cfg = ControllerConfig::new(
            key.clone(),
            BindSet {
                engines: any(),
                heartbeat: any(),
                clients: any(),
            },
        );
        cfg.forever = true;
        cfg.heartrate = Duration::from_millis(200);
        cfg.evict = Duration::from_secs(2);
        tune(&mut cfg);
        let db = dir.join("tasks.db");
        let mut store = SqliteStore::open(&db).unwrap();
        store.initialize().unwrap();
        let controller = ControllerBuilder::new(cfg)
            .store(Box::new(store))
            .bind()
            .unwrap();
        let bound = controller.bound().clone();
        let info = ConnectionInfo {
            version: crate::connection::VERSION,
            controller_id: controller.controller_id(),
            host: "127.0.0.1".into(),
            engine_port: port_of(&bound.engines[0]),
            heartbeat_port: port_of(&bound.heartbeat[0]),
            client_port: port_of(&bound.clients[0]),
            key,
            signature_scheme: crate::connection::SIGNATURE_SCHEME.into(),
            no_tls: false,
            pid: std::process::id(),
            profile: None,
            database: None,
        };
        Controller {
            info,
            running: Some(controller.spawn(Discard).unwrap()),
            engines: Vec::new(),
            db,
        }
    }

    fn add_engine(&mut self, slots: u32) {
        let quiet = || Arc::new(LineSink::from_writer(Box::new(std::io::sink())));
        let mut ecfg = EngineConfig::new(
            Endpoints {
                engines: self.info.engine_endpoint(),
                heartbeat: self.info.heartbeat_endpoint(),
            },
            self.info.key.clone(),
            slots,
            OutputConfig {
                stdout: quiet(),
                stderr: quiet(),
                capture_dir: None,
            },
        );
        ecfg.signalwait = Duration::from_millis(200);
        let control = Arc::new(EngineControl::new());
        let thread = {
            let control = control.clone();
            std::thread::spawn(move || {
                let ctx = zmq::Context::new();
                let _ = engine::run(ecfg, &ctx, &control);
            })
        };
        self.engines.push((control, thread));
    }

    fn stop(&mut self) {
        for (control, _) in &self.engines {
            control.request(StopMode::Abort);
        }
        if let Some(running) = self.running.take() {
            running.control().abort();
            for (_, thread) in self.engines.drain(..) {
                let _ = thread.join();
            }
            let _ = running.wait();
        }
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        self.stop();
    }
}

fn quick() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(3),
        request_timeout: Duration::from_secs(10),
        probe_after: Duration::from_millis(200),
        silence_limit: Duration::from_secs(2),
    }
}

fn collect(client: &mut Client) -> Vec<JobResult> {
    let results: Vec<JobResult> = client.results().map(|r| r.unwrap()).collect();
    assert_eq!(client.outstanding(), 0);
    results
}

#[test]
fn watched_results_are_pushed_once_each_and_only_after_they_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Controller::start(dir.path(), |_| {});
    c.add_engine(2);
    let mut client = Client::connect_with(&c.info, quick()).unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let mut jobs: Vec<JobSpec> = (0..20)
        .map(|i| JobSpec::new(format!("exit {}", i % 2)))
        .collect();
    jobs.push(
        JobSpec::new("pwd; echo $GREETING; echo oops >&2")
            .cwd(&work)
            .stdout("out.txt")
            .stderr("err.txt")
            .env("GREETING", "hello")
            .tag("kind", "bakapara"),
    );
    jobs.push(JobSpec::new("true").unwatched());
    let ids = client.submit(jobs).unwrap();
    assert_eq!(ids.len(), 22);
    assert_eq!(
        client.outstanding(),
        21,
        "the unwatched job is not waited for"
    );

    let results = collect(&mut client);
    let mut got: Vec<Uuid> = results.iter().map(|r| r.id).collect();
    got.sort();
    let mut want = ids[..21].to_vec();
    want.sort();
    assert_eq!(got, want, "every watched job answered exactly once");
    for r in &results {
        let i = ids.iter().position(|id| *id == r.id).unwrap();
        let expect = if i == 20 || i % 2 == 0 { "ok" } else { "error" };
        assert_eq!(r.status(), expect, "{r:?}");
        assert!(r.engine_id.is_some() && r.host.is_some() && r.start_time.is_some());
        assert_eq!(r.attempt, 1);
    }
    assert_eq!(
        std::fs::read_to_string(work.join("out.txt")).unwrap(),
        format!("{}\nhello\n", work.display())
    );
    assert_eq!(
        std::fs::read_to_string(work.join("err.txt")).unwrap(),
        "oops\n"
    );
    // Told only after the store had it: a reader of the database sees every result.
    let mut reader = SqliteStore::open(&c.db).unwrap();
    for id in &ids[..21] {
        let row = reader.get(id).unwrap().unwrap();
        assert!(row.completion_time.is_some(), "{id} not recorded yet");
    }
    // The unwatched job is not waited for, but it runs all the same.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut status = client.status().unwrap();
    while status.succeeded + status.failed < 22 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        status = client.status().unwrap();
    }
    assert_eq!((status.succeeded, status.failed), (12, 10), "{status:?}");
}

#[test]
fn cancel_reaches_waiting_and_running_tasks_and_watchers_hear_of_both() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Controller::start(dir.path(), |_| {});
    let mut client = Client::connect_with(&c.info, quick()).unwrap();
    let marker = format!("sleep 31.{}", std::process::id());

    // No engine yet: the tasks wait at the controller and are cancelled there, at once.
    let waiting = client
        .submit((0..3).map(|_| JobSpec::new(&marker)).collect())
        .unwrap();
    let reply = client.cancel(&waiting).unwrap();
    assert_eq!((reply.cancelled, reply.stopping), (3, 0), "{reply:?}");
    for r in collect(&mut client) {
        assert_eq!(r.outcome, Outcome::Cancelled);
        assert_eq!(r.status(), "cancelled");
        assert_eq!(r.engine_id, None, "never reached an engine");
    }
    // Cancelling again finds nothing to do.
    assert_eq!(client.cancel(&waiting).unwrap().unknown, 3);

    // Now running: the engine stops the process groups and reports them.
    c.add_engine(2);
    let running = client
        .submit((0..2).map(|_| JobSpec::new(&marker)).collect())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.status().unwrap().running < 2 {
        assert!(Instant::now() < deadline, "tasks never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let reply = client.cancel(&running).unwrap();
    assert_eq!(reply.stopping, 2, "{reply:?}");
    let results = collect(&mut client);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(results.len(), 2);
    for r in results {
        assert_eq!(r.outcome, Outcome::Cancelled, "{r:?}");
        assert!(r.engine_id.is_some());
    }
}

#[test]
fn a_client_cannot_watch_more_than_its_share() {
    let dir = tempfile::tempdir().unwrap();
    let c = Controller::start(dir.path(), |cfg| cfg.max_watched_per_client = 5);
    let mut client = Client::connect_with(&c.info, quick()).unwrap();
    client
        .submit((0..4).map(|_| JobSpec::new("true")).collect())
        .unwrap();
    let e = client
        .submit((0..2).map(|_| JobSpec::new("true")).collect())
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::Refused(why) if why.contains("limit 5")),
        "{e}"
    );
    // Unwatched work is not limited.
    client
        .submit((0..10).map(|_| JobSpec::new("true").unwatched()).collect())
        .unwrap();
}

#[test]
fn a_wrong_key_a_missing_controller_and_a_lost_one_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Controller::start(dir.path(), |_| {});
    let mut wrong = c.info.clone();
    wrong.key = "0".repeat(64);
    let e = Client::connect_with(&wrong, quick()).err().unwrap();
    assert!(e.is_auth_failure(), "{e}");
    assert!(e.to_string().contains("key"), "{e}");

    let mut client = Client::connect_with(&c.info, quick()).unwrap();
    client.submit(vec![JobSpec::new("sleep 30")]).unwrap();
    c.stop();
    let e = client.recv_timeout(Duration::from_secs(10)).unwrap_err();
    assert!(e.is_lost(), "{e}");
    // And it stays lost: a late answer is never taken for a new one.
    assert!(client.status().unwrap_err().is_lost());

    let e = Client::connect_with(&c.info, quick()).err().unwrap();
    assert!(matches!(e, ClientError::Unreachable { .. }), "{e}");
}

#[test]
fn a_cancel_made_in_the_store_by_another_process_reaches_the_watcher() {
    let dir = tempfile::tempdir().unwrap();
    let c = Controller::start(dir.path(), |cfg| cfg.watch_cancels = true);
    let mut client = Client::connect_with(&c.info, quick()).unwrap();
    let ids = client.submit(vec![JobSpec::new("true")]).unwrap();
    // What `hs update --cancel ID` does, from its own connection to the database.
    cancel_in_store(&c.db, ids[0]);
    let results = collect(&mut client);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].status(), "cancelled");
}

/// An engine played by the test: it registers, takes what it is given and does nothing else,
/// so the test decides when it leaves and what it ignores.
struct FakeEngine {
    id: Uuid,
    socket: zmq::Socket,
    link: hs_engine::protocol::PeerLink,
    _ctx: zmq::Context,
}

impl FakeEngine {
    fn join(info: &ConnectionInfo) -> FakeEngine {
        use hs_engine::protocol::{Incoming, PeerLink, Role};
        let id = Uuid::new_v4();
        let ctx = zmq::Context::new();
        let socket = ctx.socket(zmq::DEALER).unwrap();
        hs_engine::protocol::door::knock(&socket, info.key.as_bytes()).unwrap();
        socket.set_linger(0).unwrap();
        socket.connect(&info.engine_endpoint()).unwrap();
        let mut link = PeerLink::new(info.key.as_bytes(), Role::Engine, info.mode(), id);
        socket.send_multipart(link.hello(), 0).unwrap();
        let challenge = socket.recv_multipart(0).unwrap();
        let Ok(Incoming::Opened(proof)) = link.receive(challenge) else {
            panic!("the handshake failed");
        };
        socket.send_multipart(proof, 0).unwrap();
        let mut engine = FakeEngine {
            id,
            socket,
            link,
            _ctx: ctx,
        };
        engine.register(1, Vec::new());
        engine
    }

    /// Register (again, with a new `nonce`), saying it runs `running`.
    fn register(&mut self, nonce: u64, running: Vec<hs_engine::protocol::Held>) {
        self.send(&hs_engine::protocol::Register {
            engine_id: self.id,
            host: "fake".into(),
            pid: std::process::id(),
            slots: 1,
            nonce,
            version: env!("CARGO_PKG_VERSION").into(),
            running,
            finished: Vec::new(),
            returned: Vec::new(),
            resources: None,
        });
    }

    fn send<B: hs_engine::protocol::Body>(&mut self, body: &B) {
        let frames = self.link.seal(body).expect("handshake done");
        self.socket.send_multipart(frames, 0).unwrap();
    }

    /// The next message of kind `B` from the controller (others are skipped), within 10 s.
    fn expect<B: hs_engine::protocol::Body>(&mut self) -> B {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no {} message came", B::KIND);
            if self
                .socket
                .poll(zmq::POLLIN, left.as_millis() as i64)
                .unwrap()
                == 0
            {
                continue;
            }
            let frames = self.socket.recv_multipart(0).unwrap();
            let envelope = self.open(frames);
            if envelope.kind == B::KIND {
                return envelope.parse::<B>().unwrap();
            }
        }
    }

    fn open(&mut self, frames: Vec<Vec<u8>>) -> hs_engine::protocol::Envelope {
        match self.link.receive(frames) {
            Ok(hs_engine::protocol::Incoming::Message(envelope)) => envelope,
            _ => panic!("the controller sent something that does not open"),
        }
    }

    /// Kinds of the messages the controller sends within `d`, telling it this engine is alive.
    fn kinds_within(&mut self, d: Duration) -> Vec<String> {
        self.send(&hs_engine::protocol::Pong {});
        let deadline = Instant::now() + d;
        let mut kinds = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return kinds;
            }
            if self
                .socket
                .poll(zmq::POLLIN, left.as_millis() as i64)
                .unwrap()
                > 0
            {
                let frames = self.socket.recv_multipart(0).unwrap();
                kinds.push(self.open(frames).kind);
            }
        }
    }
}

/// A controller tuned by `tune`, a client of it, and one fake engine it has registered. `dir`
/// holds the store (and is last, so it outlives the controller).
struct WithFake {
    c: Controller,
    client: Client,
    fake: FakeEngine,
    dir: tempfile::TempDir,
}

fn with_fake_engine(tune: impl FnOnce(&mut ControllerConfig)) -> WithFake {
    let dir = tempfile::tempdir().unwrap();
    let c = Controller::start(dir.path(), tune);
    let mut client = Client::connect_with(&c.info, quick()).unwrap();
    let fake = FakeEngine::join(&c.info);
    wait_for_engines(&mut client, 1);
    WithFake {
        c,
        client,
        fake,
        dir,
    }
}

/// Wait until the controller counts `n` engines.
fn wait_for_engines(client: &mut Client, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.status().unwrap().engines.len() != n {
        assert!(Instant::now() < deadline, "never {n} engines");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_cancelled_task_handed_back_by_its_engine_is_not_run_elsewhere() {
    use hs_engine::protocol::{Bye, Cancel, Tasks};
    let WithFake {
        dir,
        mut c,
        mut client,
        mut fake,
    } = with_fake_engine(|_| {});
    let marker = dir.path().join("ran");
    let ids = client
        .submit(vec![JobSpec::new(format!("touch {}", marker.display()))])
        .unwrap();
    let leased = fake.expect::<Tasks>();
    assert_eq!(leased.tasks[0].task.id, ids[0]);
    let reply = client.cancel(&ids).unwrap();
    assert_eq!(reply.stopping, 1, "{reply:?}");
    // The engine is told to stop it, but leaves without reporting it (as a lost engine would),
    // while another engine stands ready to take whatever comes back.
    assert_eq!(fake.expect::<Cancel>().ids, ids);
    c.add_engine(1);
    wait_for_engines(&mut client, 2);
    fake.send(&Bye {
        returned: Vec::new(),
    });
    let results = collect(&mut client);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].outcome, Outcome::Cancelled, "{:?}", results[0]);
    // Had it been handed out again, the other engine would have run it by now.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!marker.exists(), "the cancelled task ran");
}

#[test]
fn a_task_cancelled_in_the_store_is_stopped_once_and_not_run_after_its_engine_is_lost() {
    use hs_engine::protocol::{Cancel, Tasks};
    let WithFake {
        dir,
        mut c,
        mut client,
        mut fake,
    } = with_fake_engine(|cfg| cfg.watch_cancels = true);
    let marker = dir.path().join("ran");
    let ids = client
        .submit(vec![JobSpec::new(format!("touch {}", marker.display()))])
        .unwrap();
    assert_eq!(fake.expect::<Tasks>().tasks[0].task.id, ids[0]);
    // What `hs update --cancel ID` does, from its own connection to the database.
    cancel_in_store(&c.db, ids[0]);
    assert_eq!(fake.expect::<Cancel>().ids, ids);
    let results = collect(&mut client);
    assert_eq!(results[0].status(), "cancelled");
    // Asked once: not again at every heartbeat (200 ms) while the engine has not reported it.
    let later = fake.kinds_within(Duration::from_millis(1000));
    assert!(!later.iter().any(|k| k == "cancel"), "{later:?}");
    // The engine never reports it and goes silent, with another engine ready to take it.
    c.add_engine(1);
    wait_for_engines(&mut client, 2);
    drop(fake);
    wait_for_engines(&mut client, 1);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!marker.exists(), "the cancelled task ran");
    let status = client.status().unwrap();
    assert_eq!((status.queued, status.running), (0, 0), "{status:?}");
}

#[test]
fn a_task_left_running_by_the_previous_controller_and_cancelled_meanwhile_is_not_run_again() {
    use crate::store::{Scheduler, Scope, TaskRecord};
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    // The previous controller took the task and stopped without a result for it.
    let id = {
        let mut before = SqliteStore::open(&dir.path().join("tasks.db")).unwrap();
        before.initialize().unwrap();
        let row = TaskRecord::new(format!("touch {}", marker.display()), Uuid::new_v4(), None);
        before.submit(std::slice::from_ref(&row)).unwrap();
        let by = Scheduler {
            server_id: Uuid::new_v4(),
            server_host: "gone".into(),
            max_retries: 0,
            eager: false,
            scope: Scope::All,
        };
        assert_eq!(before.schedule(1, &by).unwrap().len(), 1);
        // ...and handed it to an engine (held for the grace period, not scheduled at once).
        let to = crate::store::Handout {
            task: row.id,
            engine: Uuid::new_v4(),
            host: "gone".into(),
        };
        before.mark_handed_out(&[to]).unwrap();
        row.id
    };
    let mut c = Controller::start(dir.path(), |cfg| {
        cfg.watch_cancels = true;
        cfg.restart_grace = Duration::from_millis(1500);
    });
    // The controller answers only once it has taken back the previous one's tasks: the cancel
    // below then reaches a task it holds for the grace period, not a row it has yet to read.
    let mut client = Client::connect_with(&c.info, quick()).unwrap();
    client.status().unwrap();
    // Cancelled with `hs update --cancel` while the new controller waits for its engine.
    cancel_in_store(&c.db, id);
    c.add_engine(1);
    // Past the grace period, no engine having claimed it.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!marker.exists(), "the cancelled task ran");
    let status = client.status().unwrap();
    assert_eq!((status.queued, status.running), (0, 0), "{status:?}");
}

#[test]
fn an_engine_back_with_a_task_cancelled_while_it_was_away_is_told_to_stop_it() {
    use hs_engine::protocol::{Cancel, Held, Tasks};
    let WithFake {
        dir: _dir,
        c: _c,
        mut client,
        mut fake,
    } = with_fake_engine(|_| {});
    let ids = client.submit(vec![JobSpec::new("sleep 60")]).unwrap();
    let leased = fake.expect::<Tasks>().tasks.remove(0);
    assert_eq!(leased.task.id, ids[0]);
    // Silent for longer than `evict` (2 s): evicted, and its task back in the queue, where
    // the client cancels it.
    wait_for_engines(&mut client, 0);
    assert_eq!(client.cancel(&ids).unwrap().cancelled, 1);
    // Back again, still running it: it is told to stop, once.
    fake.register(
        2,
        vec![Held {
            id: leased.task.id,
            lease: leased.lease,
        }],
    );
    assert_eq!(fake.expect::<Cancel>().ids, ids);
    let later = fake.kinds_within(Duration::from_millis(600));
    assert!(!later.iter().any(|k| k == "cancel"), "{later:?}");
}

/// What `hs update --cancel ID` does, from its own connection to the database.
fn cancel_in_store(db: &std::path::Path, id: uuid::Uuid) {
    let mut other = SqliteStore::open(db).unwrap();
    let cancelled = other
        .update(
            &crate::store::Query::by_id(id),
            &[crate::store::Change::Cancel],
        )
        .unwrap();
    assert_eq!(cancelled, 1);
}

/// Reports every task of `bundle` as exited 0 after running for `took`.
fn report_ran(fake: &mut FakeEngine, bundle: &hs_engine::protocol::Tasks, took: Duration) {
    use hs_engine::task::TaskResult;
    let results = bundle
        .tasks
        .iter()
        .map(|t| {
            let mut r = TaskResult::not_run(t.task.id, t.lease, Outcome::Exited, 0, None);
            r.start_time = Some(r.completion_time - chrono::Duration::from_std(took).unwrap());
            r
        })
        .collect();
    fake.send(&hs_engine::protocol::Results { results });
}

#[test]
fn the_prefetch_follows_how_long_tasks_take() {
    use crate::prefetch::MOST_PER_SLOT;
    use hs_engine::protocol::Tasks;
    let WithFake {
        dir: _dir,
        c: _c,
        mut client,
        mut fake,
    } = with_fake_engine(|_| {});
    client
        .submit((0..200).map(|_| JobSpec::new("true")).collect())
        .unwrap();
    // Nothing known yet: its slot and 16 more.
    let first = fake.expect::<Tasks>();
    assert_eq!(first.tasks.len(), 1 + 16);
    // Tasks of 1 ms: 100 ms of work would be 100 per slot; it may hold its slot and 64 more.
    report_ran(&mut fake, &first, Duration::from_millis(1));
    let short = fake.expect::<Tasks>();
    assert_eq!(short.tasks.len(), 1 + MOST_PER_SLOT as usize);
    // Tasks of 10 s: one running and one waiting, no more.
    report_ran(&mut fake, &short, Duration::from_secs(10));
    let long = fake.expect::<Tasks>();
    assert_eq!(long.tasks.len(), 2);
}

/// Tasks that name a host are shared among that host's engines as other tasks are among all:
/// two engines on host `fake` get two each of four tasks for `FAKE.example` (same short name).
#[test]
fn tasks_for_one_host_are_shared_among_its_engines() {
    use hs_engine::protocol::Tasks;
    use hs_engine::task::JobOptions;
    let WithFake {
        dir: _dir,
        c,
        mut client,
        fake: mut first,
    } = with_fake_engine(|_| {});
    let mut second = FakeEngine::join(&c.info);
    wait_for_engines(&mut client, 2);
    let on_fake = JobOptions {
        hosts: vec!["FAKE.example".into()],
        ..JobOptions::default()
    };
    let jobs = (0..4)
        .map(|_| JobSpec::new("true").with_options(on_fake.clone()))
        .collect();
    client.submit(jobs).unwrap();
    let shares = (
        first.expect::<Tasks>().tasks.len(),
        second.expect::<Tasks>().tasks.len(),
    );
    assert_eq!(shares, (2, 2));
}
