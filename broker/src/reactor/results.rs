//! Recording results: exactly once per task, the first final result wins.

use std::collections::HashSet;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Instant;

use hs_engine::protocol::FinishedTask;
use hs_engine::task::{Task, TaskResult};
use uuid::Uuid;

use super::Core;
use crate::broker::RunError;
use crate::prefetch;
use crate::sink::ResultSink;
use crate::wire::to_completion;
use hs_store::Completion;

impl Core {
    /// Record `results` from `engine` in one store transaction and acknowledge all of them
    /// (duplicates included, so the engine can forget them).
    pub(super) fn results(
        &mut self,
        engine: Uuid,
        results: Vec<TaskResult>,
        sink: &mut dyn ResultSink,
    ) -> Result<(), RunError> {
        let mut ids = Vec::with_capacity(results.len());
        let mut settled: Vec<(Arc<Task>, TaskResult)> = Vec::with_capacity(results.len());
        for result in results {
            ids.push(result.id);
            if let Some(task) = self.settle(engine, &result) {
                settled.push((task, result));
            }
        }
        for (task, _) in &settled {
            self.cancelling.remove(&task.id);
        }
        self.follow_run_times(engine, &settled);
        self.record_final(settled, Some(engine), sink)?;
        // Acknowledged with the next bundle to this engine, or on its own at the end of the turn
        // (a result held through a store outage only once recorded: `outage.rs`).
        let ids = self.unheld(ids);
        match self.pending_acks.entry(engine) {
            Entry::Vacant(v) => {
                v.insert(ids);
            }
            Entry::Occupied(mut o) => o.get_mut().extend(ids),
        }
        Ok(())
    }

    /// The host of `engine`, if it is known ("" otherwise).
    pub(super) fn host_of(&self, engine: Option<Uuid>) -> String {
        engine
            .and_then(|e| self.registry.get(&e))
            .map(|e| e.host.clone())
            .unwrap_or_default()
    }

    /// What the store records for `settled`, which ran on `ran_on` (engine and host), and how
    /// many output paths the engine reported that were refused.
    pub(super) fn completions(
        &self,
        ran_on: Option<(Uuid, &str)>,
        settled: &[(Arc<Task>, TaskResult)],
    ) -> (Vec<Completion>, usize) {
        let uploads = self.uploads.as_ref().map(|u| u.dir());
        let mut refused_paths = 0;
        let completions = settled
            .iter()
            .map(|(task, r)| {
                let (completion, refused) = to_completion(task, r, ran_on, uploads);
                refused_paths += refused;
                completion
            })
            .collect();
        (completions, refused_paths)
    }

    /// Record final results in one store transaction, then count them and tell the sink and any
    /// watching client — only those the store took: a task that already had a final result
    /// (cancelled by another process meanwhile) keeps it. `engine` ran them; `None` for tasks
    /// the controller settled itself without running them. Returns how many were recorded.
    pub(super) fn record_final(
        &mut self,
        settled: Vec<(Arc<Task>, TaskResult)>,
        engine: Option<Uuid>,
        sink: &mut dyn ResultSink,
    ) -> Result<usize, RunError> {
        if settled.is_empty() {
            return Ok(0);
        }
        let host = self.host_of(engine);
        let ran_on = engine.map(|e| (e, host.as_str()));
        let (completions, refused_paths) = self.completions(ran_on, &settled);
        if let (Some(e), 1..) = (engine, refused_paths) {
            tracing::warn!(
                "engine {e} reported {refused_paths} output paths that are not its tasks' \
                 captured output files: not recorded"
            );
        }
        let recorded = match self.store.complete(&completions) {
            Ok(recorded) => recorded,
            Err(e) if e.is_transient() => {
                self.hold_results(engine, settled);
                return Ok(0);
            }
            Err(e) => return Err(e.into()),
        };
        let taken = recorded.len();
        // The store records each id once, and `settled` holds each task once: when it took as
        // many as it was given, it took them all, and nothing need be looked up.
        let missed: Option<HashSet<Uuid>> =
            (taken < settled.len()).then(|| recorded.into_iter().collect());
        let mut pushes = Vec::new();
        for (task, result) in settled {
            if missed.as_ref().is_some_and(|took| !took.contains(&task.id)) {
                tracing::debug!(
                    "task {} already had a final result: this one is ignored",
                    task.id
                );
                continue;
            }
            if let Some(e) = engine {
                self.expect_uploads(e, &result);
            }
            self.count_final(&result);
            self.activity
                .finished(Instant::now(), &task, &result, &host);
            self.note_retry(&task, &result);
            match engine {
                Some(e) => {
                    if let Some(info) = self.registry.get_mut(&e) {
                        info.done += 1;
                        sink.task_finished(&task, &result, info);
                    }
                }
                None => sink.task_failed_to_start(&task, &result),
            }
            if self.watchers.is_watched(&task.id) {
                pushes.push(FinishedTask::new(&task, &result, ran_on));
            }
        }
        // Only now: a watcher must be able to find what it is told about in the store.
        self.push_finished(pushes);
        Ok(taken)
    }

    /// Count a recorded final result in the run's summary.
    pub(super) fn count_final(&mut self, result: &TaskResult) {
        if result.succeeded() {
            self.summary.succeeded += 1;
        } else {
            self.summary.failed += 1;
        }
        // A final result makes the store schedulable again only as a failure due a retry, or
        // as the last task of its group the controller held (the next group opens); otherwise
        // a store found empty stays so, and is not asked again after every result.
        let retry_due = !result.succeeded() && self.cfg.max_retries > 0;
        let holds_nothing =
            self.queue.is_empty() && self.orphans.is_empty() && self.registry.lease_count() == 0;
        if retry_due || holds_nothing {
            self.store_dirty = true;
        }
    }

    /// Fold the run times of `settled` results into `engine`'s mean (give-backs use it too), and
    /// let its capacity follow unless the prefetch is fixed.
    fn follow_run_times(&mut self, engine: Uuid, settled: &[(Arc<Task>, TaskResult)]) {
        let Some(info) = self.registry.get_mut(&engine) else {
            return;
        };
        for (_, r) in settled {
            if let Some(took) = r
                .start_time
                .and_then(|s| (r.completion_time - s).to_std().ok())
            {
                info.runs.observe(took);
            }
        }
        info.capacity = prefetch::capacity(info.slots, self.cfg.prefetch, &info.runs);
    }

    /// Find the task a result answers and end whatever held it: its lease (this very lease of
    /// this engine), its place in the queue (requeued, not handed out again yet), or its place
    /// among a previous controller's orphans. A result under a lease that was revoked, for a
    /// task leased anew (to another engine, or to this one again), is not recorded: the run
    /// under the current lease is the one that counts.
    fn settle(&mut self, engine: Uuid, result: &TaskResult) -> Option<Arc<Task>> {
        let id = &result.id;
        if let Some(lease) = self.registry.lease_of(id) {
            if !self.registry.holds_under(id, &engine, result.lease) {
                tracing::debug!(
                    "result for task {id} from engine {engine} under lease {}, now leased to {} \
                     under lease {}: ignored",
                    result.lease,
                    lease.engine,
                    lease.number
                );
                return None;
            }
            return self.registry.release(id).map(|l| l.task);
        }
        let task = self
            .queue
            .take_requeued(id, &engine, result.lease)
            .or_else(|| self.orphans.remove(id));
        if task.is_none() {
            tracing::debug!("duplicate result for task {id} from engine {engine}: ignored");
        }
        task
    }
}
