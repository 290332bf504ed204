//! Recording results: exactly once per task, the first final result wins.

use hs_engine::protocol::Ack;
use hs_engine::task::TaskResult;
use uuid::Uuid;

use crate::broker::Broker;
use crate::sink::ResultSink;

impl Broker {
    /// Record `results` from `engine` and acknowledge all of them (duplicates included, so the
    /// engine can forget them).
    pub(crate) fn results(
        &mut self,
        engine: Uuid,
        results: Vec<TaskResult>,
        sink: &mut dyn ResultSink,
    ) {
        let mut ids = Vec::with_capacity(results.len());
        for result in results {
            ids.push(result.id);
            let task = match self.registry.lease_of(&result.id) {
                Some(lease) => {
                    if lease.engine != engine {
                        tracing::debug!(
                            "task {} finished on engine {engine} while leased to {}: first result wins",
                            result.id,
                            lease.engine
                        );
                    }
                    self.registry.release(&result.id).map(|l| l.task)
                }
                // Requeued after its engine was presumed lost, but it finished after all.
                None => self.queue.take_requeued(&result.id),
            };
            let Some(task) = task else {
                tracing::debug!(
                    "duplicate result for task {} from engine {engine}: ignored",
                    result.id
                );
                continue;
            };
            if result.succeeded() {
                self.summary.succeeded += 1;
            } else {
                self.summary.failed += 1;
            }
            if let Some(info) = self.registry.get_mut(&engine) {
                info.done += 1;
            }
            if let Some(info) = self.registry.get(&engine) {
                sink.task_finished(&task, &result, info);
            }
        }
        if !ids.is_empty() {
            self.send_to_engine(engine, &Ack { ids });
        }
    }
}
