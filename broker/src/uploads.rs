//! Engines' captured output, received into the controller's site (`<site>/lib/task/<id>.out`,
//! `.err`; files 0600, folder 0700).
//!
//! An upload is taken only from the engine that ran the task: the one whose recorded result
//! announced it (`upload` in the result), or, after a controller restart, the engine the store
//! names for the task whose recorded path is this controller's file. It is written to
//! `<id>.<ext>.part` chunk by chunk, each written before it is acknowledged, so the memory an
//! upload costs here is one chunk whatever the file's size (the engine keeps at most a few in
//! flight); once whole it is renamed to `<id>.<ext>`, which is what `hs info --stdout` reads.
//! A reconnecting engine (or one meeting a restarted controller) opens the upload again and
//! goes on from what the `.part` file holds. Anything else (a task this engine did not run, an
//! offset that does not follow, data past the announced size, a size over `server.maxoutput`)
//! is refused, counted and logged at a bounded rate, as any refused message.
//!
//! Uploads share the engine's connection with results rather than a socket of their own: a
//! second socket would need its own handshake and session (the issue forbids a second crypto
//! path), and the window bound keeps them from crowding results out: an engine sends its
//! results before any chunk in each turn, and at most
//! [`UPLOAD_WINDOW`](hs_engine::engine::UPLOAD_WINDOW) chunks are ever queued ahead of a
//! result, each costing this loop one file write.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use hs_engine::protocol::{
    FileKind, FrameError, OutputAck, OutputData, OutputOffer, OutputOpen, OutputRefused, Refusals,
    ToEngine,
};
use uuid::Uuid;

use crate::outputs::uploaded_path;

/// Where uploads go, and how much of one file is kept.
#[derive(Clone, Debug)]
pub struct UploadConfig {
    /// The controller site's task folder (`<site>/lib/task`).
    pub dir: PathBuf,
    /// `server.maxoutput`: most bytes kept of one file.
    pub max_bytes: u64,
}

/// What the store says about a task, for an upload opened after a restart: the engine that ran
/// it and its recorded stdout and stderr paths.
pub struct Recorded {
    pub engine: Option<Uuid>,
    pub outpath: Option<String>,
    pub errpath: Option<String>,
    pub csvpath: Option<String>,
}

#[derive(Debug)]
struct Active {
    engine: Uuid,
    size: u64,
    /// Bytes written so far.
    offset: u64,
}

type Key = (Uuid, FileKind);

/// The uploads one controller takes; see the module documentation.
pub struct Uploads {
    dir: PathBuf,
    max_bytes: u64,
    mark: String,
    mark_path: PathBuf,
    /// Announced by a recorded result, not opened yet: which engine will send it.
    expected: HashMap<Key, Uuid>,
    active: HashMap<Key, Active>,
    refusals: Refusals,
    /// Files received whole.
    pub completed: u64,
}

impl Uploads {
    /// Take uploads into `cfg.dir` (created 0700), with a mark in it so that engines sharing
    /// the folder know they need not upload (see [`OutputOffer`]).
    pub fn new(cfg: &UploadConfig, controller_id: Uuid) -> std::io::Result<Uploads> {
        std::fs::create_dir_all(&cfg.dir)?;
        std::fs::set_permissions(&cfg.dir, std::fs::Permissions::from_mode(0o700))?;
        // 122 random bits, as text.
        let mark = Uuid::new_v4().simple().to_string();
        let mark_path = cfg.dir.join(format!(".hs-controller-{controller_id}"));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&mark_path)?;
        file.write_all(mark.as_bytes())?;
        Ok(Uploads {
            dir: cfg.dir.clone(),
            max_bytes: cfg.max_bytes,
            mark,
            mark_path,
            expected: HashMap::new(),
            active: HashMap::new(),
            refusals: Refusals::new("the engine socket"),
            completed: 0,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the welcome says to engines.
    pub fn offer(&self) -> OutputOffer {
        OutputOffer {
            mark: self.mark.clone(),
            max_bytes: self.max_bytes,
        }
    }

    /// Uploads refused so far.
    pub fn refused(&self) -> u64 {
        self.refusals.count()
    }

    /// A result from `engine` was recorded with its file `kind` to follow.
    pub fn expect(&mut self, task: Uuid, kind: FileKind, engine: Uuid) {
        self.expected.insert((task, kind), engine);
    }

    /// `engine` left or was lost: what it was to send is no longer held here. Should it come
    /// back and open an upload again, the store says whether it is its own (as after a
    /// restart), and it goes on from the `.part` file.
    pub fn forget(&mut self, engine: Uuid) {
        self.expected.retain(|_, e| *e != engine);
        self.active.retain(|_, a| a.engine != engine);
    }

    /// `engine` opens an upload; `lookup` asks the store about a task nobody announced here
    /// (the controller restarted since). The answer is for that engine.
    pub fn open(
        &mut self,
        engine: Uuid,
        open: OutputOpen,
        lookup: &mut dyn FnMut(&Uuid) -> Option<Recorded>,
    ) -> ToEngine {
        let key = (open.id, open.kind);
        let final_path = uploaded_path(&self.dir, open.id, open.kind);
        let ours = match (self.expected.get(&key), self.active.get(&key)) {
            (Some(e), _) => *e == engine,
            (None, Some(a)) => a.engine == engine,
            (None, None) => lookup(&open.id).is_some_and(|r| {
                let path = match open.kind {
                    FileKind::Out => r.outpath,
                    FileKind::Err => r.errpath,
                    FileKind::Csv => r.csvpath,
                };
                r.engine == Some(engine)
                    && path.as_deref() == Some(&*final_path.display().to_string())
            }),
        };
        if !ours {
            return self.refuse(
                engine,
                open.id,
                open.kind,
                "no such upload from this engine",
            );
        }
        if open.size > self.max_bytes {
            return self.refuse(engine, open.id, open.kind, "larger than server.maxoutput");
        }
        self.expected.remove(&key);
        if let Some(whole) = open.cut_from {
            tracing::warn!(
                "the {} of task {} is {whole} bytes: only its first {} are kept here \
                 (server.maxoutput)",
                open.kind.stream(),
                open.id,
                open.size
            );
        }
        if final_path.exists() {
            // Received whole before; the acknowledgement was lost.
            self.active.remove(&key);
            return done(open.id, open.kind, open.size);
        }
        let offset = match self.part_len(&key, open.size) {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(
                    "cannot write the {} of task {} under {}: {e}",
                    open.kind.stream(),
                    open.id,
                    self.dir.display()
                );
                return self.refuse(engine, open.id, open.kind, "cannot write it here");
            }
        };
        self.active.insert(
            key,
            Active {
                engine,
                size: open.size,
                offset,
            },
        );
        self.after_write(key, offset)
    }

    /// A chunk from `engine`: written at once, then acknowledged.
    pub fn data(&mut self, engine: Uuid, data: OutputData) -> ToEngine {
        let key = (data.id, data.kind);
        let (id, kind) = key;
        let Some(active) = self.active.get(&key).filter(|a| a.engine == engine) else {
            return self.refuse(engine, id, kind, "no open upload of this file");
        };
        if data.offset != active.offset {
            return self.refuse(
                engine,
                id,
                kind,
                "the offset does not follow what was received",
            );
        }
        let end = data.offset + data.data.len() as u64;
        if data.data.is_empty() || end > active.size {
            return self.refuse(engine, id, kind, "data past the announced size");
        }
        let written = self
            .part_file(&key)
            .and_then(|f| f.write_all_at(&data.data, data.offset));
        if let Err(e) = written {
            tracing::warn!(
                "cannot write the {} of task {id} under {}: {e}",
                kind.stream(),
                self.dir.display()
            );
            self.active.remove(&key);
            return self.refuse(engine, id, kind, "cannot write it here");
        }
        if let Some(a) = self.active.get_mut(&key) {
            a.offset = end;
        }
        self.after_write(key, end)
    }

    /// Acknowledge `offset`, finishing the file when it is whole.
    fn after_write(&mut self, key: Key, offset: u64) -> ToEngine {
        let (id, kind) = key;
        let size = self.active.get(&key).map_or(offset, |a| a.size);
        if offset < size {
            return OutputAck {
                id,
                kind,
                offset,
                done: false,
            }
            .into();
        }
        self.active.remove(&key);
        let final_path = uploaded_path(&self.dir, id, kind);
        if let Err(e) = self
            .part_file(&key)
            .and_then(|f| f.set_len(size))
            .and_then(|()| std::fs::rename(self.part_path(&key), &final_path))
        {
            tracing::warn!("cannot finish {}: {e}", final_path.display());
            return OutputRefused {
                id,
                kind,
                reason: "cannot write it here".into(),
            }
            .into();
        }
        self.completed += 1;
        done(id, kind, size)
    }

    fn part_path(&self, (id, kind): &Key) -> PathBuf {
        self.dir.join(format!("{id}.{}.part", kind.ext()))
    }

    fn part_file(&self, key: &Key) -> std::io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(self.part_path(key))
    }

    /// What the `.part` file holds of a file of `size` bytes (a longer one is of another
    /// attempt: it starts over).
    fn part_len(&self, key: &Key, size: u64) -> std::io::Result<u64> {
        let file = self.part_file(key)?;
        let held = file.metadata()?.len();
        if held > size {
            file.set_len(0)?;
            return Ok(0);
        }
        Ok(held)
    }

    fn refuse(&mut self, engine: Uuid, id: Uuid, kind: FileKind, why: &str) -> ToEngine {
        let err = FrameError::Refused(format!(
            "upload of the {} of task {id} refused: {why}",
            kind.stream()
        ));
        self.refusals
            .refuse(engine.as_bytes(), &err, Instant::now());
        OutputRefused {
            id,
            kind,
            reason: why.into(),
        }
        .into()
    }
}

impl Drop for Uploads {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.mark_path);
    }
}

fn done(id: Uuid, kind: FileKind, size: u64) -> ToEngine {
    OutputAck {
        id,
        kind,
        offset: size,
        done: true,
    }
    .into()
}

#[cfg(test)]
#[path = "uploads_tests.rs"]
mod tests;
