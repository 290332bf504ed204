//! The SQLite store: the shared cases, and what only a file can go through (older schemas,
//! damaged files and values, the controller lock).

use super::*;

/// Fresh SQLite files in one folder, one per store the case asks for.
fn with_sqlite(case: impl FnOnce(Make)) {
    let dir = tempfile::tempdir().unwrap();
    let n = Cell::new(0);
    let make = || -> Box<dyn TaskStore> {
        n.set(n.get() + 1);
        let mut s = SqliteStore::open(&dir.path().join(format!("sub/s{}.db", n.get()))).unwrap();
        s.initialize().unwrap();
        Box::new(s)
    };
    case(&make);
}

each_case!(with_sqlite, true);

/// A database made when failures were indexed as `task_retries` (whose predicate took SIGHUP
/// deaths for cancels) gets `task_failed` instead from `initialize`, what every SQLite command
/// runs, and its failure queries use it.
#[test]
fn older_failure_index_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let mut s = SqliteStore::open(&path).unwrap();
    s.initialize().unwrap();
    drop(s);
    let indexes = || -> Vec<String> {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'task'")
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch(
            "DROP INDEX task_failed; CREATE INDEX task_retries ON task (\"group\", \"attempt\", \
             \"completion_time\") WHERE \"exit_status\" NOT IN (0, -1) AND \"retried\" = FALSE",
        )
        .unwrap();
    }
    assert!(indexes().contains(&"task_retries".to_string()));
    let mut s = SqliteStore::open(&path).unwrap();
    s.initialize().unwrap();
    drop(s);
    let now = indexes();
    assert!(now.contains(&"task_failed".to_string()), "{now:?}");
    assert!(!now.contains(&"task_retries".to_string()), "{now:?}");
}

/// A database made before the `job` column existed keeps working, and gets the column when a
/// task first needs it.
#[test]
fn job_column_comes_to_older_databases() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let mut s = SqliteStore::open(&path).unwrap();
    s.initialize().unwrap();
    drop(s);
    let make_old = || {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch("ALTER TABLE task DROP COLUMN job")
            .unwrap();
    };
    make_old();

    let mut s = SqliteStore::open(&path).unwrap();
    s.check().unwrap();
    s.submit(&[task("plain", 0)]).unwrap();
    let by = sched(0, false);
    assert_eq!(s.schedule(10, &by).unwrap()[0].job, None);
    let a = with_job("a", 1);
    s.submit(std::slice::from_ref(&a)).unwrap();
    assert_eq!(s.schedule(10, &by).unwrap()[0].job, a.job);
    drop(s);

    // `initialize` (what every SQLite command runs) adds it too.
    make_old();
    let mut s = SqliteStore::open(&path).unwrap();
    s.initialize().unwrap();
    let b = with_job("b", 2);
    s.submit(std::slice::from_ref(&b)).unwrap();
    assert_eq!(s.schedule(10, &by).unwrap()[0].job, b.job);
}

#[test]
fn files() {
    let dir = tempfile::tempdir().unwrap();
    // Not a database.
    let text = dir.path().join("notes.db");
    std::fs::write(&text, "these are my notes, not a database\n".repeat(200)).unwrap();
    let e = SqliteStore::open(&text)
        .err()
        .expect("a text file is not a database");
    assert!(matches!(e, StoreError::NotADatabase { .. }), "{e}");
    one_line(&e);

    // Uninitialized, then initialized (idempotent).
    let path = dir.path().join("main.db");
    let mut s = SqliteStore::open(&path).unwrap();
    assert!(matches!(s.check(), Err(StoreError::Uninitialized)));
    s.initialize().unwrap();
    s.initialize().unwrap();
    s.check().unwrap();
    s.submit(&[task("kept", 0)]).unwrap();
    drop(s);

    // WAL is on.
    let raw = rusqlite::Connection::open(&path).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    // Scheduling uses the partial indexes, not a scan.
    let plan: Vec<String> = raw
        .prepare(
            "EXPLAIN QUERY PLAN SELECT id FROM task WHERE \"schedule_time\" IS NULL AND \
             \"completion_time\" IS NULL AND \"group\" = 0 ORDER BY \"submit_time\", \"id\" LIMIT 10",
        )
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        plan.iter().any(|p| p.contains("task_unscheduled")),
        "{plan:?}"
    );
    let plan: Vec<String> = raw
        .prepare(
            "EXPLAIN QUERY PLAN SELECT id FROM task WHERE \"group\" = 0 AND \"exit_status\" <> 0 \
             AND (\"exit_status\" <> -1 OR \"signal\" IS NOT NULL) AND \"retried\" = FALSE \
             AND \"attempt\" < 3 ORDER BY \"completion_time\", \"id\" LIMIT 10",
        )
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(plan.iter().any(|p| p.contains("task_failed")), "{plan:?}");

    // A newer schema is refused.
    raw.execute(
        "UPDATE hs_meta SET value = ?1 WHERE key = 'schema_version'",
        [(SCHEMA_VERSION + 1).to_string()],
    )
    .unwrap();
    drop(raw);
    let mut s = SqliteStore::open(&path).unwrap();
    let e = s.initialize().unwrap_err();
    assert!(
        matches!(e, StoreError::NewerSchema { found, supported } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{e}"
    );
    one_line(&e);
    assert!(matches!(s.check(), Err(StoreError::NewerSchema { .. })));
    drop(s);
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute(
        "UPDATE hs_meta SET value = ?1 WHERE key = 'schema_version'",
        [SCHEMA_VERSION.to_string()],
    )
    .unwrap();
    drop(raw);

    // Backup: a new file only.
    let mut s = SqliteStore::open(&path).unwrap();
    let copy = dir.path().join("backups/copy.db");
    s.backup(&copy).unwrap();
    let e = s.backup(&copy).unwrap_err();
    one_line(&e);
    let mut b = SqliteStore::open(&copy).unwrap();
    b.check().unwrap();
    assert_eq!(args_of(&b.search(&Query::default()).unwrap()), ["kept"]);

    // One controller at a time; the claim goes with the store.
    s.claim_controller("controller pid 1 on host-a").unwrap();
    s.claim_controller("controller pid 1 on host-a").unwrap();
    let mut other = SqliteStore::open(&path).unwrap();
    match other.claim_controller("second") {
        Err(StoreError::Locked { owner }) => assert!(owner.contains("pid 1 on host-a"), "{owner}"),
        r => panic!("second claim: {r:?}"),
    }
    drop(s);
    other.claim_controller("second").unwrap();
    // Claiming does not block ordinary use by other processes (hs list, hs submit).
    let mut reader = SqliteStore::open(&path).unwrap();
    reader.submit(&[task("more", 1)]).unwrap();
    assert_eq!(reader.count(&Query::default()).unwrap(), 2);
}

#[test]
fn a_damaged_value_names_its_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("main.db");
    let mut s = SqliteStore::open(&path).unwrap();
    s.initialize().unwrap();
    let a = task("a", 0);
    s.submit(std::slice::from_ref(&a)).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    raw.execute("UPDATE task SET \"submit_time\" = 'last tuesday'", [])
        .unwrap();
    let e = s.get(&a.id).unwrap_err();
    assert!(
        e.to_string()
            .contains("column submit_time holds text that is not a time"),
        "{e}"
    );
    one_line(&e);
}
