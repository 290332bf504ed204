//! Fair and safe scheduling: unstarted tasks move to idle engines (give-back), only the current
//! lease counts after an eviction, tasks an engine gives up go back only if still its own, and
//! `--eager` retries go ahead of new tasks.

use std::time::Duration;

use hs_engine::protocol::{GivenBack, Held, Pong, Register, Results};
use uuid::Uuid;

use super::rig::{Rig, asked_back, cancelled, ids, leased, leased_to_any, registration, result};
use crate::reactor::rebalance::REBALANCE_EVERY;

/// Submit `n` tasks and take them from the store into the core's queue without handing any
/// out, so that what comes back to the queue next can be seen to go before them.
fn queue_new(rig: &mut Rig, n: usize) -> Vec<Uuid> {
    let new = rig.submit(n);
    let now = rig.now;
    rig.core.prepare(now, &mut rig.sink).unwrap();
    assert_eq!(rig.core.queued(), n);
    new
}

/// Past the eviction time, with `alive` heard from just before it.
fn evict_all_but(rig: &mut Rig, alive: Uuid) {
    rig.later(rig.core.config().evict + Duration::from_millis(1));
    rig.engine_says(alive, Pong {});
    rig.heartbeat();
}

#[test]
fn an_idle_engine_with_nothing_queued_makes_the_others_give_back_their_surplus() {
    let mut rig = Rig::new();
    let first = rig.join(4, "a");
    rig.submit(12);
    assert_eq!(
        leased(&rig.turn(), first).len(),
        12,
        "alone, it takes them all"
    );
    rig.later(REBALANCE_EVERY);
    assert_eq!(
        asked_back(&rig.turn(), first),
        None,
        "no engine has a free slot"
    );
    let second = rig.join(4, "b");
    rig.later(REBALANCE_EVERY);
    let effects = rig.turn();
    assert!(leased(&effects, second).is_empty(), "nothing waits here");
    // Fair hold: 12 tasks over 8 slots, 6 for a 4-slot engine; it has 8 unstarted.
    assert_eq!(asked_back(&effects, first), Some(6));
    assert_eq!(asked_back(&effects, second), None);
    rig.later(REBALANCE_EVERY);
    assert_eq!(
        asked_back(&rig.turn(), first),
        None,
        "not asked again before it answers"
    );
}

#[test]
fn given_back_requeues_first_only_what_is_still_leased_to_that_engine_under_that_lease() {
    let mut rig = Rig::new();
    let first = rig.join(4, "a");
    rig.submit(12);
    let tasks = leased(&rig.turn(), first);
    let second = rig.join(4, "b");
    rig.later(REBALANCE_EVERY);
    assert_eq!(asked_back(&rig.turn(), first), Some(6));
    let new = queue_new(&mut rig, 2);
    // The back of its queue, plus a task it holds under another lease number (a stale list)
    // and one it never held.
    let mut returned: Vec<Held> = tasks[6..].iter().map(Held::from).collect();
    returned.push(Held {
        id: tasks[0].task.id,
        lease: tasks[0].lease + 100,
    });
    returned.push(Held {
        id: Uuid::new_v4(),
        lease: tasks[1].lease,
    });
    rig.engine_says(first, GivenBack { returned });
    assert_eq!(rig.core.lease_count(), 6, "the other six stay the first's");
    assert_eq!(rig.core.queued(), 8);
    let effects = rig.turn();
    let handed = leased_to_any(&effects);
    assert_eq!(
        handed,
        [ids(&tasks[6..]), new].concat(),
        "given back go first"
    );
    // 14 tasks still to run over 8 slots: 7 each.
    assert_eq!(leased(&effects, second).len(), 7);
    assert_eq!(rig.core.lease_count(), 14);
}

#[test]
fn a_task_running_when_its_engine_was_evicted_is_stopped_there_and_its_late_result_ignored() {
    let mut rig = Rig::with(|c| c.prefetch = Some(0));
    let first = rig.join(1, "a");
    rig.submit(1);
    let old = leased(&rig.turn(), first);
    let second = rig.join(1, "b");
    evict_all_but(&mut rig, second);
    let new = leased(&rig.turn(), second);
    assert_eq!(ids(&new), ids(&old));
    // The first wakes up still running it, registers again, then finishes it.
    rig.register(first, 1, "a", old.iter().map(Held::from).collect(), vec![]);
    let effects = rig.core.take_effects();
    assert_eq!(
        cancelled(&effects, first),
        ids(&old),
        "it runs under the new lease elsewhere"
    );
    rig.engine_says(
        first,
        Results {
            results: vec![result(old[0].task.id, old[0].lease, 0)],
        },
    );
    assert!(rig.sink.finished.is_empty(), "not recorded");
    assert_eq!(rig.core.lease_count(), 1, "still the second's");
    rig.report(second, &new, 0);
    assert_eq!(rig.sink.finished, [(old[0].task.id, second)]);
    assert_eq!(rig.core.summary().succeeded, 1);
}

/// With `-r 1` on a 1-slot engine taking one task at a time, the first of ten tasks fails: the
/// task handed out next.
fn next_after_a_failure(eager: bool) -> (Vec<Uuid>, hs_engine::protocol::Leased) {
    let mut rig = Rig::with(|c| {
        c.eager = eager;
        c.max_retries = 1;
        c.prefetch = Some(0);
    });
    let engine = rig.join(1, "a");
    let submitted = rig.submit(10);
    let first = leased(&rig.turn(), engine);
    assert_eq!(ids(&first), submitted[..1]);
    assert_eq!(rig.core.queued(), 9, "the new tasks wait here");
    rig.report(engine, &first, 1);
    let next = leased(&rig.turn(), engine);
    assert_eq!(next.len(), 1);
    (submitted, next[0].clone())
}

#[test]
fn with_eager_a_due_retry_goes_ahead_of_the_new_tasks_already_queued() {
    let (submitted, next) = next_after_a_failure(true);
    assert_eq!(next.task.attempt, 2);
    assert_eq!(next.task.previous_id, Some(submitted[0]));
    // Without --eager the retry waits behind them.
    let (submitted, next) = next_after_a_failure(false);
    assert_eq!(next.task.id, submitted[1]);
}

#[test]
fn tasks_an_engine_gave_up_go_back_first_while_still_leased_to_it() {
    let mut rig = Rig::with(|c| c.prefetch = Some(0));
    let engine = rig.join(3, "a");
    rig.submit(3);
    let tasks = leased(&rig.turn(), engine);
    let new = queue_new(&mut rig, 1);
    // It lost the controller for a while (not evicted): runs the first, gave up the others.
    rig.engine_says(
        engine,
        Register {
            running: vec![Held::from(&tasks[0])],
            returned: tasks[1..].iter().map(Held::from).collect(),
            ..registration(engine, 3, "a")
        },
    );
    assert_eq!(rig.core.lease_count(), 1);
    assert_eq!(rig.core.queued(), 3);
    // Its two free slots take the two it gave up, ahead of the new task.
    assert_eq!(ids(&leased(&rig.turn(), engine)), ids(&tasks[1..]));
    assert_eq!(rig.core.queued(), 1);
    let other = rig.join(1, "b");
    assert_eq!(ids(&leased(&rig.turn(), other)), new);
}

#[test]
fn tasks_an_evicted_engine_gave_up_are_not_requeued_again_nor_taken_from_another() {
    let mut rig = Rig::with(|c| c.prefetch = Some(0));
    let first = rig.join(3, "a");
    rig.submit(3);
    let tasks = leased(&rig.turn(), first);
    let second = rig.join(1, "b");
    evict_all_but(&mut rig, second);
    assert_eq!(rig.core.queued(), 3, "requeued at the eviction");
    assert_eq!(ids(&leased(&rig.turn(), second)), ids(&tasks[..1]));
    // It comes back having given up all three under their old leases.
    rig.engine_says(
        first,
        Register {
            returned: tasks.iter().map(Held::from).collect(),
            ..registration(first, 3, "a")
        },
    );
    assert_eq!(rig.core.lease_count(), 1, "the second keeps its task");
    assert_eq!(rig.core.queued(), 2, "each waiting task still once");
    let effects = rig.turn();
    assert!(cancelled(&effects, second).is_empty());
    let mut handed = leased_to_any(&effects);
    handed.sort();
    let mut rest = ids(&tasks[1..]);
    rest.sort();
    assert_eq!(handed, rest);
}
