//! How an engine stops: an abort hands back its queue and stops running tasks; a release or a
//! give-back returns unstarted tasks; leaving says goodbye once nothing is owed.

use super::*;

impl Engine {
    /// Empty the doorbell: the slots only ring it to wake this loop.
    pub(super) fn ring_off(&mut self) -> Result<(), EngineError> {
        crate::transport::recv_waiting(&self.done, usize::MAX)
            .map(drop)
            .map_err(zmq_err("receiving from executor slots"))
    }

    /// First abort request: hand back the queue, stop running tasks (they are handed back too).
    pub(super) fn abort(&mut self) {
        if self.aborting {
            return;
        }
        self.aborting = true;
        let (_, running) = self.release_queue();
        if running > 0 {
            tracing::info!("stopping {running} running tasks");
        }
        self.stop_all(StopReason::Shutdown);
    }

    /// First drain request (SIGUSR1, or the controller stopped scheduling): hand back the queue,
    /// let the running tasks finish.
    pub(super) fn release(&mut self) {
        if self.releasing {
            return;
        }
        match self.release_queue() {
            (0, 0) => tracing::info!("draining: this engine holds no tasks"),
            (queued, running) => tracing::info!(
                "draining: {queued} tasks not started handed back; waiting for {running} running \
                 tasks"
            ),
        }
    }

    /// Take no new work and hand back every task not started yet; returns how many were handed
    /// back and how many run. Slots take tasks from the queue under the same lock, so a task is
    /// either started here or handed back, never both.
    pub(super) fn release_queue(&mut self) -> (usize, usize) {
        self.releasing = true;
        self.draining = true;
        let (queued, running) = self
            .board
            .with(|b| (b.queue.drain(..).collect::<Vec<_>>(), b.running.len()));
        self.summary.returned += queued.len() as u64;
        self.returned.extend(queued.iter().map(Held::from));
        (queued.len(), running)
    }

    /// While releasing: tell the controller (once per registration) to send nothing more, with
    /// the tasks handed back so far, and again whenever more come back. Without a registration
    /// nothing is sent: registering again leaves them out of what the engine holds, which gives
    /// them back as well.
    pub(super) fn send_leaving(&mut self) {
        if !self.releasing
            || !self.link.is_registered()
            || (self.told_leaving && self.returned.is_empty())
        {
            return;
        }
        let leaving = Leaving {
            returned: std::mem::take(&mut self.returned),
        };
        if self.send(&leaving) {
            self.told_leaving = true;
        } else {
            self.returned = leaving.returned;
        }
    }

    pub(super) fn stop_all(&self, reason: StopReason) {
        if let Some(slots) = &self.slots {
            slots.stop_running(|_| true, reason);
        }
    }

    /// Done when draining and nothing is queued, running, waiting for an acknowledgement or
    /// being uploaded (an abort does not wait for acknowledgements or uploads: the controller is
    /// going away too, nor does an engine that gave up on an unreachable controller; files not
    /// uploaded stay in the capture folder).
    pub(super) fn finished(&self) -> bool {
        self.draining
            && self.suspects.is_empty()
            && self
                .board
                .with(|b| b.queue.is_empty() && b.running.is_empty() && b.done.is_empty())
            && (self.unsent.is_empty()
                || (self.aborting && !self.link.is_registered())
                || self.abandoned())
            && (self.aborting || self.unacked.is_empty() || self.abandoned())
            && (self.aborting || self.uploads.is_empty() || self.abandoned())
    }

    /// Say bye, registered or not: an engine stopped while its registration was on the way
    /// may already hold leases there, which the bye hands back (a controller that does not know
    /// it just ignores it).
    pub(super) fn leave(&mut self) {
        let bye = Bye {
            returned: std::mem::take(&mut self.returned),
        };
        self.send(&bye);
        tracing::debug!(
            "engine leaving: {} done, {} failed, {} handed back",
            self.summary.done,
            self.summary.failed,
            self.summary.returned
        );
    }
}
