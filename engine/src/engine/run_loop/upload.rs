//! Captured output and monitor samples sent to the controller: which results announce them,
//! when an upload starts (once the result is acknowledged, so the controller has recorded who
//! ran the task), and its messages, sent after each turn's results (see `engine/uploads.rs`).

use super::*;
use crate::protocol::OutputOffer;

impl Engine {
    /// Where this engine writes the files of its tasks it would upload: the capture folder
    /// (`--capture`), or with `--monitor` alone the task folder its samples go to (the same
    /// `<site>/lib/task`).
    fn task_files_dir(&self) -> Option<&Path> {
        self.cfg
            .output
            .capture_dir
            .as_deref()
            .or(if self.cfg.monitor {
                self.cfg.task_dir.as_deref()
            } else {
                None
            })
    }

    /// A controller welcomed this engine: upload to it when it takes uploads and its task
    /// folder is not this engine's (an in-process engine, or one on its host with its site,
    /// writes straight into it already).
    pub(super) fn upload_to(&mut self, controller: Uuid, offer: Option<OutputOffer>) {
        let offer = match (self.task_files_dir(), offer) {
            (Some(dir), Some(offer))
                if !super::super::uploads::shares_folder(dir, controller, &offer.mark) =>
            {
                Some(offer)
            }
            _ => None,
        };
        self.uploads.welcomed(offer);
    }

    /// Whether `result`'s files will follow it: this engine uploads, and they are in its
    /// task folder (a job's own files stay where the job put them).
    pub(super) fn will_upload(&self, result: &TaskResult) -> bool {
        let Some(dir) = self.task_files_dir() else {
            return false;
        };
        self.uploads.uploading()
            && result
                .files()
                .iter()
                .any(|(_, p)| p.is_some_and(|p| Path::new(p).parent() == Some(dir)))
    }

    /// `result` was acknowledged: its captured files, if it announced them, go next.
    pub(super) fn upload_files(&mut self, result: &TaskResult) {
        if !result.upload {
            return;
        }
        for (kind, path) in result.files() {
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
