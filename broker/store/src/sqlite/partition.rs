//! SQLite partitions, as HyperShell 2.7 made them: `hs initdb --rotate` moves the finished tasks
//! of `main.db` into the next free `main.N` beside it (tagged `part:N`), and the reading commands
//! (`hs list`, `hs info`, `hs wait`) see `main.db` and every partition as one `task` table.
//!
//! HyperShell rotates by tagging, `VACUUM INTO` the partition, then deleting on each side; a task
//! a live controller changes between those steps (a retry marked, a tag updated) keeps its old
//! state in the partition. hs instead moves rows in batches, each batch one transaction over both
//! files (`INSERT … SELECT` into the partition, `DELETE` from main), holding the write lock of
//! both, so every task is in exactly one file with its latest state, and a live controller waits
//! at most one batch for its next write.
//!
//! The transaction runs on a connection whose main database is the partition, and both files
//! are in WAL mode with `synchronous=FULL`: SQLite then commits the partition first and main
//! second. A crash between the two can leave a batch in both files, never in neither; the next
//! rotation keeps the copy in main and removes the stale one from the old partition.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::{SqliteStore, map_err};
use crate::{Result, StoreError, TaskStore};

/// How many databases SQLite can attach to one connection: `SQLITE_MAX_ATTACHED` of the bundled
/// SQLite (its default, 10, as HyperShell's). The reading commands attach one per partition.
pub const MAX_ATTACHED: usize = 10;

/// Tasks moved per transaction: small enough that a live controller's next write waits well
/// under its busy timeout, large enough that a big rotation is not dominated by commits.
const BATCH: i64 = 10_000;

/// One partition file beside the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// N of `main.N`, and of the `part:N` tag of its tasks.
    pub number: u32,
    pub path: PathBuf,
}

/// What `rotate` did.
#[derive(Clone, Debug)]
pub struct Rotation {
    pub partition: Partition,
    /// Finished tasks moved out of the database.
    pub moved: u64,
}

/// Partition `n` of the database at `db`: HyperShell's naming, the file name without its
/// extension, a dot, and N (`lib/main.db` → `lib/main.1`).
pub fn partition_path(db: &Path, n: u32) -> PathBuf {
    let mut name: OsString = db.file_stem().unwrap_or_default().to_os_string();
    name.push(format!(".{n}"));
    db.with_file_name(name)
}

/// The partitions beside the database at `db`, by number.
pub fn partitions(db: &Path) -> Result<Vec<Partition>> {
    let dir = match db.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    let stem = db
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(StoreError::Backend(format!(
                "cannot list {}: {e}",
                dir.display()
            )));
        }
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let number = name
            .strip_prefix(stem.as_str())
            .and_then(|rest| rest.strip_prefix('.'))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(number) = number.filter(|_| entry.path().is_file()) {
            found.push(Partition {
                number,
                path: partition_path(db, number),
            });
        }
    }
    found.sort_by_key(|p| p.number);
    Ok(found)
}

/// The partition the next rotation would create: the lowest free N from 1 (as HyperShell picks).
pub fn next_partition(db: &Path) -> Partition {
    let mut number = 1;
    while partition_path(db, number).exists() {
        number += 1;
    }
    Partition {
        number,
        path: partition_path(db, number),
    }
}

/// Take the next free partition by creating its file (`create_new`), so two rotations running
/// at once never pick the same one.
fn claim_next(db: &Path) -> Result<Partition> {
    loop {
        let p = next_partition(db);
        match hs_protocol::private::open_options()
            .write(true)
            .create_new(true)
            .open(&p.path)
        {
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(StoreError::Backend(format!(
                    "cannot create {}: {e}",
                    p.path.display()
                )));
            }
        }
    }
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

/// The column names of `schema.task`, in table order; empty when it has no task table.
fn task_columns(conn: &Connection, schema: &str, path: &str) -> Result<Vec<String>> {
    let sql = format!("SELECT name FROM pragma_table_info('task', '{schema}') ORDER BY cid");
    let mut st = conn.prepare(&sql).map_err(|e| map_err(path, e))?;
    let rows = st
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| map_err(path, e))?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| map_err(path, e))
}

fn quoted(column: &str) -> String {
    format!("\"{}\"", column.replace('"', "\"\""))
}

fn run(conn: &Connection, sql: &str, path: &str) -> Result<()> {
    conn.execute_batch(sql).map_err(|e| map_err(path, e))
}

/// `f` in one `BEGIN IMMEDIATE` transaction (rolled back if it fails): the write locks of every
/// attached file are taken up front, so it never fails halfway on a busy database.
fn immediate<T>(conn: &Connection, path: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    run(conn, "BEGIN IMMEDIATE", path)?;
    match f().and_then(|v| run(conn, "COMMIT", path).map(|()| v)) {
        Ok(v) => Ok(v),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

impl SqliteStore {
    /// The partitions beside this database, by number.
    pub fn partitions(&self) -> Result<Vec<Partition>> {
        partitions(self.path())
    }

    /// The partition the next [`SqliteStore::rotate`] would create.
    pub fn next_partition(&self) -> Partition {
        next_partition(self.path())
    }

    /// `hs initdb --rotate`: move every finished task (a `completion_time`) into a new partition
    /// file, tagged `part:N`; unfinished tasks stay. Safe while a controller serves the database.
    pub fn rotate(&mut self) -> Result<Rotation> {
        self.rotate_in_batches(BATCH)
    }

    fn rotate_in_batches(&mut self, batch: i64) -> Result<Rotation> {
        let db = self.path().to_path_buf();
        let older = partitions(&db)?;
        let partition = claim_next(&db)?;
        let mut moved = 0;
        let result = fill(&db, &older, &partition, batch, &mut moved);
        if result.is_err() && moved == 0 {
            // Nothing was committed to it: leave no empty partition behind.
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let mut p = partition.path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
        result.map(|()| Rotation { partition, moved })
    }

    /// Make `task` on this connection read this database and every partition beside it (a
    /// `TEMP VIEW … UNION ALL …`), for the reading commands; returns the partitions attached.
    /// The store must not be written through afterwards. A partition still being created (no
    /// task table yet) is left out; more partitions than SQLite can attach is an error that says
    /// what to do.
    pub fn attach_partitions(&mut self) -> Result<Vec<Partition>> {
        let parts = self.partitions()?;
        if parts.is_empty() {
            return Ok(parts);
        }
        let db = shown(self.path());
        if parts.len() > MAX_ATTACHED {
            return Err(StoreError::TooManyPartitions {
                db,
                found: parts.len(),
                max: MAX_ATTACHED,
            });
        }
        let conn = &self.core.conn.conn;
        let columns = task_columns(conn, "main", &db)?;
        let all = columns.iter().map(|c| quoted(c)).collect::<Vec<_>>();
        let mut selects = vec![format!("SELECT {} FROM main.task", all.join(", "))];
        let mut attached = Vec::new();
        for (i, p) in parts.into_iter().enumerate() {
            let alias = format!("part_{}", i + 1);
            let path = shown(&p.path);
            conn.execute(&format!("ATTACH DATABASE ?1 AS {alias}"), [&path])
                .map_err(|e| map_err(&path, e))?;
            let has = task_columns(conn, &alias, &path)?;
            if has.is_empty() {
                tracing::debug!("{path} has no task table yet: left out");
                continue;
            }
            // A column the partition lacks (made by an older hs) reads as NULL.
            let list = columns
                .iter()
                .map(|c| {
                    if has.contains(c) {
                        quoted(c)
                    } else {
                        format!("NULL AS {}", quoted(c))
                    }
                })
                .collect::<Vec<_>>();
            selects.push(format!("SELECT {} FROM {alias}.task", list.join(", ")));
            tracing::debug!("reading partition {path}");
            attached.push(p);
        }
        run(
            conn,
            &format!("CREATE TEMP VIEW task AS {}", selects.join(" UNION ALL ")),
            &db,
        )?;
        self.core.conn.conn.flush_prepared_statement_cache();
        Ok(attached)
    }
}

/// Create the partition's tables, repair what a crashed rotation may have left in `older`, and
/// move the finished tasks of `db` into it batch by batch (`moved` counts what is committed).
fn fill(
    db: &Path,
    older: &[Partition],
    partition: &Partition,
    batch: i64,
    moved: &mut u64,
) -> Result<()> {
    let mut part = SqliteStore::open(&partition.path)?;
    part.initialize()?;
    let here = shown(&partition.path);
    let main = shown(db);
    let conn = &part.core.conn.conn;
    run(conn, "PRAGMA main.synchronous=FULL", &here)?;
    conn.execute("ATTACH DATABASE ?1 AS src", [&main])
        .map_err(|e| map_err(&main, e))?;
    run(conn, "PRAGMA src.synchronous=FULL", &main)?;

    for old in older {
        drop_stale_copies(conn, old)?;
    }

    let source = task_columns(conn, "src", &main)?;
    if source.is_empty() {
        return Err(StoreError::Uninitialized);
    }
    let target = task_columns(conn, "main", &here)?;
    let columns: Vec<&String> = source.iter().filter(|c| target.contains(c)).collect();
    let names = columns.iter().map(|c| quoted(c)).collect::<Vec<_>>();
    let values = columns
        .iter()
        .map(|c| match c.as_str() {
            "tag" => "json_set(\"tag\", '$.part', ?1)".to_string(),
            other => quoted(other),
        })
        .collect::<Vec<_>>();
    let copy = format!(
        "INSERT INTO main.task ({}) SELECT {} FROM src.task \
         WHERE \"id\" IN (SELECT \"id\" FROM temp.moving)",
        names.join(", "),
        values.join(", ")
    );
    // Tasks added after the rotation started are left for the next one, so a busy controller
    // cannot keep it going (a task that finishes meanwhile still moves).
    let last: Option<i64> = conn
        .query_row("SELECT max(rowid) FROM src.task", [], |r| r.get(0))
        .map_err(|e| map_err(&main, e))?;
    let Some(last) = last else {
        return Ok(());
    };
    run(
        conn,
        "CREATE TEMP TABLE IF NOT EXISTS moving (\"id\" TEXT PRIMARY KEY NOT NULL)",
        &here,
    )?;
    loop {
        let n = immediate(conn, &main, || {
            let err = |e| map_err(&main, e);
            conn.execute("DELETE FROM temp.moving", []).map_err(err)?;
            conn.execute(
                "INSERT INTO temp.moving SELECT \"id\" FROM src.task \
                 WHERE \"completion_time\" IS NOT NULL AND rowid <= ?1 LIMIT ?2",
                [last, batch],
            )
            .map_err(err)?;
            let n = conn.execute(&copy, [partition.number]).map_err(err)?;
            let gone = conn
                .execute(
                    "DELETE FROM src.task WHERE \"id\" IN (SELECT \"id\" FROM temp.moving)",
                    [],
                )
                .map_err(err)?;
            if gone != n {
                return Err(StoreError::Backend(format!(
                    "rotation copied {n} tasks but removed {gone} from {main}: rolled back"
                )));
            }
            Ok(n as u64)
        })?;
        *moved += n;
        if n < batch as u64 {
            break;
        }
    }
    run(conn, "DETACH DATABASE src", &here)?;
    // A finished partition is one self-contained file (no -wal beside it).
    if let Err(e) = conn.query_row("PRAGMA main.journal_mode=DELETE", [], |_| Ok(())) {
        tracing::debug!("{here} stays in WAL mode: {e}");
    }
    Ok(())
}

/// A rotation that crashed between its two commits left a batch both in `old` and in main: keep
/// main's copy (it may have changed since) and drop the partition's, so the rotation under way
/// moves it once.
fn drop_stale_copies(conn: &Connection, old: &Partition) -> Result<()> {
    let path = shown(&old.path);
    conn.execute("ATTACH DATABASE ?1 AS old", [&path])
        .map_err(|e| map_err(&path, e))?;
    let result = (|| {
        if task_columns(conn, "old", &path)?.is_empty() {
            return Ok(0);
        }
        immediate(conn, &path, || {
            conn.execute(
                "DELETE FROM old.task WHERE \"id\" IN (SELECT s.\"id\" FROM src.task AS s \
                 WHERE EXISTS (SELECT 1 FROM old.task AS o WHERE o.\"id\" = s.\"id\"))",
                [],
            )
            .map_err(|e| map_err(&path, e))
        })
    })();
    let detached = conn
        .execute_batch("DETACH DATABASE old")
        .map_err(|e| map_err(&path, e));
    let n = result?;
    detached?;
    if n > 0 {
        tracing::warn!("{path} held {n} tasks also in main (an interrupted rotation): kept main's");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Completion, Query, Scheduler, Scope, TaskRecord};
    use serde_json::json;
    use uuid::Uuid;

    fn task(args: &str) -> TaskRecord {
        TaskRecord::new(args.into(), Uuid::now_v7(), Some("here".into()))
    }

    /// Schedule every waiting task and record it finished with `exit`.
    fn finish_all(s: &mut SqliteStore, exit: i32) -> Vec<Uuid> {
        let by = Scheduler {
            server_id: Uuid::now_v7(),
            server_host: "controller".into(),
            max_retries: 0,
            eager: false,
            scope: Scope::All,
        };
        let ids: Vec<Uuid> = s.schedule(100, &by).unwrap().iter().map(|t| t.id).collect();
        let done: Vec<Completion> = ids
            .iter()
            .map(|id| Completion {
                client_id: Some(Uuid::now_v7()),
                client_host: Some("engine".into()),
                command: Some("cmd".into()),
                ..Completion::exited(*id, exit, chrono::Utc::now(), chrono::Utc::now())
            })
            .collect();
        s.complete(&done).unwrap();
        ids
    }

    fn all(s: &mut SqliteStore) -> Vec<TaskRecord> {
        s.search(&Query::default()).unwrap()
    }

    fn part_of(t: &TaskRecord) -> Option<serde_json::Value> {
        t.tag.get("part").cloned()
    }

    #[test]
    fn partitions_are_named_as_hypershell_names_them() {
        let p = Path::new("/site/lib/main.db");
        assert_eq!(partition_path(p, 1), Path::new("/site/lib/main.1"));
        assert_eq!(partition_path(Path::new("a.b.db"), 12), Path::new("a.b.12"));
        assert_eq!(
            partition_path(Path::new("/x/store"), 2),
            Path::new("/x/store.2")
        );
    }

    #[test]
    fn rotating_twice_moves_finished_tasks_and_reads_see_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("main.db");
        let mut s = SqliteStore::open(&db).unwrap();
        s.initialize().unwrap();
        let mut first = task("a");
        first.tag = json!({"site": "x"}).as_object().unwrap().clone();
        s.submit(&[first, task("b")]).unwrap();
        let one = finish_all(&mut s, 0);
        s.submit(&[task("c")]).unwrap();

        assert_eq!(s.next_partition().number, 1);
        let r = s.rotate().unwrap();
        assert_eq!((r.partition.number, r.moved), (1, 2));
        assert_eq!(r.partition.path, dir.path().join("main.1"));
        let left = all(&mut s);
        assert_eq!(left.len(), 1, "the unfinished task stays in main");
        assert_eq!(left[0].args, "c");
        assert_eq!(part_of(&left[0]), None);

        let two = finish_all(&mut s, 3);
        s.submit(&[task("d")]).unwrap();
        let r = s.rotate().unwrap();
        assert_eq!((r.partition.number, r.moved), (2, 1));
        assert_eq!(
            s.partitions().unwrap(),
            vec![
                Partition {
                    number: 1,
                    path: dir.path().join("main.1")
                },
                Partition {
                    number: 2,
                    path: dir.path().join("main.2")
                },
            ]
        );

        // Each partition is an hs database of its own, its tasks tagged with its number.
        let mut p1 = SqliteStore::open(&dir.path().join("main.1")).unwrap();
        let rows = all(&mut p1);
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|t| part_of(t) == Some(json!(1))));
        assert_eq!(
            rows[0].tag.get("site"),
            Some(&json!("x")),
            "other tags kept"
        );
        assert!(rows.iter().all(|t| t.exit_status == Some(0)));

        // The main database alone holds the unfinished task.
        let mut alone = SqliteStore::open(&db).unwrap();
        assert_eq!(args(&all(&mut alone)), ["d"]);

        let mut reader = SqliteStore::open(&db).unwrap();
        assert_eq!(reader.attach_partitions().unwrap().len(), 2);
        let rows = all(&mut reader);
        assert_eq!(args(&rows), ["a", "b", "c", "d"]);
        assert_eq!(reader.count(&Query::default()).unwrap(), 4);
        for id in &one {
            assert_eq!(part_of(&reader.get(id).unwrap().unwrap()), Some(json!(1)));
        }
        let c = reader.get(&two[0]).unwrap().unwrap();
        assert_eq!((part_of(&c), c.exit_status), (Some(json!(2)), Some(3)));
        assert_eq!(reader.tag_values("part").unwrap(), [json!(1), json!(2)]);
    }

    fn args(rows: &[TaskRecord]) -> Vec<String> {
        rows.iter().map(|t| t.args.clone()).collect()
    }

    #[test]
    fn a_rotation_in_several_batches_moves_each_task_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("main.db");
        let mut s = SqliteStore::open(&db).unwrap();
        s.initialize().unwrap();
        let names = ["a", "b", "c", "d", "e"];
        s.submit(&names.map(task)).unwrap();
        finish_all(&mut s, 0);
        s.submit(&[task("f")]).unwrap();
        let r = s.rotate_in_batches(2).unwrap();
        assert_eq!(r.moved, 5);
        assert_eq!(args(&all(&mut s)), ["f"]);
        let mut p1 = SqliteStore::open(&r.partition.path).unwrap();
        assert_eq!(args(&all(&mut p1)), names);
    }

    #[test]
    fn the_next_partition_is_the_lowest_free_number() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("main.db");
        let mut s = SqliteStore::open(&db).unwrap();
        s.initialize().unwrap();
        for _ in 0..3 {
            s.rotate().unwrap();
        }
        std::fs::remove_file(dir.path().join("main.2")).unwrap();
        // Not partitions: other names beside the database.
        for other in [
            "main.db.lock",
            "main.1-journal",
            "main.x",
            "main.",
            "other.4",
        ] {
            std::fs::write(dir.path().join(other), "").unwrap();
        }
        let numbers: Vec<u32> = s.partitions().unwrap().iter().map(|p| p.number).collect();
        assert_eq!(numbers, [1, 3]);
        assert_eq!(s.rotate().unwrap().partition.number, 2);
    }

    #[test]
    fn more_partitions_than_sqlite_attaches_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("main.db");
        SqliteStore::open(&db).unwrap().initialize().unwrap();
        // Empty files: attached, then left out for having no task table.
        for n in 1..=MAX_ATTACHED as u32 {
            std::fs::write(partition_path(&db, n), "").unwrap();
        }
        let mut s = SqliteStore::open(&db).unwrap();
        assert!(s.attach_partitions().unwrap().is_empty());
        assert!(all(&mut s).is_empty());

        std::fs::write(partition_path(&db, MAX_ATTACHED as u32 + 1), "").unwrap();
        let mut s = SqliteStore::open(&db).unwrap();
        let e = s.attach_partitions().unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::TooManyPartitions {
                    found: 11,
                    max: 10,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("--ignore-partitions"), "{e}");
    }

    #[test]
    fn a_task_left_in_both_files_by_a_crash_ends_in_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("main.db");
        let mut s = SqliteStore::open(&db).unwrap();
        s.initialize().unwrap();
        s.submit(&[task("a"), task("b")]).unwrap();
        finish_all(&mut s, 0);
        s.rotate().unwrap();
        // What a crash between the partition's commit and main's leaves: the rows in both.
        let mut p1 = SqliteStore::open(&dir.path().join("main.1")).unwrap();
        let copies = all(&mut p1);
        let mut back = copies[0].clone();
        back.tag.remove("part");
        s.submit(&[back.clone()]).unwrap();

        let r = s.rotate().unwrap();
        assert_eq!((r.partition.number, r.moved), (2, 1));
        assert_eq!(args(&all(&mut p1)), ["b"]);
        let mut reader = SqliteStore::open(&db).unwrap();
        reader.attach_partitions().unwrap();
        assert_eq!(reader.count(&Query::default()).unwrap(), 2, "no duplicate");
        assert_eq!(
            part_of(&reader.get(&back.id).unwrap().unwrap()),
            Some(json!(2))
        );
    }
}
