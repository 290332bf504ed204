//! How fast the broker's decisions are on their own: N simulated engines take M tasks through
//! [`Core`] in this process, with the memory store and no sockets, each bundle answered at once
//! with results. Prints dispatch + result throughput; nothing here is asserted.
//!
//! Only the time spent in the core is counted (committing input to the store, taking it back,
//! dispatching, recording results): making the input rows and the engines' results is the
//! bench's own work, done by the input reader and the engines in a real run.
//!
//! `cargo run --release -p hs-broker --example core_bench -- [ENGINES] [SLOTS] [TASKS]`
//! (defaults: 100 engines of 8 slots, 500,000 tasks).

use std::time::Instant;

use hs_broker::reactor::{Core, Effect};
use hs_broker::store::{MemoryStore, TaskRecord};
use hs_broker::{BindSet, ControllerConfig, EngineInfo, ResultSink};
use hs_engine::protocol::{FromEngine, Register, Results, ToEngine};
use hs_engine::task::{Outcome, Task, TaskResult};
use uuid::Uuid;

/// Counts what it is told and nothing else.
#[derive(Default)]
struct Count(u64);

impl ResultSink for Count {
    fn task_finished(&mut self, _: &Task, _: &TaskResult, _: &EngineInfo) {
        self.0 += 1;
    }
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let (engines, slots, tasks) = (arg(1, 100), arg(2, 8) as u32, arg(3, 500_000));
    let cfg = ControllerConfig::new("a-bench-key-0123456789".into(), BindSet::default());
    let mut core = Core::new(cfg, Box::new(MemoryStore::new()));
    let mut sink = Count::default();
    let start = Instant::now();
    core.start(start).expect("memory store");
    for _ in 0..engines {
        let engine_id = Uuid::new_v4();
        let register = Register {
            engine_id,
            host: "bench".into(),
            pid: 1,
            slots,
            nonce: 1,
            version: "bench".into(),
            running: Vec::new(),
            finished: Vec::new(),
            returned: Vec::new(),
            resources: None,
        };
        core.on_engine(engine_id, FromEngine::Register(register), start, &mut sink)
            .expect("memory store");
    }
    let submitter = Uuid::new_v4();
    let mut submitted = 0;
    let mut turns = 0u64;
    let mut messages = 0u64;
    let mut in_core = std::time::Duration::ZERO;
    while sink.0 < tasks as u64 {
        // Input as the run loop takes it: while few tasks wait in the store.
        while submitted < tasks && core.wants_input() {
            let n = (tasks - submitted).min(1024);
            let rows: Vec<TaskRecord> = (0..n)
                .map(|i| TaskRecord::new(format!("task {}", submitted + i), submitter, None))
                .collect();
            let t = Instant::now();
            core.submit_input(&rows, &mut sink).expect("memory store");
            in_core += t.elapsed();
            submitted += n;
        }
        if submitted == tasks {
            core.end_input();
        }
        let now = Instant::now();
        core.prepare(now, &mut sink).expect("memory store");
        core.schedule(now).expect("memory store");
        let effects = core.take_effects();
        in_core += now.elapsed();
        turns += 1;
        for effect in effects {
            let Effect::ToEngine(engine, ToEngine::Tasks(bundle)) = effect else {
                continue;
            };
            messages += 1;
            let done = chrono::Utc::now();
            let results = bundle
                .tasks
                .iter()
                .map(|l| TaskResult {
                    start_time: Some(done),
                    completion_time: done,
                    ..TaskResult::not_run(l.task.id, l.lease, Outcome::Exited, 0, None)
                })
                .collect();
            let t = Instant::now();
            core.on_engine(
                engine,
                FromEngine::Results(Results { results }),
                now,
                &mut sink,
            )
            .expect("memory store");
            in_core += t.elapsed();
        }
    }
    let took = in_core.as_secs_f64();
    println!(
        "{engines} engines x {slots} slots, {tasks} tasks: {:.3} s in the core, {:.0} tasks/s \
         (dispatch + result), {turns} turns, {messages} bundles ({:.1} tasks each)",
        took,
        tasks as f64 / took,
        tasks as f64 / messages.max(1) as f64
    );
}
