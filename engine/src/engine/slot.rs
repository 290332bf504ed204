//! Executor slots: one thread each, running one task at a time from the engine's shared board.
//!
//! A slot expands the template (just before running, as documented), builds the task's
//! environment and output targets, runs the executor, and turns its [`Exit`] into a
//! [`TaskResult`]. Everything here is per task, so it stays allocation-light.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::board::{Board, SlotDone, Taken};
use super::config::EngineConfig;
use super::env::{EngineFacts, RunFacts, task_env};
use crate::executor::{
    Executor, Exit, Leftover, OUTPUT_LIMIT, OutputTarget, RunSpec, StopReason, StopSignal,
    Substitution, TaskVars,
};
use crate::monitor::Monitor;
use crate::protocol::Leased;
use crate::resources::Request;
use crate::task::{MAX_SECONDS, Outcome, TaskResult, seconds_in_range, sentinel};
use crate::template::TemplateError;

pub struct Slots {
    board: Arc<Board>,
    stops: Vec<Arc<StopSignal>>,
    threads: Vec<JoinHandle<()>>,
}

impl Slots {
    /// Start `cfg.slots` slot threads that take work from `board` and ring `doorbell` (an inproc
    /// PULL the caller has already bound) when results are ready.
    pub fn start(
        cfg: &EngineConfig,
        ctx: &zmq::Context,
        doorbell: &str,
        executor: Arc<dyn Executor>,
        board: Arc<Board>,
    ) -> std::io::Result<Slots> {
        let mut slots = Slots {
            board: board.clone(),
            stops: vec![],
            threads: vec![],
        };
        // Tasks without a directory of their own run in the engine's, which never changes. One
        // that was removed under it still runs tasks (bash starts there all the same); they are
        // told `.`.
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        // One doorbell for all slots: a socket each would stop an engine at libzmq's limit of
        // 1,023 sockets per context, whatever the open-file limit.
        let push = ctx.socket(zmq::PUSH).map_err(std::io::Error::other)?;
        push.set_linger(-1).map_err(std::io::Error::other)?;
        push.connect(doorbell).map_err(std::io::Error::other)?;
        let push = Arc::new(Mutex::new(push));
        // `--monitor`: one sampler for all slots, stopped once the last slot has left.
        let monitor = if cfg.monitor {
            Some(Arc::new(Monitor::start(cfg.task_dir.clone())?))
        } else {
            None
        };
        for index in 0..cfg.slots as usize {
            let stop = Arc::new(StopSignal::new()?);
            let push = push.clone();
            let worker = SlotWorker {
                index,
                cfg: cfg.clone(),
                stop: stop.clone(),
                executor: executor.clone(),
                cwd: cwd.clone(),
                vars: TaskVars::new(),
                monitor: monitor.clone(),
            };
            let board = board.clone();
            let thread = std::thread::Builder::new()
                .name(format!("hs-slot-{}", index + 1))
                .spawn(move || worker.serve(&board, &push))?;
            slots.stops.push(stop);
            slots.threads.push(thread);
        }
        Ok(slots)
    }

    /// Stop the running tasks `which` picks (by id). The slots are looked up and signalled under
    /// the board's lock, which a slot also holds while it takes its next task and clears its
    /// signal: so a stop meant for one task can never reach the next one on that slot.
    pub fn stop_running(&self, which: impl Fn(&Uuid) -> bool, reason: StopReason) -> usize {
        self.board.with(|b| {
            let mut stopped = 0;
            for (id, (_, slot)) in &b.running {
                if which(id) {
                    self.stops[*slot].trigger(reason);
                    stopped += 1;
                }
            }
            stopped
        })
    }

    /// Close the board and wait for the slot threads: each finishes its current task, and
    /// nothing still queued is started.
    pub fn join(self) {
        self.board.close();
        for t in self.threads {
            let _ = t.join();
        }
        crate::executor::release_task_cgroups();
    }
}

struct SlotWorker {
    index: usize,
    cfg: EngineConfig,
    stop: Arc<StopSignal>,
    executor: Arc<dyn Executor>,
    /// The engine's working directory (`TASK_CWD` of tasks without their own).
    cwd: PathBuf,
    /// Each task's own variables, written into the same buffers task after task.
    vars: TaskVars,
    /// With `--monitor`: watches each task from the start of its shell to its end.
    monitor: Option<Arc<Monitor>>,
}

impl SlotWorker {
    /// Runs tasks until the board closes. A finished task may owe the engine loop a ring of the
    /// doorbell ([`Board::finish`]); it is rung once the next task's bash has started, or before
    /// the slot goes idle. Rung earlier, the loop (and the controller it writes to) would wake
    /// while this slot starts its next bash and, on a machine whose cores all run tasks, take
    /// the core that bash was about to get; rung after, their work overlaps running tasks.
    fn serve(mut self, board: &Board, doorbell: &Mutex<zmq::Socket>) {
        crate::executor::prepare_slot();
        let owed = std::cell::Cell::new(false);
        let broken = std::cell::Cell::new(false);
        let ring = || {
            if !owed.replace(false) {
                return;
            }
            let doorbell = doorbell.lock().unwrap_or_else(|p| p.into_inner());
            match doorbell.send(&b""[..], zmq::DONTWAIT) {
                // A full doorbell has rings waiting already: the loop wakes all the same.
                Ok(()) | Err(zmq::Error::EAGAIN) => {}
                Err(_) => broken.set(true),
            }
        };
        while let Some(taken) = board.take(self.index, &self.stop, &mut || ring()) {
            let report = self.execute(taken, &ring);
            ring();
            if broken.get() {
                return;
            }
            owed.set(board.finish(report));
        }
        ring();
    }

    fn execute(&mut self, taken: Taken, ring: &dyn Fn()) -> SlotDone {
        let Taken { job, server, gpus } = taken;
        let server = server.as_ref();
        let Leased { lease, task } = job;
        let request = Request::of(&task);
        if let Some(short) = self.cfg.resources.shortfall(&request) {
            // Sent by a controller that does not schedule by resources (an older hs).
            let error = format!("needs more than this engine has: {short}");
            tracing::error!(task = %task.id, "not run: {error}");
            return SlotDone {
                result: TaskResult::not_run(
                    task.id,
                    lease,
                    Outcome::NoHost,
                    sentinel::RESOURCE_ERROR,
                    Some(error),
                ),
                interrupted: None,
            };
        }
        // Received from the controller, so held nowhere else: this takes it without a copy.
        let mut task = Arc::unwrap_or_clone(task);
        let own = match task.timeout.filter(|t| *t > 0.0) {
            Some(t) if !seconds_in_range(t) => {
                // Stored by something that did not check it (an older hs, SQL): refused here,
                // since no clock can time it.
                let error = format!("its timeout of {t} s is over the limit of {MAX_SECONDS} s");
                tracing::error!(task = %task.id, "not run: {error}");
                return SlotDone {
                    result: TaskResult::not_run(
                        task.id,
                        lease,
                        Outcome::SpawnError,
                        sentinel::SPAWN_ERROR,
                        Some(error),
                    ),
                    interrupted: None,
                };
            }
            t => t.map(Duration::from_secs_f64),
        };
        let timeout = match (self.cfg.task_timeout, own) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        // The walltime counts from here: `{% %}` substitutions spend the task's time.
        let deadline = Substitution::deadline_after(timeout);
        let shell = Substitution {
            executor: self.executor.as_ref(),
            stop: &self.stop,
            deadline,
            walltime: timeout,
            signalwait: self.cfg.signalwait,
            output_limit: OUTPUT_LIMIT,
        };
        // A retry repeats the command its first attempt ran (see `JobOptions::command`).
        let fixed = task.job.as_mut().and_then(|j| j.command.take());
        let expanded = match fixed {
            Some(command) => Ok(command),
            None => self.cfg.template.expand(&task.args, &shell),
        };
        let command = match expanded {
            Ok(c) => c,
            Err(e) => return self.not_expanded(task.id, lease, &e),
        };
        // Moved out of the task: `task_env` does not read it, and its env moves into the task's.
        let job = task.job.take().unwrap_or_default();
        let cwd = job.cwd.as_deref().map(std::path::Path::new);
        let (mut stdout, mut stderr, mut outpath, mut errpath) = self.outputs(task.id);
        if let Some(path) = job.stdout_path() {
            outpath = Some(path.display().to_string());
            stdout = OutputTarget::File(path);
        }
        if let Some(path) = job.stderr_path() {
            errpath = Some(path.display().to_string());
            stderr = OutputTarget::File(path);
        }
        let engine = EngineFacts {
            engine_id: self.cfg.engine_id,
            host: &self.cfg.host,
            slot_count: self.cfg.slots,
            cwd: &self.cwd,
            task_dir: self.cfg.task_dir.as_deref(),
        };
        // The start time the task sees is the one recorded: taken here, just before its bash.
        let start = Utc::now();
        let run = RunFacts {
            command: &command,
            slot: self.index as u32 + 1,
            start,
            server,
            cwd,
            outpath: outpath.as_deref(),
            errpath: errpath.as_deref(),
            gpus: &gpus,
        };
        let task_id = task.id;
        let monitor = self.monitor.as_deref();
        let started = |pid| {
            if let Some(monitor) = monitor {
                monitor.watch(task_id, pid, crate::executor::slot_dir(), request);
            }
            ring();
        };
        self.vars.clear();
        task_env(&mut self.vars, &task, &run, &engine);
        // Exports are in the executor's prepared environment; a job's own env wins over TASK_*.
        for (name, value) in &job.env {
            self.vars.set(name, value);
        }
        let spec = RunSpec {
            command: &command,
            cwd,
            env: &self.vars,
            stdout,
            stderr,
            timeout: deadline.map(|d| d.saturating_duration_since(Instant::now())),
            signalwait: self.cfg.signalwait,
            started: Some(&started),
            // Nothing a task started outlives it, unless the user keeps daemons.
            leftovers: if self.cfg.keep_daemons {
                Leftover::Linger
            } else {
                Leftover::Kill
            },
        };
        let outcome = self.executor.run(&spec, &self.stop);
        let usage = monitor.and_then(|m| m.finish(&task_id));
        let mut result = TaskResult {
            id: task.id,
            lease,
            outcome: Outcome::Exited,
            exit_status: 0,
            signal: None,
            command: Some(command),
            start_time: outcome.started.map(|_| start),
            completion_time: to_utc(outcome.finished),
            outpath,
            errpath,
            error: None,
            upload: false,
            usage,
        };
        let mut interrupted = None;
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
                    StopReason::Shutdown | StopReason::LeaseLost => {
                        result.outcome = Outcome::Cancelled;
                        result.exit_status = sentinel::CANCELLED;
                        interrupted = Some(reason);
                    }
                    // Tasks' output is never captured; this is here for completeness.
                    StopReason::OutputLimit => {
                        result.error = Some("stopped: its output went over the limit".into());
                    }
                }
            }
            Exit::SpawnFailed(msg) => {
                result.outcome = Outcome::SpawnError;
                result.exit_status = sentinel::SPAWN_ERROR;
                result.error = Some(msg);
            }
        }
        if let Some(why) = outcome.output_lost
            && matches!(result.outcome, Outcome::Exited | Outcome::Signaled)
        {
            tracing::error!(task = %task.id, "{why}");
            result.error = Some(format!(
                "{why}; bash ended with status {}",
                result.exit_status
            ));
            result.outcome = Outcome::OutputError;
            result.exit_status = sentinel::OUTPUT_ERROR;
            result.signal = None;
        }
        SlotDone {
            result,
            interrupted,
        }
    }

    /// The result of a task whose template did not expand. A substitution stopped by a cancel
    /// or a shutdown ends the task the way stopping its command would have; any other failure
    /// is a template error (`exit_status -2`, as HyperShell), logged here with its reason.
    fn not_expanded(&self, id: Uuid, lease: u64, error: &TemplateError) -> SlotDone {
        let (outcome, status, interrupted) = match self.stop.reason() {
            Some(StopReason::Cancel) => (Outcome::Cancelled, sentinel::CANCELLED, None),
            Some(reason @ (StopReason::Shutdown | StopReason::LeaseLost)) => {
                (Outcome::Cancelled, sentinel::CANCELLED, Some(reason))
            }
            _ => {
                tracing::error!(task = %id, "template error: {error}");
                (Outcome::TemplateError, sentinel::TEMPLATE_ERROR, None)
            }
        };
        SlotDone {
            result: TaskResult::not_run(id, lease, outcome, status, Some(error.to_string())),
            interrupted,
        }
    }

    /// Output targets for one task: per-task files under `--capture`, else the shared sinks.
    fn outputs(&self, id: Uuid) -> (OutputTarget, OutputTarget, Option<String>, Option<String>) {
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

/// The result of a task cancelled before it started.
pub fn cancelled_before_start(job: &Leased) -> TaskResult {
    TaskResult::not_run(
        job.task.id,
        job.lease,
        Outcome::Cancelled,
        sentinel::CANCELLED,
        Some("cancelled before it started".into()),
    )
}

/// A job's relative output path is relative to its own working directory, as it would be for
/// a shell started there.
fn to_utc(t: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(t)
}
