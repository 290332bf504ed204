//! Executor slots: one thread each, running one task at a time and reporting over inproc.
//!
//! A slot expands the template (just before running, as documented), builds the task's
//! environment and output targets, runs the executor, and turns its [`Exit`] into a
//! [`TaskResult`]. Everything here is per task, so it stays allocation-light.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::config::EngineConfig;
use super::env::{EngineFacts, task_env};
use crate::executor::{Executor, Exit, OutputTarget, RunSpec, StopReason, StopSignal};
use crate::protocol::Leased;
use crate::task::{Outcome, TaskResult, sentinel};

/// What a slot sends back to the engine loop when a task ends.
#[derive(Serialize, Deserialize)]
pub struct SlotDone {
    pub slot: usize,
    pub result: TaskResult,
    /// The run was cut short by an engine shutdown: hand the task back rather than report it.
    pub interrupted: bool,
}

pub struct Slots {
    senders: Vec<mpsc::Sender<Leased>>,
    stops: Vec<Arc<StopSignal>>,
    threads: Vec<JoinHandle<()>>,
}

impl Slots {
    /// Start `cfg.slots` slot threads that report on `done_endpoint` (an inproc PULL the caller
    /// has already bound).
    pub fn start(
        cfg: &EngineConfig,
        ctx: &zmq::Context,
        done_endpoint: &str,
        executor: Arc<dyn Executor>,
    ) -> std::io::Result<Slots> {
        let mut slots = Slots {
            senders: vec![],
            stops: vec![],
            threads: vec![],
        };
        for index in 0..cfg.slots as usize {
            let (tx, rx) = mpsc::channel::<Leased>();
            let stop = Arc::new(StopSignal::new()?);
            let push = ctx.socket(zmq::PUSH).map_err(std::io::Error::other)?;
            push.set_linger(-1).map_err(std::io::Error::other)?;
            push.connect(done_endpoint).map_err(std::io::Error::other)?;
            let worker = SlotWorker {
                index,
                cfg: cfg.clone(),
                stop: stop.clone(),
                executor: executor.clone(),
                engine_id: cfg.engine_id.to_string(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("hs-slot-{}", index + 1))
                .spawn(move || worker.serve(rx, push))?;
            slots.senders.push(tx);
            slots.stops.push(stop);
            slots.threads.push(thread);
        }
        Ok(slots)
    }

    pub fn len(&self) -> usize {
        self.senders.len()
    }

    /// Hand `job` to slot `slot`, which must be idle.
    pub fn assign(&self, slot: usize, job: Leased) {
        // The slot thread lives as long as its sender; a send can fail only if it panicked.
        if self.senders[slot].send(job).is_err() {
            tracing::error!(
                "executor slot {} is gone; its task will be reported lost",
                slot + 1
            );
        }
    }

    /// Stop whatever slot `slot` runs (or the next thing it runs).
    pub fn stop(&self, slot: usize, reason: StopReason) {
        self.stops[slot].trigger(reason);
    }

    /// Close the slots and wait for their threads (they finish their current task first).
    pub fn join(self) {
        drop(self.senders);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

struct SlotWorker {
    index: usize,
    cfg: EngineConfig,
    stop: Arc<StopSignal>,
    executor: Arc<dyn Executor>,
    engine_id: String,
}

impl SlotWorker {
    fn serve(self, jobs: mpsc::Receiver<Leased>, done: zmq::Socket) {
        for job in jobs {
            let report = self.execute(job);
            // The stop signal is reset after a run, never before: a stop that arrives between
            // two tasks then still stops the next one instead of being lost.
            self.stop.reset();
            let bytes = serde_json::to_vec(&report).expect("slot reports serialise");
            if done.send(bytes, 0).is_err() {
                return;
            }
        }
    }

    fn execute(&self, job: Leased) -> SlotDone {
        let Leased { lease, task } = job;
        let base = |outcome, exit_status, error: Option<String>| TaskResult {
            id: task.id,
            lease,
            outcome,
            exit_status,
            signal: None,
            command: None,
            start_time: None,
            completion_time: Utc::now(),
            outpath: None,
            errpath: None,
            error,
        };
        let command = match self.cfg.template.expand(&task.args) {
            Ok(c) => c,
            Err(e) => {
                let result = base(
                    Outcome::TemplateError,
                    sentinel::TEMPLATE_ERROR,
                    Some(e.to_string()),
                );
                return SlotDone {
                    slot: self.index,
                    result,
                    interrupted: false,
                };
            }
        };
        let (stdout, stderr, outpath, errpath) = self.outputs(&task.id.to_string());
        let facts = EngineFacts {
            engine_id: &self.engine_id,
            host: &self.cfg.host,
            slot_count: self.cfg.slots,
        };
        let mut env = self.cfg.export_env.clone();
        env.extend(task_env(
            &task,
            &command,
            self.index as u32 + 1,
            &facts,
            outpath.as_deref(),
            errpath.as_deref(),
        ));
        let timeout = match (self.cfg.task_timeout, task.timeout.filter(|t| *t > 0.0)) {
            (Some(a), Some(b)) => Some(a.min(Duration::from_secs_f64(b))),
            (a, b) => a.or(b.map(Duration::from_secs_f64)),
        };
        let spec = RunSpec {
            command: &command,
            cwd: None,
            env: &env,
            stdout,
            stderr,
            timeout,
            signalwait: self.cfg.signalwait,
        };
        let outcome = self.executor.run(&spec, &self.stop);
        let mut result = base(Outcome::Exited, 0, None);
        result.command = Some(command);
        result.start_time = outcome.started.map(to_utc);
        result.completion_time = to_utc(outcome.finished);
        result.outpath = outpath;
        result.errpath = errpath;
        let mut interrupted = false;
        match outcome.exit {
            Exit::Code(code) => result.exit_status = code,
            Exit::Signal(sig) => {
                result.outcome = Outcome::Signaled;
                result.exit_status = -sig;
                result.signal = Some(sig);
            }
            Exit::Stopped {
                reason,
                signal,
                code,
            } => {
                result.signal = signal;
                result.exit_status = signal.map(|s| -s).or(code).unwrap_or(sentinel::CANCELLED);
                match reason {
                    StopReason::Timeout => {
                        result.outcome = Outcome::TimedOut;
                        result.error = Some(format!(
                            "timed out after {:.1}s",
                            timeout.map_or(0.0, |t| t.as_secs_f64())
                        ));
                    }
                    StopReason::Cancel => {
                        result.outcome = Outcome::Cancelled;
                        result.exit_status = sentinel::CANCELLED;
                    }
                    StopReason::Shutdown => {
                        result.outcome = Outcome::Cancelled;
                        result.exit_status = sentinel::CANCELLED;
                        interrupted = true;
                    }
                }
            }
            Exit::SpawnFailed(msg) => {
                result.outcome = Outcome::SpawnError;
                result.exit_status = sentinel::SPAWN_ERROR;
                result.error = Some(msg);
            }
        }
        SlotDone {
            slot: self.index,
            result,
            interrupted,
        }
    }

    /// Output targets for one task: per-task files under `--capture`, else the shared sinks.
    fn outputs(&self, id: &str) -> (OutputTarget, OutputTarget, Option<String>, Option<String>) {
        match &self.cfg.output.capture_dir {
            Some(dir) => {
                let out: PathBuf = dir.join(format!("{id}.out"));
                let err: PathBuf = dir.join(format!("{id}.err"));
                let (o, e) = (out.display().to_string(), err.display().to_string());
                (
                    OutputTarget::File(out),
                    OutputTarget::File(err),
                    Some(o),
                    Some(e),
                )
            }
            None => (
                OutputTarget::Relay(self.cfg.output.stdout.clone()),
                OutputTarget::Relay(self.cfg.output.stderr.clone()),
                None,
                None,
            ),
        }
    }
}

fn to_utc(t: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(t)
}
