//! `hs stream`: JSON jobs in on stdin, JSON results out on stdout as each job finishes, run by a
//! cluster inside this process (`-N` slots), or by a running controller (`--file`, see
//! `stream_remote`).
//!
//! Stdout carries only result lines; the jobs' own output goes to stderr (or to a job's `out`
//! and `err` files, or to `-o`/`-e`). Every input line gets exactly one output line: the job's result, the reason its line could
//! not run (with the line number), or `cancelled` when the stream is interrupted first. The
//! queue is the in-memory store (nothing is kept once written), and input is read only as fast
//! as jobs are scheduled, so memory stays flat however long the stream.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hs_broker::{BindSet, ControllerBuilder, EngineInfo, ResultSink};
use hs_engine::protocol::{FinishedTask, generate_key};
use hs_engine::task::{Task, TaskResult};
use uuid::Uuid;

use super::common::{engine_config, host_wait, log_summary, signalwait, slots};
use super::setup::{self, Controls};
use crate::cli::StreamArgs;
use crate::config::Config;
use crate::exit::Status;
use crate::input::{InputReport, Submitter, feed_lines};
use crate::site::Site;
use crate::stream::emit::{Emitter, Pending};
use crate::stream::intake::numbered_lines;
use crate::stream::result;

/// Jobs handed to the cluster and not answered yet, and the output.
struct Shared {
    pending: HashMap<Uuid, Pending>,
    emitter: Emitter,
}

type State = Arc<Mutex<Shared>>;

fn lock(state: &State) -> std::sync::MutexGuard<'_, Shared> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Answers finished jobs as the broker records them.
struct StreamSink(State);

impl ResultSink for StreamSink {
    fn task_finished(&mut self, task: &Task, outcome: &TaskResult, engine: &EngineInfo) {
        let mut shared = lock(&self.0);
        if let Some(entry) = shared.pending.remove(&task.id) {
            let r = result::finished(task, outcome, engine.id, &engine.host);
            shared.emitter.emit(entry, r);
        }
    }

    fn task_failed_to_start(&mut self, task: &Task, outcome: &TaskResult) {
        let mut shared = lock(&self.0);
        if let Some(entry) = shared.pending.remove(&task.id) {
            // The same result a controller pushes to a remote stream for such a task.
            let r = result::of(&FinishedTask::new(task, outcome, None));
            shared.emitter.emit(entry, r);
        }
    }
}

/// `localhost` in a job's `host` means the machine the stream runs on, whose engine registers
/// under its own name.
fn localize(hosts: &mut [String], here: &str) {
    for h in hosts
        .iter_mut()
        .filter(|h| h.eq_ignore_ascii_case("localhost"))
    {
        *h = here.to_string();
    }
}

/// Read jobs and feed the broker; bad lines are answered at once.
fn read_jobs(
    input: Box<dyn Read + Send>,
    state: State,
    submitter: Submitter,
    send: &mut dyn FnMut(Vec<hs_broker::store::TaskRecord>) -> bool,
) -> InputReport {
    let here = submitter.host.clone();
    let mut read = numbered_lines();
    let mut on_line = |number: u64, raw: &[u8]| {
        let line = read(number, raw)?;
        let (mut job, index, number) = line.into_job(&mut lock(&state).emitter)?;
        localize(&mut job.options.hosts, &here);
        let (row, object) = job.into_task(&submitter);
        let entry = Pending::new(index, number, object);
        lock(&state).pending.insert(row.id, entry);
        Some(row)
    };
    let (tasks, read_error) = feed_lines(input, &mut on_line, send);
    InputReport {
        tasks,
        rejected: 0,
        read_error,
    }
}

pub fn run(args: StreamArgs, cfg: &Config) -> anyhow::Result<Status> {
    if let Some(connection_file) = &args.connection_file {
        return super::stream_remote::run(connection_file, &args);
    }
    if let Some(name) = &args.profile {
        let profile = crate::profile::Profile::find(&Site::from_env(), name)?;
        return super::stream_remote::run(&super::running::client_file(&profile)?, &args);
    }
    let started = Instant::now();
    let site = Site::from_env();
    let slots = slots(args.slots.num_threads);
    let key = generate_key();
    let signalwait = signalwait(args.run.signalwait, cfg)?;
    let mut bcfg = setup::broker_config(
        key.clone(),
        BindSet::default(),
        &args.heartbeat,
        signalwait,
        cfg,
    )?;
    bcfg.announce_engines = false;
    bcfg.restart_grace = Duration::ZERO;
    bcfg.affinity_wait = host_wait(args.host_wait, cfg)?;
    // The in-memory store: nothing is kept once answered.
    let mut builder = ControllerBuilder::new(bcfg);
    let endpoints = builder.local_endpoints();
    let mut controller = builder.bind()?;
    let mut ecfg = engine_config(&args.run, &args.bundle, slots, endpoints, key, &site, cfg)?;
    // Stdout carries the results: task output goes to stderr unless a job or -o says otherwise.
    if args.run.output.is_none() {
        ecfg.output.stdout = Arc::new(hs_engine::executor::LineSink::stderr());
    }
    let submitter = Submitter::new(ecfg.host.clone());
    let controls = Controls {
        broker: controller.control().clone(),
        engine: Some(controller.add_engine(ecfg, Duration::ZERO)),
    };
    controls.stop_on_interrupt()?;

    let state: State = Arc::new(Mutex::new(Shared {
        pending: HashMap::new(),
        emitter: Emitter::new(args.keep_order),
    }));
    let reader = {
        let state = state.clone();
        controller.spawn_input(move |send| {
            read_jobs(Box::new(std::io::stdin()), state, submitter, send)
        })?
    };
    let mut sink = StreamSink(state.clone());
    let summary = controller.run(&mut sink).map_err(setup::run_error)?.broker;

    // Whatever was not answered was stopped by an interrupt: say so, one line per job.
    let mut shared = lock(&state);
    let left: Vec<_> = shared
        .pending
        .drain()
        .map(|(id, p)| (Some(id), p))
        .collect();
    shared
        .emitter
        .answer_left(left, "cancelled", result::INTERRUPTED);
    shared.emitter.finish();
    let not_ok = shared.emitter.not_ok;
    drop(shared);
    let interrupted = summary.aborted || crate::signals::interrupted();
    let read_error = reader.report(interrupted).and_then(|r| r.read_error);
    log_summary(&summary, 0, started.elapsed());
    crate::stream::exit_status(interrupted, read_error, not_ok)
}
