//! Store speed, through the `TaskStore` trait alone: submit rate, schedule + complete rate, and one
//! bundle scheduled among many finished rows (which must stay quick however long a site has run).
//!
//! `cargo run --release -p hs-store --example store_bench [-- TASKS]` measures the SQLite and
//! memory stores, and PostgreSQL too when `DATABASE_URL` is set (in a schema of its own, dropped
//! at the end). Kept out of the test suite: timings belong to benchmarks, not tests. `scripts/bench`
//! measures the same stores through the `hs` binary.

use std::time::Instant;

use hs_store::{
    Completion, MemoryStore, PostgresStore, Scheduler, Scope, SqliteStore, TaskRecord, TaskStore,
};
use uuid::Uuid;

fn task(args: String) -> TaskRecord {
    TaskRecord::new(args, Uuid::nil(), Some("bench".into()))
}

fn finished(id: Uuid) -> Completion {
    let now = chrono::Utc::now();
    Completion {
        client_id: Some(Uuid::nil()),
        client_host: Some("bench".into()),
        ..Completion::exited(id, 0, now, now)
    }
}

fn measure(
    store: &mut dyn TaskStore,
    name: &str,
    n: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let tasks: Vec<TaskRecord> = (0..n).map(|i| task(format!("echo {i}"))).collect();
    let t0 = Instant::now();
    for chunk in tasks.chunks(10_000) {
        store.submit(chunk)?;
    }
    let submit = n as f64 / t0.elapsed().as_secs_f64();

    let by = Scheduler {
        server_id: Uuid::now_v7(),
        server_host: "bench".into(),
        max_retries: 0,
        eager: false,
        scope: Scope::All,
    };
    let t0 = Instant::now();
    let mut scheduled = 0;
    loop {
        let rows = store.schedule(1000, &by)?;
        if rows.is_empty() {
            break;
        }
        scheduled += rows.len();
        let done: Vec<Completion> = rows.iter().map(|r| finished(r.id)).collect();
        store.complete(&done)?;
    }
    let cycle = scheduled as f64 / t0.elapsed().as_secs_f64();

    let late: Vec<TaskRecord> = (0..1000).map(|i| task(format!("late {i}"))).collect();
    store.submit(&late)?;
    let t0 = Instant::now();
    let bundle = store.schedule(1000, &by)?.len();
    let bundle_ms = t0.elapsed().as_secs_f64() * 1000.0;
    println!(
        "| {name} | {n} | {submit:.0} | {cycle:.0} | {bundle_ms:.1} ({bundle} tasks among {scheduled} finished) |"
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .map_err(|_| format!("TASKS must be a count, not {arg:?}"))?,
        None => 100_000,
    };
    println!(
        "| store | tasks | submit tasks/s | schedule+complete tasks/s | one 1000-task bundle, ms |"
    );
    println!("| --- | ---: | ---: | ---: | --- |");
    let dir = tempfile::tempdir()?;
    let mut sqlite = SqliteStore::open(&dir.path().join("bench.db"))?;
    sqlite.initialize()?;
    measure(&mut sqlite, "SQLite", n)?;
    measure(&mut MemoryStore::new(), "memory", n)?;
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let schema = format!("bench_{}", Uuid::new_v4().simple());
        let mut pg = PostgresStore::connect_with_schema(&url, &schema)?;
        pg.initialize()?;
        let outcome = measure(&mut pg, "PostgreSQL", n);
        drop(pg);
        let mut admin = postgres::Client::connect(&url, postgres::NoTls)?;
        admin.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))?;
        outcome?;
    }
    Ok(())
}
