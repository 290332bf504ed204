//! Telling watching clients about final results, once the store has them.
//!
//! Pushes never block and never fail the broker: a push to a client between connections (or
//! whose queue is full) is kept until it is heard again (`held.rs`), within bounds; one past
//! them, or to a client gone for good, is missed (the client learns of it from the gap), and
//! the result stays in the store for `hs list`/`hs info`.

use std::collections::HashMap;

use hs_engine::protocol::{Finished, FinishedTask};

use super::Core;
use crate::store::TaskRecord;
use crate::wire::finished_from_record;

/// Most results in one `finished` message (a few hundred kilobytes at most).
const PUSH_BUNDLE: usize = 1000;

impl Core {
    /// Push recorded results to the clients that watch them, one message per client (per
    /// [`PUSH_BUNDLE`]); results nobody watches are skipped.
    pub(super) fn push_finished(&mut self, done: impl IntoIterator<Item = FinishedTask>) {
        let mut by_client: HashMap<Vec<u8>, Vec<FinishedTask>> = HashMap::new();
        for f in done {
            if let Some(client) = self.watchers.finished(&f.id) {
                by_client.entry(client).or_default().push(f);
            }
        }
        for (client, results) in by_client {
            for bundle in results.chunks(PUSH_BUNDLE) {
                let body = Finished {
                    results: bundle.to_vec(),
                };
                self.tell_client(client.clone(), body);
            }
        }
    }

    /// Push rows the store settled by itself (cancellations) to whoever watches them.
    pub(super) fn push_records(&mut self, rows: &[TaskRecord]) {
        if self.watchers.is_empty() {
            return;
        }
        let watched: Vec<FinishedTask> = rows
            .iter()
            .filter(|r| self.watchers.is_watched(&r.id))
            .map(finished_from_record)
            .collect();
        self.push_finished(watched);
    }
}
