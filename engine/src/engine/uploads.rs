//! Captured output on its way to the controller (`--capture` on an engine whose capture folder
//! is not the controller's; see `OutputOffer` in the protocol for how that is told).
//!
//! Once the controller has acknowledged a task's result, each of its captured files is uploaded
//! in turn: opened (`output_open`, the controller answers where to start: 0, or further when it
//! already holds part of it), then sent in chunks of [`CHUNK_BYTES`] read from the file as they
//! go, with at most [`UPLOAD_WINDOW`] chunks unacknowledged per connection. The file stays here
//! until the controller says it holds all of it, then it is deleted; a new session (a
//! reconnect, a restarted controller) opens the upload again and it goes on from what the
//! controller holds. A file larger than the controller's `server.maxoutput` is sent up to that
//! size, and said once in the log. A refused upload is opened again (a chunk that arrived out of
//! turn, say, after a reconnect) up to [`MAX_REFUSALS`] times; then, or when its open is refused,
//! the engine gives it up and keeps its file, saying where.
//!
//! This is a state machine over the files and the messages: the run loop sends what
//! [`Uploads::next`] returns and feeds back the controller's answers.

use std::collections::VecDeque;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::protocol::{
    CHUNK_BYTES, FileKind, FromEngine, OutputAck, OutputData, OutputOffer, OutputOpen,
    OutputRefused,
};

/// Most chunks unacknowledged on one connection: four chunks are a megabyte, enough to keep a
/// LAN busy while a chunk is written at the other end, and all the controller may have to hold
/// of this engine's uploads at once.
pub const UPLOAD_WINDOW: usize = 4;

/// Refusals of one upload after which the engine stops trying and keeps its file.
pub const MAX_REFUSALS: u32 = 3;

#[derive(Debug, PartialEq)]
enum State {
    /// To be opened (first, or again in a new session).
    Closed,
    /// `output_open` sent, its answer not yet here.
    Opening,
    /// Sending from `next`; `in_flight` holds the end offsets of chunks not yet acknowledged.
    Sending { next: u64, in_flight: VecDeque<u64> },
}

#[derive(Debug)]
struct Upload {
    id: Uuid,
    kind: FileKind,
    path: PathBuf,
    /// Bytes to send: the file's size, at most the controller's limit.
    size: u64,
    /// The file's size when it was cut to `size`.
    cut_from: Option<u64>,
    state: State,
    refusals: u32,
}

/// The uploads of one engine, in the order their results were acknowledged; only the first is
/// being sent, so the window is the connection's.
#[derive(Debug, Default)]
pub struct Uploads {
    queue: VecDeque<Upload>,
    /// The current controller's offer, when this engine uploads to it.
    offer: Option<OutputOffer>,
}

impl Uploads {
    /// A new session was welcomed: `offer` is what its controller takes (`None`: nothing, or
    /// the capture folder is the controller's own). Every upload is opened again; with no
    /// offer they are given up and their files stay here.
    pub fn welcomed(&mut self, offer: Option<OutputOffer>) {
        self.offer = offer;
        if self.offer.is_none() {
            for u in self.queue.drain(..) {
                tracing::warn!(
                    "the controller takes no uploads: the {} of task {} stays at {}",
                    u.kind.stream(),
                    u.id,
                    u.path.display()
                );
            }
        }
        self.restart();
    }

    /// The messages of this session were lost (it ended, or a send failed): open again.
    pub fn restart(&mut self) {
        for u in &mut self.queue {
            u.state = State::Closed;
        }
    }

    /// Whether results should say their captured files follow (`TaskResult::upload`).
    pub fn uploading(&self) -> bool {
        self.offer.is_some()
    }

    /// Nothing is left to send.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The result of task `id` was acknowledged: upload its captured file `kind` at `path`.
    pub fn add(&mut self, id: Uuid, kind: FileKind, path: &Path) {
        let Some(offer) = &self.offer else {
            return;
        };
        // A task that never started has no file: an empty one is what it wrote.
        let whole = std::fs::metadata(path).map_or(0, |m| m.len());
        let size = whole.min(offer.max_bytes);
        let cut_from = (whole > size).then_some(whole);
        if cut_from.is_some() {
            tracing::warn!(
                "the {} of task {id} is {whole} bytes: only its first {size} go to the \
                 controller (its server.maxoutput); the whole file stays at {}",
                kind.stream(),
                path.display()
            );
        }
        self.queue.push_back(Upload {
            id,
            kind,
            path: path.to_path_buf(),
            size,
            cut_from,
            state: State::Closed,
            refusals: 0,
        });
    }

    /// What to send now: an open, or chunks up to the window.
    pub fn next(&mut self) -> Vec<FromEngine> {
        let mut out = Vec::new();
        while let Some(u) = self.queue.front_mut() {
            match &mut u.state {
                State::Closed => {
                    u.state = State::Opening;
                    out.push(
                        OutputOpen {
                            id: u.id,
                            kind: u.kind,
                            size: u.size,
                            cut_from: u.cut_from,
                        }
                        .into(),
                    );
                    return out;
                }
                State::Opening => return out,
                State::Sending { next, in_flight } => {
                    let mut unreadable = None;
                    while in_flight.len() < UPLOAD_WINDOW && *next < u.size {
                        let len = (u.size - *next).min(CHUNK_BYTES as u64) as usize;
                        match read_at(&u.path, *next, len) {
                            Ok(data) => {
                                out.push(
                                    OutputData {
                                        id: u.id,
                                        kind: u.kind,
                                        offset: *next,
                                        data,
                                    }
                                    .into(),
                                );
                                *next += len as u64;
                                in_flight.push_back(*next);
                            }
                            Err(e) => {
                                unreadable = Some(e);
                                break;
                            }
                        }
                    }
                    let Some(e) = unreadable else {
                        return out;
                    };
                    tracing::warn!(
                        "cannot read the {} of task {} at {}: {e}; not sent to the controller",
                        u.kind.stream(),
                        u.id,
                        u.path.display()
                    );
                    self.queue.pop_front();
                }
            }
        }
        out
    }

    /// The controller holds `ack.offset` bytes of the file (all of it with `done`).
    pub fn acked(&mut self, ack: &OutputAck) {
        if ack.done {
            // A file cut at the limit stays whole here, as its log line said.
            if let Some(u) = self.take(ack.id, ack.kind)
                && u.cut_from.is_none()
                && let Err(e) = std::fs::remove_file(&u.path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!("cannot remove {} once uploaded: {e}", u.path.display());
            }
            return;
        }
        let Some(u) = self.find(ack.id, ack.kind) else {
            return;
        };
        match &mut u.state {
            State::Opening => {
                u.state = State::Sending {
                    next: ack.offset.min(u.size),
                    in_flight: VecDeque::new(),
                }
            }
            State::Sending { in_flight, .. } if in_flight.front() == Some(&ack.offset) => {
                in_flight.pop_front();
            }
            // An answer from before the upload was opened again: the open's answer decides.
            _ => {}
        }
    }

    /// The controller will not take this upload as it is: open it again, or give it up.
    pub fn refused(&mut self, refused: &OutputRefused) {
        let Some(u) = self.find(refused.id, refused.kind) else {
            return;
        };
        u.refusals += 1;
        if u.state == State::Opening || u.refusals >= MAX_REFUSALS {
            if let Some(u) = self.take(refused.id, refused.kind) {
                tracing::warn!(
                    "the controller refused the {} of task {} ({}): it stays at {}",
                    u.kind.stream(),
                    u.id,
                    refused.reason,
                    u.path.display()
                );
            }
        } else {
            u.state = State::Closed;
        }
    }

    fn find(&mut self, id: Uuid, kind: FileKind) -> Option<&mut Upload> {
        self.queue.iter_mut().find(|u| u.id == id && u.kind == kind)
    }

    fn take(&mut self, id: Uuid, kind: FileKind) -> Option<Upload> {
        let at = self
            .queue
            .iter()
            .position(|u| u.id == id && u.kind == kind)?;
        self.queue.remove(at)
    }
}

/// Whether `dir` is the capture folder of the controller `controller_id` whose mark is `mark`
/// (written there by that controller at its start): then its files need no upload.
pub fn shares_folder(dir: &Path, controller_id: Uuid, mark: &str) -> bool {
    std::fs::read_to_string(dir.join(format!(".hs-controller-{controller_id}")))
        .is_ok_and(|found| found == mark)
}

fn read_at(path: &Path, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut data = vec![0; len];
    file.read_exact_at(&mut data, offset)?;
    Ok(data)
}

#[cfg(test)]
#[path = "uploads_tests.rs"]
mod tests;
