//! The core through a store outage (the link is `store_link.rs`), and the two records the store
//! keeps for the controller's successors: which tasks went to engines, and how far the input
//! was read.
//!
//! While the store cannot be reached nothing is decided that only the store could make durable:
//! - results are settled (their leases end) but held here, unacknowledged, and recorded once the
//!   store answers; only then are they acknowledged, so a result an engine was told it can
//!   forget is always in the store. Engines keep every result until it is acknowledged, so if
//!   the controller gives up, a successor started with `--restart` gets them again. Nothing new
//!   is handed out meanwhile, so at most the tasks engines held when the outage began are held
//!   here: their total capacity (slots plus prefetch) bounds what this can hold;
//! - input read from the feed is held (in order) and no more is read;
//! - nothing is handed out: a task must be recorded as handed out before it leaves (below).
//!
//! Handouts: the store marks each task with the engine it went to before the bundle is sent
//! ([`TaskStore::mark_handed_out`](crate::store::TaskStore::mark_handed_out)), so a controller
//! restarted after a crash holds back, for engines to claim, only tasks an engine may be running,
//! and schedules at once those its predecessor had only taken from the store.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use hs_engine::protocol::{Held as Lease, ToEngine};
use hs_engine::task::{Task, TaskResult};
use uuid::Uuid;

use super::{Core, Effect};
use crate::broker::RunError;
use crate::sink::ResultSink;
use crate::store::{Completion, Handout, InputProgress, StoreError, TaskRecord};

/// Results settled together: the task and its result, for each.
type Settled = Vec<(Arc<Task>, TaskResult)>;

/// What waits for the store to answer again.
#[derive(Default)]
pub(crate) struct Held {
    /// Settled results, by the engine that ran them (`None`: settled by the controller).
    results: Vec<(Option<Uuid>, Settled)>,
    /// Their task ids: a result reported again meanwhile is not acknowledged either.
    ids: HashSet<Uuid>,
    /// Input bundles not stored yet, in the order read, with how far the input was read.
    input: VecDeque<(Vec<TaskRecord>, Option<InputProgress>)>,
    /// The input was read to its end: its progress record is to be closed.
    input_end: bool,
}

impl Held {
    pub fn is_empty(&self) -> bool {
        self.results.is_empty() && self.input.is_empty() && !self.input_end
    }

    pub fn input_is_empty(&self) -> bool {
        self.input.is_empty()
    }
}

/// `Ok(true)` done, `Ok(false)` the store is unavailable for now, `Err` any other failure.
fn done_unless_out(r: Result<(), StoreError>) -> Result<bool, RunError> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.is_transient() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl Core {
    /// The store is in an outage: nothing is handed out or read until it answers.
    pub fn store_down(&self) -> bool {
        self.store.outage().is_some()
    }

    /// End the run once an outage has lasted `db_wait`.
    pub fn check_outage(&self, now: Instant) -> Result<(), RunError> {
        match self.store.outage() {
            Some(o) if now.duration_since(o.since) >= self.cfg.db_wait => {
                Err(RunError::StoreOutage {
                    waited: self.cfg.db_wait.as_secs_f64(),
                    reason: o.reason.clone(),
                    held: self.held.ids.len(),
                    unrecorded: self.held_completions(),
                })
            }
            _ => Ok(()),
        }
    }

    /// The held results as the store would record them (for the run's successor, when this
    /// run gives up on its store).
    fn held_completions(&self) -> Vec<Completion> {
        let mut all = Vec::with_capacity(self.held.ids.len());
        for (engine, settled) in &self.held.results {
            let host = self.host_of(*engine);
            let ran_on = engine.map(|e| (e, host.as_str()));
            all.extend(self.completions(ran_on, settled).0);
        }
        all
    }

    /// Results the store could not take now: held, unacknowledged, until it can.
    pub(super) fn hold_results(&mut self, engine: Option<Uuid>, settled: Settled) {
        self.held.ids.extend(settled.iter().map(|(t, _)| t.id));
        self.held.results.push((engine, settled));
    }

    /// Of `ids` (results just received), those that may be acknowledged: not held.
    pub(super) fn unheld(&self, mut ids: Vec<Uuid>) -> Vec<Uuid> {
        if !self.held.ids.is_empty() {
            ids.retain(|id| !self.held.ids.contains(id));
        }
        ids
    }

    /// Store what was held, once the store may be tried again: input first, in order, then
    /// results, each acknowledged to its engine once recorded. With nothing held, an outage is
    /// ended by one cheap look-up (an idle `--forever` controller makes no other call).
    pub(super) fn store_held(&mut self, sink: &mut dyn ResultSink) -> Result<(), RunError> {
        if !self.store.may_try() {
            return Ok(());
        }
        if self.held.is_empty() {
            if self.store_down() {
                done_unless_out(self.store.get(&Uuid::nil()).map(|_| ()))?;
            }
            return Ok(());
        }
        while let Some((rows, progress)) = self.held.input.pop_front() {
            if !self.store_input(&rows, progress.as_ref(), sink)? {
                self.held.input.push_front((rows, progress));
                return Ok(());
            }
        }
        if self.held.input_end {
            self.held.input_end = false;
        }
        let mut batches = std::mem::take(&mut self.held.results).into_iter();
        self.held.ids.clear();
        while let Some((engine, settled)) = batches.next() {
            let ids: Vec<Uuid> = settled.iter().map(|(t, _)| t.id).collect();
            let before = self.held.results.len();
            self.record_final(settled, engine, sink)?;
            if self.held.results.len() > before {
                // Out again: the rest stays held too.
                for (engine, settled) in batches {
                    self.hold_results(engine, settled);
                }
                return Ok(());
            }
            if let Some(engine) = engine {
                self.pending_acks.entry(engine).or_default().extend(ids);
            }
        }
        Ok(())
    }

    /// Commit input rows read from a feed, with how far the input was read (`progress`), or
    /// hold them while the store is out (behind any held already, so order is kept).
    pub fn submit_read(
        &mut self,
        rows: &[TaskRecord],
        progress: Option<&InputProgress>,
        sink: &mut dyn ResultSink,
    ) -> Result<(), RunError> {
        if self.held.input.is_empty() && self.store_input(rows, progress, sink)? {
            return Ok(());
        }
        self.held
            .input
            .push_back((rows.to_vec(), progress.cloned()));
        Ok(())
    }

    /// `Ok(false)`: the store is out, nothing was stored.
    fn store_input(
        &mut self,
        rows: &[TaskRecord],
        progress: Option<&InputProgress>,
        sink: &mut dyn ResultSink,
    ) -> Result<bool, RunError> {
        self.own(rows);
        let stored = match progress {
            Some(p) => self.store.submit_lines(rows, p),
            None => self.store.submit(rows),
        };
        if !done_unless_out(stored)? {
            return Ok(false);
        }
        if let Some(p) = progress {
            self.input_stored = Some(p.clone());
        }
        self.count_submitted(rows.len() as u64, sink);
        Ok(true)
    }

    /// The feed's input was read to its end.
    ///
    /// How far it was stored stays on record until the run ends (see
    /// [`forget_input`](Self::forget_input)), not only until the input is read: a run that fails
    /// after its whole input was stored (a database gone read-only, a disk full of results) is
    /// finished by running the same command again, which takes its submission over instead of
    /// submitting every task a second time.
    pub fn input_read_to_end(&mut self) -> Result<(), RunError> {
        if !self.held.input.is_empty() {
            self.held.input_end = true;
        }
        Ok(())
    }

    /// The input of a run that ends on purpose before its end (interrupted, stopped) is not
    /// resumed by running the command again: that runs all of it again, as it always did.
    pub(super) fn forget_input(&mut self) {
        if let Some(progress) = self.input_stored.take()
            && let Err(e) = self.store.input_done(&progress.submission)
        {
            tracing::debug!("could not forget how far the input was read: {e}");
        }
    }

    /// How far the input was stored, if it was not read to its end (for the error that ends a
    /// run: it says how to finish the input).
    pub fn input_stopped(&self) -> Option<&InputProgress> {
        self.input_stored.as_ref()
    }

    /// Record which engine each task handed out since `from` (an index into the outbox) goes to,
    /// before the bundles leave. If the store cannot take it now, the bundles do not leave: their
    /// tasks go back to the queue and their acknowledgements wait for the next message.
    pub(super) fn record_handouts(&mut self, from: usize) -> Result<(), RunError> {
        let mut handouts = Vec::new();
        for effect in &self.outbox[from..] {
            if let Effect::ToEngine(engine, ToEngine::Tasks(bundle)) = effect {
                let host = self
                    .registry
                    .get(engine)
                    .map(|e| e.host.clone())
                    .unwrap_or_default();
                handouts.extend(bundle.tasks.iter().map(|l| Handout {
                    task: l.task.id,
                    engine: *engine,
                    host: host.clone(),
                }));
            }
        }
        if handouts.is_empty() || done_unless_out(self.store.mark_handed_out(&handouts))? {
            return Ok(());
        }
        let mut kept = Vec::new();
        let mut recalled = Vec::new();
        for effect in self.outbox.drain(from..) {
            match effect {
                Effect::ToEngine(engine, ToEngine::Tasks(bundle)) => {
                    recalled.push((engine, bundle))
                }
                other => kept.push(other),
            }
        }
        self.outbox.extend(kept);
        for (engine, bundle) in recalled {
            let leases: Vec<Lease> = bundle
                .tasks
                .iter()
                .map(|l| Lease {
                    id: l.task.id,
                    lease: l.lease,
                })
                .collect();
            let tasks = self.take_back(engine, &leases);
            self.requeue(tasks)?;
            if !bundle.ack.is_empty() {
                self.pending_acks
                    .entry(engine)
                    .or_default()
                    .extend(bundle.ack);
            }
        }
        Ok(())
    }
}
