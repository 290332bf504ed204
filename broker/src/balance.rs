//! Sharing tasks fairly among engines: a task not yet started on an engine is not owned by it.
//!
//! An engine takes a prefetch beyond its slots (see [`crate::prefetch`]), and before its tasks'
//! run times are known that prefetch is large. The first engine of a run may thus take a whole
//! short queue of long tasks before the next engine joins. Two rules undo that:
//!
//! - **Dispatch** gives no engine more than its [fair hold](fair_hold): its share, by slots, of
//!   every task still to run (waiting here or held by engines that take work). With a long
//!   queue the share is larger than any engine's credit and changes nothing.
//! - **Give-back**: when nothing waits here and an engine has a free slot, engines holding more
//!   than their fair hold in tasks they have not started are asked to give the surplus back
//!   ([`give_backs`]); it returns to the front of the queue and goes to the engines below theirs.
//!
//! Engines whose queued work takes less than a round trip ([`LOOKAHEAD`]) are not asked: it
//! would be done before the tasks could travel, and runs of short tasks stay quiet.

use std::time::Duration;

use uuid::Uuid;

use crate::prefetch::LOOKAHEAD;

/// What the give-back decision knows of one engine that takes work.
#[derive(Clone, Debug)]
pub struct Load {
    pub id: Uuid,
    pub slots: u32,
    /// Tasks leased to it: running, queued there, or finished and not yet reported.
    pub held: usize,
    /// How long its tasks take, once one has finished.
    pub mean_run: Option<Duration>,
    /// A give-back request to it is still unanswered.
    pub asked: bool,
}

/// The most tasks an engine of `slots` should hold when `pool` tasks are shared among engines
/// of `total_slots` slots in all, rounded up (so the holds of all engines cover the pool).
pub fn fair_hold(slots: u32, pool: usize, total_slots: u64) -> usize {
    if total_slots == 0 {
        return pool;
    }
    let share = (pool as u128 * u128::from(slots)).div_ceil(u128::from(total_slots));
    usize::try_from(share).unwrap_or(usize::MAX)
}

/// With nothing waiting at the controller: how many unstarted tasks each engine should give
/// back (engines not listed keep theirs). Nothing moves unless an engine has a free slot.
pub fn give_backs(engines: &[Load]) -> Vec<(Uuid, usize)> {
    if !engines.iter().any(|e| e.held < e.slots as usize) {
        return Vec::new();
    }
    let pool: usize = engines.iter().map(|e| e.held).sum();
    let total_slots: u64 = engines.iter().map(|e| u64::from(e.slots)).sum();
    engines
        .iter()
        .filter(|e| !e.asked)
        .filter_map(|e| {
            let unstarted = e.held.saturating_sub(e.slots as usize);
            let surplus = e.held.saturating_sub(fair_hold(e.slots, pool, total_slots));
            let most = unstarted.min(surplus);
            (most > 0 && !done_within_a_round_trip(e, unstarted)).then_some((e.id, most))
        })
        .collect()
}

/// Whether `e` will have started its `unstarted` tasks sooner than moving them would help.
fn done_within_a_round_trip(e: &Load, unstarted: usize) -> bool {
    e.mean_run.is_some_and(|mean| {
        let queued_work = mean.as_secs_f64() * unstarted as f64 / f64::from(e.slots.max(1));
        queued_work < LOOKAHEAD.as_secs_f64()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(slots: u32, held: usize) -> Load {
        Load {
            id: Uuid::new_v4(),
            slots,
            held,
            mean_run: None,
            asked: false,
        }
    }

    fn asks(engines: &[Load]) -> Vec<usize> {
        let found = give_backs(engines);
        engines
            .iter()
            .map(|e| found.iter().find(|(id, _)| *id == e.id).map_or(0, |f| f.1))
            .collect()
    }

    #[test]
    fn fair_holds_follow_the_slots_and_cover_the_pool() {
        assert_eq!(fair_hold(4, 12, 8), 6);
        assert_eq!(fair_hold(1, 10, 65), 1);
        assert_eq!(fair_hold(64, 10, 65), 10);
        assert_eq!(fair_hold(1, 11, 3), 4);
        assert_eq!(fair_hold(3, 7, 0), 7, "no engine: no limit");
    }

    #[test]
    fn a_joining_engine_gets_half_of_what_the_first_one_took() {
        // 12 tasks of unknown length on a 4-slot engine; another 4-slot engine joins.
        assert_eq!(asks(&[engine(4, 12), engine(4, 0)]), [6, 0]);
        // A third joins after the first give-back: each of the two gives 2.
        assert_eq!(asks(&[engine(4, 6), engine(4, 6), engine(4, 0)]), [2, 2, 0]);
    }

    #[test]
    fn only_unstarted_tasks_move() {
        // One slot each: the first runs 1 of its 3 and may give at most 2; fair is 2 each.
        assert_eq!(asks(&[engine(1, 3), engine(1, 0)]), [1, 0]);
        // Everything it holds runs: nothing to give.
        assert_eq!(asks(&[engine(8, 8), engine(4, 0)]), [0, 0]);
    }

    #[test]
    fn nothing_moves_while_every_slot_is_busy() {
        assert_eq!(asks(&[engine(4, 20), engine(4, 4)]), [0, 0]);
    }

    #[test]
    fn an_engine_already_asked_is_not_asked_again() {
        let mut first = engine(4, 12);
        first.asked = true;
        assert_eq!(asks(&[first, engine(4, 0)]), [0, 0]);
    }

    #[test]
    fn a_queue_of_short_tasks_is_not_worth_moving() {
        let mut short = engine(2, 20);
        short.mean_run = Some(Duration::from_millis(5));
        let mut long = engine(2, 20);
        long.mean_run = Some(Duration::from_secs(2));
        // 18 queued tasks of 5 ms on 2 slots: 45 ms of work, less than a round trip is worth.
        assert_eq!(asks(&[short, engine(2, 0)]), [0, 0]);
        assert_eq!(asks(&[long, engine(2, 0)]), [10, 0]);
    }
}
