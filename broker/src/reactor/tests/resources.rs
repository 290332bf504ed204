//! Scheduling by resources: what fits where, GPUs counted, no starvation of large tasks, tasks
//! too large for every engine failed, and how well mixed requests pack.

use std::collections::VecDeque;
use std::time::Duration;

use hs_engine::protocol::{Leased, Results};
use hs_engine::resources::{Request, Resources};
use uuid::Uuid;

use super::rig::{Rig, ids, leased, result};

fn cores_of(tasks: &[Leased]) -> Vec<i64> {
    tasks.iter().map(|l| l.task.cores.unwrap_or(0)).collect()
}

#[test]
fn a_task_goes_only_to_an_engine_with_room_for_it() {
    let mut rig = Rig::new();
    let small = rig.join_offering(8, 4, &[]);
    let large = rig.join_offering(8, 8, &[]);
    rig.submit_asking(&[(6, 0), (3, 0), (3, 0)]);
    let effects = rig.turn();
    let (on_small, on_large) = (leased(&effects, small), leased(&effects, large));
    assert_eq!(
        cores_of(&on_large),
        [6],
        "only the large engine holds 6 cores"
    );
    assert_eq!(cores_of(&on_small), [3], "3 + 3 is more than 4");
    assert_eq!(rig.core.queued(), 1);
    // Its cores are free again once it reports: the last one goes.
    rig.report(small, &on_small, 0);
    let again = rig.turn();
    assert_eq!(
        cores_of(&leased(&again, small)).len() + cores_of(&leased(&again, large)).len(),
        1
    );
    assert_eq!(rig.core.queued(), 0);
}

#[test]
fn gpus_are_counted_and_an_engine_without_any_gets_no_gpu_task() {
    let mut rig = Rig::new();
    let gpu = rig.join_offering(8, 64, &["0", "1"]);
    // An older engine declares nothing: any cores, no GPUs.
    let old = rig.join(8, "old");
    rig.submit_asking(&[(1, 1), (1, 1), (1, 1), (32, 0)]);
    let effects = rig.turn();
    let on_gpu = leased(&effects, gpu);
    assert_eq!(on_gpu.iter().filter(|l| l.task.gpus() == 1).count(), 2);
    assert!(leased(&effects, old).iter().all(|l| l.task.gpus() == 0));
    assert_eq!(
        rig.core.queued(),
        1,
        "the third GPU task waits for a device"
    );
}

#[test]
fn a_large_task_is_not_starved_by_a_stream_of_small_ones() {
    let mut rig = Rig::with(|c| c.prefetch = Some(0));
    let engine = rig.join_offering(8, 8, &[]);
    rig.submit_asking(&[(2, 0), (2, 0), (2, 0), (2, 0)]);
    let first = leased(&rig.turn(), engine);
    assert_eq!(first.len(), 4);
    let big = rig.submit_asking(&[(8, 0)])[0];
    rig.submit_asking(&[(1, 0); 20]);
    // Cores free one task at a time; the small tasks behind the big one would fit, but the
    // engine is held for it.
    for done in &first[..3] {
        rig.report(engine, std::slice::from_ref(done), 0);
        assert!(
            leased(&rig.turn(), engine).is_empty(),
            "held for the big task"
        );
    }
    rig.report(engine, &first[3..], 0);
    assert_eq!(ids(&leased(&rig.turn(), engine)), [big]);
}

#[test]
fn a_held_engine_takes_only_work_that_cannot_stand_in_the_way_of_its_task() {
    let mut rig = Rig::with(|c| c.prefetch = Some(0));
    let engine = rig.join_offering(16, 16, &[]);
    rig.submit_asking(&[(3, 0); 4]);
    let first = leased(&rig.turn(), engine);
    assert_eq!(first.len(), 4);
    let big = rig.submit_asking(&[(10, 0)])[0];
    rig.submit_asking(&[(1, 0); 20]);
    // 4 of 16 cores free and 10 held for the big task: 6 cores of later work may run beside
    // it, as many as fit now.
    assert_eq!(cores_of(&leased(&rig.turn(), engine)), [1; 4]);
    // 3 more free, but only 2 more may be taken.
    rig.report(engine, &first[..1], 0);
    assert_eq!(cores_of(&leased(&rig.turn(), engine)), [1; 2]);
    rig.report(engine, &first[1..2], 0);
    assert!(
        leased(&rig.turn(), engine).is_empty(),
        "the room is used up"
    );
    // What ran when the reservation began has ended: the big task fits beside the later work.
    rig.report(engine, &first[2..], 0);
    assert_eq!(ids(&leased(&rig.turn(), engine)), [big]);
}

#[test]
fn a_held_engine_is_released_when_its_task_fits_elsewhere_first() {
    let mut rig = Rig::with(|c| c.prefetch = Some(0));
    let a = rig.join_offering(8, 8, &[]);
    let b = rig.join_offering(8, 8, &[]);
    rig.submit_asking(&[(6, 0), (7, 0)]);
    let effects = rig.turn();
    let (on_a, on_b) = (leased(&effects, a), leased(&effects, b));
    assert_eq!((cores_of(&on_a), cores_of(&on_b)), (vec![6], vec![7]));
    let big = rig.submit_asking(&[(8, 0)])[0];
    rig.submit_asking(&[(1, 0)]);
    // The big task is nearer to fitting on the first: it is held; the second takes the small.
    let effects = rig.turn();
    assert!(leased(&effects, a).is_empty(), "held");
    let small = leased(&effects, b);
    assert_eq!(cores_of(&small), [1]);
    // The second empties first and takes the big task.
    rig.report(b, &on_b, 0);
    rig.report(b, &small, 0);
    assert_eq!(ids(&leased(&rig.turn(), b)), [big]);
    // The first is no longer held: it takes small tasks beside its own.
    rig.submit_asking(&[(1, 0); 3]);
    assert_eq!(cores_of(&leased(&rig.turn(), a)), [1, 1]);
}

#[test]
fn a_task_larger_than_every_engine_fails_after_the_host_wait_with_minus_3() {
    let mut rig = Rig::with(|c| c.affinity_wait = Duration::from_secs(30));
    let engine = rig.join_offering(4, 4, &[]);
    let huge = rig.submit_asking(&[(16, 0), (2, 0)]);
    let effects = rig.turn();
    assert_eq!(
        cores_of(&leased(&effects, engine)),
        [2],
        "the small one is not held up"
    );
    rig.later(Duration::from_secs(29));
    rig.turn();
    assert!(
        rig.sink.not_run.is_empty(),
        "a larger engine may still join"
    );
    rig.later(Duration::from_secs(2));
    rig.turn();
    assert_eq!(rig.sink.not_run, [huge[0]]);
    assert_eq!(rig.core.queued(), 0);
    assert_eq!(rig.core.summary().failed, 1);
}

#[test]
fn a_task_that_a_late_engine_can_hold_is_not_failed() {
    let mut rig = Rig::with(|c| c.affinity_wait = Duration::from_secs(30));
    rig.join_offering(4, 4, &[]);
    rig.submit_asking(&[(16, 0)]);
    rig.turn();
    rig.later(Duration::from_secs(20));
    let large = rig.join_offering(4, 16, &[]);
    rig.later(Duration::from_secs(20));
    let effects = rig.turn();
    assert_eq!(cores_of(&leased(&effects, large)), [16]);
    assert!(rig.sink.not_run.is_empty());
}

/// One simulated engine: its own queue, started in order when the head fits (as the engine's
/// board does), and its running tasks with their virtual end times.
struct SimEngine {
    id: Uuid,
    slots: usize,
    resources: Resources,
    queue: VecDeque<Leased>,
    running: Vec<(Duration, Leased)>,
    used: Request,
}

impl SimEngine {
    fn start(
        &mut self,
        now: Duration,
        length: impl Fn(&Leased) -> Duration,
        starts: &mut [Option<Duration>],
        index: impl Fn(&Leased) -> usize,
    ) {
        while self.running.len() < self.slots {
            let Some(head) = self.queue.front() else {
                break;
            };
            let request = Request::of(&head.task);
            if !self.resources.fits(&self.used, &request) {
                break;
            }
            let job = self.queue.pop_front().expect("a head");
            self.used.add(&request);
            starts[index(&job)] = Some(now);
            self.running.push((now + length(&job), job));
        }
    }
}

/// The packing target: 1,000 tasks of 1 to 8 cores and 0.1 to 1 s on an engine of 8 cores and
/// one of 16 (as `scripts/packing` runs them for real), in virtual time (the core is driven as the run loop drives it; engines start what
/// fits, in order, and report each result as it ends). Core utilisation must be at least 90 %
/// of the ideal packing, and no task may wait, once every older task has started, longer than
/// the longest task. `cargo test -p hs-broker packing -- --nocapture` prints the figures.
#[test]
fn packing_of_mixed_core_tasks() {
    let mut rig = Rig::new();
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let asks: Vec<(i64, u32)> = (0..1000).map(|_| (1 + next(8) as i64, 0)).collect();
    let lengths: Vec<Duration> = (0..1000)
        .map(|_| Duration::from_millis(100 * (1 + next(10))))
        .collect();
    let mut engines: Vec<SimEngine> = [8u64, 16]
        .iter()
        .map(|&cores| SimEngine {
            id: rig.join_offering(cores as u32, cores, &[]),
            slots: cores as usize,
            resources: Resources {
                cores: Some(cores),
                memory: None,
                gpus: Vec::new(),
            },
            queue: VecDeque::new(),
            running: Vec::new(),
            used: Request::default(),
        })
        .collect();
    let ids = rig.submit_asking(&asks);
    rig.core.end_input();
    let index_of: std::collections::HashMap<Uuid, usize> =
        ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let index = |l: &Leased| index_of[&l.task.id];
    let length = |l: &Leased| lengths[index_of[&l.task.id]];
    let mut starts: Vec<Option<Duration>> = vec![None; ids.len()];
    let mut now = Duration::ZERO;
    let mut finished = 0;
    while finished < ids.len() {
        let effects = rig.turn();
        for e in &mut engines {
            e.queue.extend(leased(&effects, e.id));
            e.start(now, length, &mut starts, index);
        }
        // The next task to end, anywhere.
        let Some(end) = engines
            .iter()
            .flat_map(|e| e.running.iter().map(|(end, _)| *end))
            .min()
        else {
            panic!("nothing runs and {} tasks are left", ids.len() - finished);
        };
        rig.later(end - now);
        now = end;
        for e in &mut engines {
            let (done, still): (Vec<_>, Vec<_>) =
                e.running.drain(..).partition(|(end, _)| *end <= now);
            e.running = still;
            if done.is_empty() {
                continue;
            }
            let results = done
                .iter()
                .map(|(_, l)| {
                    e.used.remove(&Request::of(&l.task));
                    result(l.task.id, l.lease, 0)
                })
                .collect();
            finished += done.len();
            rig.engine_says(e.id, Results { results });
        }
    }
    let total_cores: u64 = engines.iter().filter_map(|e| e.resources.cores).sum();
    let work: f64 = asks
        .iter()
        .zip(&lengths)
        .map(|((c, _), d)| *c as f64 * d.as_secs_f64())
        .sum();
    let longest = lengths.iter().max().expect("tasks").as_secs_f64();
    let ideal = (work / total_cores as f64).max(longest);
    let makespan = now.as_secs_f64();
    let ratio = ideal / makespan;
    // How long each task waited once every task submitted before it had started (in whole
    // virtual time, so that a wait of exactly the longest task compares equal).
    let mut older_started = Duration::ZERO;
    let mut worst = Duration::ZERO;
    for start in starts.iter().map(|s| s.expect("started")) {
        worst = worst.max(start.saturating_sub(older_started));
        older_started = older_started.max(start);
    }
    let longest_task = *lengths.iter().max().expect("tasks");
    let worst_wait = worst.as_secs_f64();
    eprintln!(
        "packing: {} tasks, {total_cores} cores, makespan {makespan:.1} s, ideal {ideal:.1} s, \
         {:.1} % of ideal; longest wait after all older tasks started {worst_wait:.1} s \
         (longest task {longest:.1} s)",
        ids.len(),
        100.0 * ratio
    );
    assert!(ratio >= 0.9, "{:.1} % of the ideal packing", 100.0 * ratio);
    assert!(worst <= longest_task, "a task waited {worst:?}");
}
