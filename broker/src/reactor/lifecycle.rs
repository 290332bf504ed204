//! A run's life apart from single messages: what earlier runs left, input, keeping the queue
//! filled from the store, the heartbeat's chores, stopping, and tasks a previous controller
//! left running.

use std::sync::Arc;
use std::time::Instant;

use hs_engine::protocol::Drain;
use hs_engine::task::Task;
use uuid::Uuid;

use super::Core;
use crate::broker::RunError;
use crate::sink::ResultSink;
use crate::store::{Scope, TaskRecord};

/// Tasks kept ready at the broker beyond the engines' total credit; also the largest batch taken
/// from the store at once, and (in-memory store) how far input may run ahead of scheduling.
pub(crate) const LOW_WATER: usize = 1024;
/// An input bundle this large means the input is being read faster than it is run (readers
/// send up to 512 lines at once, fewer when the input pauses).
const STREAMING_BUNDLE: usize = 256;
/// Most host-bound tasks kept at the broker. Waiting for their hosts, they do not hold back
/// other tasks; beyond this many, input waits for some of them to run or fail, so memory stays
/// bounded however many tasks name an absent host.
const PINNED_MAX: usize = 16 * LOW_WATER;

impl Core {
    /// Before serving: say what earlier runs left that this run will not take, and hold back
    /// the tasks a previous controller had handed out (see [`adopt_interrupted`]).
    ///
    /// [`adopt_interrupted`]: Self::adopt_interrupted
    pub fn start(&mut self, now: Instant) -> Result<(), RunError> {
        if self.scheduler.scope != Scope::All {
            // Only a notice: a store that cannot answer it fails the run where it matters.
            if let Err(e) = self.tell_left_over() {
                tracing::warn!("could not count the tasks earlier runs left: {e}");
            }
        }
        self.adopt_interrupted(now)
    }

    /// The heartbeat's chores: acknowledge every result received, apply cancels made in the
    /// store, and evict engines silent for longer than the eviction time.
    pub fn heartbeat(&mut self, now: Instant) -> Result<(), RunError> {
        self.flush_acks(true);
        if !self.store_down() {
            self.apply_cancels(now)?;
        }
        self.evict_silent(now)
    }

    /// Before waiting for messages: run again what no engine claimed after a restart, give up
    /// on host-bound tasks that waited too long, and take tasks from the store if the queue
    /// runs short (which also tells whether the store has any left: see [`work_done`]).
    ///
    /// [`work_done`]: Self::work_done
    pub fn prepare(&mut self, now: Instant, sink: &mut dyn ResultSink) -> Result<(), RunError> {
        self.store_held(sink)?;
        self.end_reconciliation(now)?;
        if !self.halted() {
            self.expire_unplaced(now, sink)?;
            if !self.store_down() {
                self.refill()?;
            }
            self.expire_unfit(now, sink)?;
        }
        Ok(())
    }

    /// After the messages of a turn: hand out bundles within the engines' credit, or, once
    /// nothing more is handed out, acknowledge every result received.
    pub fn schedule(&mut self, now: Instant) -> Result<(), RunError> {
        if self.halted() || self.store_down() {
            self.flush_acks(true);
            return Ok(());
        }
        self.refill()?;
        let from = self.outbox.len();
        self.dispatch(now)?;
        self.record_handouts(from)
    }

    /// Nothing more is handed out: the run was interrupted or stopped scheduling.
    pub fn halted(&self) -> bool {
        self.summary.aborted || self.stopping
    }

    /// Once the work is done, tell every engine not told yet that nothing more will come.
    pub fn drain_when_done(&mut self) {
        if self.work_done() {
            self.drain_engines(Drain::default());
        }
    }

    fn total_credit(&self) -> usize {
        self.registry
            .engines()
            .map(|e| self.registry.credit(&e.id))
            .sum()
    }

    /// Keep enough tasks at the broker for every engine's free credit, taking them from the store
    /// in batches (so a durable store is queried once per batch, not once per task).
    pub(super) fn refill(&mut self) -> Result<(), RunError> {
        self.take_due_retries()?;
        if !self.store_dirty || self.queue.pinned.len() >= PINNED_MAX {
            return Ok(());
        }
        let credit = self.total_credit();
        // Host-bound tasks are not counted: they may wait on a host that is not there.
        let ready = self.queue.open_len();
        if ready >= credit.max(1) {
            return Ok(());
        }
        // `ready` is at most `credit` here.
        let limit = LOW_WATER + credit - ready;
        let rows = self.store.schedule(limit, &self.scheduler)?;
        if rows.len() < limit {
            self.store_dirty = false;
        }
        self.unscheduled = self.unscheduled.saturating_sub(rows.len() as u64);
        for row in rows {
            self.queue.push(crate::wire::to_task(row));
        }
        Ok(())
    }

    /// This run's scheduler takes these tasks (rows it is about to commit: its input, or a
    /// client's submission), and the later tasks of their submitters.
    pub(super) fn own(&mut self, rows: &[TaskRecord]) {
        let mut last = None;
        for r in rows {
            if last != Some(r.submit_id) {
                self.scheduler.adopt(r.submit_id);
                last = Some(r.submit_id);
            }
        }
    }

    /// A run that takes only its own tasks says, in one line, what earlier runs left in the
    /// store that it will not run (asked before it has submitted anything, so all of it is
    /// theirs), and how to run it.
    fn tell_left_over(&mut self) -> Result<(), RunError> {
        let mut left = self.store.pending(self.cfg.max_retries)?;
        // A resumed input's stored tasks are this run's.
        for submission in self.cfg.resumed.clone() {
            let mut ours = crate::store::Query::remaining();
            ours.conditions.push(crate::store::Condition {
                field: crate::store::Field::SubmitId,
                op: crate::store::Op::Eq,
                value: crate::store::Value::Uuid(submission),
            });
            left.unfinished = left.unfinished.saturating_sub(self.store.count(&ours)?);
        }
        let total = left.unfinished + left.retryable;
        if total == 0 {
            return Ok(());
        }
        let tasks = |n: u64| if n == 1 { "task" } else { "tasks" };
        let what = match (left.unfinished, left.retryable) {
            (n, 0) => format!("{n} unfinished {}", tasks(n)),
            (0, n) => format!("{n} failed {} with retries left", tasks(n)),
            (u, r) => format!("{total} tasks ({u} unfinished, {r} failed with retries left)"),
        };
        let verb = if total == 1 { "is" } else { "are" };
        tracing::warn!(
            "{what} from earlier runs {verb} left in the database: run them with --restart"
        );
        Ok(())
    }

    /// Commit input rows to the store, before anything else happens to them (held while the
    /// store is out: see [`submit_read`](Self::submit_read)).
    pub fn submit_input(
        &mut self,
        rows: &[TaskRecord],
        sink: &mut dyn ResultSink,
    ) -> Result<(), RunError> {
        self.submit_read(rows, None, sink)
    }

    /// Count `n` input rows the store has taken.
    pub(super) fn count_submitted(&mut self, n: u64, sink: &mut dyn ResultSink) {
        self.input_streaming |= n as usize >= STREAMING_BUNDLE;
        self.summary.submitted += n;
        self.unscheduled += n;
        self.store_dirty = true;
        sink.tasks_submitted(n);
    }

    /// Stop scheduling: hand nothing more out, read no more input (the loop commits what it
    /// already read first, through [`submit_input`](Self::submit_input)), and tell every engine
    /// to hand back what it has not started and leave once its running tasks are reported.
    pub fn stop_scheduling(&mut self) {
        self.stopping = true;
        self.summary.stopped = true;
        self.input_done = true;
        tracing::info!(
            "scheduling stopped: waiting for {} engines (holding {} tasks) to finish their running \
             tasks and hand back the rest",
            self.registry.engine_count(),
            self.registry.lease_count()
        );
        self.drain_engines(Drain {
            stop: false,
            release: true,
        });
    }

    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// The run was interrupted: every engine stops its running tasks and hands back the rest.
    pub fn abort(&mut self) {
        self.summary.aborted = true;
        self.drain_engines(Drain {
            stop: true,
            release: true,
        });
    }

    /// The summary of a run that ends now. An interrupted or stopped run acknowledges what it
    /// recorded (so engines do not report it again) and marks what waits here unscheduled in
    /// the store; what is still leased, and (stopped) what was never taken from the store, is
    /// unfinished.
    pub fn finish(&mut self) -> crate::ControllerSummary {
        self.forget_input();
        if self.summary.aborted || self.stopping {
            self.flush_acks(true);
            self.unschedule_waiting();
            let mut unfinished = (self.queue.len() + self.registry.lease_count()) as u64;
            if !self.summary.aborted {
                unfinished += self.unscheduled;
            }
            self.summary.unfinished = unfinished;
        }
        self.summary.clone()
    }

    /// Tasks the store says the previous controller took and did not see finish. Those it
    /// handed to an engine are held back for a grace period, so engines that kept running them
    /// can report, instead of running them twice (or, in a run that takes only its own tasks,
    /// instead of stopping them as tasks nobody holds). Those it only took from the store (no
    /// engine recorded: see `outage.rs`, handouts) no engine can have: they are marked
    /// unscheduled again and scheduled like any other.
    fn adopt_interrupted(&mut self, now: Instant) -> Result<(), RunError> {
        let (rows, fetched): (Vec<TaskRecord>, Vec<TaskRecord>) = self
            .store
            .interrupted(usize::MAX)?
            .into_iter()
            .partition(|r| r.client_id.is_some());
        if !fetched.is_empty() {
            let ids: Vec<Uuid> = fetched.iter().map(|r| r.id).collect();
            self.store.unschedule(&ids)?;
            tracing::info!(
                "{} tasks the previous controller had taken from the database but not handed to \
                 any engine are scheduled again now",
                ids.len()
            );
        }
        if rows.is_empty() {
            return Ok(());
        }
        let (n, grace) = (rows.len(), self.cfg.restart_grace.as_secs_f64());
        if self.scheduler.scope == Scope::All {
            tracing::info!(
                "{n} tasks were handed to engines (running or queued there) when the previous \
                 controller stopped: waiting up to {grace:.0}s for their engines to report before \
                 running them again"
            );
        } else {
            // Counted among the unfinished tasks of earlier runs already (`tell_left_over`).
            tracing::debug!(
                "{n} tasks were handed to engines when the previous controller stopped: waiting \
                 up to {grace:.0}s for their engines to report before leaving them for --restart"
            );
        }
        self.orphans = rows
            .into_iter()
            .map(|r| (r.id, crate::wire::to_task(r)))
            .collect();
        self.reconcile_until = Some(now + self.cfg.restart_grace);
        Ok(())
    }

    /// At the end of an interrupted run: what waits in the queue (never handed out, or handed
    /// back) is marked unscheduled in the store again, so a restart runs it at once instead of
    /// waiting for engines to claim it. Tasks still leased stay as they are: their engines may
    /// still be running them. A failure costs only that wait, so it is logged.
    fn unschedule_waiting(&mut self) {
        let ids: Vec<Uuid> = self.queue.ids().collect();
        if let Err(e) = self.store.unschedule(&ids) {
            tracing::warn!(
                "could not mark {} waiting tasks unscheduled: {e}",
                ids.len()
            );
        }
    }

    /// Whether a previous controller's task no engine claimed runs again in this run: in one
    /// that takes every task, and in one that resumed the input the task came from.
    pub(super) fn runs_orphan(&self, task: &Task) -> bool {
        self.scheduler.scope == Scope::All
            || task.submit_id.is_some_and(|s| self.scheduler.owns(&s))
    }

    /// After the grace period, run again what no engine claimed.
    fn end_reconciliation(&mut self, now: Instant) -> Result<(), RunError> {
        if self.reconcile_until.is_none_or(|t| now < t) {
            return Ok(());
        }
        self.reconcile_until = None;
        if self.orphans.is_empty() {
            return Ok(());
        }
        let unclaimed: Vec<Arc<Task>> = self.orphans.drain().map(|(_, t)| t).collect();
        let (mut tasks, others): (Vec<Arc<Task>>, Vec<Arc<Task>>) =
            unclaimed.into_iter().partition(|t| self.runs_orphan(t));
        if !others.is_empty() {
            // Still marked as handed out in the store, where a `--restart` finds them.
            tracing::debug!(
                "{} tasks from the previous controller were not claimed by any engine: left for \
                 --restart",
                others.len()
            );
        }
        if tasks.is_empty() {
            return Ok(());
        }
        tasks.sort_by_key(|t| t.submit_time);
        tracing::info!(
            "{} tasks from the previous controller were not claimed by any engine: running them again",
            tasks.len()
        );
        // Unleased by this controller: no engine's late result for them counts but through the
        // orphans' own reconciliation, which is over.
        self.queue.push_first(tasks);
        Ok(())
    }
}
