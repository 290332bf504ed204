//! The task stores (SQLite, PostgreSQL, memory) against one shared suite of cases, each case a
//! test of its own per store (`store::sqlite::retry_chain`, …), plus what is particular to each
//! store in its file: damaged files, newer schemas, the controller lock, memory that stays flat.
//!
//! PostgreSQL runs for real when `DATABASE_URL` is set (`scripts/test` as root starts a server):
//! every store gets its own schema, dropped at the end. Store speed is measured outside the tests:
//! `cargo run --release -p hs-store --example store_bench` (and `scripts/bench`'s store section).

use std::cell::{Cell, RefCell};

use chrono::{DateTime, Duration, TimeZone, Utc};
use hs_broker::store::{
    Change, Completion, Condition, EngineRecord, Field, MemoryStore, Op, Order, Pending,
    PostgresStore, Query, SCHEMA_VERSION, Scheduler, Scope, SqliteStore, StoreError, TagFilter,
    TaskRecord, TaskStore, Value,
};
use hs_engine::task::JobOptions;
use serde_json::json;
use uuid::Uuid;

type Make<'a> = &'a dyn Fn() -> Box<dyn TaskStore>;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap() + Duration::microseconds(123_456)
}

fn at(ms: i64) -> DateTime<Utc> {
    base() + Duration::milliseconds(ms)
}

fn task(args: &str, ms: i64) -> TaskRecord {
    let mut t = TaskRecord::new(args.into(), Uuid::nil(), Some("submitter".into()));
    t.submit_time = at(ms);
    t
}

fn in_group(args: &str, ms: i64, group: i64) -> TaskRecord {
    let mut t = task(args, ms);
    t.group = group;
    t
}

fn sched(max_retries: u32, eager: bool) -> Scheduler {
    Scheduler {
        server_id: Uuid::now_v7(),
        server_host: "controller".into(),
        max_retries,
        eager,
        scope: Scope::All,
    }
}

/// A scheduler of one run, taking only what `submitters` submitted (and its own retries).
fn run_of(max_retries: u32, submitters: &[Uuid]) -> Scheduler {
    Scheduler {
        scope: Scope::Submitters(submitters.to_vec()),
        ..sched(max_retries, false)
    }
}

/// The job options a retry of a task with `job` carries: the same, and the command that ran.
fn retry_job(job: &Option<JobOptions>, command: &str) -> Option<JobOptions> {
    Some(JobOptions {
        command: Some(command.into()),
        ..job.clone().unwrap_or_default()
    })
}

fn done(id: Uuid, exit: i32) -> Completion {
    Completion {
        client_id: Some(Uuid::now_v7()),
        client_host: Some("engine".into()),
        command: Some("cmd".into()),
        ..Completion::exited(id, exit, at(10_000), at(12_000))
    }
}

fn args_of(rows: &[TaskRecord]) -> Vec<String> {
    rows.iter().map(|r| r.args.clone()).collect()
}

fn cond(field: Field, op: Op, value: Value) -> Query {
    Query {
        conditions: vec![Condition { field, op, value }],
        ..Query::default()
    }
}

fn by_id(id: Uuid) -> Query {
    cond(Field::Id, Op::Eq, Value::Uuid(id))
}

/// Tasks not completed yet, in any group.
fn remaining(s: &mut (impl TaskStore + ?Sized)) -> u64 {
    s.count(&cond(Field::CompletionTime, Op::Eq, Value::Null))
        .unwrap()
}

fn one_line(e: &StoreError) {
    let msg = e.to_string();
    assert!(!msg.contains('\n'), "error message spans lines: {msg:?}");
}

/// Every case, against fresh stores from `make`. `history`: completed rows stay readable
/// (false for the memory store, which keeps only unfinished work).
fn round_trip(make: Make, history: bool) {
    let mut s = make();
    let mut full = task("echo 'all' \"fields\"\nline two ✓", 0);
    full.group = 7;
    full.submit_id = Uuid::now_v7();
    full.cores = Some(4);
    full.memory = Some(5 * (1i64 << 30)); // D11: beyond int4
    full.cores_max = Some(3.75);
    full.memory_max = Some(123_456_789.5);
    full.timeout = Some(3600);
    full.server_id = Some(Uuid::now_v7());
    full.server_host = Some("server".into());
    full.schedule_time = Some(at(1_001));
    full.client_id = Some(Uuid::now_v7());
    full.client_host = Some("client".into());
    full.command = Some("echo all".into());
    full.start_time = Some(at(2_000) + Duration::microseconds(1));
    full.completion_time = Some(at(5_999) + Duration::microseconds(999));
    full.exit_status = Some(-9);
    full.signal = Some(9);
    full.outpath = Some("/tmp/o".into());
    full.errpath = Some("/tmp/e".into());
    full.csvpath = Some("/tmp/c".into());
    full.attempt = 3;
    full.retried = true;
    full.waited = Some(2);
    full.duration = Some(3);
    full.previous_id = Some(Uuid::now_v7());
    full.next_id = Some(Uuid::now_v7());
    full.tag = json!({"a": 1, "b": "x y", "c": true, "d": null, "e": [1, 2.5], "f": {"g": "é"}})
        .as_object()
        .unwrap()
        .clone();

    // A task that is still to run (the memory store keeps those) with every field set...
    let mut open = full.clone();
    open.id = Uuid::now_v7();
    open.completion_time = None;
    open.exit_status = None;
    open.retried = false;
    // ...and one with every optional field empty.
    let bare = task("bare", 1);
    // Nanoseconds are dropped: stores keep microseconds.
    let mut nanos = task("nanos", 2);
    nanos.submit_time = at(2) + Duration::nanoseconds(1_234_567);
    s.submit(&[full.clone(), open.clone(), bare.clone(), nanos.clone()])
        .unwrap();

    assert_eq!(s.get(&open.id).unwrap().as_ref(), Some(&open));
    assert_eq!(s.get(&bare.id).unwrap().as_ref(), Some(&bare));
    let back = s.get(&nanos.id).unwrap().unwrap();
    assert_eq!(back.submit_time, at(2) + Duration::microseconds(1_234));
    assert_eq!(s.get(&Uuid::now_v7()).unwrap(), None);
    if history {
        assert_eq!(s.get(&full.id).unwrap().as_ref(), Some(&full));
        let found = s.search(&by_id(full.id)).unwrap();
        assert_eq!(found, vec![full.clone()]);
    } else {
        assert_eq!(
            s.get(&full.id).unwrap(),
            None,
            "no history without a database"
        );
    }
    let found = s.search(&by_id(open.id)).unwrap();
    assert_eq!(found, vec![open]);

    // Duplicate ids are refused, and nothing of the batch is kept.
    let extra = task("extra", 3);
    assert!(s.submit(&[extra.clone(), bare.clone()]).is_err());
    assert_eq!(s.get(&extra.id).unwrap(), None);
}

fn submit_order(make: Make, _history: bool) {
    let mut s = make();
    // Inserted out of order; submit_time decides.
    let tasks: Vec<TaskRecord> = [5, 1, 4, 2, 3, 0]
        .iter()
        .map(|i| task(&format!("t{i}"), *i))
        .collect();
    s.submit(&tasks).unwrap();
    let want: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
    assert_eq!(args_of(&s.search(&Query::default()).unwrap()), want);
    let got = s.schedule(100, &sched(0, false)).unwrap();
    assert_eq!(args_of(&got), want);
}

fn schedule_marks_and_limits(make: Make, _history: bool) {
    let mut s = make();
    let tasks: Vec<TaskRecord> = (0..10).map(|i| task(&format!("t{i}"), i)).collect();
    s.submit(&tasks).unwrap();
    assert_eq!(remaining(&mut *s), 10);
    let by = sched(0, false);
    assert!(s.schedule(0, &by).unwrap().is_empty());
    let first = s.schedule(3, &by).unwrap();
    assert_eq!(args_of(&first), ["t0", "t1", "t2"]);
    for r in &first {
        assert!(r.schedule_time.is_some());
        assert_eq!(r.server_id, Some(by.server_id));
        assert_eq!(r.server_host.as_deref(), Some("controller"));
        assert_eq!(r.attempt, 1);
        assert_eq!(
            s.get(&r.id).unwrap().as_ref(),
            Some(r),
            "returned rows are what is stored"
        );
    }
    let rest = s.schedule(100, &by).unwrap();
    assert_eq!(rest.len(), 7);
    assert!(s.schedule(100, &by).unwrap().is_empty());
    assert_eq!(remaining(&mut *s), 10, "scheduled is not completed");
}

fn complete_first_wins(make: Make, history: bool) {
    let mut s = make();
    let a = task("a", 0);
    let b = task("b", 1);
    s.submit(&[a.clone(), b.clone()]).unwrap();
    s.schedule(10, &sched(0, false)).unwrap();

    let mut first = done(a.id, 0);
    first.start_time = Some(a.submit_time + Duration::milliseconds(5_900));
    first.completion_time = a.submit_time + Duration::milliseconds(8_400);
    first.signal = None;
    first.outpath = Some("/o".into());
    first.errpath = Some("/e".into());
    let mut dup = done(a.id, 3);
    dup.client_host = Some("late".into());
    let unknown = done(Uuid::now_v7(), 0);
    let got = s.complete(&[first.clone(), dup.clone(), unknown]).unwrap();
    assert_eq!(got, vec![a.id]);
    assert_eq!(
        s.complete(&[dup]).unwrap(),
        Vec::<Uuid>::new(),
        "first result wins"
    );
    assert_eq!(remaining(&mut *s), 1);
    if history {
        let r = s.get(&a.id).unwrap().unwrap();
        assert_eq!(r.exit_status, Some(0));
        assert_eq!(r.client_host.as_deref(), Some("engine"));
        assert_eq!(r.client_id, first.client_id);
        assert_eq!(r.command.as_deref(), Some("cmd"));
        assert_eq!(r.start_time, first.start_time);
        assert_eq!(r.completion_time, Some(first.completion_time));
        assert_eq!(r.outpath.as_deref(), Some("/o"));
        assert_eq!(r.errpath.as_deref(), Some("/e"));
        assert_eq!(r.waited, Some(5), "start - submit, truncated");
        assert_eq!(r.duration, Some(2), "completion - start, truncated");
        assert_eq!(r.signal, None);
    }
    // A signal death keeps its signal apart from the sentinels.
    let mut killed = done(b.id, -15);
    killed.signal = Some(15);
    killed.start_time = None;
    assert_eq!(s.complete(&[killed]).unwrap(), vec![b.id]);
    if history {
        let r = s.get(&b.id).unwrap().unwrap();
        assert_eq!(
            (r.exit_status, r.signal, r.waited, r.duration),
            (Some(-15), Some(15), None, None)
        );
    }
    assert_eq!(remaining(&mut *s), 0);
}

/// A task finished without reaching an engine (no engine on its hosts) has no engine recorded.
fn never_ran(make: Make, history: bool) {
    let mut s = make();
    let a = task("pinned", 0);
    s.submit(std::slice::from_ref(&a)).unwrap();
    s.schedule(10, &sched(0, false)).unwrap();
    let c = Completion {
        client_id: None,
        client_host: None,
        command: None,
        start_time: None,
        ..done(a.id, -3)
    };
    assert_eq!(s.complete(&[c]).unwrap(), vec![a.id]);
    assert_eq!(remaining(&mut *s), 0);
    if history {
        let r = s.get(&a.id).unwrap().unwrap();
        assert_eq!(
            (r.exit_status, r.client_id, r.client_host, r.start_time),
            (Some(-3), None, None, None)
        );
        assert!(r.completion_time.is_some());
    }
}

/// What `--monitor` measured of a task is recorded with its completion.
fn monitored_usage(make: Make, history: bool) {
    let mut s = make();
    let a = task("busy", 0);
    s.submit(std::slice::from_ref(&a)).unwrap();
    s.schedule(10, &sched(0, false)).unwrap();
    let csv = format!("/site/lib/task/{}.csv", a.id);
    let c = Completion {
        cores_max: Some(1.25),
        memory_max: Some(52_428_800.0),
        csvpath: Some(csv.clone()),
        ..done(a.id, 1)
    };
    assert_eq!(s.complete(&[c]).unwrap(), vec![a.id]);
    if history {
        let r = s.get(&a.id).unwrap().unwrap();
        assert_eq!(
            (r.cores_max, r.memory_max, r.csvpath),
            (Some(1.25), Some(52_428_800.0), Some(csv))
        );
        // A reverted task runs again: what its last run measured goes with the rest.
        assert_eq!(s.update(&by_id(a.id), &[Change::Revert]).unwrap(), 1);
        let r = s.get(&a.id).unwrap().unwrap();
        assert_eq!((r.cores_max, r.memory_max, r.csvpath), (None, None, None));
    }
}

fn retry_chain(make: Make, history: bool) {
    let mut s = make();
    let mut a = in_group("flaky", 0, 3);
    a.cores = Some(2);
    a.memory = Some(3 << 30);
    a.timeout = Some(60);
    a.tag = json!({"k": "v", "part": 4}).as_object().unwrap().clone();
    s.submit(std::slice::from_ref(&a)).unwrap();
    let by = sched(2, false);
    let r1 = s.schedule(10, &by).unwrap();
    assert_eq!(r1.len(), 1);
    assert_eq!(s.complete(&[done(a.id, 1)]).unwrap(), vec![a.id]);
    assert_eq!(remaining(&mut *s), 0);

    let r2 = s.schedule(10, &by).unwrap();
    assert_eq!(r2.len(), 1, "a failed task is retried");
    let r2 = &r2[0];
    assert_ne!(r2.id, a.id);
    assert_eq!(r2.attempt, 2);
    assert_eq!(r2.previous_id, Some(a.id));
    assert_eq!(r2.next_id, None);
    assert_eq!(r2.args, "flaky");
    assert_eq!(r2.group, 3);
    assert_eq!(
        (r2.cores, r2.memory, r2.timeout),
        (Some(2), Some(3 << 30), Some(60)),
        "D2"
    );
    assert_eq!(
        r2.tag,
        json!({"k": "v", "part": 0}).as_object().unwrap().clone()
    );
    assert!(r2.schedule_time.is_some() && r2.completion_time.is_none());
    assert_eq!(r2.server_id, Some(by.server_id));
    assert_eq!(
        r2.job,
        retry_job(&None, "cmd"),
        "a retry runs what the first attempt ran"
    );
    // (Only the scheduler reads the job column back: `get` leaves it out on the SQL stores.)
    let mut stored = s.get(&r2.id).unwrap().expect("the retry row is stored");
    stored.job = r2.job.clone();
    assert_eq!(&stored, r2);
    if history {
        let old = s.get(&a.id).unwrap().unwrap();
        assert!(old.retried);
        assert_eq!(old.next_id, Some(r2.id));
        assert_eq!(old.exit_status, Some(1));
    }
    assert_eq!(remaining(&mut *s), 1);

    s.complete(&[done(r2.id, 1)]).unwrap();
    let r3 = s.schedule(10, &by).unwrap();
    assert_eq!(r3.len(), 1);
    assert_eq!((r3[0].attempt, r3[0].previous_id), (3, Some(r2.id)));
    s.complete(&[done(r3[0].id, 1)]).unwrap();
    assert!(
        s.schedule(10, &by).unwrap().is_empty(),
        "3 attempts with -r 2, then no more"
    );
    assert_eq!(remaining(&mut *s), 0);
    if history {
        let chain = s
            .search(&cond(Field::Args, Op::Eq, Value::Text("flaky".into())))
            .unwrap();
        assert_eq!(chain.len(), 3);
        assert_eq!(chain.iter().filter(|r| r.retried).count(), 2);
        let last = s.get(&r3[0].id).unwrap().unwrap();
        assert!(!last.retried && last.next_id.is_none());
    }

    // Without retries a failure is final.
    let mut s = make();
    let b = task("once", 0);
    s.submit(std::slice::from_ref(&b)).unwrap();
    s.schedule(1, &sched(0, false)).unwrap();
    s.complete(&[done(b.id, 2)]).unwrap();
    assert!(s.schedule(10, &sched(0, false)).unwrap().is_empty());
}

fn eager_order(make: Make, _history: bool) {
    for eager in [false, true] {
        let mut s = make();
        let by = sched(1, eager);
        let tasks: Vec<TaskRecord> = ["A", "B", "C"]
            .iter()
            .enumerate()
            .map(|(i, n)| task(n, i as i64))
            .collect();
        s.submit(&tasks).unwrap();
        let a = s.schedule(1, &by).unwrap();
        assert_eq!(args_of(&a), ["A"]);
        s.complete(&[done(a[0].id, 1)]).unwrap();
        let next = s.schedule(1, &by).unwrap();
        if eager {
            assert_eq!(args_of(&next), ["A"], "eager: retries first");
            assert_eq!(next[0].attempt, 2);
            assert_eq!(args_of(&s.schedule(5, &by).unwrap()), ["B", "C"]);
        } else {
            assert_eq!(args_of(&next), ["B"], "new tasks first");
            let fill = s.schedule(5, &by).unwrap();
            assert_eq!(args_of(&fill), ["C", "A"], "retries fill the bundle");
            assert_eq!(fill[1].attempt, 2);
        }
    }
    // Eager retries go oldest failure first.
    let mut s = make();
    let by = sched(1, true);
    let x = task("X", 0);
    let y = task("Y", 1);
    s.submit(&[x.clone(), y.clone()]).unwrap();
    s.schedule(2, &by).unwrap();
    let mut fy = done(y.id, 1);
    fy.completion_time = at(20_000);
    let mut fx = done(x.id, 1);
    fx.completion_time = at(30_000);
    s.complete(&[fy, fx]).unwrap();
    assert_eq!(args_of(&s.schedule(5, &by).unwrap()), ["Y", "X"]);
}

fn cancelled_is_terminal(make: Make, history: bool) {
    let mut s = make();
    let a = task("a", 0);
    let b = task("b", 1);
    let c = task("c", 2);
    s.submit(&[a.clone(), b.clone(), c.clone()]).unwrap();
    assert_eq!(s.update(&by_id(a.id), &[Change::Cancel]).unwrap(), 1);
    assert_eq!(remaining(&mut *s), 2);
    if history {
        let r = s.get(&a.id).unwrap().unwrap();
        assert_eq!(r.exit_status, Some(-1));
        assert!(r.schedule_time.is_some());
        assert_eq!(r.schedule_time, r.completion_time);
        // Never reverted either.
        s.update(&by_id(a.id), &[Change::Revert]).unwrap();
        assert_eq!(s.get(&a.id).unwrap().unwrap().exit_status, Some(-1));
    }
    let by = sched(3, true);
    let got = s.schedule(10, &by).unwrap();
    assert_eq!(
        args_of(&got),
        ["b", "c"],
        "a cancelled task is never scheduled"
    );
    // A task reported cancelled (-1) is not retried.
    s.complete(&[done(b.id, -1), done(c.id, 0)]).unwrap();
    assert!(s.schedule(10, &by).unwrap().is_empty());
    assert_eq!(remaining(&mut *s), 0);
}

/// A task killed by SIGHUP has `exit_status = -1` like a cancel, but also `signal = 1`: it is
/// retried and reverted as any failure is (the cancel sentinel is `-1` without a signal).
fn sighup_death_is_a_failure(make: Make, history: bool) {
    let mut s = make();
    let a = task("a", 0);
    s.submit(std::slice::from_ref(&a)).unwrap();
    let by = sched(1, true);
    assert_eq!(args_of(&s.schedule(10, &by).unwrap()), ["a"]);
    let mut hup = done(a.id, -1);
    hup.signal = Some(1);
    s.complete(&[hup]).unwrap();
    assert_eq!(
        s.pending(1).unwrap().retryable,
        1,
        "counted among the failures earlier runs left"
    );
    let retry = s.schedule(10, &by).unwrap();
    assert_eq!(args_of(&retry), ["a"], "a SIGHUP death is retried");
    assert_eq!(retry[0].attempt, 2);
    assert_eq!(retry[0].previous_id, Some(a.id));
    if history {
        let r = s.get(&a.id).unwrap().unwrap();
        assert_eq!(
            (r.exit_status, r.signal, r.retried),
            (Some(-1), Some(1), true)
        );
        // The retry dies the same way: no attempts left, and `revert` runs it once more.
        let mut again = done(retry[0].id, -1);
        again.signal = Some(1);
        s.complete(&[again]).unwrap();
        assert!(s.schedule(10, &by).unwrap().is_empty());
        assert_eq!(s.update(&by_id(retry[0].id), &[Change::Revert]).unwrap(), 1);
        let r = s.get(&retry[0].id).unwrap().unwrap();
        assert_eq!((r.exit_status, r.signal), (None, None), "reverted");
    }
}

fn groups(make: Make, _history: bool) {
    let mut s = make();
    let by = sched(0, false);
    let a = in_group("a", 0, 0);
    let b = in_group("b", 1, 0);
    let c = in_group("c", 2, 1);
    let d = in_group("d", 3, 2);
    s.submit(&[d.clone(), c.clone(), a.clone(), b.clone()])
        .unwrap();
    assert_eq!(
        args_of(&s.schedule(10, &by).unwrap()),
        ["a", "b"],
        "only the active group"
    );
    assert!(
        s.schedule(10, &by).unwrap().is_empty(),
        "group 0 still running"
    );
    s.complete(&[done(a.id, 0)]).unwrap();
    assert!(
        s.schedule(10, &by).unwrap().is_empty(),
        "group 0 still running"
    );
    s.complete(&[done(b.id, 0)]).unwrap();
    assert_eq!(
        args_of(&s.schedule(10, &by).unwrap()),
        ["c"],
        "advance once group 0 is done"
    );
    s.complete(&[done(c.id, 5)]).unwrap();
    assert!(
        s.schedule(10, &by).unwrap().is_empty(),
        "an exhausted failure holds the group"
    );
    assert!(s.schedule(10, &by).unwrap().is_empty());
    // Lower than the active group: never scheduled.
    let e = in_group("e", 4, 0);
    s.submit(std::slice::from_ref(&e)).unwrap();
    assert!(s.schedule(10, &by).unwrap().is_empty());
    assert_eq!(remaining(&mut *s), 2);

    // A retry keeps the group open, then the run advances.
    let mut s = make();
    let by = sched(1, false);
    let a = in_group("a", 0, 0);
    let z = in_group("z", 1, 1);
    s.submit(&[a.clone(), z.clone()]).unwrap();
    assert_eq!(args_of(&s.schedule(10, &by).unwrap()), ["a"]);
    s.complete(&[done(a.id, 1)]).unwrap();
    let retry = s.schedule(10, &by).unwrap();
    assert_eq!(
        (args_of(&retry), retry[0].attempt),
        (vec!["a".to_string()], 2)
    );
    s.complete(&[done(retry[0].id, 0)]).unwrap();
    assert_eq!(args_of(&s.schedule(10, &by).unwrap()), ["z"]);

    // A new store starts with the lowest group present...
    let mut s = make();
    s.submit(&[in_group("g5", 0, 5), in_group("g3", 1, 3)])
        .unwrap();
    assert_eq!(args_of(&s.schedule(10, &by).unwrap()), ["g3"]);
    // ...and so does one whose tasks were all deleted.
    assert_eq!(s.delete(&Query::default()).unwrap(), 2);
    s.submit(&[in_group("g1", 2, 1)]).unwrap();
    assert_eq!(args_of(&s.schedule(10, &by).unwrap()), ["g1"]);
}

/// Issue 12 item 6: a run schedules the tasks it submitted and their retries; what earlier runs
/// left (unfinished tasks, failures with retries left, the groups they reached) neither runs
/// nor holds it back, until a scheduler of every task (`--restart`) takes it. A retry carries
/// the command its first attempt ran.
fn runs_own_their_tasks(make: Make, _history: bool) {
    let mut s = make();
    let (earlier, now) = (Uuid::now_v7(), Uuid::now_v7());
    let mine = |mut t: TaskRecord, who: Uuid| {
        t.submit_id = who;
        t
    };
    // An earlier run: "old" fails (it could be retried with -r), "late" in group 5 never ran.
    let old = mine(task("old", 0), earlier);
    let late = mine(in_group("late", 1, 5), earlier);
    s.submit(&[old.clone(), late.clone()]).unwrap();
    let first = Scheduler {
        scope: Scope::Submitters(vec![earlier]),
        ..sched(2, false)
    };
    assert_eq!(args_of(&s.schedule(10, &first).unwrap()), ["old"]);
    let mut failed = done(old.id, 9);
    failed.command = Some("echo old; exit 9".into());
    s.complete(&[failed]).unwrap();
    assert_eq!(
        s.pending(2).unwrap(),
        Pending {
            unfinished: 1,
            retryable: 1
        }
    );
    assert_eq!(
        s.pending(0).unwrap().retryable,
        0,
        "no retries left with -r 0"
    );

    // A later, unrelated run with -r 2 runs its own tasks only, group by group.
    let by = run_of(2, &[now]);
    let a = mine(task("a", 10), now);
    let b = mine(in_group("b", 11, 3), now);
    s.submit(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(args_of(&s.schedule(10, &by).unwrap()), ["a"]);
    let mut a_failed = done(a.id, 1);
    a_failed.command = Some("echo new a".into());
    s.complete(&[a_failed]).unwrap();
    let retry = s.schedule(10, &by).unwrap();
    assert_eq!(
        args_of(&retry),
        ["a"],
        "its own failure is retried, not \"old\""
    );
    assert_eq!(retry[0].attempt, 2);
    assert_eq!(retry[0].submit_id, by.server_id);
    assert_eq!(retry[0].job, retry_job(&None, "echo new a"));
    s.complete(&[done(retry[0].id, 0)]).unwrap();
    // Group 0 holds an earlier run's failure, group 5 its unscheduled task: neither is this
    // run's, so it goes on to its group 3 and then has nothing left.
    let next = s.schedule(10, &by).unwrap();
    assert_eq!(args_of(&next), ["b"]);
    s.complete(&[done(next[0].id, 0)]).unwrap();
    assert!(s.schedule(10, &by).unwrap().is_empty());
    // A submitter it adopts later (a client of the run) is its own too.
    let mut by = by;
    let client = Uuid::now_v7();
    let c = mine(in_group("c", 12, 3), client);
    s.submit(std::slice::from_ref(&c)).unwrap();
    assert!(s.schedule(10, &by).unwrap().is_empty());
    by.adopt(client);
    assert_eq!(args_of(&s.schedule(10, &by).unwrap()), ["c"]);
    s.complete(&[done(c.id, 0)]).unwrap();

    // --restart: everything left, the failure retried with the command it first ran.
    let restart = sched(2, false);
    let got = s.schedule(10, &restart).unwrap();
    assert_eq!(args_of(&got), ["old"]);
    assert_eq!(got[0].attempt, 2);
    assert_eq!(got[0].job, retry_job(&None, "echo old; exit 9"));
    s.complete(&[done(got[0].id, 0)]).unwrap();
    assert_eq!(args_of(&s.schedule(10, &restart).unwrap()), ["late"]);
    assert_eq!(s.pending(2).unwrap().retryable, 0);

    // A store of only failures: a restart starts from the lowest group due a retry.
    let mut s = make();
    let x = in_group("x", 0, 4);
    s.submit(std::slice::from_ref(&x)).unwrap();
    s.schedule(10, &run_of(1, &[x.submit_id])).unwrap();
    s.complete(&[done(x.id, 1)]).unwrap();
    let got = s.schedule(10, &sched(1, false)).unwrap();
    assert_eq!((args_of(&got), got[0].attempt), (vec!["x".to_string()], 2));
}

fn unschedule(make: Make, history: bool) {
    let mut s = make();
    let by = sched(0, false);
    let tasks: Vec<TaskRecord> = (0..3).map(|i| task(&format!("t{i}"), i)).collect();
    s.submit(&tasks).unwrap();
    let got = s.schedule(3, &by).unwrap();
    s.complete(&[done(got[2].id, 0)]).unwrap();
    s.unschedule(&[got[0].id, got[2].id]).unwrap();
    let r = s.get(&got[0].id).unwrap().unwrap();
    assert_eq!(
        (r.schedule_time, r.server_id, r.server_host),
        (None, None, None)
    );
    if history {
        assert_eq!(
            s.get(&got[2].id).unwrap().unwrap().exit_status,
            Some(0),
            "completed stays"
        );
    }
    // Not taken for a task an engine may still run, and scheduled again, as a first attempt.
    let interrupted: Vec<_> = s.interrupted(10).unwrap().iter().map(|r| r.id).collect();
    assert_eq!(interrupted, [got[1].id]);
    let again = s.schedule(10, &by).unwrap();
    assert_eq!(args_of(&again), ["t0"]);
    assert_eq!(
        (again[0].id, again[0].attempt),
        (got[0].id, 1),
        "no attempt consumed"
    );
    assert_eq!(remaining(&mut *s), 2);
    s.unschedule(&[]).unwrap();
}

fn interrupted(make: Make, _history: bool) {
    let mut s = make();
    let by = sched(0, false);
    let tasks: Vec<TaskRecord> = (0..5).map(|i| task(&format!("t{i}"), i)).collect();
    s.submit(&tasks).unwrap();
    let got = s.schedule(3, &by).unwrap();
    s.complete(&[done(got[1].id, 0)]).unwrap();
    let mut lost = s.interrupted(100).unwrap();
    lost.sort_by_key(|r| r.submit_time);
    assert_eq!(args_of(&lost), ["t0", "t2"]);
    assert_eq!(s.interrupted(1).unwrap().len(), 1);
}

fn with_job(args: &str, ms: i64) -> TaskRecord {
    let mut t = task(args, ms);
    t.job = Some(JobOptions {
        cwd: Some("/data".into()),
        stdout: Some("out.txt".into()),
        env: vec![("LC_ALL".into(), "C".into())],
        ..JobOptions::default()
    });
    t
}

/// A task's own run settings travel through the store (scheduling, a restart, a retry), and
/// `cancel` settles only tasks without a final result, returning them.
/// Which of many ids are final: more ids than one statement takes, final ones (completed or
/// cancelled) on both sides of every boundary.
fn finished_among(make: Make, _history: bool) {
    let mut s = make();
    let rows: Vec<TaskRecord> = (0..2500).map(|i| task(&format!("t{i}"), i)).collect();
    s.submit(&rows).unwrap();
    assert_eq!(s.schedule(2500, &sched(0, false)).unwrap().len(), 2500);
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    assert!(s.finished_among(&ids).unwrap().is_empty());
    assert!(s.finished_among(&[]).unwrap().is_empty());
    s.complete(&[done(ids[0], 0), done(ids[999], 1), done(ids[1000], 0)])
        .unwrap();
    s.complete(&[done(ids[2499], 0)]).unwrap();
    assert_eq!(s.cancel(&[ids[1500]]).unwrap().len(), 1);
    let mut got = s.finished_among(&ids).unwrap();
    got.sort();
    let mut want = vec![ids[0], ids[999], ids[1000], ids[1500], ids[2499]];
    want.sort();
    assert_eq!(got, want);
}

fn cancel_and_job_settings(make: Make, _history: bool) {
    let mut s = make();
    let a = with_job("a", 0);
    let (b, c) = (task("b", 1), task("c", 2));
    s.submit(&[a.clone(), b.clone(), c.clone()]).unwrap();
    let by = sched(1, false);
    let got = s.schedule(1, &by).unwrap();
    assert_eq!(args_of(&got), ["a"]);
    assert_eq!(got[0].job, a.job);
    assert_eq!(
        s.interrupted(10).unwrap()[0].job,
        a.job,
        "a restart gets them"
    );

    let cancelled = s.cancel(&[b.id, Uuid::now_v7()]).unwrap();
    assert_eq!(args_of(&cancelled), ["b"]);
    assert_eq!(cancelled[0].exit_status, Some(-1));
    assert!(cancelled[0].completion_time.is_some());
    assert!(s.cancel(&[b.id]).unwrap().is_empty(), "already final");
    assert_eq!(remaining(&mut *s), 2);

    s.complete(&[done(a.id, 1)]).unwrap();
    let next = s.schedule(10, &by).unwrap();
    let retry = next.iter().find(|r| r.attempt == 2).expect("a retried");
    assert_eq!(
        retry.job,
        retry_job(&a.job, "cmd"),
        "a retry keeps them, and runs the command the first attempt ran"
    );
    assert_eq!(args_of(&next).len(), 2, "c and the retry; b never runs");
}

fn count(s: &mut Box<dyn TaskStore>, q: Query) -> usize {
    let n = s.count(&q).unwrap();
    let rows = s.search(&q).unwrap();
    assert_eq!(n as usize, rows.len(), "count agrees with search for {q:?}");
    rows.len()
}

fn c(field: Field, op: Op, value: Value) -> Query {
    cond(field, op, value)
}

fn operators(make: Make, _history: bool) {
    let mut s = make();
    let mut rows = Vec::new();
    for (i, (name, cores)) in [
        ("alpha", Some(1)),
        ("beta", Some(2)),
        ("gamma", Some(3)),
        ("delta", None),
    ]
    .into_iter()
    .enumerate()
    {
        let mut t = task(name, i as i64 * 1000);
        t.cores = cores;
        t.cores_max = cores.map(|c| c as f64 + 0.5);
        rows.push(t);
    }
    s.submit(&rows).unwrap();
    use Op::*;
    let i = Value::Int;
    // Integers, with >= and <= meaning what they say (D3).
    assert_eq!(count(&mut s, c(Field::Cores, Eq, i(2))), 1);
    assert_eq!(
        count(&mut s, c(Field::Cores, Ne, i(2))),
        2,
        "NULL is not != 2"
    );
    assert_eq!(count(&mut s, c(Field::Cores, Lt, i(2))), 1);
    assert_eq!(count(&mut s, c(Field::Cores, Le, i(2))), 2);
    assert_eq!(count(&mut s, c(Field::Cores, Gt, i(2))), 1);
    assert_eq!(count(&mut s, c(Field::Cores, Ge, i(2))), 2);
    assert_eq!(
        count(&mut s, c(Field::Cores, Ge, Value::Text("3".into()))),
        1
    );
    assert_eq!(count(&mut s, c(Field::Cores, Eq, Value::Null)), 1);
    assert_eq!(count(&mut s, c(Field::Cores, Ne, Value::Null)), 3);
    assert_eq!(
        count(&mut s, c(Field::Cores, Regex, Value::Text("^[12]$".into()))),
        2
    );
    assert_eq!(count(&mut s, c(Field::CoresMax, Gt, Value::Float(2.5))), 1);
    assert_eq!(count(&mut s, c(Field::CoresMax, Ge, Value::Float(2.5))), 2);
    // Text compares literally (no quote stripping), bytewise.
    let t = |v: &str| Value::Text(v.into());
    assert_eq!(count(&mut s, c(Field::Args, Eq, t("beta"))), 1);
    assert_eq!(count(&mut s, c(Field::Args, Eq, t("'beta'"))), 0);
    assert_eq!(count(&mut s, c(Field::Args, Lt, t("beta"))), 1);
    assert_eq!(count(&mut s, c(Field::Args, Le, t("beta"))), 2);
    assert_eq!(count(&mut s, c(Field::Args, Gt, t("delta"))), 1);
    assert_eq!(count(&mut s, c(Field::Args, Ge, t("delta"))), 2);
    assert_eq!(count(&mut s, c(Field::Args, Ne, t("beta"))), 3);
    assert_eq!(count(&mut s, c(Field::Args, Regex, t("^(a|g)"))), 2);
    assert_eq!(
        count(&mut s, c(Field::Args, Regex, t("ET"))),
        0,
        "case-sensitive"
    );
    assert_eq!(
        count(&mut s, c(Field::Args, Lt, t("Z"))),
        0,
        "bytewise, not a locale"
    );
    // Times, exactly at a boundary, and as user text.
    let tm = |ms| Value::Time(at(ms));
    assert_eq!(count(&mut s, c(Field::SubmitTime, Eq, tm(1000))), 1);
    assert_eq!(count(&mut s, c(Field::SubmitTime, Ge, tm(1000))), 3);
    assert_eq!(count(&mut s, c(Field::SubmitTime, Le, tm(1000))), 2);
    assert_eq!(count(&mut s, c(Field::SubmitTime, Gt, tm(1000))), 2);
    assert_eq!(count(&mut s, c(Field::SubmitTime, Lt, tm(1000))), 1);
    assert_eq!(
        count(&mut s, c(Field::SubmitTime, Gt, t("2024-01-02 03:04:06"))),
        3
    );
    assert_eq!(count(&mut s, c(Field::SubmitTime, Lt, t("2024-01-02"))), 0);
    assert_eq!(count(&mut s, c(Field::ScheduleTime, Eq, Value::Null)), 4);
    assert_eq!(
        count(
            &mut s,
            c(Field::SubmitTime, Regex, t("^2024-01-02T03:04:07"))
        ),
        1
    );
    // Booleans and ids.
    assert_eq!(count(&mut s, c(Field::Retried, Eq, Value::Bool(false))), 4);
    assert_eq!(count(&mut s, c(Field::Retried, Regex, t("^false$"))), 4);
    assert_eq!(
        count(
            &mut s,
            c(Field::Id, Eq, Value::Text(rows[1].id.to_string()))
        ),
        1
    );
    let prefix = format!("^{}", &rows[2].id.to_string()[..30]);
    assert_eq!(count(&mut s, c(Field::Id, Regex, t(&prefix))), 1);
    // Several conditions are ANDed.
    let mut both = c(Field::Cores, Ge, i(2));
    both.conditions.push(Condition {
        field: Field::Args,
        op: Regex,
        value: t("a$"),
    });
    assert_eq!(args_of(&s.search(&both).unwrap()), ["beta", "gamma"]);
    // Order, NULLs first ascending and last descending, and limits.
    let order = |field, descending| Query {
        order: Some(Order { field, descending }),
        ..Query::default()
    };
    assert_eq!(
        args_of(&s.search(&order(Field::Cores, false)).unwrap()),
        ["delta", "alpha", "beta", "gamma"]
    );
    assert_eq!(
        args_of(&s.search(&order(Field::Cores, true)).unwrap()),
        ["gamma", "beta", "alpha", "delta"]
    );
    assert_eq!(
        args_of(&s.search(&order(Field::Args, false)).unwrap()),
        ["alpha", "beta", "delta", "gamma"]
    );
    let mut top = order(Field::Args, true);
    top.limit = Some(2);
    assert_eq!(args_of(&s.search(&top).unwrap()), ["gamma", "delta"]);
    // Bad input is a clear one-line error, never a panic.
    for bad in [
        c(Field::Cores, Lt, Value::Null),
        c(Field::Args, Regex, t("(")),
        c(Field::Id, Eq, t("not-a-uuid")),
        c(Field::Cores, Gt, t("many")),
        c(Field::SubmitTime, Gt, t("yesterday")),
        c(Field::Tag, Lt, t("{}")),
    ] {
        let e = s.search(&bad).unwrap_err();
        assert!(matches!(e, StoreError::BadValue { .. }), "{bad:?}: {e}");
        one_line(&e);
        assert!(s.count(&bad).is_err());
    }
}

fn history_operators(make: Make, history: bool) {
    if !history {
        return;
    }
    let mut s = make();
    let tasks: Vec<TaskRecord> = (0..5).map(|i| task(&format!("t{i}"), i)).collect();
    s.submit(&tasks).unwrap();
    let got = s.schedule(4, &sched(0, false)).unwrap();
    let exits = [0, 1, -2, -15];
    let done: Vec<Completion> = got.iter().zip(exits).map(|(r, e)| done(r.id, e)).collect();
    s.complete(&done).unwrap();
    let i = Value::Int;
    use Op::*;
    // The observed HyperShell 2.8.2 bugs: `>= 0` matched nothing, `<= -2` everything (D3).
    assert_eq!(count(&mut s, c(Field::ExitStatus, Ge, i(0))), 2);
    assert_eq!(count(&mut s, c(Field::ExitStatus, Le, i(-2))), 2);
    assert_eq!(count(&mut s, c(Field::ExitStatus, Ne, i(0))), 3, "-F");
    assert_eq!(count(&mut s, c(Field::ExitStatus, Eq, i(0))), 1, "-S");
    assert_eq!(
        count(&mut s, c(Field::ExitStatus, Ne, Value::Null)),
        4,
        "-C"
    );
    assert_eq!(
        count(&mut s, c(Field::ExitStatus, Eq, Value::Null)),
        1,
        "-R"
    );
    assert_eq!(count(&mut s, c(Field::CompletionTime, Ne, Value::Null)), 4);
    assert_eq!(count(&mut s, c(Field::Waited, Ge, i(9))), 4);
}

fn tags(make: Make, _history: bool) {
    let mut s = make();
    let mut rows = Vec::new();
    for (i, tag) in [
        json!({"a": 1}),
        json!({"a": "x", "b": true}),
        json!({}),
        json!({"b": null, "c.d": 2}),
    ]
    .into_iter()
    .enumerate()
    {
        let mut t = task(&format!("t{i}"), i as i64);
        t.tag = tag.as_object().unwrap().clone();
        rows.push(t);
    }
    s.submit(&rows).unwrap();
    let tq = |tags: Vec<TagFilter>| Query {
        tags,
        ..Query::default()
    };
    let has = |k: &str| TagFilter::Has(k.into());
    let eq = |k: &str, v| TagFilter::Equals(k.into(), v);
    assert_eq!(
        args_of(&s.search(&tq(vec![has("a")])).unwrap()),
        ["t0", "t1"]
    );
    assert_eq!(
        args_of(&s.search(&tq(vec![has("b")])).unwrap()),
        ["t1", "t3"],
        "a null value is still a tag"
    );
    assert_eq!(
        args_of(&s.search(&tq(vec![has("c.d")])).unwrap()),
        ["t3"],
        "dots are part of the key"
    );
    assert_eq!(
        args_of(&s.search(&tq(vec![eq("a", json!(1))])).unwrap()),
        ["t0"]
    );
    assert_eq!(
        args_of(&s.search(&tq(vec![eq("a", json!("x"))])).unwrap()),
        ["t1"]
    );
    assert_eq!(
        args_of(&s.search(&tq(vec![eq("a", json!("1"))])).unwrap()),
        Vec::<String>::new(),
        "typed"
    );
    assert_eq!(
        args_of(&s.search(&tq(vec![eq("b", json!(true))])).unwrap()),
        ["t1"]
    );
    assert_eq!(
        args_of(&s.search(&tq(vec![eq("b", json!(1))])).unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(
        args_of(&s.search(&tq(vec![has("a"), has("b")])).unwrap()),
        ["t1"]
    );
    assert_eq!(s.count(&tq(vec![has("nope")])).unwrap(), 0);
    assert_eq!(s.tag_keys().unwrap(), ["a", "b", "c.d"]);
    assert_eq!(s.tag_values("a").unwrap(), vec![json!("x"), json!(1)]);
    assert_eq!(s.tag_values("b").unwrap(), vec![json!(null), json!(true)]);
    assert!(s.tag_values("nope").unwrap().is_empty());
    let e = s.search(&tq(vec![has("bad\"key")])).unwrap_err();
    assert!(matches!(e, StoreError::BadValue { .. }));
}

fn update(make: Make, history: bool) {
    let mut s = make();
    let mut rows = Vec::new();
    for i in 0..4 {
        let mut t = task(&format!("t{i}"), i);
        t.tag = json!({"k": 1, "r": 1}).as_object().unwrap().clone();
        rows.push(t);
    }
    s.submit(&rows).unwrap();
    let first_two = Query {
        order: Some(Order {
            field: Field::SubmitTime,
            descending: false,
        }),
        limit: Some(2),
        ..Query::default()
    };
    // D9: every change applies to every matched task, even with a limit.
    let n = s
        .update(
            &first_two,
            &[
                Change::Set(Field::Cores, Value::Int(8)),
                Change::Set(Field::SubmitHost, Value::Null),
                Change::SetTag("new".into(), json!("v")),
                Change::SetTag("k".into(), json!(2)),
                Change::RemoveTag("r".into()),
            ],
        )
        .unwrap();
    assert_eq!(n, 2);
    for (i, r) in rows.iter().enumerate() {
        let got = s.get(&r.id).unwrap().unwrap();
        if i < 2 {
            assert_eq!(got.cores, Some(8));
            assert_eq!(got.submit_host, None);
            assert_eq!(
                got.tag,
                json!({"k": 2, "new": "v"}).as_object().unwrap().clone()
            );
        } else {
            assert_eq!(got, *r, "outside the limit: untouched");
        }
    }
    // A refused change refuses the whole update.
    for bad in [
        Change::Set(Field::Id, Value::Uuid(Uuid::now_v7())),
        Change::Set(Field::Args, Value::Null),
        Change::Set(Field::ExitStatus, Value::Int(1 << 40)),
        Change::Set(Field::Memory, Value::Text("lots".into())),
        Change::SetTag("bad\"key".into(), json!(1)),
    ] {
        let e = s
            .update(
                &Query::default(),
                &[Change::Set(Field::Timeout, Value::Int(9)), bad],
            )
            .unwrap_err();
        assert!(matches!(e, StoreError::BadValue { .. }), "{e}");
        one_line(&e);
    }
    assert_eq!(
        s.count(&c(Field::Timeout, Op::Eq, Value::Int(9))).unwrap(),
        0
    );
    // Setting a whole tag object and a 64-bit memory.
    s.update(
        &by_id(rows[3].id),
        &[Change::Set(Field::Tag, Value::Text("{\"z\":[1]}".into()))],
    )
    .unwrap();
    s.update(
        &by_id(rows[3].id),
        &[Change::Set(Field::Memory, Value::Text("6442450944".into()))],
    )
    .unwrap();
    let r3 = s.get(&rows[3].id).unwrap().unwrap();
    assert_eq!(
        (r3.tag, r3.memory),
        (
            json!({"z": [1]}).as_object().unwrap().clone(),
            Some(6 << 30)
        )
    );

    // Cancel and revert.
    let by = sched(0, false);
    let got = s.schedule(2, &by).unwrap();
    assert_eq!(args_of(&got), ["t0", "t1"]);
    assert_eq!(
        s.update(
            &by_id(got[0].id),
            &[Change::Revert, Change::SetTag("again".into(), json!(true))]
        )
        .unwrap(),
        1
    );
    let r0 = s.get(&got[0].id).unwrap().unwrap();
    assert_eq!(
        (r0.schedule_time, r0.server_id, r0.server_host.clone()),
        (None, None, None)
    );
    assert_eq!(r0.tag.get("again"), Some(&json!(true)));
    assert_eq!(s.update(&by_id(rows[2].id), &[Change::Cancel]).unwrap(), 1);
    assert_eq!(
        args_of(&s.schedule(10, &by).unwrap()),
        ["t0", "t3"],
        "reverted runs again, cancelled never"
    );
    if history {
        // Reverting a finished task makes it run again.
        s.complete(&[done(got[1].id, 3)]).unwrap();
        assert_eq!(s.update(&by_id(got[1].id), &[Change::Revert]).unwrap(), 1);
        let r = s.get(&got[1].id).unwrap().unwrap();
        assert_eq!(
            (
                r.exit_status,
                r.completion_time,
                r.client_id,
                r.waited,
                r.duration
            ),
            (None, None, None, None, None)
        );
        assert_eq!(args_of(&s.schedule(10, &by).unwrap()), ["t1"]);
        // Cancel leaves a finished task's result alone.
        s.complete(&[done(got[1].id, 0)]).unwrap();
        s.update(&by_id(got[1].id), &[Change::Cancel]).unwrap();
        assert_eq!(s.get(&got[1].id).unwrap().unwrap().exit_status, Some(0));
    }
    assert_eq!(
        s.update(
            &c(Field::Args, Op::Eq, Value::Text("none".into())),
            &[Change::Cancel]
        )
        .unwrap(),
        0
    );
}

fn delete_and_count(make: Make, _history: bool) {
    let mut s = make();
    let rows: Vec<TaskRecord> = (0..10)
        .map(|i| task(if i % 2 == 0 { "even" } else { "odd" }, i))
        .collect();
    s.submit(&rows).unwrap();
    let even = c(Field::Args, Op::Eq, Value::Text("even".into()));
    assert_eq!(s.count(&even).unwrap(), 5);
    let mut limited = even.clone();
    limited.limit = Some(3);
    assert_eq!(s.count(&limited).unwrap(), 3, "count respects the limit");
    assert_eq!(
        s.count(&Query {
            limit: Some(100),
            ..Query::default()
        })
        .unwrap(),
        10
    );
    limited.order = Some(Order {
        field: Field::SubmitTime,
        descending: true,
    });
    assert_eq!(s.delete(&limited).unwrap(), 3);
    assert_eq!(s.get(&rows[8].id).unwrap(), None, "the latest went first");
    assert!(s.get(&rows[2].id).unwrap().is_some());
    assert_eq!(s.delete(&even).unwrap(), 2);
    assert_eq!(s.count(&Query::default()).unwrap(), 5);
    assert_eq!(remaining(&mut *s), 5);
    assert_eq!(s.delete(&even).unwrap(), 0);
}

fn clients(make: Make, _history: bool) {
    let mut s = make();
    let c = EngineRecord {
        id: Uuid::now_v7(),
        host: "node1".into(),
        server_id: Uuid::now_v7(),
        server_host: "ctl".into(),
        connected_at: Utc::now(),
    };
    s.engine_connected(&c).unwrap();
    s.engine_connected(&c).unwrap(); // re-registration after a false eviction
    s.engine_disconnected(&c.id, true).unwrap();
    s.engine_disconnected(&Uuid::now_v7(), false).unwrap();
}

fn truncate(make: Make, _history: bool) {
    let mut s = make();
    s.submit(&[task("a", 0), in_group("b", 1, 4)]).unwrap();
    s.schedule(10, &sched(0, false)).unwrap();
    s.truncate().unwrap();
    s.check().unwrap();
    assert_eq!(remaining(&mut *s), 0);
    assert!(s.search(&Query::default()).unwrap().is_empty());
    // The active group is forgotten too.
    s.submit(&[in_group("c", 2, 0)]).unwrap();
    assert_eq!(args_of(&s.schedule(10, &sched(0, false)).unwrap()), ["c"]);
    s.initialize().unwrap();
    s.vacuum().unwrap();
}

/// One `#[test]` per case of the shared suite, for the store whose fresh instances `$with`
/// provides: `$with(|make| case(make, history))` runs one case against a factory of new stores.
/// `history`: completed rows stay readable (false for the memory store, which keeps only
/// unfinished work).
macro_rules! each_case {
    ($with:ident, $history:expr) => {
        each_case!(@cases $with, $history; round_trip submit_order schedule_marks_and_limits complete_first_wins never_ran monitored_usage retry_chain eager_order cancelled_is_terminal sighup_death_is_a_failure groups runs_own_their_tasks unschedule interrupted finished_among cancel_and_job_settings operators history_operators tags update delete_and_count clients truncate);
    };
    (@cases $with:ident, $history:expr; $($case:ident)*) => {
        $(
            #[test]
            fn $case() {
                $with(|make| super::$case(make, $history));
            }
        )*
    };
}

mod memory;
mod postgres;
mod sqlite;
