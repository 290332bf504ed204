//! The launch supervisor: a thread beside the broker that starts the engines, watches the
//! processes it started, scales them (by its autoscaler, or when asked through its control
//! socket), and stops them all when the controller ends.
//!
//! It learns about engines the way any client would, by asking the controller for its status
//! over the client socket (with the library client, `hs_broker::client`). A launch that fails before any engine ever registered (ssh cannot
//! reach a host, `srun` refuses the job, a wrong program path) ends the controller with the
//! launcher's own last words instead of leaving it waiting forever.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hs_broker::RunControl;

use super::autoscale::{Observation, Scaler, Settings};
use super::control::{ControlSocket, LaunchStatus, Reply, Request, ScaleStatus};
use super::{Exited, Fleet, LaunchSpec};
use crate::connection;

/// How often the supervisor looks at its processes and the controller.
const TICK: Duration = Duration::from_millis(250);
/// How often it asks the controller for its status: the reply lists every engine, so it is
/// asked for no more than the decisions need (a launch that failed is seen within a second).
const STATUS_EVERY: Duration = Duration::from_secs(1);

pub struct SupervisorConfig {
    pub spec: LaunchSpec,
    pub autoscale: Option<Settings>,
    /// Whether the controller ends when every launched engine is gone (`hs cluster`), or keeps
    /// serving so engines can join by hand (`hs start`).
    pub end_with_engines: bool,
    /// Time engines get to stop their tasks and hand them back before they are killed.
    pub stop_grace: Duration,
    /// Where to listen for requests to add or remove engines and for its status (a profile's
    /// `security/launcher.sock`).
    pub control: Option<PathBuf>,
}

/// What went wrong, if anything, and the processes that ended.
#[derive(Debug, Default)]
pub struct SupervisorReport {
    pub error: Option<String>,
    pub exited: Vec<Exited>,
}

pub struct Supervisor {
    stop: Arc<AtomicBool>,
    quick: Arc<AtomicBool>,
    handle: JoinHandle<SupervisorReport>,
}

impl Supervisor {
    pub fn start(cfg: SupervisorConfig, broker: Arc<RunControl>) -> std::io::Result<Supervisor> {
        let stop = Arc::new(AtomicBool::new(false));
        let quick = Arc::new(AtomicBool::new(false));
        let (flag, hurry) = (stop.clone(), quick.clone());
        let handle = std::thread::Builder::new()
            .name("hs-launch".into())
            .spawn(move || supervise(cfg, &broker, &flag, &hurry))?;
        Ok(Supervisor {
            stop,
            quick,
            handle,
        })
    }

    /// Stop every launched process (after the controller has finished) and report. After an
    /// abort, engines get the full grace to stop their tasks and hand them back; after a normal
    /// end nothing is left to hand back, so stragglers (engines that joined too late to get
    /// work) are stopped at once.
    pub fn finish(self, aborted: bool) -> SupervisorReport {
        if !aborted {
            self.quick.store(true, Ordering::SeqCst);
        }
        self.stop.store(true, Ordering::SeqCst);
        self.handle.thread().unpark();
        self.handle.join().unwrap_or_else(|_| SupervisorReport {
            error: Some("the launch supervisor failed (a bug in hs)".into()),
            exited: Vec::new(),
        })
    }
}

fn supervise(
    cfg: SupervisorConfig,
    broker: &RunControl,
    stop: &AtomicBool,
    quick: &AtomicBool,
) -> SupervisorReport {
    let mut report = SupervisorReport::default();
    let mut fleet = Fleet::new();
    let mut scaler = cfg.autoscale.clone().map(Scaler::new);
    let launched = match &scaler {
        Some(s) => (0..s.settings().init).try_for_each(|_| cfg.spec.launch_one(&mut fleet)),
        None => cfg.spec.launch_all(&mut fleet),
    };
    if let Err(e) = launched {
        report.error = Some(format!("cannot start engines: {e:#}"));
        broker.abort();
    }
    // The controller's client port, as any client would use it (the engines' address).
    let mut client = match connection::connect(&cfg.spec.info, Duration::from_secs(2)) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!("the launcher cannot watch the controller: {e:#}");
            None
        }
    };
    let control = cfg.control.as_deref().and_then(|path| {
        ControlSocket::bind(path)
            .inspect_err(|e| {
                tracing::warn!(
                    "engines cannot be added or removed while the cluster runs: cannot listen at \
                     {}: {e}",
                    path.display()
                )
            })
            .ok()
    });
    let mut registered_ever = false;
    let mut next_scale = Instant::now();
    let mut next_status = Instant::now();
    while !stop.load(Ordering::SeqCst) && report.error.is_none() {
        // Woken early by `finish`, so a stop does not wait out the tick.
        std::thread::park_timeout(TICK);
        for e in fleet.reap() {
            log_exit(&e);
            report.exited.push(e);
        }
        if let Some(socket) = &control {
            let stopping = broker.scheduling_stopped() || stop.load(Ordering::SeqCst);
            socket.serve(|r| answer(r, &cfg.spec, &mut fleet, scaler.as_mut(), stopping));
        }
        // Once the controller winds down nothing below is decided, and a request it ends
        // before answering would hold this thread, and with it the end of `hs stop`, for the
        // whole request timeout (2 s) and the client's linger (1 s).
        if Instant::now() < next_status || broker.scheduling_stopped() {
            continue;
        }
        next_status = Instant::now() + STATUS_EVERY;
        let status = client.as_mut().and_then(|c| c.status().ok());
        // Judged only while the controller answers: once it has finished, engines leaving is
        // the normal end.
        if let Some(status) = &status {
            registered_ever |= status.engine_total() > 0;
            let all_gone = fleet.running() == 0 && status.engine_total() == 0;
            // A launch of no engines (`-n 0`) is a controller waiting for engines by hand.
            let expects_some = cfg.spec.launcher.expected_engines() != Some(0);
            // A controller that stops scheduling sees its engines leave: that is its end.
            let winding_down = broker.scheduling_stopped();
            if scaler.is_none()
                && expects_some
                && all_gone
                && !stop.load(Ordering::SeqCst)
                && !winding_down
            {
                if !registered_ever {
                    report.error = Some(early_exit_message(&cfg.spec, &report.exited));
                    broker.abort();
                } else if cfg.end_with_engines && status.queued + status.running > 0 {
                    report.error = Some(format!(
                        "every launched engine has ended with {} tasks not done; they stay queued",
                        status.queued + status.running
                    ));
                    broker.abort();
                }
            }
        }
        if let (Some(s), Some(status)) = (scaler.as_mut(), status.as_ref())
            && !broker.scheduling_stopped()
            && Instant::now() >= next_scale
        {
            next_scale = Instant::now() + s.settings().period;
            let obs = Observation {
                remaining: status.queued + status.running,
                finished: status.succeeded + status.failed,
                busy: status.busy_total(),
            };
            let running = fleet.running() as u32;
            if s.should_add(Instant::now(), obs, running) {
                tracing::info!(
                    "autoscaling: starting engine {} ({} running)",
                    running + 1,
                    running
                );
                if let Err(e) = cfg.spec.launch_one(&mut fleet) {
                    tracing::warn!("autoscaling could not start an engine: {e:#}");
                }
            }
        }
    }
    let grace = if quick.load(Ordering::SeqCst) {
        Duration::from_secs(1)
    } else {
        cfg.stop_grace
    };
    for e in fleet.stop(grace) {
        report.exited.push(e);
    }
    cfg.spec.remove_key_file();
    report
}

/// A request on the control socket: engines to add or to retire, or what the launcher runs.
fn answer(
    request: Request,
    spec: &LaunchSpec,
    fleet: &mut Fleet,
    scaler: Option<&mut Scaler>,
    stopping: bool,
) -> Reply {
    match request {
        Request::Status => Reply::Status(LaunchStatus {
            launcher: spec.launcher.name().to_string(),
            running: fleet.running() as u64,
            launched: fleet.launched(),
            autoscale: scaler.map(|s| {
                let set = s.settings();
                ScaleStatus {
                    policy: set.policy.name().to_string(),
                    factor: set.factor,
                    period: set.period.as_secs_f64(),
                    init: set.init,
                    min: set.min,
                    max: set.max,
                    target: s.target(),
                }
            }),
        }),
        Request::Add { .. } | Request::Remove { .. } if stopping => Reply::Error {
            message: "the cluster is stopping".into(),
        },
        Request::Add { count: 0 } | Request::Remove { count: 0 } => Reply::Error {
            message: "no engines to add or remove: ask for 1 or more".into(),
        },
        Request::Remove { count } => {
            let asked = fleet.retire(count as usize) as u32;
            if asked == 0 {
                return Reply::Error {
                    message: "none of the engines the launcher started runs (or all are \
                              leaving already)"
                        .into(),
                };
            }
            if let Some(s) = scaler {
                s.removed_by_hand(asked);
            }
            Reply::Removed { count: asked }
        }
        Request::Add { count } => {
            for started in 0..count {
                if let Err(e) = spec.launch_one(fleet) {
                    return Reply::Error {
                        message: format!("started {started} of {count} engines: {e:#}"),
                    };
                }
            }
            if let Some(s) = scaler {
                s.added_by_hand(count);
            }
            tracing::info!(
                "started {count} more engines on request ({} launched processes run)",
                fleet.running()
            );
            Reply::Added { count }
        }
    }
}

fn log_exit(e: &Exited) {
    let why = e
        .last_line
        .as_deref()
        .map(|l| format!(": {l}"))
        .unwrap_or_default();
    if e.status.success() {
        tracing::debug!("{} ended after {:.1}s", e.label, e.lifetime.as_secs_f64());
    } else {
        tracing::warn!("{} ended with {}{why}", e.label, e.describe_status());
    }
}

/// Why a launch failed before any engine registered, in the launcher's own words.
fn early_exit_message(spec: &LaunchSpec, exited: &[Exited]) -> String {
    let failed: Vec<String> = exited
        .iter()
        .map(|e| {
            let why = e
                .last_line
                .as_deref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default();
            format!("{} ended with {}{why}", e.label, e.describe_status())
        })
        .take(5)
        .collect();
    format!(
        "no engine ever registered: the {} launcher's processes all ended: {}. Check that the \
         hosts are reachable, that {} runs there, and that they can reach {}:{}",
        spec.launcher.name(),
        if failed.is_empty() {
            "(nothing was started)".to_string()
        } else {
            failed.join("; ")
        },
        spec.engine.exe,
        spec.info.host,
        spec.info.engine_port
    )
}
