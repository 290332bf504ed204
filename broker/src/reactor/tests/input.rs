//! Input with the memory store: it runs ahead of scheduling only by the low-water mark, and
//! while it streams in, each engine in turn gets its whole credit (full bundles for thousands
//! of engines without holding more tasks in memory).

use super::rig::{Rig, leased};
use crate::reactor::LOW_WATER;

/// Feed input in the loop's bundles of 512 while the core wants it; how many were taken.
fn feed_while_wanted(rig: &mut Rig, limit: usize) -> usize {
    let mut fed = 0;
    while rig.core.wants_input() && fed < limit {
        rig.submit(512);
        fed += 512;
        let now = rig.now;
        rig.core.prepare(now, &mut rig.sink).unwrap();
    }
    fed
}

#[test]
fn input_runs_ahead_only_the_low_water_mark() {
    let mut rig = Rig::new();
    rig.join(4, "n1");
    rig.turn();
    let fed = feed_while_wanted(&mut rig, 100_000);
    assert!(fed >= LOW_WATER, "input paused at {fed} tasks");
    assert!(fed < 2 * LOW_WATER + 512, "input ran ahead to {fed} tasks");
}

#[test]
fn while_input_streams_in_each_engine_in_turn_gets_its_whole_credit() {
    let mut rig = Rig::new();
    let engines: Vec<_> = (0..100).map(|i| rig.join(1, &format!("n{i}"))).collect();
    rig.turn();
    // One full input bundle: 512 tasks for 100 engines of capacity 17.
    rig.submit(512);
    let effects = rig.turn();
    let bundles: Vec<usize> = engines
        .iter()
        .map(|e| leased(&effects, *e).len())
        .filter(|n| *n > 0)
        .collect();
    assert_eq!(bundles.iter().sum::<usize>(), 512);
    // Each engine served takes its whole credit, 17; the last one what is left.
    let (last, full) = bundles.split_last().unwrap();
    assert!(
        full.iter().all(|n| *n == 17) && *last <= 17,
        "bundles of {bundles:?} tasks while input streams in"
    );
    // The engines served go to the back: the next bundle goes to one that got nothing.
    rig.submit(512);
    let next = rig.turn();
    let first_again = leased(&next, engines[0]).len();
    assert_eq!(
        first_again, 0,
        "the engine served first was served first again"
    );
}

#[test]
fn a_small_input_is_shared_out_among_the_engines() {
    let mut rig = Rig::new();
    let engines: Vec<_> = (0..3).map(|i| rig.join(4, &format!("n{i}"))).collect();
    rig.turn();
    rig.submit(12);
    let effects = rig.turn();
    for engine in engines {
        assert_eq!(leased(&effects, engine).len(), 4);
    }
}
