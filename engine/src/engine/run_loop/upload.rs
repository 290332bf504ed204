//! Captured output sent to the controller: which results announce it, when an upload starts
//! (once the result is acknowledged, so the controller has recorded who ran the task), and its
//! messages, sent after each turn's results (see `engine/uploads.rs`).

use super::*;
use crate::protocol::{FileKind, OutputOffer};

impl Engine {
    /// A controller welcomed this engine: upload to it when it takes uploads and its capture
    /// folder is not this engine's (an in-process engine, or one on its host with its site,
    /// writes straight into it already).
    pub(super) fn upload_to(&mut self, controller: Uuid, offer: Option<OutputOffer>) {
        let offer = match (&self.cfg.output.capture_dir, offer) {
            (Some(dir), Some(offer))
                if !super::super::uploads::shares_folder(dir, controller, &offer.mark) =>
            {
                Some(offer)
            }
            _ => None,
        };
        self.uploads.welcomed(offer);
    }

    /// Whether `result`'s captured files will follow it: this engine uploads, and they are
    /// in its capture folder (a job's own files stay where the job put them).
    pub(super) fn will_upload(&self, result: &TaskResult) -> bool {
        let Some(dir) = &self.cfg.output.capture_dir else {
            return false;
        };
        let captured = |p: &Option<String>| {
            p.as_deref()
                .is_some_and(|p| Path::new(p).parent() == Some(dir))
        };
        self.uploads.uploading() && (captured(&result.outpath) || captured(&result.errpath))
    }

    /// `result` was acknowledged: its captured files, if it announced them, go next.
    pub(super) fn upload_files(&mut self, result: &TaskResult) {
        if !result.upload {
            return;
        }
        for (kind, path) in [
            (FileKind::Out, &result.outpath),
            (FileKind::Err, &result.errpath),
        ] {
            if let Some(path) = path {
                self.uploads.add(result.id, kind, Path::new(path));
            }
        }
    }

    /// Send what the uploads have ready; a message that cannot leave loses its session's
    /// place, and the upload is opened again.
    pub(super) fn send_uploads(&mut self) {
        if !self.link.is_registered() {
            return;
        }
        for msg in self.uploads.next() {
            if !self.send(&msg) {
                self.uploads.restart();
                return;
            }
        }
    }
}
