//! `hs start --profile=NAME`: a controller serving the profile's database, and the engines its
//! launcher starts; `--daemonize` runs it in the background and returns once the engines have
//! registered. It writes `security/hs-engine.json` and `security/hs-client.json` (mode 0600)
//! for engines and clients joining by hand, and `security/cluster.json` for `hs stop`/`hs status`.
//! A profile whose config.toml has `[autoscale]` starts `size.init` engines and scales them as
//! `hs cluster -A` does; `--add K` and `--remove K` (`start_resize.rs`) change a running profile's
//! engines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hs_broker::{ControllerBuilder, RunControl};
use hs_engine::protocol::generate_key;

use super::cluster_launch;
use super::common::signalwait;
use super::controller;
use super::listen::{bind_address, choose_port, dial_address, tcp_binds};
use super::setup::{self, Controls};
use crate::cli::{StartArgs, StoreArgs};
use crate::config::{Config, KeyDef, Layers, key};
use crate::connection::{self, ConnectionInfo};
use crate::exit::{Failure, Status};
use crate::launch::autoscale::{Policy, Settings};
use crate::launch::{EngineArgs, LaunchSpec, Launcher, Supervisor, SupervisorConfig};
use crate::profile::state::{self, ClusterState};
use crate::profile::{Profile, launcher};
use crate::report::{FailureLog, Report};
use crate::site::Site;

pub fn run(args: StartArgs, cfg: &Config) -> anyhow::Result<Status> {
    let profile = Profile::find(&Site::from_env(), &args.profile)?;
    let wait = Duration::from_secs_f64(args.startup_timeout);
    if let Some(count) = args.add {
        return super::start_resize::add(&profile, count, wait);
    }
    if let Some(count) = args.remove {
        return super::start_resize::remove(&profile, count, wait);
    }
    if let Some(running) = state::read(&profile.state_file()).filter(ClusterState::running) {
        return Err(Failure {
            status: Status::AlreadyRunning,
            message: format!(
                "profile {} is already running (pid {}, since {}): see `hs status --profile {0}`, \
                 or stop it with `hs stop --profile {0}`",
                profile.name, running.pid, running.started
            ),
        }
        .into());
    }
    if args.daemonize {
        // Mistakes in the profile are reported here, with their own exit status, rather than
        // from the background process.
        let plan = launch_plan(&args, cfg, &profile)?;
        engine_args(cfg, plan.launcher.name())?;
        return super::start_daemon::run(&args, &profile);
    }
    serve(&args, &profile, cfg)
}

/// Run the controller and the engines' launcher here until `hs stop` or an interrupt.
fn serve(args: &StartArgs, profile: &Profile, cfg: &Config) -> anyhow::Result<Status> {
    let started = Instant::now();
    let LaunchPlan {
        launcher,
        one,
        autoscale,
    } = launch_plan(args, cfg, profile)?;
    // Checked before anything is bound or written, so a bad key leaves nothing behind.
    let engine = engine_args(cfg, launcher.name())?;
    if autoscale
        .as_ref()
        .is_some_and(|a| a.policy == Policy::Dynamic)
        && engine.idle_timeout.is_none()
    {
        tracing::warn!(
            "profile {}: autoscaled engines never leave with {} = 0, so the cluster only grows; \
             set it in {}",
            profile.name,
            key::ENGINES_TIMEOUT,
            profile.config_file().display()
        );
    }
    let bind = cfg.value(None::<String>, key::SERVER_BIND)?;
    let (address, loopback) = bind_address(&bind)?;
    let port = choose_port(
        &address,
        cfg.option(None::<u16>, key::SERVER_PORT, Layers::Set)?,
    )?;
    let key = generate_key();
    let store_args = StoreArgs {
        no_db: false,
        initdb: true,
        max_retries: None,
        eager: false,
        restart: false,
        restart_grace: 10.0,
        db_wait: None,
    };
    let (location, store) = controller::open_store(&store_args, cfg)?;
    if !location.is_durable() {
        return Err(Failure::usage(format!(
            "profile {} has no database (database.file is empty or :memory:): a profile keeps its \
             tasks between starts; set database.file or database.url in {}",
            profile.name,
            profile.config_file().display()
        )));
    }
    let binds = tcp_binds(&address, port);
    // When interrupted (Ctrl-C, SIGTERM), the engines stop their tasks and report back first;
    // engines that have not left by then are stopped by the supervisor.
    let signalwait = signalwait(None, cfg)?;
    let mut bcfg = setup::broker_config(key.clone(), binds, &args.heartbeat, signalwait, cfg)?;
    bcfg.forever = true;
    bcfg.bundlesize = setup::bundlesize(None, cfg)?;
    if autoscale.is_some() {
        bcfg.prefetch = Some(crate::launch::autoscale::PREFETCH);
    }
    controller::configure(&mut bcfg, &store_args, &location, cfg)?;
    let grace = bcfg.abort_grace;
    let controls = Controls {
        broker: Arc::new(RunControl::new()),
        engine: None,
    };
    let controller = ControllerBuilder::new(bcfg)
        .store(store)
        .control(controls.broker.clone())
        .bind()?;

    let info = ConnectionInfo {
        profile: Some(profile.name.clone()),
        ..ConnectionInfo::for_this_process(
            controller.controller_id(),
            dial_address(&address, loopback),
            port,
            key.clone(),
        )
    };
    crate::site::create_private_dir(&profile.security_dir())?;
    hs_engine::private::create_dir_all(&profile.log_dir())?;
    connection::write(&profile.engine_file(), &info)?;
    let client_info = ConnectionInfo {
        database: location.for_clients(),
        ..info.clone()
    };
    connection::write(&profile.client_file(), &client_info)?;
    let mut cluster = ClusterState::of_this_process(info.controller_id, launcher.name());
    cluster.expected_engines = match &autoscale {
        Some(a) => Some(u64::from(a.init)),
        None => launcher.expected_engines(),
    };
    state::write(&profile.state_file(), &cluster)?;
    if !loopback || !launcher.reaches_other_hosts() {
        tracing::info!(
            "profile {}: controller on {bind}:{port}, {} launcher; engines join with `hs engine --profile {}`",
            profile.name,
            launcher.name(),
            profile.name
        );
    } else {
        tracing::warn!(
            "profile {}: the controller listens on localhost only, so ssh engines on other hosts \
             cannot reach it: set server.bind in {}",
            profile.name,
            profile.config_file().display()
        );
    }

    controls.stop_on_interrupt()?;
    controls.stop_on_signals()?;
    let supervisor = Supervisor::start(
        SupervisorConfig {
            spec: LaunchSpec {
                launcher,
                engine,
                info,
                key_dir: profile.security_dir(),
                one: Some(one),
            },
            autoscale,
            end_with_engines: false,
            stop_grace: grace,
            control: Some(profile.control_socket()),
        },
        controls.broker.clone(),
    )?;
    let mut report = Report::new(FailureLog::none(), None);
    let outcome = controller.run(&mut report);
    // A profile's cluster ends by being stopped: its engines get the full grace.
    let launched = supervisor.finish(true);
    profile.remove_runtime_files();
    let summary = outcome.map_err(setup::run_error)?.broker;
    super::common::log_summary(&summary, 0, started.elapsed());
    tracing::info!(
        "profile {} stopped ({} engine processes ended)",
        profile.name,
        launched.exited.len()
    );
    // Stopping a profile (hs stop, Ctrl-C) is its normal end; only a failed launch is an error.
    match launched.error {
        Some(error) => Err(Failure::runtime(error)),
        None => Ok(Status::Ok),
    }
}

/// How the profile's engines start.
struct LaunchPlan {
    /// The profile's launcher (`engines.*`, the nodefile; `-n` over `engines.count`).
    launcher: Launcher,
    /// How one more engine starts: each autoscaled engine, and each of `--add`.
    one: Launcher,
    /// `[autoscale]` of the profile's config.toml, or `-A`: then `size.init` engines start (`-n`
    /// over it), one at a time, instead of the launcher's.
    autoscale: Option<Settings>,
}

fn launch_plan(args: &StartArgs, cfg: &Config, profile: &Profile) -> anyhow::Result<LaunchPlan> {
    let mut autoscale =
        cluster_launch::autoscale(&args.autoscale, cfg, launcher::autoscaled(profile))?;
    if let Some(a) = autoscale.as_mut()
        && args.autoscale.init_size.is_none()
        && let Some(n) = args.engines
    {
        a.init = n;
    }
    let launcher = launcher::from_config(cfg, profile, args.engines)?;
    // Autoscaled engines start through `autoscale.launcher` when set, as `hs cluster -A`'s do;
    // otherwise as the profile's launcher starts one engine (srun with one task).
    let one = match cluster_launch::autoscale_launcher(cfg)? {
        Some(command) if autoscale.is_some() => command,
        _ => launcher::from_config(cfg, profile, Some(1))?,
    };
    Ok(LaunchPlan {
        launcher,
        one,
        autoscale,
    })
}

/// The engine command line from the profile's keys: `engines.*`, and the task settings the
/// profile may set (`task.timeout`, `task.signalwait`), which engines started elsewhere would
/// not see in their own configuration.
fn engine_args(cfg: &Config, launcher: &str) -> anyhow::Result<EngineArgs> {
    use super::common::positive;
    let seconds = |key: &KeyDef| -> anyhow::Result<Option<f64>> {
        Ok(positive(cfg.option(None::<f64>, key, Layers::All)?))
    };
    // The local launcher runs this very program; remote_exe names hs on other hosts.
    let remote = cfg
        .option(None::<String>, key::ENGINES_REMOTE_EXE, Layers::All)?
        .filter(|_| launcher != "local");
    Ok(EngineArgs {
        exe: remote.unwrap_or_else(crate::launch::own_exe),
        slots: cfg.value(None::<u32>, key::ENGINES_SLOTS)?,
        template: None,
        task_timeout: seconds(key::TASK_TIMEOUT)?,
        signalwait: cfg.option(None::<f64>, key::TASK_SIGNALWAIT, Layers::Set)?,
        executor: cfg.option(None::<String>, key::TASK_EXECUTOR, Layers::Set)?,
        capture: cfg.value(None::<bool>, key::ENGINES_CAPTURE)?,
        keep_daemons: false,
        idle_timeout: seconds(key::ENGINES_TIMEOUT)?,
        // Each engine offers its own host's resources and rate (or its `client.*` keys').
        capacity: if cfg.value(None::<bool>, key::ENGINES_MONITOR)? {
            vec!["--monitor".to_string()]
        } else {
            Vec::new()
        },
        // Negative means a random wait up to |n|, so it is not read as a plain duration; one
        // no `Duration` holds is refused here rather than by every engine's `--delay-start`.
        delay_start: match cfg
            .get_f64(key::ENGINES_DELAY_START.name)
            .map_err(Failure::from)?
        {
            Some(v) if Duration::try_from_secs_f64(v.abs()).is_err() => {
                return Err(Failure::from(cfg.invalid(
                    key::ENGINES_DELAY_START.name,
                    "a number of seconds (negative = a random wait up to |SECONDS|)",
                ))
                .into());
            }
            Some(v) => v,
            None => cfg.fallback(key::ENGINES_DELAY_START)?,
        },
    })
}
