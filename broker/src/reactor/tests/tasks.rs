//! Tasks: cancels, host affinity, retries, and a restart's orphans.

use std::time::Duration;

use hs_engine::protocol::{Cancel, Held, Results, StatusReply, StatusRequest, ToClient};

use super::rig::{Rig, cancelled, config, ids, leased, result, to_client};
use crate::store::{Handout, MemoryStore, Scheduler, Scope, TaskRecord, TaskStore};

const CLIENT: &[u8] = b"client-1";

fn cancel_reply(rig: &mut Rig) -> hs_engine::protocol::CancelReply {
    let effects = rig.core.take_effects();
    match to_client(&effects, CLIENT).as_slice() {
        [ToClient::CancelReply(r)] => r.clone(),
        other => panic!("expected a cancel reply, got {other:?}"),
    }
}

#[test]
fn a_queued_task_cancelled_by_a_client_never_runs() {
    let mut rig = Rig::with(|c| c.prefetch = Some(0));
    let engine = rig.join(1, "a");
    let tasks = rig.submit(2);
    leased(&rig.turn(), engine);
    rig.client_says(
        CLIENT,
        Cancel {
            ids: vec![tasks[1]],
        },
    );
    let reply = cancel_reply(&mut rig);
    assert_eq!((reply.cancelled, reply.stopping, reply.unknown), (1, 0, 0));
    assert_eq!(rig.core.queued(), 0);
    assert_eq!(rig.core.summary().failed, 1);
}

#[test]
fn a_leased_task_cancelled_by_a_client_is_stopped_by_its_engine() {
    let mut rig = Rig::new();
    let engine = rig.join(1, "a");
    rig.submit(1);
    let task = leased(&rig.turn(), engine);
    rig.client_says(CLIENT, Cancel { ids: ids(&task) });
    let effects = rig.core.take_effects();
    assert_eq!(cancelled(&effects, engine), ids(&task));
    match to_client(&effects, CLIENT).as_slice() {
        [ToClient::CancelReply(r)] => assert_eq!((r.cancelled, r.stopping), (0, 1)),
        other => panic!("expected a cancel reply, got {other:?}"),
    }
    // Its engine is lost before it reports: the task is cancelled, not run elsewhere.
    rig.later(rig.core.config().evict + Duration::from_millis(1));
    rig.heartbeat();
    let other = rig.join(1, "b");
    assert!(leased(&rig.turn(), other).is_empty());
    assert_eq!((rig.core.queued(), rig.core.summary().failed), (0, 1));
}

#[test]
fn a_task_cancelled_in_the_store_while_leased_is_stopped() {
    let mut rig = Rig::with(|c| c.watch_cancels = true);
    let engine = rig.join(1, "a");
    rig.submit(1);
    let task = leased(&rig.turn(), engine);
    // Memory rows of tasks no longer held are gone, which reads as finished (as after a
    // cancel by another process).
    rig.core.store.cancel(&ids(&task)).unwrap();
    let effects = rig.heartbeat();
    assert_eq!(cancelled(&effects, engine), ids(&task));
}

#[test]
fn host_bound_tasks_go_only_to_engines_of_their_hosts() {
    let mut rig = Rig::new();
    let elsewhere = rig.join(4, "node1");
    let pinned = rig.submit_on(&["node2.cluster"]);
    let free = rig.submit(1);
    let effects = rig.turn();
    assert_eq!(ids(&leased(&effects, elsewhere)), free);
    let home = rig.join(4, "NODE2");
    let effects = rig.turn();
    assert_eq!(ids(&leased(&effects, home)), [pinned]);
}

#[test]
fn a_host_bound_task_with_no_engine_of_its_hosts_fails_without_running() {
    let mut rig = Rig::with(|c| c.affinity_wait = Duration::from_secs(30));
    rig.join(4, "node1");
    let pinned = rig.submit_on(&["nowhere"]);
    rig.turn();
    rig.later(Duration::from_secs(31));
    rig.turn();
    assert_eq!(rig.sink.not_run, [pinned]);
    assert_eq!(rig.core.summary().failed, 1);
}

#[test]
fn a_failed_task_runs_again_when_retries_are_left() {
    let mut rig = Rig::with(|c| c.max_retries = 1);
    let engine = rig.join(1, "a");
    let first = rig.submit(1);
    let task = leased(&rig.turn(), engine);
    assert_eq!(task[0].task.attempt, 1);
    rig.report(engine, &task, 3);
    let retry = leased(&rig.turn(), engine);
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].task.attempt, 2);
    assert_eq!(retry[0].task.previous_id, Some(first[0]));
    rig.report(engine, &retry, 3);
    assert!(leased(&rig.turn(), engine).is_empty(), "no retry left");
}

#[test]
fn after_a_restart_an_engine_that_still_runs_a_task_keeps_it_and_the_rest_run_again() {
    let (mut store, rows) = store_with(2);
    let previous = previous_controller();
    assert_eq!(store.schedule(10, &previous).unwrap().len(), 2);
    let gone = uuid::Uuid::new_v4();
    store.mark_handed_out(&handouts(&rows, gone)).unwrap();
    let grace = config().restart_grace;
    let mut rig = Rig::over(Box::new(store), |c| c.restart = true);
    let engine = uuid::Uuid::new_v4();
    let held = Held {
        id: rows[0].id,
        lease: 41,
    };
    rig.register(engine, 1, "a", vec![held], vec![]);
    assert_eq!(rig.core.lease_count(), 1, "adopted under its old lease");
    assert!(
        leased(&rig.turn(), engine).is_empty(),
        "its one slot is busy"
    );
    let results = vec![result(rows[0].id, 41, 0)];
    rig.engine_says(engine, Results { results });
    assert_eq!(rig.sink.finished, [(rows[0].id, engine)]);
    assert!(
        leased(&rig.turn(), engine).is_empty(),
        "the other waits out the grace"
    );
    rig.later(grace + Duration::from_millis(1));
    assert_eq!(ids(&leased(&rig.turn(), engine)), [rows[1].id]);
}

#[test]
fn status_reports_the_queue_and_the_engines() {
    let mut rig = Rig::with(|c| c.prefetch = Some(0));
    rig.join(2, "a");
    rig.submit(5);
    rig.client_says(CLIENT, StatusRequest {});
    let effects = rig.core.take_effects();
    let status: StatusReply = match to_client(&effects, CLIENT).as_slice() {
        [ToClient::StatusReply(s)] => s.clone(),
        other => panic!("expected a status, got {other:?}"),
    };
    assert_eq!(status.engines.len(), 1);
    assert_eq!(status.engines[0].slots, 2);
    assert_eq!(
        (status.queued, status.running),
        (0, 0),
        "nothing taken from the store yet"
    );
    rig.turn();
    rig.client_says(CLIENT, StatusRequest {});
    let effects = rig.core.take_effects();
    match to_client(&effects, CLIENT).as_slice() {
        [ToClient::StatusReply(s)] => assert_eq!((s.queued, s.running), (3, 2)),
        other => panic!("expected a status, got {other:?}"),
    }
}

#[test]
fn a_request_that_cannot_be_decoded_is_refused_in_its_place_among_the_replies() {
    let mut rig = Rig::new();
    rig.client_says(CLIENT, StatusRequest {});
    rig.core.refuse_client(CLIENT.to_vec(), "a bad body".into());
    rig.client_says(CLIENT, StatusRequest {});
    let effects = rig.core.take_effects();
    let replies: Vec<&str> = to_client(&effects, CLIENT)
        .iter()
        .map(|m| match m {
            ToClient::StatusReply(_) => "status",
            ToClient::Refused(_) => "refused",
            _ => "other",
        })
        .collect();
    assert_eq!(replies, ["status", "refused", "status"]);
}

#[test]
fn a_previous_controllers_task_given_back_runs_again_only_in_a_run_that_takes_every_task() {
    for restart in [false, true] {
        let mut store = MemoryStore::new();
        let row = TaskRecord::new("old".into(), uuid::Uuid::new_v4(), None);
        store.submit(std::slice::from_ref(&row)).unwrap();
        let previous = previous_controller();
        assert_eq!(store.schedule(10, &previous).unwrap().len(), 1);
        let mut rig = Rig::over(Box::new(store), |c| c.restart = restart);
        let engine = uuid::Uuid::new_v4();
        let mut again = super::rig::registration(engine, 1, "a");
        again.returned = vec![Held {
            id: row.id,
            lease: 7,
        }];
        rig.engine_says(engine, again);
        let handed = ids(&leased(&rig.turn(), engine));
        if restart {
            assert_eq!(handed, [row.id], "--restart runs it");
        } else {
            assert!(handed.is_empty(), "a plain run leaves it for --restart");
        }
    }
}

/// A previous controller's scheduler, taking every task.
fn previous_controller() -> Scheduler {
    Scheduler {
        server_id: uuid::Uuid::new_v4(),
        server_host: "old".into(),
        max_retries: 0,
        eager: false,
        scope: Scope::All,
    }
}

/// A memory store holding `n` new tasks, and their rows.
fn store_with(n: usize) -> (MemoryStore, Vec<TaskRecord>) {
    let mut store = MemoryStore::new();
    let rows: Vec<TaskRecord> = (0..n)
        .map(|i| TaskRecord::new(format!("t{i}"), uuid::Uuid::new_v4(), None))
        .collect();
    store.submit(&rows).unwrap();
    (store, rows)
}

/// `rows` handed to `engine` (as a controller records before a bundle leaves).
fn handouts(rows: &[TaskRecord], engine: uuid::Uuid) -> Vec<Handout> {
    rows.iter()
        .map(|r| Handout {
            task: r.id,
            engine,
            host: "old".into(),
        })
        .collect()
}

#[test]
fn after_a_restart_tasks_only_taken_from_the_store_run_at_once_and_handed_out_ones_wait() {
    let (mut store, rows) = store_with(3);
    let previous = previous_controller();
    assert_eq!(store.schedule(10, &previous).unwrap().len(), 3);
    // Only the first went to an engine; the others waited at the controller.
    store
        .mark_handed_out(&handouts(&rows[..1], uuid::Uuid::new_v4()))
        .unwrap();
    let mut rig = Rig::over(Box::new(store), |c| c.restart = true);
    let engine = rig.join(4, "a");
    assert_eq!(
        ids(&leased(&rig.turn(), engine)),
        [rows[1].id, rows[2].id],
        "not held for the grace period"
    );
    rig.later(config().restart_grace + Duration::from_millis(1));
    assert_eq!(ids(&leased(&rig.turn(), engine)), [rows[0].id]);
}

#[test]
fn tasks_are_recorded_as_handed_out_before_their_bundle_leaves() {
    let mut rig = Rig::new();
    let engine = rig.join(2, "a");
    let submitted = rig.submit(2);
    let handed = ids(&leased(&rig.turn(), engine));
    assert_eq!(handed, submitted);
    for id in &submitted {
        let row = rig.core.store.get(id).unwrap().unwrap();
        assert_eq!(row.client_id, Some(engine));
    }
}
