//! Executor slots: one thread each, running one task at a time from the engine's shared board.
//!
//! A slot expands the template (just before running, as documented), builds the task's
//! environment and output targets, runs the executor, and turns its [`Exit`] into a
//! [`TaskResult`]. Everything here is per task, so it stays allocation-light.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::config::EngineConfig;
use super::env::{ControllerFacts, EngineFacts, RunFacts, task_env};
use super::lease_clock::LeaseClock;
use crate::executor::{
    Executor, Exit, Leftover, OUTPUT_LIMIT, OutputTarget, RunSpec, StopReason, StopSignal,
    Substitution, TaskVars,
};
use crate::protocol::Leased;
use crate::resources::{Request, Resources};
use crate::task::{MAX_SECONDS, Outcome, TaskResult, seconds_in_range, sentinel};
use crate::template::TemplateError;

/// How often a slot with queued tasks it may not start (its engine's lease clock ran out) looks
/// again, in case the engine hears from its controller without new work arriving.
const LEASE_RECHECK: Duration = Duration::from_millis(50);

/// What a slot leaves on the board when a task ends.
pub struct SlotDone {
    pub result: TaskResult,
    /// The run was cut short by an engine shutdown: hand the task back rather than report it.
    pub interrupted: bool,
}

/// Work shared by the engine loop and its slots: the engine's own queue of leased tasks, what
/// each slot is running, and finished results not yet collected.
///
/// Slots take their next task straight from here, so a slot that finishes one task starts the
/// next without a round trip through the engine loop. The loop is woken (the doorbell) only
/// when results should go to the controller: a batch is ready, or the queue ran dry and the
/// controller must send more.
pub struct Board {
    state: Mutex<BoardState>,
    work: Condvar,
    /// Until when queued tasks may start (see [`LeaseClock`]).
    pub lease: LeaseClock,
}

#[derive(Default)]
pub struct BoardState {
    pub queue: VecDeque<Leased>,
    /// Task id → (lease, slot) for every task a slot is running.
    pub running: HashMap<Uuid, (u64, usize)>,
    pub done: Vec<SlotDone>,
    /// The engine is giving up or leaving: slots start nothing more, even from a non-empty
    /// queue (the controller runs those tasks elsewhere), and leave.
    closed: bool,
    /// `-b`: results go to the controller in bundles of this many; `None`: see
    /// [`bundle_full`](Self::bundle_full).
    pub bundle: Option<usize>,
    /// The controller the engine is registered with, as its welcome named it: the "server" of
    /// every task a slot starts (`TASK_SERVER_ID`, `TASK_SERVER_HOST`).
    pub server: Option<ControllerFacts>,
    /// Results finished since the engine loop last sent a bundle. While there are any, the loop
    /// knows results are waiting and sends them by its linger deadline: a finished task rings
    /// the doorbell only for the first result of a bundle, a full bundle, or a queue run dry.
    /// Most results then ring no one, which on a machine whose cores all run tasks saves a
    /// preempted task per result.
    pending: usize,
    /// What the engine's tasks may use together (`-C`, `-M`, `--gpus`).
    resources: Resources,
    /// What the running tasks asked for, summed.
    used: Request,
    /// Devices no running task holds, in the order declared.
    free_gpus: Vec<String>,
    /// Each running task's request and devices, given back when it ends.
    held: HashMap<Uuid, (Request, Vec<String>)>,
    /// A task that held resources ended since the last bundle: the controller may now lease
    /// more, so the bundle goes at once instead of lingering.
    freed: bool,
}

/// A task a slot may start, with what it runs under.
pub struct Taken {
    pub job: Leased,
    pub server: Option<ControllerFacts>,
    /// The devices it was given (`CUDA_VISIBLE_DEVICES`): none unless it asked.
    pub gpus: Vec<String>,
}

impl BoardState {
    /// Takes the finished results as a bundle that is about to be sent: the next result starts a
    /// new one (and rings). Done under the board's lock, so no result can land between the
    /// taking and the reset and then wait unseen.
    pub fn take_bundle(&mut self) -> Vec<SlotDone> {
        self.pending = 0;
        self.freed = false;
        std::mem::take(&mut self.done)
    }

    /// Whether `ready` finished results make a full bundle: `-b` of them or, by default, as
    /// many as the engine still holds (queued and running). That is half of what the
    /// controller lets it hold, so the controller refills one half while the other runs; and
    /// as the controller lets an engine of short tasks hold more, its bundles grow with it.
    /// A result that freed resources makes any bundle full: the controller leases by what is
    /// free, so holding it back would leave those cores idle.
    pub fn bundle_full(&self, ready: usize) -> bool {
        if self.freed {
            return true;
        }
        match self.bundle {
            Some(n) => ready >= n,
            None => ready >= self.queue.len() + self.running.len(),
        }
    }
}

impl BoardState {
    /// Whether the task at the head of the queue may start now: it fits beside the running
    /// tasks, or it can never fit here (it is then taken to be failed, not left to block the
    /// queue). The queue is started in order: the controller leases an engine only what fits
    /// beside everything it holds, so a head that does not fit waits only for what an older
    /// controller, or a lease adopted after a reconnection, overcommitted.
    fn head_startable(&self) -> bool {
        self.queue.front().is_some_and(|job| {
            let request = Request::of(&job.task);
            request.is_zero()
                || self.resources.fits(&self.used, &request)
                || !self.resources.holds(&request)
        })
    }

    /// Reserve `job`'s request and devices, if it fits (a task that can never fit gets none).
    fn allot(&mut self, job: &Leased) -> Vec<String> {
        let request = Request::of(&job.task);
        if request.is_zero() || !self.resources.fits(&self.used, &request) {
            return Vec::new();
        }
        self.used.add(&request);
        let gpus: Vec<String> = self.free_gpus.drain(..request.gpus as usize).collect();
        self.held.insert(job.task.id, (request, gpus.clone()));
        gpus
    }

    /// Give back what the task `id` held; whether it held anything.
    fn release(&mut self, id: &Uuid) -> bool {
        let Some((request, gpus)) = self.held.remove(id) else {
            return false;
        };
        self.used.remove(&request);
        self.free_gpus.extend(gpus);
        // Free devices stay in the engine's own order, so a task's list reads the same
        // whichever tasks ended first.
        let order = &self.resources.gpus;
        self.free_gpus
            .sort_by_key(|g| order.iter().position(|o| o == g));
        true
    }
}

impl Board {
    /// `bundle`: `-b`, a fixed bundle size; `None` for bundles of half what the engine holds.
    /// `resources`: what its tasks may use together.
    pub fn new(bundle: Option<usize>, resources: Resources) -> Self {
        Board {
            state: Mutex::new(BoardState {
                bundle: bundle.map(|n| n.max(1)),
                free_gpus: resources.gpus.clone(),
                resources,
                ..BoardState::default()
            }),
            work: Condvar::new(),
            lease: LeaseClock::default(),
        }
    }

    /// Look at or change the shared state. Held only for short, non-blocking sections.
    pub fn with<T>(&self, f: impl FnOnce(&mut BoardState) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state)
    }

    /// Queue tasks and wake idle slots.
    pub fn add(&self, tasks: Vec<Leased>) {
        self.with(|s| s.queue.extend(tasks));
        self.work.notify_all();
    }

    /// Let slots leave: each finishes its running task and starts nothing more.
    fn close(&self) {
        self.with(|s| s.closed = true);
        self.work.notify_all();
    }

    /// The next task for `slot`, waiting while there is none; `None` once closed and empty.
    ///
    /// The slot's stop signal is cleared here, under the same lock that records the new task as
    /// running. Stops are only ever aimed at slots the board shows running something (looked up
    /// under this lock), so a stop meant for the previous task can never reach this one, and a
    /// stop for this one cannot be cleared after it was sent.
    ///
    /// `idle` runs (outside the lock) before the slot would wait, so a doorbell the slot still
    /// owes is rung before it goes idle rather than after its next task started.
    ///
    /// A closed board starts nothing more: the engine only closes it with tasks still queued
    /// when it is giving up (the controller has requeued them elsewhere by then).
    ///
    /// Nor does a slot start a queued task once the [lease clock](LeaseClock) ran out: it waits,
    /// looking again every [`LEASE_RECHECK`], while the engine loop gives the queue back or
    /// hears from its controller again. Nor does it start one whose request does not fit
    /// beside the running tasks (see [`BoardState::head_startable`]): a finishing task that
    /// frees resources wakes it.
    fn take(&self, slot: usize, stop: &StopSignal, idle: &mut dyn FnMut()) -> Option<Taken> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut idled = false;
        loop {
            if state.closed {
                return None;
            }
            let startable = state.head_startable() && self.lease.allows(Instant::now());
            if startable && let Some(job) = state.queue.pop_front() {
                stop.reset();
                state.running.insert(job.task.id, (job.lease, slot));
                let gpus = state.allot(&job);
                return Some(Taken {
                    job,
                    server: state.server.clone(),
                    gpus,
                });
            }
            if !idled {
                idled = true;
                drop(state);
                idle();
                state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                continue;
            }
            state = if state.queue.is_empty() {
                self.work.wait(state).unwrap_or_else(|p| p.into_inner())
            } else {
                let (state, _) = self
                    .work
                    .wait_timeout(state, LEASE_RECHECK)
                    .unwrap_or_else(|p| p.into_inner());
                state
            };
        }
    }

    /// Record a finished task; true when the engine loop should be woken: to start the linger
    /// timer of a new bundle, to send a full one, or to ask for more work.
    fn finish(&self, report: SlotDone) -> bool {
        let (ring, freed) = self.with(|s| {
            s.running.remove(&report.result.id);
            let freed = s.release(&report.result.id);
            s.freed |= freed;
            s.done.push(report);
            s.pending += 1;
            let ring = s.pending == 1 || s.bundle_full(s.pending) || s.queue.is_empty();
            (ring, freed)
        });
        if freed {
            // Slots waiting for room may start the next task.
            self.work.notify_all();
        }
        ring
    }
}

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
}

impl SlotWorker {
    /// Runs tasks until the board closes. A finished task may owe the engine loop a ring of the
    /// doorbell ([`Board::finish`]); it is rung once the next task's bash has started, or before
    /// the slot goes idle. Rung earlier, the loop (and the controller it writes to) would wake
    /// while this slot starts its next bash and, on a machine whose cores all run tasks, take
    /// the core that bash was about to get; rung after, their work overlaps running tasks.
    fn serve(mut self, board: &Board, doorbell: &Mutex<zmq::Socket>) {
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

    fn execute(&mut self, taken: Taken, started: &dyn Fn()) -> SlotDone {
        let Taken { job, server, gpus } = taken;
        let server = server.as_ref();
        let Leased { lease, task } = job;
        if let Some(short) = self.cfg.resources.shortfall(&Request::of(&task)) {
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
                interrupted: false,
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
                    interrupted: false,
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
            started: Some(started),
            // Nothing a task started outlives it, unless the user keeps daemons.
            leftovers: if self.cfg.keep_daemons {
                Leftover::Linger
            } else {
                Leftover::Kill
            },
        };
        let outcome = self.executor.run(&spec, &self.stop);
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
        };
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
            Some(StopReason::Cancel) => (Outcome::Cancelled, sentinel::CANCELLED, false),
            Some(StopReason::Shutdown) => (Outcome::Cancelled, sentinel::CANCELLED, true),
            _ => {
                tracing::error!(task = %id, "template error: {error}");
                (Outcome::TemplateError, sentinel::TEMPLATE_ERROR, false)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Task;

    fn leased(n: usize) -> Vec<Leased> {
        (0..n)
            .map(|i| Leased {
                lease: i as u64,
                task: Arc::new(Task::new(format!("task {i}"))),
            })
            .collect()
    }

    fn done(job: &Leased) -> SlotDone {
        SlotDone {
            result: TaskResult::not_run(job.task.id, job.lease, Outcome::Exited, 0, None),
            interrupted: false,
        }
    }

    /// Takes the next job as slot 0 and finishes it; returns whether the loop was rung.
    fn run_one(board: &Board, stop: &StopSignal) -> bool {
        let job = board.take(0, stop, &mut || {}).expect("a job").job;
        board.finish(done(&job))
    }

    #[test]
    fn a_bundle_rings_on_its_first_result_when_full_and_when_work_runs_out() {
        let board = Board::new(Some(3), Resources::default());
        let stop = StopSignal::new().expect("eventfd");
        board.add(leased(8));
        assert!(
            run_one(&board, &stop),
            "the first result arms the linger timer"
        );
        assert!(!run_one(&board, &stop), "later ones wait for the bundle");
        assert!(run_one(&board, &stop), "the third fills the bundle");
        assert_eq!(board.with(BoardState::take_bundle).len(), 3);
        assert!(
            run_one(&board, &stop),
            "taking the bundle disarms: a new one starts"
        );
        assert!(!run_one(&board, &stop));
        board.with(|b| b.queue.truncate(1));
        assert!(
            run_one(&board, &stop),
            "the queue ran dry: the controller must hear"
        );
    }

    #[test]
    fn by_default_a_bundle_is_full_once_as_many_are_done_as_are_still_held() {
        let board = Board::new(None, Resources::default());
        let stop = StopSignal::new().expect("eventfd");
        board.add(leased(8));
        assert!(
            run_one(&board, &stop),
            "the first result arms the linger timer"
        );
        for _ in 0..2 {
            assert!(!run_one(&board, &stop), "3 done of 8 held");
        }
        assert!(run_one(&board, &stop), "4 done, 4 still held");
        assert_eq!(board.with(BoardState::take_bundle).len(), 4);
        // A larger grant makes larger bundles.
        board.add(leased(12));
        assert!(run_one(&board, &stop));
        assert!(board.with(|b| !b.bundle_full(14) && b.bundle_full(15)));
    }

    #[test]
    fn collecting_without_sending_keeps_the_bundle_armed_and_counted() {
        let board = Board::new(Some(3), Resources::default());
        let stop = StopSignal::new().expect("eventfd");
        board.add(leased(8));
        assert!(run_one(&board, &stop));
        // The engine loop collects what is done at every wake; that is not a send.
        assert_eq!(board.with(|b| std::mem::take(&mut b.done)).len(), 1);
        assert!(!run_one(&board, &stop));
        assert!(
            run_one(&board, &stop),
            "full counts results already collected"
        );
    }

    #[test]
    fn a_slot_about_to_wait_runs_its_idle_hook_first_and_once() {
        let board = Arc::new(Board::new(Some(3), Resources::default()));
        let (rang, heard) = std::sync::mpsc::channel();
        let waiter = {
            let board = board.clone();
            std::thread::spawn(move || {
                let stop = StopSignal::new().expect("eventfd");
                board
                    .take(0, &stop, &mut || rang.send(()).expect("the test listens"))
                    .map(|taken| taken.job.lease)
            })
        };
        // Rung while the queue is still empty: a ring the slot owes is not held up by the wait.
        heard
            .recv_timeout(Duration::from_secs(5))
            .expect("the hook ran before the slot waited");
        board.add(leased(1));
        assert_eq!(waiter.join().expect("slot thread"), Some(0));
        assert!(heard.try_recv().is_err(), "once per wait");
    }

    #[test]
    fn a_task_is_taken_with_the_controller_of_the_moment() {
        let board = Board::new(Some(3), Resources::default());
        let stop = StopSignal::new().expect("eventfd");
        board.add(leased(2));
        let none = board.take(0, &stop, &mut || {}).expect("a job").server;
        assert_eq!(none, None, "not registered yet");
        let server = ControllerFacts {
            id: Uuid::now_v7(),
            host: Some("ctl".into()),
        };
        board.with(|b| b.server = Some(server.clone()));
        let named = board.take(0, &stop, &mut || {}).expect("a job").server;
        assert_eq!(named, Some(server));
    }

    #[test]
    fn a_closed_board_starts_nothing_more() {
        let board = Board::new(Some(3), Resources::default());
        let stop = StopSignal::new().expect("eventfd");
        board.add(leased(2));
        board.close();
        assert!(board.take(0, &stop, &mut || {}).is_none());
    }

    fn asking(cores: i64, gpus: u32) -> Leased {
        let mut task = Task::new("t");
        task.cores = Some(cores);
        task.job = Some(crate::task::JobOptions {
            gpus,
            ..Default::default()
        });
        Leased {
            lease: 1,
            task: Arc::new(task),
        }
    }

    fn engine_of(cores: u64, gpus: &[&str]) -> Resources {
        Resources {
            cores: Some(cores),
            memory: None,
            gpus: gpus.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn a_queued_task_starts_only_when_it_fits_beside_the_running_ones() {
        let board = Board::new(None, engine_of(4, &[]));
        let stop = StopSignal::new().expect("eventfd");
        board.add(vec![asking(3, 0), asking(2, 0), asking(1, 0)]);
        let first = board.take(0, &stop, &mut || {}).expect("3 of 4 cores").job;
        assert!(board.with(|b| !b.head_startable()), "2 more do not fit");
        board.finish(done(&first));
        assert!(
            board.with(|b| b.head_startable()),
            "its cores are free again"
        );
        assert!(
            board.with(|b| b.bundle_full(1)),
            "freed cores send the result at once"
        );
    }

    #[test]
    fn running_tasks_never_share_a_gpu_and_devices_come_back() {
        let board = Board::new(None, engine_of(64, &["0", "1", "2"]));
        let stop = StopSignal::new().expect("eventfd");
        board.add(vec![asking(1, 2), asking(1, 1), asking(1, 1)]);
        let a = board.take(0, &stop, &mut || {}).expect("two GPUs");
        let b = board.take(1, &stop, &mut || {}).expect("the third");
        assert_eq!(
            (a.gpus, b.gpus),
            (vec!["0".to_string(), "1".into()], vec!["2".into()])
        );
        assert!(board.with(|s| !s.head_startable()), "no GPU left");
        board.finish(done(&a.job));
        let c = board.take(2, &stop, &mut || {}).expect("a freed GPU");
        assert_eq!(c.gpus, ["0"]);
    }

    #[test]
    fn a_task_larger_than_the_engine_does_not_block_the_queue() {
        let board = Board::new(None, engine_of(2, &[]));
        let stop = StopSignal::new().expect("eventfd");
        board.add(vec![asking(8, 0), asking(1, 0)]);
        let huge = board
            .take(0, &stop, &mut || {})
            .expect("taken, to be failed");
        assert!(huge.gpus.is_empty());
        assert!(board.with(|b| b.used.is_zero()), "it reserved nothing");
        assert!(board.take(1, &stop, &mut || {}).is_some());
    }
}
