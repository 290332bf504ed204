//! A test rig around [`Core`]: a memory store, a recording sink, a clock the test moves, and
//! helpers to speak as engines and clients and to read what the core decided.

use std::time::{Duration, Instant};

use hs_engine::protocol::{
    FromClient, FromEngine, Held, Leased, Register, Results, ToClient, ToEngine,
};
use hs_engine::resources::Resources;
use hs_engine::task::{JobOptions, Outcome, Task, TaskResult};
use uuid::Uuid;

use crate::config::{BindSet, ControllerConfig};
use crate::control::RunControl;
use crate::reactor::{Core, Effect};
use crate::registry::EngineInfo;
use crate::sink::ResultSink;
use crate::store::{MemoryStore, TaskRecord, TaskStore};

/// What the sink was told.
#[derive(Default)]
pub struct Record {
    /// (task, engine) of every final result an engine ran.
    pub finished: Vec<(Uuid, Uuid)>,
    /// Tasks the controller finished itself without running them.
    pub not_run: Vec<Uuid>,
    pub submitted: u64,
}

impl ResultSink for Record {
    fn task_finished(&mut self, task: &Task, _: &TaskResult, engine: &EngineInfo) {
        self.finished.push((task.id, engine.id));
    }

    fn task_failed_to_start(&mut self, task: &Task, _: &TaskResult) {
        self.not_run.push(task.id);
    }

    fn tasks_submitted(&mut self, count: u64) {
        self.submitted += count;
    }
}

pub struct Rig {
    pub core: Core,
    pub sink: Record,
    pub now: Instant,
    pub control: RunControl,
    submitter: Uuid,
}

pub fn config() -> ControllerConfig {
    ControllerConfig::new("a-test-key-0123456789".into(), BindSet::default())
}

impl Rig {
    pub fn new() -> Rig {
        Rig::with(|_| {})
    }

    /// A rig whose configuration `tweak` changes first.
    pub fn with(tweak: impl FnOnce(&mut ControllerConfig)) -> Rig {
        Rig::over(Box::new(MemoryStore::new()), tweak)
    }

    /// A rig over an existing store (a restart), started.
    pub fn over(store: Box<dyn TaskStore>, tweak: impl FnOnce(&mut ControllerConfig)) -> Rig {
        let mut cfg = config();
        tweak(&mut cfg);
        let now = Instant::now();
        let mut core = Core::new(cfg, store);
        core.start(now).unwrap();
        Rig {
            core,
            sink: Record::default(),
            now,
            control: RunControl::new(),
            submitter: Uuid::new_v4(),
        }
    }

    pub fn later(&mut self, by: Duration) {
        self.now += by;
    }

    /// Submit `n` tasks as input; their ids, in order.
    pub fn submit(&mut self, n: usize) -> Vec<Uuid> {
        let rows: Vec<TaskRecord> = (0..n)
            .map(|i| TaskRecord::new(format!("task {i}"), self.submitter, None))
            .collect();
        self.submit_rows(rows)
    }

    /// Submit tasks asking for these (cores, GPUs); their ids, in order.
    pub fn submit_asking(&mut self, asks: &[(i64, u32)]) -> Vec<Uuid> {
        let rows: Vec<TaskRecord> = asks
            .iter()
            .map(|&(cores, gpus)| {
                let mut row = TaskRecord::new(format!("cores:{cores}"), self.submitter, None);
                row.cores = Some(cores);
                if gpus > 0 {
                    row.job = Some(JobOptions {
                        gpus,
                        ..JobOptions::default()
                    });
                }
                row
            })
            .collect();
        self.submit_rows(rows)
    }

    /// A new engine of `slots` slots offering `cores` cores and the GPUs `gpus`; its id.
    pub fn join_offering(&mut self, slots: u32, cores: u64, gpus: &[&str]) -> Uuid {
        let engine = Uuid::new_v4();
        let r = Register {
            resources: Some(Resources {
                cores: Some(cores),
                memory: None,
                gpus: gpus.iter().map(|g| g.to_string()).collect(),
            }),
            ..registration(engine, slots, "h")
        };
        self.engine_says(engine, r);
        engine
    }

    /// Submit one task that may run only on `hosts`.
    pub fn submit_on(&mut self, hosts: &[&str]) -> Uuid {
        let mut row = TaskRecord::new("pinned".into(), self.submitter, None);
        row.job = Some(JobOptions {
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            ..JobOptions::default()
        });
        self.submit_rows(vec![row])[0]
    }

    fn submit_rows(&mut self, rows: Vec<TaskRecord>) -> Vec<Uuid> {
        let ids = rows.iter().map(|r| r.id).collect();
        self.core.submit_input(&rows, &mut self.sink).unwrap();
        ids
    }

    /// A new engine of `slots` slots on `host` registers; its id.
    pub fn join(&mut self, slots: u32, host: &str) -> Uuid {
        let engine = Uuid::new_v4();
        self.register(engine, slots, host, Vec::new(), Vec::new());
        engine
    }

    pub fn register(
        &mut self,
        engine: Uuid,
        slots: u32,
        host: &str,
        running: Vec<Held>,
        finished: Vec<TaskResult>,
    ) {
        let r = Register {
            running,
            finished,
            ..registration(engine, slots, host)
        };
        self.engine_says(engine, r);
    }

    pub fn engine_says(&mut self, engine: Uuid, msg: impl Into<FromEngine>) {
        let now = self.now;
        self.core
            .on_engine(engine, msg.into(), now, &mut self.sink)
            .unwrap();
    }

    pub fn client_says(&mut self, client: &[u8], msg: impl Into<FromClient>) {
        self.core
            .on_client(
                client.to_vec(),
                Uuid::new_v4(),
                msg.into(),
                &mut self.sink,
                &self.control,
            )
            .unwrap();
    }

    /// One turn of the loop without sockets: prepare, schedule, and what was decided.
    pub fn turn(&mut self) -> Vec<Effect> {
        let now = self.now;
        self.core.prepare(now, &mut self.sink).unwrap();
        self.core.schedule(now).unwrap();
        self.core.take_effects()
    }

    /// The heartbeat's chores at the rig's time, and what they decided.
    pub fn heartbeat(&mut self) -> Vec<Effect> {
        let now = self.now;
        self.core.heartbeat(now).unwrap();
        self.core.take_effects()
    }

    /// Report `leased` as finished by `engine` with `exit_status`.
    pub fn report(&mut self, engine: Uuid, leased: &[Leased], exit_status: i32) {
        let results = leased
            .iter()
            .map(|l| result(l.task.id, l.lease, exit_status))
            .collect();
        self.engine_says(engine, Results { results });
    }
}

/// `engine`'s registration of `slots` slots on `host`, holding nothing.
pub fn registration(engine: Uuid, slots: u32, host: &str) -> Register {
    Register {
        engine_id: engine,
        host: host.into(),
        pid: 1,
        slots,
        nonce: 7,
        version: "test".into(),
        running: Vec::new(),
        finished: Vec::new(),
        returned: Vec::new(),
        resources: None,
    }
}

/// A result of a task that ran for 10 ms.
pub fn result(id: Uuid, lease: u64, exit_status: i32) -> TaskResult {
    let end = chrono::Utc::now();
    TaskResult {
        start_time: Some(end - chrono::Duration::milliseconds(10)),
        completion_time: end,
        ..TaskResult::not_run(id, lease, Outcome::Exited, exit_status, None)
    }
}

/// Messages to `engine` among `effects`, in order.
pub fn to(effects: &[Effect], engine: Uuid) -> Vec<&ToEngine> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToEngine(id, msg) if *id == engine => Some(msg),
            _ => None,
        })
        .collect()
}

/// Tasks handed to `engine` among `effects`.
pub fn leased(effects: &[Effect], engine: Uuid) -> Vec<Leased> {
    to(effects, engine)
        .into_iter()
        .filter_map(|m| match m {
            ToEngine::Tasks(t) => Some(t.tasks.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Ids acknowledged to `engine` among `effects` (in bundles or on their own).
pub fn acked(effects: &[Effect], engine: Uuid) -> Vec<Uuid> {
    to(effects, engine)
        .into_iter()
        .flat_map(|m| match m {
            ToEngine::Tasks(t) => t.ack.clone(),
            ToEngine::Ack(a) => a.ids.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// Ids `engine` is told to cancel among `effects`.
pub fn cancelled(effects: &[Effect], engine: Uuid) -> Vec<Uuid> {
    to(effects, engine)
        .into_iter()
        .flat_map(|m| match m {
            ToEngine::Cancel(c) => c.ids.clone(),
            _ => Vec::new(),
        })
        .collect()
}

/// Messages to the client `client` among `effects`.
pub fn to_client<'a>(effects: &'a [Effect], client: &[u8]) -> Vec<&'a ToClient> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToClient(id, msg) if id == client => Some(msg),
            _ => None,
        })
        .collect()
}

/// Tasks handed to any engine among `effects`, in the order they left the queue.
pub fn leased_to_any(effects: &[Effect]) -> Vec<Uuid> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToEngine(_, ToEngine::Tasks(t)) => Some(ids(&t.tasks)),
            _ => None,
        })
        .flatten()
        .collect()
}

/// How many unstarted tasks `engine` is asked to give back among `effects`, if it is asked.
pub fn asked_back(effects: &[Effect], engine: Uuid) -> Option<u32> {
    to(effects, engine).into_iter().find_map(|m| match m {
        ToEngine::GiveBack(g) => Some(g.most),
        _ => None,
    })
}

pub fn ids(leased: &[Leased]) -> Vec<Uuid> {
    leased.iter().map(|l| l.task.id).collect()
}
