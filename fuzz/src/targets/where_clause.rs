//! `where_clause`: the query language of `hs list`, `hs update` and `hs submit` — `-w` clauses,
//! `-t` tags and tag filters, `field=value` changes, sizes, and `# HYPERSHELL:` directives.
//!
//! An input is one argument as a user would type it. Properties: every parser answers, every
//! error is one line, and a clause or tag filter that parses can be run: the SQLite store and
//! the in-memory store (`--no-db`) answer it without error, and with the same count.

use std::cell::RefCell;

use chrono::{TimeZone, Utc};
use hs_broker::store::{MemoryStore, Query, SqliteStore, TaskRecord, TaskStore};
use hs_cli::fuzzing as cli;
use serde_json::json;
use uuid::Uuid;

use crate::check;

/// A few unfinished tasks (the in-memory store keeps no finished ones) with the columns a task
/// has before it ends filled in some rows and empty in others.
fn rows() -> Vec<TaskRecord> {
    let at = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).single();
    let submit = Uuid::from_u128(7);
    let mut rows = Vec::new();
    for (i, args) in ["echo one", "sleep 2 é", "", "x'\"%_\\*[a]"]
        .into_iter()
        .enumerate()
    {
        let mut r = TaskRecord::new(args.into(), submit, Some(format!("host{i}")));
        r.id = Uuid::from_u128(100 + i as u128);
        r.submit_time = at(i as i64).expect("a valid time");
        rows.push(r);
    }
    rows[0].schedule_time = at(10);
    rows[0].start_time = at(11);
    rows[0].client_host = Some("engine-host".into());
    rows[0].tag.insert("a".into(), json!("x"));
    rows[0].tag.insert("n".into(), json!(1));
    rows[1].memory = Some(1 << 30);
    rows[1].group = 3;
    rows[1].tag.insert("n".into(), json!(2.5));
    rows[3].cores = Some(4);
    rows[3].timeout = Some(60);
    rows[3].attempt = 2;
    rows[3].tag.insert("a".into(), json!(null));
    rows
}

struct Stores {
    sqlite: SqliteStore,
    memory: MemoryStore,
}

thread_local! {
    static STORES: RefCell<Option<Stores>> = const { RefCell::new(None) };
}

fn with_stores<T>(f: impl FnOnce(&mut Stores) -> T) -> T {
    STORES.with_borrow_mut(|slot| {
        let stores = slot.get_or_insert_with(|| {
            let path = crate::scratch(&format!("where-{:?}.db", std::thread::current().id()));
            std::fs::remove_file(&path).ok();
            let mut sqlite = SqliteStore::open(&path).expect("a scratch SQLite store");
            sqlite.initialize().expect("initialize");
            let mut memory = MemoryStore::new();
            memory.initialize().expect("initialize");
            let rows = rows();
            sqlite.submit(&rows).expect("submit");
            memory.submit(&rows).expect("submit");
            Stores { sqlite, memory }
        });
        f(stores)
    })
}

/// Count `query` in both stores; they must agree.
fn count(query: &Query) -> String {
    with_stores(|s| {
        let sqlite = s.sqlite.count(query);
        let memory = s.memory.count(query);
        let label = check::outcome("sqlite", &sqlite);
        check::outcome("memory", &memory);
        if let (Ok(a), Ok(b)) = (&sqlite, &memory) {
            assert_eq!(a, b, "SQLite and --no-db count {query:?} differently");
        }
        label
    })
}

pub fn run(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    let mut labels = Vec::new();
    match cli::parse_where(&text) {
        Ok(condition) => {
            let query = Query {
                conditions: vec![condition],
                ..Query::default()
            };
            labels.push(format!("where:{}", count(&query)));
        }
        Err(e) => labels.push(format!("where:{}", check::error("where", &e))),
    }
    match cli::parse_tag_filter(&text) {
        Ok(filter) => {
            let query = Query {
                tags: vec![filter],
                ..Query::default()
            };
            labels.push(format!("tag-filter:{}", count(&query)));
        }
        Err(e) => labels.push(format!("tag-filter:{}", check::error("tag filter", &e))),
    }
    labels.push(check::outcome("tag", &cli::parse_tag(&text)));
    labels.push(check::outcome("change", &cli::parse_change(&text)));
    labels.push(check::outcome("bytes", &cli::parse_bytes(&text)));
    let (field, value) = text.split_once(' ').unwrap_or((&text, ""));
    labels.push(check::outcome(
        "legacy change",
        &cli::parse_legacy_change(field, value),
    ));
    labels.push(check::outcome("directives", &cli::split_directives(&text)));
    labels.join(" ")
}
