//! Status replies: bounded rows with totals over every engine, the recent rate, and the most
//! recent failures, whatever the cluster's size.

use hs_engine::protocol::{StatusReply, StatusRequest, ToClient};

use super::rig::{Rig, leased, to_client};

const CLIENT: &[u8] = b"client-1";

fn status(rig: &mut Rig) -> StatusReply {
    rig.client_says(CLIENT, StatusRequest {});
    let effects = rig.core.take_effects();
    match to_client(&effects, CLIENT).as_slice() {
        [ToClient::StatusReply(s)] => s.clone(),
        other => panic!("expected a status, got {other:?}"),
    }
}

#[test]
fn many_engines_give_the_busiest_rows_and_totals_over_all() {
    let mut rig = Rig::with(|c| c.prefetch = Some(0));
    let engines: Vec<_> = (0..StatusReply::MAX_ENGINES + 30)
        .map(|i| rig.join(1, &format!("h{i:03}")))
        .collect();
    rig.submit(10);
    let effects = rig.turn();
    let busy: Vec<_> = engines
        .iter()
        .filter(|e| !leased(&effects, **e).is_empty())
        .collect();
    assert_eq!(busy.len(), 10);

    let s = status(&mut rig);
    assert_eq!(s.engines.len(), StatusReply::MAX_ENGINES);
    let totals = s.totals.clone().expect("totals");
    assert_eq!(totals.engines, engines.len() as u64);
    assert_eq!(totals.slots, engines.len() as u64);
    assert_eq!(totals.busy, 10);
    assert_eq!(s.engine_total(), engines.len() as u64);
    // The busy ones come first, then by host.
    assert!(
        s.engines[..10].iter().all(|e| e.busy == 1),
        "{:?}",
        s.engines
    );
    assert!(s.engines[10..].iter().all(|e| e.busy == 0));
    assert!(s.engines[10..].windows(2).all(|w| w[0].host <= w[1].host));
}

#[test]
fn finished_tasks_count_in_the_rate_and_failures_are_listed_newest_first() {
    let mut rig = Rig::with(|c| c.prefetch = Some(0));
    let engine = rig.join(3, "node7");
    rig.submit(3);
    let tasks = leased(&rig.turn(), engine);
    assert_eq!(tasks.len(), 3);
    rig.report(engine, &tasks[..1], 0);
    rig.report(engine, &tasks[1..2], 3);
    rig.report(engine, &tasks[2..], 4);

    let s = status(&mut rig);
    let totals = s.totals.clone().expect("totals");
    assert_eq!(totals.finished_recently, 3);
    assert!(totals.window_ms <= 60_000);
    assert_eq!(s.failures.len(), 2);
    assert_eq!(
        (s.failures[0].id, s.failures[0].exit_status),
        (tasks[2].task.id, 4)
    );
    assert_eq!(s.failures[0].args, tasks[2].task.args);
    assert_eq!(s.failures[0].host, "node7");
    assert_eq!(s.failures[1].exit_status, 3);
}
