//! Engines: joining, sharing credit, going silent, coming back, leaving.

use std::time::Duration;

use hs_engine::protocol::{Bye, Drain, Held, Leaving, Pong, Results, ToEngine};

use super::rig::{Rig, acked, ids, leased, result, to};

#[test]
fn a_new_engine_is_welcomed_with_its_nonce_and_credit() {
    let mut rig = Rig::new();
    let engine = rig.join(4, "h1");
    let effects = rig.core.take_effects();
    match to(&effects, engine).as_slice() {
        [ToEngine::Welcome(w)] => {
            assert_eq!(w.nonce, 7);
            assert_eq!(w.controller_id, rig.core.config().controller_id);
            assert_eq!(w.capacity, 4 + 16, "slots plus a prefetch of at least 16");
        }
        other => panic!("expected one welcome, got {other:?}"),
    }
    assert_eq!(rig.core.engine_count(), 1);
}

#[test]
fn a_short_queue_is_shared_fairly_among_engines() {
    let mut rig = Rig::new();
    let engines = [rig.join(4, "a"), rig.join(4, "b"), rig.join(4, "c")];
    rig.submit(12);
    let effects = rig.turn();
    let counts: Vec<usize> = engines.iter().map(|e| leased(&effects, *e).len()).collect();
    assert_eq!(counts, [4, 4, 4]);
    assert_eq!(rig.core.lease_count(), 12);
}

#[test]
fn an_engine_is_never_leased_more_than_its_credit() {
    let mut rig = Rig::with(|c| c.prefetch = Some(2));
    let engine = rig.join(2, "a");
    rig.submit(10);
    let effects = rig.turn();
    assert_eq!(leased(&effects, engine).len(), 4, "2 slots + 2 prefetch");
    assert!(leased(&rig.turn(), engine).is_empty(), "no credit left");
    assert_eq!(rig.core.queued(), 6);
}

#[test]
fn results_are_recorded_once_and_acknowledged() {
    let mut rig = Rig::new();
    let engine = rig.join(2, "a");
    rig.submit(3);
    let tasks = leased(&rig.turn(), engine);
    rig.report(engine, &tasks, 0);
    let effects = rig.heartbeat();
    let mut acks = acked(&effects, engine);
    acks.sort();
    let mut want = ids(&tasks);
    want.sort();
    assert_eq!(acks, want);
    assert_eq!(rig.sink.finished.len(), 3);
    assert_eq!(rig.core.summary().succeeded, 3);
}

#[test]
fn a_silent_engine_is_evicted_and_its_tasks_go_to_another_first() {
    let mut rig = Rig::with(|c| c.prefetch = Some(0));
    let silent = rig.join(2, "a");
    rig.submit(2);
    let taken = leased(&rig.turn(), silent);
    assert_eq!(taken.len(), 2);
    let other = rig.join(2, "b");
    rig.submit(2);
    rig.later(rig.core.config().evict + Duration::from_millis(1));
    rig.engine_says(other, Pong {});
    rig.heartbeat();
    assert_eq!(rig.core.engine_count(), 1, "evicted");
    assert_eq!(rig.core.queued(), 2, "its tasks wait again");
    let effects = rig.turn();
    assert_eq!(
        ids(&leased(&effects, other)),
        ids(&taken),
        "requeued tasks go first"
    );
    assert_eq!(rig.core.summary().failed, 0, "eviction costs no attempt");
}

#[test]
fn an_unknown_engine_is_asked_to_register_again() {
    let mut rig = Rig::new();
    let stranger = uuid::Uuid::new_v4();
    rig.engine_says(stranger, Results { results: vec![] });
    rig.engine_says(stranger, Pong {});
    let effects = rig.core.take_effects();
    let msgs = to(&effects, stranger);
    assert_eq!(msgs.len(), 2);
    assert!(msgs.iter().all(|m| matches!(m, ToEngine::Reregister(_))));
    assert_eq!(rig.core.engine_count(), 0);
}

#[test]
fn a_returning_engine_keeps_what_it_runs_reports_what_it_finished_and_loses_the_rest() {
    let mut rig = Rig::with(|c| c.prefetch = Some(1));
    let engine = rig.join(2, "a");
    rig.submit(3);
    let tasks = leased(&rig.turn(), engine);
    assert_eq!(tasks.len(), 3);
    // Evicted while it could not reach the controller.
    rig.later(rig.core.config().evict + Duration::from_millis(1));
    rig.heartbeat();
    assert_eq!((rig.core.engine_count(), rig.core.queued()), (0, 3));
    // It comes back: still running the first, the second finished, the third lost in transit.
    let running = vec![Held::from(&tasks[0])];
    let finished = vec![result(tasks[1].task.id, tasks[1].lease, 0)];
    rig.register(engine, 2, "a", running, finished);
    assert_eq!(rig.sink.finished, [(tasks[1].task.id, engine)]);
    assert_eq!(rig.core.lease_count(), 1, "the running one is its again");
    assert_eq!(rig.core.queued(), 1);
    let effects = rig.turn();
    assert_eq!(ids(&leased(&effects, engine)), [tasks[2].task.id]);
    assert!(acked(&effects, engine).contains(&tasks[1].task.id));
}

#[test]
fn a_result_under_a_lease_revoked_by_an_eviction_is_acknowledged_but_not_recorded() {
    let mut rig = Rig::with(|c| c.prefetch = Some(0));
    let first = rig.join(1, "a");
    rig.submit(1);
    let task = leased(&rig.turn(), first);
    // Presumed lost, its task goes to another engine under a new lease, then it reports after
    // all: the run under the new lease is the one that counts.
    let second = rig.join(1, "b");
    rig.later(rig.core.config().evict + Duration::from_millis(1));
    rig.engine_says(second, Pong {});
    rig.heartbeat();
    let again = leased(&rig.turn(), second);
    assert_eq!(ids(&again), ids(&task));
    assert_ne!(again[0].lease, task[0].lease);
    rig.register(
        first,
        1,
        "a",
        vec![],
        vec![result(task[0].task.id, task[0].lease, 0)],
    );
    assert!(rig.sink.finished.is_empty(), "the old lease's result");
    assert_eq!(rig.core.lease_count(), 1, "still the second engine's");
    rig.report(second, &again, 1);
    assert_eq!(rig.sink.finished, [(task[0].task.id, second)]);
    assert_eq!(
        (rig.core.summary().succeeded, rig.core.summary().failed),
        (0, 1)
    );
    let effects = rig.heartbeat();
    assert_eq!(
        acked(&effects, first),
        ids(&task),
        "the stale result is acknowledged, so the engine forgets it"
    );
    assert_eq!(acked(&effects, second), ids(&task));
    assert_eq!(rig.core.lease_count(), 0);
}

#[test]
fn a_repeated_result_is_acknowledged_but_the_first_wins() {
    let mut rig = Rig::new();
    let engine = rig.join(1, "a");
    rig.submit(1);
    let task = leased(&rig.turn(), engine);
    rig.report(engine, &task, 0);
    rig.report(engine, &task, 1);
    assert_eq!(rig.sink.finished, [(task[0].task.id, engine)]);
    assert_eq!(
        (rig.core.summary().succeeded, rig.core.summary().failed),
        (1, 0)
    );
    let effects = rig.heartbeat();
    assert_eq!(acked(&effects, engine), [ids(&task), ids(&task)].concat());
}

#[test]
fn engines_are_drained_once_the_work_is_done_and_leave_with_bye() {
    let mut rig = Rig::new();
    let engine = rig.join(2, "a");
    rig.submit(2);
    let tasks = leased(&rig.turn(), engine);
    rig.core.end_input();
    rig.report(engine, &tasks, 0);
    rig.turn();
    assert!(rig.core.work_done());
    rig.core.drain_when_done();
    let effects = rig.core.take_effects();
    assert!(matches!(
        to(&effects, engine).as_slice(),
        [ToEngine::Drain(Drain {
            stop: false,
            release: false
        })]
    ));
    rig.core.drain_when_done();
    assert!(rig.core.take_effects().is_empty(), "told once");
    rig.engine_says(engine, Bye::default());
    assert_eq!(rig.core.engine_count(), 0);
}

#[test]
fn a_leaving_engine_hands_back_what_it_did_not_start_and_gets_nothing_more() {
    let mut rig = Rig::with(|c| c.prefetch = Some(2));
    let leaving = rig.join(1, "a");
    rig.submit(3);
    let tasks = leased(&rig.turn(), leaving);
    assert_eq!(tasks.len(), 3);
    let returned: Vec<Held> = tasks[1..].iter().map(Held::from).collect();
    rig.engine_says(leaving, Leaving { returned });
    rig.submit(1);
    assert!(
        leased(&rig.turn(), leaving).is_empty(),
        "nothing more for it"
    );
    let other = rig.join(4, "b");
    let effects = rig.turn();
    assert_eq!(
        ids(&leased(&effects, other))[..2],
        ids(&tasks[1..]),
        "handed back first"
    );
}

#[test]
fn stopping_scheduling_asks_every_engine_to_release() {
    let mut rig = Rig::new();
    let a = rig.join(1, "a");
    rig.core.stop_scheduling();
    let effects = rig.core.take_effects();
    assert!(matches!(
        to(&effects, a).as_slice(),
        [
            ToEngine::Welcome(_),
            ToEngine::Drain(Drain {
                stop: false,
                release: true
            })
        ]
    ));
    rig.submit(1);
    assert!(leased(&rig.turn(), a).is_empty());
}
