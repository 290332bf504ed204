//! Finished tasks on their way to the controller: taken off the slots' board, bundled, sent once
//! enough are done or the oldest has waited long enough, kept until acknowledged, and handed back
//! instead when the run was cut short.

use super::*;

impl Engine {
    /// Take the slots' finished results off the board (the bundle they make stays armed).
    pub(super) fn collect_done(&mut self) {
        let finished = self.board.with(|b| std::mem::take(&mut b.done));
        self.absorb(finished);
    }

    /// Count finished results, and queue them to send (or, if the run was cut short by a
    /// shutdown or by the signal that drains this engine, to hand back).
    pub(super) fn absorb(&mut self, finished: Vec<SlotDone>) {
        for done in finished {
            if done.interrupted == Some(StopReason::LeaseLost) {
                self.lease_lost(&done.result);
            } else if done.interrupted.is_some() {
                self.summary.interrupted += 1;
                self.hand_back(&done.result);
            } else if killed_by_stop_signal(&done.result) {
                if self.signalled.is_some() {
                    self.hand_back_victim(&done.result);
                } else {
                    self.suspects.push((done, Instant::now()));
                }
            } else {
                self.report(done.result);
            }
        }
    }

    pub(super) fn report(&mut self, mut result: TaskResult) {
        result.upload = self.will_upload(&result);
        self.summary.done += 1;
        if !result.succeeded() {
            self.summary.failed += 1;
        }
        if result.outcome == Outcome::OutputError {
            self.summary.output_lost += 1;
        }
        self.unsent_since.get_or_insert_with(Instant::now);
        self.unsent.push(result);
    }

    pub(super) fn hand_back(&mut self, result: &TaskResult) {
        self.summary.returned += 1;
        self.returned.push(Held {
            id: result.id,
            lease: result.lease,
        });
    }

    pub(super) fn hand_back_victim(&mut self, result: &TaskResult) {
        let name = match result.signal {
            Some(libc::SIGUSR1) => "SIGUSR1",
            _ => "SIGUSR2",
        };
        tracing::info!(
            "task {} was killed by the {name} sent to this engine's whole job: handed back to \
             run again",
            result.id
        );
        self.hand_back(result);
    }

    /// Decide on the tasks killed by SIGUSR1/SIGUSR2: handed back once this engine got such a
    /// signal too, reported as they ended once [`SIBLING_WINDOW`] passed without one.
    pub(super) fn settle_suspects(&mut self, now: Instant) {
        if self.suspects.is_empty() {
            return;
        }
        let suspects = std::mem::take(&mut self.suspects);
        for (done, since) in suspects {
            if self.signalled.is_some() {
                self.hand_back_victim(&done.result);
            } else if now.duration_since(since) >= SIBLING_WINDOW {
                self.report(done.result);
            } else {
                self.suspects.push((done, since));
            }
        }
    }

    /// Send finished results once a bundle's worth is ready (see [`BoardState::bundle_full`]), the
    /// oldest has waited [`RESULT_LINGER`] (or `-w`), or there is nothing left to wait for: no
    /// task running, none queued here (the controller must hear back to send more), draining.
    pub(super) fn flush_results(&mut self) {
        if !self.link.is_registered() {
            return;
        }
        let waited = self
            .unsent_since
            .is_none_or(|t| t.elapsed() >= self.cfg.result_wait);
        let (unsent, draining) = (self.unsent.len(), self.draining);
        let bundle = self.board.with(|b| {
            let ready = unsent + b.done.len();
            let quiet = b.running.is_empty() || b.queue.is_empty();
            let send = ready > 0 && (waited || b.bundle_full(ready) || quiet || draining);
            send.then(|| b.take_bundle())
        });
        let Some(finished) = bundle else {
            return;
        };
        self.absorb(finished);
        self.unsent_since = None;
        // Large commands make large results: each message stays within a frame.
        let bundles = crate::bundle::split(std::mem::take(&mut self.unsent), |r| {
            crate::bundle::result_bytes(r)
        });
        for results in bundles {
            let results = Results { results };
            if self.send(&results) {
                self.unacked
                    .extend(results.results.into_iter().map(|r| (r.id, r)));
            } else {
                self.unsent.extend(results.results);
            }
        }
    }
}

/// `results` cut for a registration, which is one message: the first bundle's worth (see
/// `bundle`) goes in it, the rest follow as result bundles once the engine is welcomed.
pub(super) fn for_registration(results: Vec<TaskResult>) -> (Vec<TaskResult>, Vec<TaskResult>) {
    let mut bundles = crate::bundle::split(results, crate::bundle::result_bytes).into_iter();
    let first = bundles.next().unwrap_or_default();
    (first, bundles.flatten().collect())
}

/// Whether a task died of SIGUSR1 or SIGUSR2, the signals that drain an engine.
fn killed_by_stop_signal(result: &TaskResult) -> bool {
    result.outcome == Outcome::Signaled
        && matches!(result.signal, Some(libc::SIGUSR1 | libc::SIGUSR2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::MAX_TASK_BYTES;

    fn result(command_bytes: usize) -> TaskResult {
        let mut r = TaskResult::not_run(Uuid::new_v4(), 1, Outcome::Exited, 1, None);
        r.command = Some("c".repeat(command_bytes));
        r
    }

    #[test]
    fn a_registration_carries_one_bundle_of_results_and_the_rest_follow() {
        let small: Vec<TaskResult> = (0..3).map(|_| result(10)).collect();
        let (now, later) = for_registration(small);
        assert_eq!((now.len(), later.len()), (3, 0));
        // Six of 8 MiB: three fill a bundle, so the registration stays within a frame.
        let big: Vec<TaskResult> = (0..6).map(|_| result(MAX_TASK_BYTES)).collect();
        let ids: Vec<Uuid> = big.iter().map(|r| r.id).collect();
        let (now, later) = for_registration(big);
        assert_eq!((now.len(), later.len()), (3, 3));
        let order: Vec<Uuid> = now.iter().chain(&later).map(|r| r.id).collect();
        assert_eq!(order, ids);
    }
}
