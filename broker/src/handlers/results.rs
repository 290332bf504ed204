//! Recording results: exactly once per task, the first final result wins.

use std::collections::HashSet;

use hs_engine::protocol::FinishedTask;
use hs_engine::task::{Task, TaskResult};
use uuid::Uuid;

use crate::broker::{Broker, BrokerError};
use crate::prefetch;
use crate::sink::ResultSink;
use crate::wire::to_completion;

impl Broker {
    /// Record `results` from `engine` in one store transaction and acknowledge all of them
    /// (duplicates included, so the engine can forget them).
    pub(crate) fn results(
        &mut self,
        engine: Uuid,
        results: Vec<TaskResult>,
        sink: &mut dyn ResultSink,
    ) -> Result<(), BrokerError> {
        let host = self
            .registry
            .get(&engine)
            .map(|e| e.host.clone())
            .unwrap_or_default();
        self.follow_run_times(engine, &results);
        let mut ids = Vec::with_capacity(results.len());
        let mut settled: Vec<(Task, TaskResult)> = Vec::with_capacity(results.len());
        for result in results {
            ids.push(result.id);
            if let Some(task) = self.settle(engine, &result.id) {
                settled.push((task, result));
            } else {
                tracing::debug!(
                    "duplicate result for task {} from engine {engine}: ignored",
                    result.id
                );
            }
        }
        let completions: Vec<_> = settled
            .iter()
            .map(|(_, r)| to_completion(r, Some((engine, &host))))
            .collect();
        let recorded: HashSet<Uuid> = if completions.is_empty() {
            HashSet::new()
        } else {
            self.store.complete(&completions)?.into_iter().collect()
        };
        let mut pushes = Vec::new();
        for (task, result) in settled {
            self.cancelling.remove(&task.id);
            if !recorded.contains(&task.id) {
                tracing::debug!(
                    "task {} already had a final result: this one is ignored",
                    task.id
                );
                continue;
            }
            self.count_final(&result);
            if let Some(info) = self.registry.get_mut(&engine) {
                info.done += 1;
            }
            if let Some(info) = self.registry.get(&engine) {
                sink.task_finished(&task, &result, info);
            }
            if self.watchers.is_watched(&task.id) {
                pushes.push(FinishedTask::new(&task, &result, Some((engine, &host))));
            }
        }
        // Only now: a watcher must be able to find what it is told about in the store.
        self.push_finished(pushes);
        // Acknowledged with the next bundle to this engine, or on its own at the end of the turn.
        self.pending_acks.entry(engine).or_default().extend(ids);
        Ok(())
    }

    /// Count a recorded final result in the run's summary.
    pub(crate) fn count_final(&mut self, result: &TaskResult) {
        if result.succeeded() {
            self.summary.succeeded += 1;
        } else {
            self.summary.failed += 1;
        }
        // Any final result may make the store schedulable again: it may be the last of its
        // group to finish (the next group opens) or a failure due a retry.
        self.store_dirty = true;
    }

    /// Find the task a result answers and end whatever held it: its lease (on this engine or,
    /// if it was requeued and handed out again, another one), its place in the queue, or its
    /// place among a previous controller's orphans.
    /// Fold the run times of `results` into `engine`'s mean, and let its capacity follow.
    fn follow_run_times(&mut self, engine: Uuid, results: &[TaskResult]) {
        let fixed = self.cfg.prefetch;
        let Some(info) = self.registry.get_mut(&engine) else {
            return;
        };
        for r in results {
            if let Some(took) = r
                .start_time
                .and_then(|s| (r.completion_time - s).to_std().ok())
            {
                info.runs.observe(took);
            }
        }
        info.capacity = prefetch::capacity(info.slots, fixed, &info.runs);
    }

    fn settle(&mut self, engine: Uuid, id: &Uuid) -> Option<Task> {
        if let Some(lease) = self.registry.lease_of(id) {
            if lease.engine != engine {
                tracing::debug!(
                    "task {id} finished on engine {engine} while leased to {}: first result wins",
                    lease.engine
                );
            }
            return self.registry.release(id).map(|l| l.task);
        }
        self.queue
            .take_requeued(id)
            .or_else(|| self.orphans.remove(id))
    }
}
