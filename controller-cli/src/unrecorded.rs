//! Results a controller held but could not store when it gave up on its database, kept in a
//! file for the next run on that database to record.
//!
//! Through a database outage the controller holds the results engines report, unacknowledged,
//! until the store takes them (`broker/src/reactor/outage.rs`). When the outage outlasts
//! `--db-wait` the run ends (exit 5). A remote engine still has its results and reports them to
//! the next controller it registers with; the engine of `hs cluster` runs in the controller's
//! process and its results would die with it, so their tasks would run again. So at give-up
//! every held result is written to `<site>/lib/unrecorded/<database>.json` (0600; written to a
//! temporary file, fsynced, renamed over, the folder fsynced: the file is either the old one or
//! the new one, whole). The next controller on the same database (the same command again, or
//! `--restart`) records them before it reads input or schedules anything (the store records a
//! result only for a task that exists and has none yet, so each is applied at most once), and
//! removes the file only once they are stored. Like the record of how far the input was read
//! (`resume.rs`), it is what lets the same command finish the job without running a task twice.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use hs_broker::ControllerError;
use hs_broker::store::{Completion, TaskStore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::database::Location;
use crate::exit::Failure;
use crate::site::Site;

/// The file of one database's unrecorded results.
pub struct Journal {
    path: PathBuf,
    /// The database, as messages name it (no password).
    database: String,
}

#[derive(Serialize, Deserialize)]
struct Contents {
    database: String,
    results: Vec<Completion>,
}

impl Journal {
    /// The journal of the database `location` names; `None` for a store that ends with the run.
    pub fn of(site: &Site, location: &Location) -> Option<Journal> {
        let name = location.for_clients()?;
        // A relative SQLite path names the same file from anywhere once made absolute.
        let name = match location {
            Location::Sqlite(p) => std::fs::canonicalize(p)
                .map(|p| p.display().to_string())
                .unwrap_or(name),
            _ => name,
        };
        let digest = hex::encode(Sha256::digest(name.as_bytes()));
        Some(Journal {
            path: site
                .lib
                .join("unrecorded")
                .join(format!("{}.json", &digest[..32])),
            database: location.describe(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keep `results` (with any the file holds already, from an earlier give-up whose successor
    /// could not record them either). Returns how many the file holds.
    pub fn keep(&self, results: &[Completion]) -> anyhow::Result<usize> {
        let mut all = self.read()?.map_or_else(Vec::new, |c| c.results);
        let known: std::collections::HashSet<_> = all.iter().map(|c| c.id).collect();
        all.extend(results.iter().filter(|c| !known.contains(&c.id)).cloned());
        let contents = Contents {
            database: self.database.clone(),
            results: all,
        };
        let dir = self.path.parent().expect("the journal is in a folder");
        crate::site::create_private_dir(dir)?;
        let tmp = dir.join(format!(".{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&serde_json::to_vec(&contents)?)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)?;
            File::open(dir)?.sync_all()
        };
        write()
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })
            .with_context(|| format!("writing {}", self.path.display()))?;
        Ok(contents.results.len())
    }

    /// Record what the file holds into `store` (only for tasks that exist and have no final
    /// result yet), then remove it. Returns how many results the store took. A store error
    /// leaves the file for the next run.
    pub fn record(&self, store: &mut dyn TaskStore) -> anyhow::Result<usize> {
        let contents = self
            .read()
            .map_err(|e| Failure::runtime(format!("{e:#}")))?;
        let Some(contents) = contents else {
            return Ok(0);
        };
        let recorded = store.complete(&contents.results).map_err(|e| {
            Failure::runtime(format!(
                "{e}: could not record the {} results an earlier run on this database held \
                 when it gave up (kept in {})",
                contents.results.len(),
                self.path.display()
            ))
        })?;
        tracing::info!(
            "recorded {} of the {} results an earlier run held when it gave up on the database \
             (the rest were recorded already, or their tasks are gone)",
            recorded.len(),
            contents.results.len()
        );
        std::fs::remove_file(&self.path)
            .with_context(|| format!("removing {}", self.path.display()))
            .map_err(|e| Failure::runtime(format!("{e:#}")))?;
        Ok(recorded.len())
    }

    fn read(&self) -> anyhow::Result<Option<Contents>> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.path.display())),
        };
        let contents = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a file of results", self.path.display()))?;
        Ok(Some(contents))
    }
}

/// At the end of a run that failed: keep what the controller could not record, and say where.
pub fn keep_after(journal: Option<&Journal>, error: &ControllerError) {
    let ControllerError::Run(error) = error else {
        return;
    };
    let results = error.unrecorded();
    let Some(journal) = journal.filter(|_| !results.is_empty()) else {
        return;
    };
    match journal.keep(results) {
        Ok(n) => tracing::warn!(
            "{} results not recorded are kept in {} ({n} in all): the next run on this \
             database records them first",
            results.len(),
            journal.path().display()
        ),
        Err(e) => tracing::error!("{e:#}: {} results are lost", results.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use hs_broker::store::{SqliteStore, TaskRecord};
    use std::os::unix::fs::PermissionsExt;
    use uuid::Uuid;

    fn completion(id: Uuid, exit_status: i32) -> Completion {
        Completion {
            command: Some("true".into()),
            ..Completion::exited(id, exit_status, Utc::now(), Utc::now())
        }
    }

    #[test]
    fn kept_results_are_recorded_once_for_open_tasks_and_the_file_goes() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site {
            root: dir.path().into(),
            lib: dir.path().join("lib"),
        };
        let db = dir.path().join("main.db");
        let mut store = SqliteStore::open(&db).unwrap();
        store.initialize().unwrap();
        let rows: Vec<TaskRecord> = (0..3)
            .map(|i| TaskRecord::new(format!("echo {i}"), Uuid::new_v4(), None))
            .collect();
        store.submit(&rows).unwrap();
        // The third already has its result: kept twice, recorded by neither.
        store.complete(&[completion(rows[2].id, 7)]).unwrap();

        let journal = Journal::of(&site, &Location::Sqlite(db.clone())).unwrap();
        let gone = Uuid::new_v4();
        let first = [completion(rows[0].id, 0), completion(gone, 0)];
        assert_eq!(journal.keep(&first).unwrap(), 2);
        let second = [completion(rows[0].id, 9), completion(rows[1].id, 3)];
        let second = [&second[..], &[completion(rows[2].id, 0)]].concat();
        assert_eq!(journal.keep(&second).unwrap(), 4, "merged, each id once");
        let mode = std::fs::metadata(journal.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        // Another path to the same database finds the same file.
        let again = Journal::of(&site, &Location::Sqlite(dir.path().join("./main.db"))).unwrap();
        assert_eq!(again.path(), journal.path());
        assert_eq!(again.record(&mut store).unwrap(), 2);
        assert!(!journal.path().exists(), "removed once stored");
        let status = |store: &mut SqliteStore, id| store.get(&id).unwrap().unwrap().exit_status;
        assert_eq!(
            status(&mut store, rows[0].id),
            Some(0),
            "the first kept wins"
        );
        assert_eq!(status(&mut store, rows[1].id), Some(3));
        assert_eq!(
            status(&mut store, rows[2].id),
            Some(7),
            "already final: kept"
        );
        assert_eq!(
            again.record(&mut store).unwrap(),
            0,
            "nothing left to apply"
        );
    }

    #[test]
    fn a_store_that_fails_keeps_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let site = Site {
            root: dir.path().into(),
            lib: dir.path().join("lib"),
        };
        let db = dir.path().join("main.db");
        let journal = Journal::of(&site, &Location::Sqlite(db.clone())).unwrap();
        journal.keep(&[completion(Uuid::new_v4(), 0)]).unwrap();
        // Not initialized: no task table, so recording fails.
        let mut store = SqliteStore::open(&db).unwrap();
        assert!(journal.record(&mut store).is_err());
        assert!(journal.path().exists());
        assert!(Journal::of(&site, &Location::Memory).is_none());
    }
}
