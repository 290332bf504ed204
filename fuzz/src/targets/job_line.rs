//! `job_line`: one line of JSON job input (`hs stream`, Bakapara's format).
//!
//! An input is one line as read (any bytes). Properties: a line is a job or gets an answer, and
//! that answer is one line of JSON that reads back as the object written; a job travels intact
//! both ways it can go: to a running controller inside a client's `submit` message (decode of
//! the encoded message gives the same task, options included), and into the task store (SQLite
//! gives back the command, tags and limits it was given; its job options are read only by a
//! scheduling controller, not by `get`).

use std::cell::RefCell;

use hs_broker::client::JobSpec;
use hs_broker::store::{Query, SqliteStore, TaskStore};
use hs_cli::fuzzing::{Echo, Entry, Submitter, read_job_line};
use hs_protocol::protocol::{FromClient, Message, Submit};
use serde_json::Value;
use serde_json::value::RawValue;

thread_local! {
    static STORE: RefCell<Option<SqliteStore>> = const { RefCell::new(None) };
}

fn with_store<T>(f: impl FnOnce(&mut SqliteStore) -> T) -> T {
    STORE.with_borrow_mut(|slot| {
        let store = slot.get_or_insert_with(|| {
            let path = crate::scratch(&format!("jobs-{:?}.db", std::thread::current().id()));
            std::fs::remove_file(&path).ok();
            let mut store = SqliteStore::open(&path).expect("a scratch SQLite store");
            store.initialize().expect("initialize");
            store
        });
        f(store)
    })
}

pub fn run(data: &[u8]) -> String {
    // The reader splits its input at newlines: a line never holds one.
    let data = data.split(|b| *b == b'\n').next().unwrap_or_default();
    match read_job_line(data) {
        None => "blank".into(),
        Some(Entry::Answered(echo, result)) => answer(echo, result),
        Some(Entry::Job(job)) => {
            let label = format!(
                "job cd:{} env:{} hosts:{} timeout:{} tags:{}",
                job.options.cwd.is_some(),
                job.options.env.len().min(2),
                job.options.hosts.len().min(2),
                job.timeout.is_some(),
                job.tags.len().min(2)
            );
            let (spec, _) = job.into_spec();
            to_controller(spec);
            let Some(Entry::Job(job)) = read_job_line(data) else {
                panic!("the same line read twice gave another answer");
            };
            to_store(job);
            label
        }
    }
}

/// The answer line, as the emitter writes it: one line of JSON whose `result` reads back as
/// the result given (the echoed members pass through as written).
fn answer(echo: Echo, result: Value) -> String {
    // The reason's first words: which check refused the line.
    let why = result["error"].as_str().unwrap_or("?");
    let status: String = why
        .split([':', '"'])
        .next()
        .unwrap_or("?")
        .chars()
        .take(24)
        .collect();
    let line = echo.answer(&result);
    assert!(!line.contains('\n'), "an answer of more than one line");
    // Echoed members pass through as written, numbers beyond a float's range included: read
    // them as raw JSON, and only the result as a value.
    let back: std::collections::BTreeMap<String, Box<RawValue>> =
        serde_json::from_str(&line).expect("an answer is JSON");
    let said: Value = serde_json::from_str(back["result"].get()).expect("the result is JSON");
    assert_eq!(
        said, result,
        "the answer's result does not read back as written"
    );
    format!("answered:{status}")
}

fn to_controller(spec: JobSpec) {
    let task = spec.into_task();
    let message = FromClient::Submit(Submit {
        args: Vec::new(),
        tasks: vec![task.clone()],
        host: Some("fuzz".into()),
    });
    let json = message.to_json();
    let decoded = FromClient::decode(message.kind(), &json).unwrap_or_else(|e| {
        panic!(
            "a job's submit message does not decode ({e}): {}",
            String::from_utf8_lossy(&json)
        )
    });
    let FromClient::Submit(submit) = decoded else {
        panic!("a submit message decoded as another kind");
    };
    assert_eq!(
        submit.tasks,
        vec![task],
        "a job changed on its way to a controller"
    );
}

fn to_store(job: hs_cli::fuzzing::Job) {
    let (row, _) = job.into_task(&Submitter::new("fuzz".into()));
    let back = with_store(|store| {
        store
            .submit(std::slice::from_ref(&row))
            .expect("submit a job's task");
        let back = store.get(&row.id).expect("read it back");
        // Long runs would otherwise grow the database without end.
        store.delete(&Query::by_id(row.id)).expect("delete it");
        back
    })
    .expect("the task just submitted");
    assert_eq!(back.args, row.args, "command changed in the store");
    assert_eq!(back.tag, row.tag, "tags changed in the store");
    assert_eq!(
        (back.timeout, back.group, back.cores, back.memory),
        (row.timeout, row.group, row.cores, row.memory),
        "limits changed in the store"
    );
}
