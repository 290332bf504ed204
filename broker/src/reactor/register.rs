//! An engine introduces itself — for the first time, or again after losing this controller (or
//! being evicted by it). A returning engine reports what it is running and what it finished;
//! the broker reconciles instead of running that work again.

use std::sync::Arc;
use std::time::Instant;

use hs_engine::protocol::{Cancel, Drain, Register, Welcome};
use hs_engine::task::Task;

use super::Core;
use crate::broker::RunError;
use crate::ids::IdSet;
use crate::prefetch::{self, RunTime};
use crate::registry::EngineInfo;
use crate::sink::ResultSink;
use crate::store::EngineRecord;

impl Core {
    pub(super) fn register(
        &mut self,
        r: Register,
        now: Instant,
        sink: &mut dyn ResultSink,
    ) -> Result<(), RunError> {
        let engine = r.engine_id;
        let returning = self.registry.get(&engine).is_some();
        let runs = self
            .registry
            .get(&engine)
            .map_or_else(RunTime::default, |e| e.runs);
        let capacity = prefetch::capacity(r.slots, self.cfg.prefetch, &runs);
        self.registry.add(EngineInfo {
            id: engine,
            host: r.host.clone(),
            host_key: crate::hosts::host_key(&r.host),
            slots: r.slots,
            pid: r.pid,
            capacity,
            runs,
            done: self.registry.get(&engine).map_or(0, |e| e.done),
            last_heard: now,
            registered_at: now,
            drained: false,
            unreachable: false,
            handed_back: self.registry.get(&engine).map_or(0, |e| e.handed_back),
            // A request it had not answered is void: its queue was given up or reported anew.
            asked: None,
            declined_at: None,
            resources: r.resources.clone().unwrap_or_default(),
        });
        let welcome = Welcome {
            controller_id: self.cfg.controller_id,
            controller_host: Some(self.scheduler.server_host.clone()),
            nonce: r.nonce,
            heartrate_ms: self.cfg.heartrate.as_millis() as u64,
            evict_ms: self.cfg.evict.as_millis() as u64,
            capacity,
            output: self.uploads.as_ref().map(|u| u.offer()),
        };
        self.tell_engine(engine, welcome);
        if !returning {
            let record = EngineRecord {
                id: engine,
                host: r.host.clone(),
                server_id: self.cfg.controller_id,
                server_host: self.scheduler.server_host.clone(),
                connected_at: chrono::Utc::now(),
            };
            match self.store.engine_connected(&record) {
                // Only a record for `hs list`-like readers: an outage does not hold the engine up.
                Err(e) if e.is_transient() => {
                    tracing::debug!("engine {engine} not recorded as connected: {e}")
                }
                other => other?,
            }
        }
        if returning || !r.running.is_empty() || !r.finished.is_empty() {
            tracing::info!(
                "engine {engine} on {} registered again: {} running, {} finished to report",
                r.host,
                r.running.len(),
                r.finished.len()
            );
        } else if self.cfg.announce_engines {
            tracing::info!("engine {engine} joined from {} ({} slots)", r.host, r.slots);
        } else {
            tracing::debug!("engine {engine} joined from {} ({} slots)", r.host, r.slots);
        }

        // Tasks it runs: keep (or take back) their leases so they are not run twice.
        let mut still_held = IdSet::default();
        // Tasks it runs that are no longer anyone's to run: cancelled (or finished elsewhere)
        // while it was away. Their results would be ignored, so they are stopped.
        let mut settled_meanwhile = Vec::new();
        for held in &r.running {
            still_held.insert(held.id);
            match self.registry.lease_of(&held.id) {
                Some(lease) if lease.engine == engine => {}
                // Leased anew to another engine meanwhile: that run is the one that counts (a
                // result under the old lease is not recorded), so this one stops.
                Some(_) => settled_meanwhile.push(held.id),
                None => {
                    // Requeued after its engine was presumed lost, or running since before a
                    // controller restart: it is still running there, so it is not run again.
                    let task = self
                        .queue
                        .take_requeued(&held.id, &engine, held.lease)
                        .or_else(|| self.orphans.remove(&held.id));
                    match task {
                        Some(task) => self.registry.adopt(task, engine, held.lease),
                        None => settled_meanwhile.push(held.id),
                    }
                }
            }
        }
        if !settled_meanwhile.is_empty() {
            tracing::info!(
                "engine {engine} still runs {} tasks settled or handed to other engines while it \
                 was away: stopping them",
                settled_meanwhile.len()
            );
            self.tell_engine(
                engine,
                Cancel {
                    ids: settled_meanwhile,
                },
            );
        }
        // Tasks it gave up unstarted while it could not reach us: those still its own (not
        // requeued at its eviction), and those a previous controller handed out, go back.
        let returned = self.take_back(engine, &r.returned);
        let orphans: Vec<Arc<Task>> = r
            .returned
            .iter()
            .filter_map(|h| self.orphans.remove(&h.id))
            .collect();
        // A previous controller's tasks run again only in a run that takes every task
        // (`--restart`, `--forever`) or resumed their input; otherwise they stay marked as
        // handed out in the store, where a `--restart` finds them (as at the end of
        // reconciliation).
        let orphans: Vec<Arc<Task>> = orphans
            .into_iter()
            .filter(|t| self.runs_orphan(t))
            .collect();
        if !returned.is_empty() || !orphans.is_empty() {
            tracing::info!(
                "engine {engine} gave back {} tasks it did not start: requeued",
                returned.len() + orphans.len()
            );
            self.requeue(returned)?;
            self.queue.push_first(orphans);
        }
        // Results it kept while it could not reach us.
        let finished_ids: Vec<_> = r.finished.iter().map(|f| f.id).collect();
        still_held.extend(finished_ids.iter().copied());
        if !r.finished.is_empty() {
            self.results(engine, r.finished, sink)?;
        }
        // Leases it no longer knows about were lost in transit: put them back.
        let lost = self.registry.unaccounted(&engine, &still_held);
        if !lost.is_empty() {
            let tasks: Vec<_> = lost
                .iter()
                .filter_map(|id| self.registry.release(id))
                .collect();
            tracing::info!(
                "engine {engine} does not hold {} tasks leased to it: requeued",
                tasks.len()
            );
            self.requeue(tasks)?;
        }
        // Joined (or came back) after the others were drained, or while this controller stops:
        // nothing will come, so it is told now.
        if self.summary.aborted || self.stopping {
            let drain = Drain {
                stop: self.summary.aborted,
                release: true,
            };
            self.drain_engine(engine, drain);
        } else if self.work_done() {
            self.drain_engine(engine, Drain::default());
        }
        Ok(())
    }
}
