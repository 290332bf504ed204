//! The memory store (`--no-db`): the shared cases, what only it carries, and memory that stays
//! flat while tasks stream through it.

use super::*;

fn with_memory(case: impl FnOnce(Make)) {
    let make = || -> Box<dyn TaskStore> { Box::new(MemoryStore::new()) };
    case(&make);
}

each_case!(with_memory, false);

/// Only the memory store carries a JSON job's options; a retry keeps them, hosts included. It
/// has no controller lock and no backup.
#[test]
fn a_retry_keeps_a_jobs_options() {
    let mut m = MemoryStore::new();
    let mut a = task("job", 0);
    a.job = Some(hs_engine::task::JobOptions {
        cwd: Some("/tmp".into()),
        hosts: vec!["h1".into()],
        ..Default::default()
    });
    m.submit(std::slice::from_ref(&a)).unwrap();
    let by = sched(1, false);
    m.schedule(10, &by).unwrap();
    m.complete(&[done(a.id, 1)]).unwrap();
    let retry = m.schedule(10, &by).unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].job, retry_job(&a.job, "cmd"));
    let mut m = MemoryStore::new();
    m.claim_controller("a").unwrap();
    m.claim_controller("b").unwrap();
    assert!(m.backup(std::path::Path::new("/tmp/x")).is_err());
}

/// Streaming 200k tasks through the memory store keeps its size bounded and ends at zero.
#[test]
fn stays_flat() {
    let mut m = MemoryStore::new();
    let by = sched(1, false);
    let total = 200_000;
    let batch = 10_000;
    let mut peak = 0;
    let mut n = 0;
    let mut retried = 0;
    while n < total {
        let tasks: Vec<TaskRecord> = (0..batch).map(|i| task("t", (n + i) as i64)).collect();
        m.submit(&tasks).unwrap();
        n += batch;
        loop {
            let got = m.schedule(1000, &by).unwrap();
            if got.is_empty() {
                break;
            }
            retried += got.iter().filter(|r| r.attempt > 1).count();
            peak = peak.max(m.len());
            // One in a hundred fails once.
            let done: Vec<Completion> = got
                .iter()
                .enumerate()
                .map(|(i, r)| done(r.id, if i % 100 == 0 && r.attempt == 1 { 1 } else { 0 }))
                .collect();
            m.complete(&done).unwrap();
        }
    }
    assert!(retried >= total / 100, "retries ran: {retried}");
    assert!(peak <= batch + 1000, "peak {peak} rows held");
    assert_eq!(m.len(), 0, "nothing is held once everything is done");
    assert_eq!(remaining(&mut m), 0);
}
