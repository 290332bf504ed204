//! A worker process: a share of the swarm's engines, spread over a few threads that each poll
//! their engines' sockets. It reports on stdout, one JSON object per line: once when all its
//! engines are registered, and once at the end with what they saw.

use std::io::Write;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ctx::Context;
use crate::engine::{Endpoints, EngineStats, SimEngine};
use crate::epoll::Epoll;

/// How often a thread runs every engine's timers and looks at every socket (see `epoll`).
const SWEEP: Duration = Duration::from_millis(25);

/// What the driver tells a worker to run.
#[derive(clap::Args, Debug, Clone)]
pub struct WorkerArgs {
    #[arg(long)]
    pub engines_endpoint: String,
    #[arg(long)]
    pub heartbeat_endpoint: String,
    #[arg(long)]
    pub key: String,
    /// Engines in this worker.
    #[arg(long)]
    pub count: usize,
    /// Number of the first engine (slots cycle through 1..=slots by engine number).
    #[arg(long, default_value_t = 0)]
    pub first: usize,
    #[arg(long, default_value_t = 4)]
    pub slots: u32,
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Of `count`, this many engines come in pairs sharing an id and send bad input.
    #[arg(long, default_value_t = 0)]
    pub hostile: usize,
    /// Write the numbers of the tasks answered here (u32, little-endian), to look for tasks
    /// answered twice or never.
    #[arg(long)]
    pub answered: Option<std::path::PathBuf>,
    /// Give up this many seconds after starting.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

/// A worker's report line.
#[derive(Serialize, Deserialize, Debug)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Report {
    Registered {
        /// Its engines that are not hostile (only those are waited for).
        engines: usize,
        /// When its last engine was welcomed (Unix ms).
        at_ms: u64,
    },
    Done(Box<WorkerTotals>),
}

#[derive(Serialize, Deserialize, Debug, Default)]
pub struct WorkerTotals {
    pub engines: usize,
    pub registered: usize,
    pub left: usize,
    pub stats: EngineStats,
    pub first_task_ms: Option<u64>,
    pub last_result_ms: Option<u64>,
    /// Engines that heard fewer than two pings (their gap says nothing).
    pub unpinged: usize,
    /// Engine ids of the buggy peers (one per pair).
    pub hostile_ids: Vec<Uuid>,
}

/// Converts `Instant`s to Unix milliseconds, so workers and the driver share a clock.
#[derive(Clone, Copy)]
struct Clock {
    instant: Instant,
    system: SystemTime,
}

impl Clock {
    fn now() -> Clock {
        Clock {
            instant: Instant::now(),
            system: SystemTime::now(),
        }
    }
    fn unix_ms(&self, at: Instant) -> u64 {
        let since = self.system.duration_since(UNIX_EPOCH).unwrap_or_default();
        (since + at.saturating_duration_since(self.instant)).as_millis() as u64
    }
}

pub fn unix_ms_now() -> u64 {
    Clock::now().unix_ms(Instant::now())
}

struct Shared {
    registered: AtomicUsize,
    last_registered: Mutex<Option<Instant>>,
}

pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let clock = Clock::now();
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let ctx = Arc::new(Context::new(2 * args.count, 1)?);
    let ends = Arc::new(Endpoints {
        engines: args.engines_endpoint.clone(),
        heartbeat: args.heartbeat_endpoint.clone(),
        key: args.key.clone(),
    });
    let shared = Arc::new(Shared {
        registered: AtomicUsize::new(0),
        last_registered: Mutex::new(None),
    });
    // (id, slots, hostile) per engine; hostile engines come in pairs sharing an id.
    let mut specs: Vec<(Uuid, u32, bool)> = Vec::with_capacity(args.count);
    for i in 0..args.count {
        let hostile = i < args.hostile;
        let id = if hostile && i % 2 == 1 {
            specs[i - 1].0
        } else {
            Uuid::new_v4()
        };
        let slots = if hostile {
            1
        } else {
            ((args.first + i) as u32 % args.slots.max(1)) + 1
        };
        specs.push((id, slots, hostile));
    }
    let threads = args.threads.clamp(1, args.count.max(1));
    let chunk = args.count.div_ceil(threads).max(1);
    let check = args.answered.is_some();
    let handles: Vec<_> = specs
        .chunks(chunk)
        .map(|part| {
            let (ctx, ends, shared) = (ctx.clone(), ends.clone(), shared.clone());
            let part = part.to_vec();
            std::thread::spawn(move || serve(&ctx, &ends, &part, check, &shared, deadline))
        })
        .collect();

    let mut told = false;
    while !handles.iter().all(|h| h.is_finished()) {
        if !told && shared.registered.load(Ordering::SeqCst) >= args.count - args.hostile {
            told = true;
            let last = shared.last_registered.lock().map(|l| *l).unwrap_or(None);
            emit(&Report::Registered {
                engines: args.count - args.hostile,
                at_ms: clock.unix_ms(last.unwrap_or_else(Instant::now)),
            })?;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut totals = WorkerTotals {
        engines: args.count,
        ..Default::default()
    };
    let mut answered = Vec::new();
    for h in handles {
        let engines = h
            .join()
            .map_err(|_| anyhow::anyhow!("a swarm thread panicked"))??;
        for e in engines {
            add(&mut totals, &e, &clock);
            answered.extend(e.answered.iter().flatten().copied());
        }
    }
    if let Some(path) = &args.answered {
        let bytes: Vec<u8> = answered.iter().flat_map(|n| n.to_le_bytes()).collect();
        std::fs::write(path, bytes)?;
    }
    emit(&Report::Done(Box::new(totals)))?;
    // The context is never terminated: its sockets are gone with the process.
    Ok(())
}

fn add(t: &mut WorkerTotals, e: &SimEngine, clock: &Clock) {
    if e.is_hostile() && !t.hostile_ids.contains(&e.id) {
        t.hostile_ids.push(e.id);
    }
    t.registered += usize::from(e.registered_at.is_some() || e.gone);
    t.left += usize::from(e.gone);
    t.unpinged += usize::from(e.stats.pings < 2);
    let s = &mut t.stats;
    s.tasks += e.stats.tasks;
    s.bundles += e.stats.bundles;
    s.pings += e.stats.pings;
    s.max_ping_gap_ms = s.max_ping_gap_ms.max(e.stats.max_ping_gap_ms);
    s.reregisters += e.stats.reregisters;
    s.cancels += e.stats.cancels;
    s.refused += e.stats.refused;
    s.junk_sent += e.stats.junk_sent;
    if let Some(f) = e.first_task {
        let f = clock.unix_ms(f);
        t.first_task_ms = Some(t.first_task_ms.map_or(f, |x| x.min(f)));
    }
    if let Some(l) = e.last_result {
        let l = clock.unix_ms(l);
        t.last_result_ms = Some(t.last_result_ms.map_or(l, |x| x.max(l)));
    }
}

fn emit(report: &Report) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, report)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// One thread's engines: connect them, then serve them until every one has left or time is up.
fn serve(
    ctx: &Context,
    ends: &Endpoints,
    specs: &[(Uuid, u32, bool)],
    check: bool,
    shared: &Shared,
    deadline: Instant,
) -> anyhow::Result<Vec<SimEngine>> {
    let mut engines = Vec::with_capacity(specs.len());
    let mut epoll = Epoll::new()?;
    for (i, &(id, slots, hostile)) in specs.iter().enumerate() {
        let engine = SimEngine::connect(ctx, ends, id, slots, hostile, check)?;
        for fd in engine.fds()? {
            epoll.add(fd, i as u64)?;
        }
        engines.push(engine);
    }
    let mut counted = vec![false; engines.len()];
    let mut count = |i: usize, e: &SimEngine| {
        if !counted[i] && !specs[i].2 && e.registered_at.is_some() {
            counted[i] = true;
            note_registered(shared, e.registered_at);
        }
    };
    let mut ready = Vec::new();
    let mut next_sweep = Instant::now();
    loop {
        let now = Instant::now();
        // Buggy peers are not waited for: a pair sharing an id may never both be told to leave.
        if now >= deadline || engines.iter().all(|e| e.gone || e.is_hostile()) {
            return Ok(engines);
        }
        if now >= next_sweep {
            for (i, e) in engines.iter_mut().enumerate() {
                e.tick(now);
                e.receive(now);
                count(i, e);
            }
            next_sweep = now + SWEEP;
        }
        let wait = next_sweep.saturating_duration_since(now).as_millis() as i32;
        epoll.wait(wait, &mut ready);
        let now = Instant::now();
        for &token in &ready {
            let i = token as usize;
            engines[i].receive(now);
            count(i, &engines[i]);
        }
    }
}

fn note_registered(shared: &Shared, at: Option<Instant>) {
    if let Ok(mut last) = shared.last_registered.lock() {
        *last = (*last).max(at);
    }
    shared.registered.fetch_add(1, Ordering::SeqCst);
}
