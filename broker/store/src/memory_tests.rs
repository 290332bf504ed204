//! The memory store's own shortcuts (the behaviour shared with the SQL stores is tested by the
//! store suite in `tests/e2e/store.rs`).

use chrono::Utc;
use uuid::Uuid;

use super::MemoryStore;
use crate::{Completion, Scheduler, Scope, TaskRecord, TaskStore};

fn scheduler(max_retries: u32) -> Scheduler {
    Scheduler {
        server_id: Uuid::now_v7(),
        server_host: "controller".into(),
        max_retries,
        eager: false,
        scope: Scope::All,
    }
}

fn ended(id: Uuid, exit_status: i32) -> Completion {
    Completion {
        client_id: Some(Uuid::now_v7()),
        client_host: Some("engine".into()),
        command: Some("cmd".into()),
        ..Completion::exited(id, exit_status, Utc::now(), Utc::now())
    }
}

#[test]
fn scheduling_changes_rows_where_they_are() {
    let mut m = MemoryStore::new();
    let by = scheduler(0);
    let rows: Vec<_> = (0..3)
        .map(|i| TaskRecord::new(format!("t{i}"), Uuid::now_v7(), None))
        .collect();
    m.submit(&rows).unwrap();
    let first = m.schedule(2, &by).unwrap();
    assert_eq!(
        first.iter().map(|r| r.id).collect::<Vec<_>>(),
        [rows[0].id, rows[1].id]
    );
    assert!(first.iter().all(|r| r.schedule_time.is_some()
        && r.server_id == Some(by.server_id)
        && r.server_host.as_deref() == Some("controller")));
    // The rows kept are the ones handed out, scheduled and still open.
    assert_eq!(m.get(&rows[0].id).unwrap().as_ref(), Some(&first[0]));
    assert_eq!(m.len(), 3);
    let rest = m.schedule(5, &by).unwrap();
    assert_eq!(rest.iter().map(|r| r.id).collect::<Vec<_>>(), [rows[2].id]);
    assert!(m.schedule(5, &by).unwrap().is_empty());
}

#[test]
fn a_failure_then_a_success_in_one_batch_keeps_the_failure() {
    let mut m = MemoryStore::new();
    let by = scheduler(1);
    let row = TaskRecord::new("t".into(), Uuid::now_v7(), None);
    m.submit(std::slice::from_ref(&row)).unwrap();
    m.schedule(1, &by).unwrap();
    let recorded = m.complete(&[ended(row.id, 3), ended(row.id, 0)]).unwrap();
    assert_eq!(recorded, [row.id], "the first completion only");
    let kept = m
        .get(&row.id)
        .unwrap()
        .expect("a failure due a retry is kept");
    assert_eq!(kept.exit_status, Some(3));
    // A later completion leaves it as it is, and it is retried.
    assert!(m.complete(&[ended(row.id, 0)]).unwrap().is_empty());
    assert_eq!(m.get(&row.id).unwrap().and_then(|r| r.exit_status), Some(3));
    let retry = m.schedule(1, &by).unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].previous_id, Some(row.id));
}

#[test]
fn a_success_lets_its_row_go() {
    let mut m = MemoryStore::new();
    let by = scheduler(0);
    let row = TaskRecord::new("t".into(), Uuid::now_v7(), None);
    m.submit(std::slice::from_ref(&row)).unwrap();
    m.schedule(1, &by).unwrap();
    assert_eq!(m.complete(&[ended(row.id, 0)]).unwrap(), [row.id]);
    assert!(m.is_empty());
    assert!(m.complete(&[ended(row.id, 0)]).unwrap().is_empty());
}
