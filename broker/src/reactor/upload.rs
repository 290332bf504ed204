//! Engines' captured output: the uploads a recorded result announces, and the engines'
//! `output_open` and `output_data` messages, answered at once (see `uploads.rs`).

use hs_engine::protocol::{FileKind, OutputData, OutputOpen};
use hs_engine::task::TaskResult;
use uuid::Uuid;

use super::Core;
use crate::uploads::Recorded;

impl Core {
    /// `result`, recorded from `engine`, says its captured files follow: expect them.
    pub(super) fn expect_uploads(&mut self, engine: Uuid, result: &TaskResult) {
        let Some(uploads) = self.uploads.as_mut().filter(|_| result.upload) else {
            return;
        };
        for (kind, path) in result.files() {
            if path.is_some() {
                uploads.expect(result.id, kind, engine);
            }
        }
    }

    pub(super) fn output_open(&mut self, engine: Uuid, open: OutputOpen) {
        let Some(uploads) = self.uploads.as_mut() else {
            // Never offered: an engine that opens one anyway is told no.
            return self.tell_engine(engine, no_uploads(open.id, open.kind));
        };
        let store = &mut self.store;
        let mut lookup = |id: &Uuid| {
            store.get(id).ok().flatten().map(|r| Recorded {
                engine: r.client_id,
                outpath: r.outpath,
                errpath: r.errpath,
                csvpath: r.csvpath,
            })
        };
        let reply = uploads.open(engine, open, &mut lookup);
        self.tell_engine(engine, reply);
    }

    /// Uploads refused so far (a task the engine did not run, an offset out of turn, data past
    /// the limit).
    pub fn uploads_refused(&self) -> u64 {
        self.uploads.as_ref().map_or(0, |u| u.refused())
    }

    pub(super) fn output_data(&mut self, engine: Uuid, data: OutputData) {
        let reply = match self.uploads.as_mut() {
            Some(uploads) => uploads.data(engine, data),
            None => no_uploads(data.id, data.kind).into(),
        };
        self.tell_engine(engine, reply);
    }
}

fn no_uploads(id: Uuid, kind: FileKind) -> hs_engine::protocol::OutputRefused {
    hs_engine::protocol::OutputRefused {
        id,
        kind,
        reason: "this controller takes no uploads".into(),
    }
}
