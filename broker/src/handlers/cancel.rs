//! Cancels made by other processes (`hs update --cancel`): the store records them, and the
//! controller notices them here, once a heartbeat, among the tasks it has already taken from
//! the store. Waiting ones are dropped; leased ones are stopped by their engines.

use std::collections::{HashMap, HashSet};

use hs_engine::protocol::Cancel;
use uuid::Uuid;

use crate::broker::{Broker, BrokerError};

impl Broker {
    pub(crate) fn apply_cancels(&mut self) -> Result<(), BrokerError> {
        if !self.cfg.watch_cancels || (self.queue.is_empty() && self.registry.lease_count() == 0) {
            return Ok(());
        }
        let mut ids: Vec<Uuid> = self.queue.ids().collect();
        ids.extend(self.registry.leased().map(|(task, _)| task));
        let finished: HashSet<Uuid> = self.store.finished_among(&ids)?.into_iter().collect();
        if finished.is_empty() {
            return Ok(());
        }
        let dropped = self.queue.remove(&finished);
        let mut by_engine: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (task, engine) in self.registry.leased() {
            if finished.contains(&task) {
                by_engine.entry(engine).or_default().push(task);
            }
        }
        let stopping: usize = by_engine.values().map(Vec::len).sum();
        tracing::info!(
            "cancelled in the store: {dropped} waiting tasks dropped, {stopping} running tasks being stopped"
        );
        for (engine, ids) in by_engine {
            self.send_to_engine(engine, &Cancel { ids });
        }
        Ok(())
    }
}
