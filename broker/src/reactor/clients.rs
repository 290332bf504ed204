//! The client API: submit work (watched or not), ask for status, cancel, ask for a drain.

use std::time::Instant;

use crate::store::TaskRecord;
use hs_engine::protocol::{
    Drained, EngineStatus, FromClient, Refused, StatusReply, StatusTotals, Submit, Submitted,
    ToClient,
};
use uuid::Uuid;

use super::Core;
use crate::broker::RunError;
use crate::control::RunControl;
use crate::sink::ResultSink;

/// Most tasks accepted (or cancelled) in one message.
const MAX_SUBMIT: usize = 100_000;

impl Core {
    /// One decoded request from the client at `identity`, answered in order.
    pub fn on_client(
        &mut self,
        identity: Vec<u8>,
        sender: Uuid,
        request: FromClient,
        sink: &mut dyn ResultSink,
        control: &RunControl,
    ) -> Result<(), RunError> {
        match request {
            FromClient::Submit(s) => self.submit(identity, sender, s, sink)?,
            FromClient::Status(_) => {
                let status = self.status();
                self.reply(identity, status);
            }
            FromClient::Cancel(c) if c.ids.len() > MAX_SUBMIT => self.refuse_client(
                identity,
                format!("too many ids in one cancel (limit {MAX_SUBMIT}): send smaller ones"),
            ),
            FromClient::Cancel(c) => {
                let reply = self.cancel_for_client(c.ids)?;
                self.reply(identity, reply);
            }
            FromClient::Drain(_) => {
                tracing::info!("a client asked to drain: finishing queued work, then stopping");
                control.drain();
                // Refuse new work from this moment, not from the next turn of the loop.
                self.input_done = true;
                // "Queued" includes tasks other processes (`hs submit`) put in the store
                // since it was last polled: look once more before calling the work done.
                self.store_dirty = true;
                self.reply(identity, Drained {});
            }
        }
        Ok(())
    }

    fn submit(
        &mut self,
        client: Vec<u8>,
        sender: Uuid,
        submit: Submit,
        sink: &mut dyn ResultSink,
    ) -> Result<(), RunError> {
        if self.input_done {
            self.refuse_client(
                client,
                "the controller is draining and accepts no new tasks".into(),
            );
            return Ok(());
        }
        if let Err(reason) = self.admissible(&client, &submit) {
            self.refuse_client(client, reason);
            return Ok(());
        }
        let watched: Vec<bool> = std::iter::repeat_n(false, submit.args.len())
            .chain(submit.tasks.iter().map(|t| t.watch))
            .collect();
        let host = submit.host;
        let mut rows: Vec<TaskRecord> = submit
            .args
            .into_iter()
            .map(|args| TaskRecord::new(args, sender, host.clone()))
            .collect();
        rows.extend(
            submit
                .tasks
                .into_iter()
                .map(|spec| crate::wire::from_spec(spec, sender, host.clone())),
        );
        self.own(&rows);
        // Committed before it is acknowledged.
        self.store.submit(&rows)?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let watch = ids
            .iter()
            .zip(&watched)
            .filter(|(_, w)| **w)
            .map(|(id, _)| *id);
        self.watchers.watch(&client, watch);
        self.summary.submitted += ids.len() as u64;
        self.unscheduled += ids.len() as u64;
        self.store_dirty = true;
        sink.tasks_submitted(ids.len() as u64);
        self.reply(client, Submitted { ids });
        Ok(())
    }

    /// Why a submit cannot be taken as a whole, if it cannot: too big, a task with no command, or
    /// more watched tasks than this client may still have open.
    fn admissible(&self, client: &[u8], submit: &Submit) -> Result<(), String> {
        let total = submit.args.len() + submit.tasks.len();
        if total > MAX_SUBMIT {
            return Err(format!(
                "too many tasks in one message (limit {MAX_SUBMIT}): send smaller bundles"
            ));
        }
        if let Some(n) = submit.tasks.iter().position(|t| t.args.trim().is_empty()) {
            return Err(format!(
                "task {} of the message has an empty command",
                n + 1
            ));
        }
        let watched = submit.tasks.iter().filter(|t| t.watch).count();
        let room = self.watchers.room(client);
        if watched > room {
            return Err(format!(
                "this client already waits for {} unfinished watched tasks (limit {}): \
                 wait for some results before submitting more",
                self.watchers.limit() - room,
                self.watchers.limit()
            ));
        }
        Ok(())
    }

    /// The status snapshot: totals over every engine, but rows for the busiest
    /// [`StatusReply::MAX_ENGINES`] only (then by host), so the reply stays small however many
    /// engines there are.
    fn status(&self) -> StatusReply {
        let now = Instant::now();
        let mut totals = StatusTotals {
            unscheduled: self.unscheduled,
            ..StatusTotals::default()
        };
        let mut engines: Vec<EngineStatus> = self
            .registry
            .engines()
            .map(|e| {
                let busy = self.registry.held_by(&e.id).min(e.slots as usize) as u32;
                totals.engines += 1;
                totals.slots += u64::from(e.slots);
                totals.busy += u64::from(busy);
                EngineStatus {
                    engine_id: e.id,
                    host: e.host.clone(),
                    slots: e.slots,
                    busy,
                    done: e.done,
                    last_heard_ms: now.duration_since(e.last_heard).as_millis() as u64,
                }
            })
            .collect();
        let order = |a: &EngineStatus, b: &EngineStatus| {
            b.busy
                .cmp(&a.busy)
                .then_with(|| a.host.cmp(&b.host))
                .then(a.engine_id.cmp(&b.engine_id))
        };
        if engines.len() > StatusReply::MAX_ENGINES {
            engines.select_nth_unstable_by(StatusReply::MAX_ENGINES, order);
            engines.truncate(StatusReply::MAX_ENGINES);
        }
        engines.sort_by(order);
        let (finished, window) = self.activity.recent(now);
        totals.finished_recently = finished;
        totals.window_ms = window.as_millis() as u64;
        StatusReply {
            controller_id: self.cfg.controller_id,
            queued: self.queue.len() as u64,
            running: self.registry.lease_count() as u64,
            succeeded: self.summary.succeeded,
            failed: self.summary.failed,
            engines,
            totals: Some(totals),
            failures: self.activity.failures(now),
        }
    }

    /// A request the controller will not serve (also one signed but not decodable, from the run
    /// loop): answered `refused` in its place among the replies.
    pub fn refuse_client(&mut self, client: Vec<u8>, reason: String) {
        self.reply(client, Refused { reason });
    }

    fn reply(&mut self, client: Vec<u8>, msg: impl Into<ToClient>) {
        // A client that went away does not matter to anyone else.
        self.tell_client(client, msg);
    }
}
