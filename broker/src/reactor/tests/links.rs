//! Links that misbehave without an engine being dead: a bundle that cannot be sent, an engine
//! that has nothing to give back, a give-back answer that never comes, absurd lease numbers.

use std::time::Duration;

use hs_engine::protocol::{GivenBack, Held, Pong, Results, Tasks};
use hs_engine::task::{Outcome, TaskResult};

use super::rig::{Rig, asked_back, leased, registration};
use crate::reactor::rebalance::REBALANCE_EVERY;

#[test]
fn an_undelivered_bundle_comes_back_and_its_engine_keeps_what_it_runs() {
    let mut rig = Rig::new();
    let engine = rig.join(1, "a");
    rig.submit(4);
    let running = leased(&rig.turn(), engine);
    assert_eq!(running.len(), 4);
    // The first task went out; a later bundle of the other three could not be sent.
    let bundle = Tasks {
        tasks: running[1..].to_vec(),
        ack: Vec::new(),
    };
    rig.core.bundle_undelivered(engine, &bundle).unwrap();
    assert_eq!(
        rig.core.queued(),
        3,
        "the undelivered tasks wait here again"
    );
    let other = rig.join(1, "b");
    let effects = rig.turn();
    assert!(
        leased(&effects, engine).is_empty(),
        "none for it until it is heard from"
    );
    let taken = leased(&effects, other).len();
    assert!(taken > 0, "the other engine takes them");
    assert_eq!(taken + rig.core.queued(), 3, "each exactly once");
    // It is still registered and still holds the task it runs: no eviction, no requeue.
    rig.engine_says(engine, Pong {});
    rig.submit(1);
    assert_eq!(
        leased(&rig.turn(), engine).len(),
        1,
        "heard from again: it takes work"
    );
    assert_eq!(rig.core.queued(), 0);
}

#[test]
fn an_engine_that_had_nothing_to_give_is_not_asked_again_until_its_load_changes() {
    let mut rig = Rig::new();
    let first = rig.join(4, "a");
    rig.submit(12);
    let tasks = leased(&rig.turn(), first);
    let _idle = rig.join(4, "b");
    rig.later(REBALANCE_EVERY);
    assert_eq!(asked_back(&rig.turn(), first), Some(6));
    // All started (or bound to its host): it gives nothing.
    rig.engine_says(first, GivenBack { returned: vec![] });
    for _ in 0..3 {
        rig.later(REBALANCE_EVERY);
        assert_eq!(
            asked_back(&rig.turn(), first),
            None,
            "asked again for nothing"
        );
    }
    // One finished after a long run (so its queue is not done within a round trip): what it
    // holds changed, so it may be asked again.
    let end = chrono::Utc::now();
    let long = TaskResult {
        start_time: Some(end - chrono::Duration::seconds(30)),
        completion_time: end,
        ..TaskResult::not_run(tasks[0].task.id, tasks[0].lease, Outcome::Exited, 0, None)
    };
    rig.engine_says(
        first,
        Results {
            results: vec![long],
        },
    );
    rig.later(REBALANCE_EVERY);
    assert!(asked_back(&rig.turn(), first).is_some());
}

#[test]
fn a_give_back_request_whose_answer_was_lost_is_asked_again() {
    let mut rig = Rig::new();
    let first = rig.join(4, "a");
    rig.submit(12);
    rig.turn();
    let _idle = rig.join(4, "b");
    rig.later(REBALANCE_EVERY);
    assert_eq!(asked_back(&rig.turn(), first), Some(6));
    rig.later(REBALANCE_EVERY);
    assert_eq!(
        asked_back(&rig.turn(), first),
        None,
        "the answer may be on its way"
    );
    rig.later(rig.core.config().heartrate * 2);
    rig.engine_says(first, Pong {});
    assert_eq!(
        asked_back(&rig.turn(), first),
        Some(6),
        "overdue: asked again"
    );
}

#[test]
fn an_absurd_lease_number_from_a_peer_does_not_move_the_lease_counter() {
    let mut rig = Rig::new();
    let engine = rig.join(1, "a");
    rig.submit(1);
    let first = leased(&rig.turn(), engine);
    // Evicted while its task runs; it comes back claiming a lease number near the end of u64.
    rig.later(rig.core.config().evict + Duration::from_millis(1));
    rig.heartbeat();
    let mut again = registration(engine, 1, "a");
    again.running = vec![Held {
        id: first[0].task.id,
        lease: u64::MAX,
    }];
    rig.engine_says(engine, again);
    rig.turn();
    // New leases go on counting from where they were, without overflow.
    rig.submit(2);
    let other = rig.join(2, "b");
    let next = leased(&rig.turn(), other);
    assert_eq!(next.len(), 2);
    assert!(next.iter().all(|l| l.lease < 1 << 62), "{next:?}");
}
