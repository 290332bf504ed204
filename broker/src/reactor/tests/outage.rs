//! A store outage: results held unacknowledged, nothing handed out, all recorded once it ends.

use std::sync::atomic::Ordering;
use std::time::Duration;

use hs_engine::protocol::Results;

use super::rig::{Rig, acked, ids, leased, result};
use crate::store::MemoryStore;
use crate::store_link::flaky::Flaky;

/// Longer than the link's first wait before it tries the store again.
const PAST_FIRST_RETRY: Duration = Duration::from_millis(300);

#[test]
fn results_of_an_outage_are_acknowledged_only_once_the_store_has_them() {
    let flaky = Flaky::new(MemoryStore::new());
    let down = flaky.down.clone();
    let mut rig = Rig::over(Box::new(flaky), |_| {});
    let engine = rig.join(2, "a");
    let submitted = rig.submit(4);
    let first = leased(&rig.turn(), engine);
    assert_eq!(ids(&first), submitted);

    down.store(true, Ordering::SeqCst);
    let results = first
        .iter()
        .map(|l| result(l.task.id, l.lease, 0))
        .collect();
    rig.engine_says(engine, Results { results });
    let during = rig.turn();
    assert!(acked(&during, engine).is_empty(), "nothing acknowledged");
    assert!(leased(&during, engine).is_empty(), "nothing handed out");
    assert!(rig.sink.finished.is_empty(), "nothing counted");
    assert!(!rig.core.work_done());
    // A result reported again meanwhile (a re-registration) is not acknowledged either.
    rig.register(
        engine,
        2,
        "a",
        Vec::new(),
        vec![result(first[0].task.id, first[0].lease, 0)],
    );
    assert!(acked(&rig.turn(), engine).is_empty());

    down.store(false, Ordering::SeqCst);
    std::thread::sleep(PAST_FIRST_RETRY);
    let after = rig.turn();
    let mut ack = acked(&after, engine);
    ack.sort();
    let mut expected = ids(&first);
    expected.sort();
    assert_eq!(ack, expected, "acknowledged once recorded");
    assert_eq!(rig.sink.finished.len(), first.len(), "each recorded once");
    let more = rig.submit(1);
    assert_eq!(ids(&leased(&rig.turn(), engine)), more, "handing out again");
}

/// A controller that gives up on its store hands over every result it held, as the store would
/// have recorded them, so its successor can record them (`hs cluster`'s own engine dies with
/// the process and cannot report them again).
#[test]
fn giving_up_on_the_store_hands_over_the_results_it_held() {
    let flaky = Flaky::new(MemoryStore::new());
    let down = flaky.down.clone();
    let mut rig = Rig::over(Box::new(flaky), |cfg| cfg.db_wait = Duration::ZERO);
    let engine = rig.join(2, "a");
    let submitted = rig.submit(3);
    let first = leased(&rig.turn(), engine);
    assert_eq!(ids(&first), submitted);
    assert!(rig.core.check_outage(std::time::Instant::now()).is_ok());

    down.store(true, Ordering::SeqCst);
    let results = first
        .iter()
        .zip([0, 3, 0])
        .map(|(l, rc)| result(l.task.id, l.lease, rc))
        .collect();
    rig.engine_says(engine, Results { results });
    rig.turn();
    let error = rig
        .core
        .check_outage(std::time::Instant::now())
        .expect_err("an outage past --db-wait ends the run");
    let mut kept: Vec<_> = error
        .unrecorded()
        .iter()
        .map(|c| (c.id, c.exit_status, c.client_id))
        .collect();
    kept.sort();
    let mut expected: Vec<_> = first
        .iter()
        .zip([0, 3, 0])
        .map(|(l, rc)| (l.task.id, rc, Some(engine)))
        .collect();
    expected.sort();
    assert_eq!(kept, expected);
}

#[test]
fn input_read_during_an_outage_is_stored_in_order_once_it_ends() {
    let flaky = Flaky::new(MemoryStore::new());
    let down = flaky.down.clone();
    let mut rig = Rig::over(Box::new(flaky), |_| {});
    let engine = rig.join(8, "a");
    down.store(true, Ordering::SeqCst);
    let submitted = [rig.submit(2), rig.submit(2)].concat();
    assert!(!rig.core.wants_input(), "no more is read meanwhile");
    assert!(leased(&rig.turn(), engine).is_empty());
    assert_eq!(rig.sink.submitted, 0);

    down.store(false, Ordering::SeqCst);
    std::thread::sleep(PAST_FIRST_RETRY);
    assert_eq!(ids(&leased(&rig.turn(), engine)), submitted);
    assert_eq!(rig.sink.submitted, 4);
}

/// A run that fails after its whole input was stored still says how far it got, so the same
/// command again takes its submission over instead of submitting every task a second time; only
/// a run that ends (well or on purpose) forgets it.
#[test]
fn the_input_stays_resumable_after_it_is_read_to_its_end_until_the_run_ends() {
    let mut rig = Rig::new();
    let submitter = uuid::Uuid::new_v4();
    let rows: Vec<_> = (0..3)
        .map(|i| crate::store::TaskRecord::new(format!("t{i}"), submitter, None))
        .collect();
    let progress = crate::store::InputProgress {
        submission: submitter,
        source: "/tasks.txt".into(),
        lines: 3,
        digest: "d".into(),
    };
    rig.core
        .submit_read(&rows, Some(&progress), &mut rig.sink)
        .unwrap();
    rig.core.input_read_to_end().unwrap();
    assert_eq!(
        rig.core.input_stopped().map(|p| p.lines),
        Some(3),
        "read to its end, and still on record"
    );
    rig.core.finish();
    assert!(
        rig.core.input_stopped().is_none(),
        "forgotten once the run ends"
    );
}
