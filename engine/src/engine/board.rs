//! The engine's board: the tasks leased to it (queued and running), what their requests hold of
//! its resources, and the results its slots leave for the engine loop. One mutex guards it; slots
//! wait on its condition variable for work.

use super::env::ControllerFacts;
use super::lease_clock::LeaseClock;
use super::pace::Pace;
use crate::executor::{StopReason, StopSignal};
use crate::protocol::Leased;
use crate::resources::{Request, Resources};
use crate::task::TaskResult;
use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How often a slot with queued tasks it may not start (its engine's lease clock ran out) looks
/// again, in case the engine hears from its controller without new work arriving.
const LEASE_RECHECK: Duration = Duration::from_millis(50);

/// What a slot leaves on the board when a task ends.
pub struct SlotDone {
    pub result: TaskResult,
    /// The run was cut short by an engine shutdown ([`StopReason::Shutdown`]) or because the
    /// controller was silent for nearly its eviction time ([`StopReason::LeaseLost`]): hand
    /// the task back rather than report it.
    pub interrupted: Option<StopReason>,
}

/// Work shared by the engine loop and its slots: the engine's own queue of leased tasks, what
/// each slot is running, and finished results not yet collected.
///
/// Slots take their next task straight from here, so a slot that finishes one task starts the
/// next without a round trip through the engine loop. The loop is woken (the doorbell) only
/// when results should go to the controller: a batch is ready, or the queue ran dry and the
/// controller must send more.
pub struct Board {
    state: Mutex<BoardState>,
    work: Condvar,
    /// Until when queued tasks may start (see [`LeaseClock`]).
    pub lease: LeaseClock,
}

#[derive(Default)]
pub struct BoardState {
    pub queue: VecDeque<Leased>,
    /// Task id → (lease, slot) for every task a slot is running.
    pub running: HashMap<Uuid, (u64, usize)>,
    pub done: Vec<SlotDone>,
    /// The engine is giving up or leaving: slots start nothing more, even from a non-empty
    /// queue (the controller runs those tasks elsewhere), and leave.
    closed: bool,
    /// `-b`: results go to the controller in bundles of this many; `None`: see
    /// [`bundle_full`](Self::bundle_full).
    pub bundle: Option<usize>,
    /// The controller the engine is registered with, as its welcome named it: the "server" of
    /// every task a slot starts (`TASK_SERVER_ID`, `TASK_SERVER_HOST`).
    pub server: Option<ControllerFacts>,
    /// Results finished since the engine loop last sent a bundle. While there are any, the loop
    /// knows results are waiting and sends them by its linger deadline: a finished task rings
    /// the doorbell only for the first result of a bundle, a full bundle, or a queue run dry.
    /// Most results then ring no one, which on a machine whose cores all run tasks saves a
    /// preempted task per result.
    pending: usize,
    /// What the engine's tasks may use together (`-C`, `-M`, `--gpus`).
    resources: Resources,
    /// What the running tasks asked for, summed.
    used: Request,
    /// Devices no running task holds, in the order declared.
    free_gpus: Vec<String>,
    /// Each running task's request and devices, given back when it ends.
    held: HashMap<Uuid, (Request, Vec<String>)>,
    /// A task that held resources ended since the last bundle: the controller may now lease
    /// more, so the bundle goes at once instead of lingering.
    freed: bool,
    /// `-R`: when the next task may start.
    pace: Option<Pace>,
}

/// A task a slot may start, with what it runs under.
pub struct Taken {
    pub job: Leased,
    pub server: Option<ControllerFacts>,
    /// The devices it was given (`CUDA_VISIBLE_DEVICES`): none unless it asked.
    pub gpus: Vec<String>,
}

impl BoardState {
    /// Takes the finished results as a bundle that is about to be sent: the next result starts a
    /// new one (and rings). Done under the board's lock, so no result can land between the
    /// taking and the reset and then wait unseen.
    pub fn take_bundle(&mut self) -> Vec<SlotDone> {
        self.pending = 0;
        self.freed = false;
        std::mem::take(&mut self.done)
    }

    /// Whether `ready` finished results make a full bundle: `-b` of them or, by default, as
    /// many as the engine still holds (queued and running). That is half of what the
    /// controller lets it hold, so the controller refills one half while the other runs; and
    /// as the controller lets an engine of short tasks hold more, its bundles grow with it.
    /// A result that freed resources makes any bundle full: the controller leases by what is
    /// free, so holding it back would leave those cores idle.
    pub fn bundle_full(&self, ready: usize) -> bool {
        if self.freed {
            return true;
        }
        match self.bundle {
            Some(n) => ready >= n,
            None => ready >= self.queue.len() + self.running.len(),
        }
    }
}

impl BoardState {
    /// Whether the task at the head of the queue may start now: it fits beside the running
    /// tasks, or it can never fit here (it is then taken to be failed, not left to block the
    /// queue). The queue is started in order: the controller leases an engine only what fits
    /// beside everything it holds, so a head that does not fit waits only for what an older
    /// controller, or a lease adopted after a reconnection, overcommitted.
    pub(super) fn head_startable(&self) -> bool {
        self.queue.front().is_some_and(|job| {
            let request = Request::of(&job.task);
            request.is_zero()
                || self.resources.fits(&self.used, &request)
                || !self.resources.holds(&request)
        })
    }

    /// Reserve `job`'s request and devices, if it fits (a task that can never fit gets none).
    fn allot(&mut self, job: &Leased) -> Vec<String> {
        let request = Request::of(&job.task);
        if request.is_zero() || !self.resources.fits(&self.used, &request) {
            return Vec::new();
        }
        self.used.add(&request);
        let gpus: Vec<String> = self.free_gpus.drain(..request.gpus as usize).collect();
        self.held.insert(job.task.id, (request, gpus.clone()));
        gpus
    }

    /// Give back what the task `id` held; whether it held anything.
    fn release(&mut self, id: &Uuid) -> bool {
        let Some((request, gpus)) = self.held.remove(id) else {
            return false;
        };
        self.used.remove(&request);
        self.free_gpus.extend(gpus);
        // Free devices stay in the engine's own order, so a task's list reads the same
        // whichever tasks ended first.
        let order = &self.resources.gpus;
        self.free_gpus
            .sort_by_key(|g| order.iter().position(|o| o == g));
        true
    }
}

impl Board {
    /// `bundle`: `-b`, a fixed bundle size; `None` for bundles of half what the engine holds.
    /// `resources`: what its tasks may use together.
    pub fn new(bundle: Option<usize>, resources: Resources) -> Self {
        Board {
            state: Mutex::new(BoardState {
                bundle: bundle.map(|n| n.max(1)),
                free_gpus: resources.gpus.clone(),
                resources,
                ..BoardState::default()
            }),
            work: Condvar::new(),
            lease: LeaseClock::default(),
        }
    }

    /// Start at most `rate` tasks per second (`-R`); `None` or a rate that is not positive: no
    /// limit.
    pub fn paced(self, rate: Option<f64>) -> Self {
        self.with(|s| s.pace = rate.and_then(Pace::per_second));
        self
    }

    /// Look at or change the shared state. Held only for short, non-blocking sections.
    pub fn with<T>(&self, f: impl FnOnce(&mut BoardState) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut state)
    }

    /// Queue tasks and wake idle slots.
    pub fn add(&self, tasks: Vec<Leased>) {
        self.with(|s| s.queue.extend(tasks));
        self.work.notify_all();
    }

    /// Let slots leave: each finishes its running task and starts nothing more.
    pub(super) fn close(&self) {
        self.with(|s| s.closed = true);
        self.work.notify_all();
    }

    /// The next task for `slot`, waiting while there is none; `None` once closed and empty.
    ///
    /// The slot's stop signal is cleared here, under the same lock that records the new task as
    /// running. Stops are only ever aimed at slots the board shows running something (looked up
    /// under this lock), so a stop meant for the previous task can never reach this one, and a
    /// stop for this one cannot be cleared after it was sent.
    ///
    /// `idle` runs (outside the lock) before the slot would wait, so a doorbell the slot still
    /// owes is rung before it goes idle rather than after its next task started.
    ///
    /// A closed board starts nothing more: the engine only closes it with tasks still queued
    /// when it is giving up (the controller has requeued them elsewhere by then).
    ///
    /// Nor does a slot start a queued task once the [lease clock](LeaseClock) ran out: it waits,
    /// looking again every [`LEASE_RECHECK`], while the engine loop gives the queue back or
    /// hears from its controller again. Nor does it start one whose request does not fit
    /// beside the running tasks (see [`BoardState::head_startable`]): a finishing task that
    /// frees resources wakes it. Nor, under `-R`, before the engine's [pace](Pace) allows the
    /// next start: it waits for the time left.
    pub(super) fn take(
        &self,
        slot: usize,
        stop: &StopSignal,
        idle: &mut dyn FnMut(),
    ) -> Option<Taken> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut idled = false;
        loop {
            if state.closed {
                return None;
            }
            let now = Instant::now();
            let startable = state.head_startable() && self.lease.allows(now);
            let early = state.pace.map_or(Duration::ZERO, |p| p.wait(now));
            if startable
                && early.is_zero()
                && let Some(job) = state.queue.pop_front()
            {
                if let Some(pace) = &mut state.pace {
                    pace.started(now);
                }
                stop.reset();
                state.running.insert(job.task.id, (job.lease, slot));
                let gpus = state.allot(&job);
                return Some(Taken {
                    job,
                    server: state.server.clone(),
                    gpus,
                });
            }
            if !idled {
                idled = true;
                drop(state);
                idle();
                state = self.state.lock().unwrap_or_else(|p| p.into_inner());
                continue;
            }
            state = if state.queue.is_empty() {
                self.work.wait(state).unwrap_or_else(|p| p.into_inner())
            } else {
                let recheck = if startable { early } else { LEASE_RECHECK };
                let (state, _) = self
                    .work
                    .wait_timeout(state, recheck)
                    .unwrap_or_else(|p| p.into_inner());
                state
            };
        }
    }

    /// Record a finished task; true when the engine loop should be woken: to start the linger
    /// timer of a new bundle, to send a full one, or to ask for more work.
    pub(super) fn finish(&self, report: SlotDone) -> bool {
        let (ring, freed) = self.with(|s| {
            s.running.remove(&report.result.id);
            let freed = s.release(&report.result.id);
            s.freed |= freed;
            s.done.push(report);
            s.pending += 1;
            let ring = s.pending == 1 || s.bundle_full(s.pending) || s.queue.is_empty();
            (ring, freed)
        });
        if freed {
            // Slots waiting for room may start the next task.
            self.work.notify_all();
        }
        ring
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::env::ControllerFacts;
    use crate::resources::Resources;
    use crate::task::{Outcome, Task};
    use std::sync::Arc;

    fn leased(n: usize) -> Vec<Leased> {
        (0..n)
            .map(|i| Leased {
                lease: i as u64,
                task: Arc::new(Task::new(format!("task {i}"))),
            })
            .collect()
    }

    fn done(job: &Leased) -> SlotDone {
        SlotDone {
            result: TaskResult::not_run(job.task.id, job.lease, Outcome::Exited, 0, None),
            interrupted: None,
        }
    }

    /// Takes the next job as slot 0 and finishes it; returns whether the loop was rung.
    fn run_one(board: &Board, stop: &StopSignal) -> bool {
        let job = board.take(0, stop, &mut || {}).expect("a job").job;
        board.finish(done(&job))
    }

    #[test]
    fn a_bundle_rings_on_its_first_result_when_full_and_when_work_runs_out() {
        let board = Board::new(Some(3), Resources::default());
        let stop = StopSignal::new().expect("eventfd");
        board.add(leased(8));
        assert!(
            run_one(&board, &stop),
            "the first result arms the linger timer"
        );
        assert!(!run_one(&board, &stop), "later ones wait for the bundle");
        assert!(run_one(&board, &stop), "the third fills the bundle");
        assert_eq!(board.with(BoardState::take_bundle).len(), 3);
        assert!(
            run_one(&board, &stop),
            "taking the bundle disarms: a new one starts"
        );
        assert!(!run_one(&board, &stop));
        board.with(|b| b.queue.truncate(1));
        assert!(
            run_one(&board, &stop),
            "the queue ran dry: the controller must hear"
        );
    }

    #[test]
    fn by_default_a_bundle_is_full_once_as_many_are_done_as_are_still_held() {
        let board = Board::new(None, Resources::default());
        let stop = StopSignal::new().expect("eventfd");
        board.add(leased(8));
        assert!(
            run_one(&board, &stop),
            "the first result arms the linger timer"
        );
        for _ in 0..2 {
            assert!(!run_one(&board, &stop), "3 done of 8 held");
        }
        assert!(run_one(&board, &stop), "4 done, 4 still held");
        assert_eq!(board.with(BoardState::take_bundle).len(), 4);
        // A larger grant makes larger bundles.
        board.add(leased(12));
        assert!(run_one(&board, &stop));
        assert!(board.with(|b| !b.bundle_full(14) && b.bundle_full(15)));
    }

    #[test]
    fn collecting_without_sending_keeps_the_bundle_armed_and_counted() {
        let board = Board::new(Some(3), Resources::default());
        let stop = StopSignal::new().expect("eventfd");
        board.add(leased(8));
        assert!(run_one(&board, &stop));
        // The engine loop collects what is done at every wake; that is not a send.
        assert_eq!(board.with(|b| std::mem::take(&mut b.done)).len(), 1);
        assert!(!run_one(&board, &stop));
        assert!(
            run_one(&board, &stop),
            "full counts results already collected"
        );
    }

    #[test]
    fn a_slot_about_to_wait_runs_its_idle_hook_first_and_once() {
        let board = Arc::new(Board::new(Some(3), Resources::default()));
        let (rang, heard) = std::sync::mpsc::channel();
        let waiter = {
            let board = board.clone();
            std::thread::spawn(move || {
                let stop = StopSignal::new().expect("eventfd");
                board
                    .take(0, &stop, &mut || rang.send(()).expect("the test listens"))
                    .map(|taken| taken.job.lease)
            })
        };
        // Rung while the queue is still empty: a ring the slot owes is not held up by the wait.
        heard
            .recv_timeout(Duration::from_secs(5))
            .expect("the hook ran before the slot waited");
        board.add(leased(1));
        assert_eq!(waiter.join().expect("slot thread"), Some(0));
        assert!(heard.try_recv().is_err(), "once per wait");
    }

    #[test]
    fn a_task_is_taken_with_the_controller_of_the_moment() {
        let board = Board::new(Some(3), Resources::default());
        let stop = StopSignal::new().expect("eventfd");
        board.add(leased(2));
        let none = board.take(0, &stop, &mut || {}).expect("a job").server;
        assert_eq!(none, None, "not registered yet");
        let server = ControllerFacts {
            id: Uuid::now_v7(),
            host: Some("ctl".into()),
        };
        board.with(|b| b.server = Some(server.clone()));
        let named = board.take(0, &stop, &mut || {}).expect("a job").server;
        assert_eq!(named, Some(server));
    }

    #[test]
    fn a_closed_board_starts_nothing_more() {
        let board = Board::new(Some(3), Resources::default());
        let stop = StopSignal::new().expect("eventfd");
        board.add(leased(2));
        board.close();
        assert!(board.take(0, &stop, &mut || {}).is_none());
    }

    #[test]
    fn a_paced_board_holds_the_next_start_until_its_time() {
        // One start per 1,000 s: the second cannot be due while the test runs.
        let board = Board::new(None, Resources::default()).paced(Some(1e-3));
        let stop = StopSignal::new().expect("eventfd");
        board.add(leased(2));
        assert!(
            board.take(0, &stop, &mut || {}).is_some(),
            "the first is free"
        );
        let (idle, waiting) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let slot = s.spawn(|| {
                let idle = idle;
                board
                    .take(1, &stop, &mut || {
                        let _ = idle.send(());
                    })
                    .map(|t| t.job.lease)
            });
            // Only a slot about to wait runs its idle hook; one that took the task does not.
            assert!(
                waiting.recv().is_ok(),
                "the second start waits for its time"
            );
            assert_eq!(board.with(|b| b.queue.len()), 1);
            board.close();
            assert_eq!(slot.join().expect("slot"), None);
        });
    }

    fn asking(cores: i64, gpus: u32) -> Leased {
        let mut task = Task::new("t");
        task.cores = Some(cores);
        task.job = Some(crate::task::JobOptions {
            gpus,
            ..Default::default()
        });
        Leased {
            lease: 1,
            task: Arc::new(task),
        }
    }

    fn engine_of(cores: u64, gpus: &[&str]) -> Resources {
        Resources {
            cores: Some(cores),
            memory: None,
            gpus: gpus.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn a_queued_task_starts_only_when_it_fits_beside_the_running_ones() {
        let board = Board::new(None, engine_of(4, &[]));
        let stop = StopSignal::new().expect("eventfd");
        board.add(vec![asking(3, 0), asking(2, 0), asking(1, 0)]);
        let first = board.take(0, &stop, &mut || {}).expect("3 of 4 cores").job;
        assert!(board.with(|b| !b.head_startable()), "2 more do not fit");
        board.finish(done(&first));
        assert!(
            board.with(|b| b.head_startable()),
            "its cores are free again"
        );
        assert!(
            board.with(|b| b.bundle_full(1)),
            "freed cores send the result at once"
        );
    }

    #[test]
    fn running_tasks_never_share_a_gpu_and_devices_come_back() {
        let board = Board::new(None, engine_of(64, &["0", "1", "2"]));
        let stop = StopSignal::new().expect("eventfd");
        board.add(vec![asking(1, 2), asking(1, 1), asking(1, 1)]);
        let a = board.take(0, &stop, &mut || {}).expect("two GPUs");
        let b = board.take(1, &stop, &mut || {}).expect("the third");
        assert_eq!(
            (a.gpus, b.gpus),
            (vec!["0".to_string(), "1".into()], vec!["2".into()])
        );
        assert!(board.with(|s| !s.head_startable()), "no GPU left");
        board.finish(done(&a.job));
        let c = board.take(2, &stop, &mut || {}).expect("a freed GPU");
        assert_eq!(c.gpus, ["0"]);
    }

    #[test]
    fn a_task_larger_than_the_engine_does_not_block_the_queue() {
        let board = Board::new(None, engine_of(2, &[]));
        let stop = StopSignal::new().expect("eventfd");
        board.add(vec![asking(8, 0), asking(1, 0)]);
        let huge = board
            .take(0, &stop, &mut || {})
            .expect("taken, to be failed");
        assert!(huge.gpus.is_empty());
        assert!(board.with(|b| b.used.is_zero()), "it reserved nothing");
        assert!(board.take(1, &stop, &mut || {}).is_some());
    }
}
