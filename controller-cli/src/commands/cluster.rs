//! `hs cluster` / `hsx`: a controller and one engine with N slots in one process, talking over
//! in-process ZeroMQ sockets with the same signed protocol as remote engines.

use std::io::Read;
use std::time::{Duration, Instant};

use hs_broker::BindSet;
use hs_broker::store::TaskRecord;
use hs_engine::engine::{Endpoints, EngineConfig};
use hs_engine::protocol::generate_key;
use uuid::Uuid;

use super::cluster_launch;
use super::common::{engine_config, seconds_or_none, signalwait, slots, start_delay};
use super::controller;
use super::listen::{choose_port, tcp_binds};
use super::setup::{self, Controls};
use super::store_args::input_settings;
use crate::cli::ClusterArgs;
use crate::config::{Config, Layers, key};
use crate::connection::{self, ConnectionInfo};
use crate::exit::Status;
use crate::input::{self, Source, Submitter};
use crate::progress;
use crate::report::{FailureLog, Report};
use crate::resume;
use crate::site::Site;
use crate::unrecorded;

/// Where `-p` listens when no launcher is given: engines on this host only.
const LOOPBACK: &str = "127.0.0.1";

pub fn run(args: ClusterArgs, cfg: &Config) -> anyhow::Result<Status> {
    let started = Instant::now();
    let site = Site::from_env();
    let tasks = Tasks::of(&args)?;
    let templated = matches!(tasks, Tasks::Rows(_));
    args.tls.note_unused();
    let failures = match &args.failures {
        Some(p) => FailureLog::path(p)?,
        None => FailureLog::none(),
    };
    let key = generate_key();
    let launcher = cluster_launch::launcher(&args.launch, cfg)?;
    // Launched engines resolve 0 (= all cores) on their own hosts.
    let slots = match launcher {
        Some(_) => args.slots.num_threads,
        None => slots(args.slots.num_threads),
    };
    let (remote, bind, local_port) = match launcher {
        Some(launcher) => {
            let plan = cluster_launch::plan(&args, cfg, launcher, &key, templated, slots)?;
            let bind = plan.bind.clone();
            (Some(plan), bind, None)
        }
        // `-p` without a launcher: engines and clients may also join on localhost.
        None => match args.port {
            Some(port) => {
                let port = choose_port(LOOPBACK, Some(port))?;
                (None, tcp_binds(LOOPBACK, port), Some(port))
            }
            None => (None, BindSet::default(), None),
        },
    };
    // After Ctrl-C, give the engines time to stop their tasks and report; launched ones get
    // as long before they are killed.
    let signalwait = signalwait(args.run.signalwait, cfg)?;
    let mut bcfg = setup::broker_config(key.clone(), bind, &args.heartbeat, signalwait, cfg)?;
    bcfg.bundlesize = setup::bundlesize(args.bundle.bundlesize, cfg)?;
    bcfg.announce_engines = args.port.is_some();
    bcfg.mode = args.tls.mode();
    bcfg.forever = args.forever;
    bcfg.store_poll = controller::store_poll(&args.poll, args.forever, cfg)?;
    bcfg.prefetch = remote.as_ref().map(|r| r.prefetch(slots));
    let grace = bcfg.abort_grace;
    let (location, mut builder, journal) = setup::with_store(bcfg, &args.store, cfg)?;
    let (tasks, tracking) = match tasks {
        Tasks::Input(input) => {
            let source = Source::from_arg(args.file.clone());
            let (input, tracking) =
                resume::track(&mut builder, location.is_durable(), &source, input)?;
            (Tasks::Input(input), tracking)
        }
        other => (other, None),
    };
    // The engines of a crashed local cluster died with it; only engines joining through -p
    // could still report tasks they were running.
    if args.port.is_none() {
        builder.config().restart_grace = Duration::ZERO;
    }
    let endpoints = remote.is_none().then(|| builder.local_endpoints());
    let mut cluster = builder.bind()?;
    let connection_file = match local_port {
        Some(port) => Some(write_connection(
            &site,
            port,
            cluster.controller_id(),
            &key,
            args.tls.no_tls,
        )?),
        None => None,
    };
    let ecfg = local_engine(&args, slots, endpoints.clone(), key, templated, &site, cfg)?;
    let submitter_host = ecfg.host.clone();
    let controls = Controls {
        broker: cluster.control().clone(),
        engine: endpoints.map(|_| {
            let delay = start_delay(args.launch.delay_start.unwrap_or(0.0));
            cluster.add_engine(ecfg, delay)
        }),
    };
    controls.stop_on_interrupt()?;
    controls.stop_on_signals()?;

    let reader = match tasks {
        Tasks::Input(input) => {
            let mut submitter = Submitter::new(submitter_host);
            submitter.defaults = input_settings(
                args.cores,
                args.memory,
                args.gpus,
                args.run.task_timeout,
                cfg,
            )?;
            if let Some(t) = &tracking {
                submitter.id = t.submission;
            }
            Some(input::spawn_reader(
                &mut cluster,
                input,
                failures.clone(),
                submitter,
                tracking,
            )?)
        }
        Tasks::Rows(rows) => Some(input::spawn_rows(&mut cluster, rows)?),
        Tasks::Store => None,
    };
    let supervisor = match remote {
        Some(plan) => Some(plan.start(cluster.controller_id(), grace, controls.broker.clone())?),
        None => None,
    };

    let mut report = Report::new(failures, progress::start());
    let outcome = cluster.run(&mut report);
    if let Err(e) = &outcome {
        unrecorded::keep_after(journal.as_ref(), e);
    }
    let outcome = outcome.map_err(setup::run_error);
    let aborted = outcome
        .as_ref()
        .map_or(true, |s| s.broker.aborted || s.broker.stopped);
    let launched = supervisor.map(|s| s.finish(aborted));
    progress::finish();
    if let Some(path) = connection_file {
        let _ = std::fs::remove_file(path);
    }
    let summary = outcome?.broker;
    if let Some(error) = launched.and_then(|l| l.error) {
        return Err(crate::exit::Failure::runtime(error));
    }
    let input_report = reader.and_then(|r| r.report(summary.aborted || summary.stopped));
    controller::note_unfinished(&summary, &location);
    let status = controller::finish(
        &summary,
        input_report,
        started,
        !args.store.restart,
        args.fail_exit.fail_exit,
    );
    Ok(controller::with_lost_output(status, report.output_lost))
}

/// Where a cluster's tasks come from.
enum Tasks {
    /// Lines of a file or stdin.
    Input(Box<dyn Read + Send>),
    /// Rows made from `--from-json`, whose template is expanded here, per object, before
    /// anything runs.
    Rows(Vec<TaskRecord>),
    /// Only the store (`--restart` alone).
    Store,
}

impl Tasks {
    fn of(args: &ClusterArgs) -> anyhow::Result<Tasks> {
        if let Some(path) = &args.from_json {
            let submitter = Submitter::new(hs_engine::engine::short_hostname());
            let rows = crate::from_json::load(path, &args.run.template, &submitter)?;
            return Ok(Tasks::Rows(rows));
        }
        if args.store.restart {
            return Ok(Tasks::Store);
        }
        Ok(Tasks::Input(Source::from_arg(args.file.clone()).open()?))
    }
}

/// The engine that runs in this process, on `endpoints`. Made (and so checked) with launched
/// engines too (no `endpoints`), so that a bad setting stops the run here.
fn local_engine(
    args: &ClusterArgs,
    slots: u32,
    endpoints: Option<Endpoints>,
    key: String,
    templated: bool,
    site: &Site,
    cfg: &Config,
) -> anyhow::Result<EngineConfig> {
    let endpoints = endpoints.unwrap_or(Endpoints {
        engines: String::new(),
        heartbeat: String::new(),
    });
    let mut ecfg = engine_config(&args.run, &args.bundle, slots, endpoints, key, site, cfg)?;
    ecfg.resources = super::common::engine_resources(&args.capacity, None, cfg)?;
    super::common::watch_tasks(&mut ecfg, &args.capacity, site, cfg)?;
    ecfg.mode = args.tls.mode();
    ecfg.idle_timeout =
        seconds_or_none(cfg.option(args.idle_timeout, key::CLIENT_TIMEOUT, Layers::All)?);
    if templated {
        ecfg.template = super::common::parse_template("{}")?;
    }
    Ok(ecfg)
}

fn write_connection(
    site: &Site,
    port: u16,
    controller_id: Uuid,
    key: &str,
    no_tls: bool,
) -> anyhow::Result<std::path::PathBuf> {
    site.security_dir()?;
    let path = connection::default_path(site, port);
    let info = ConnectionInfo {
        no_tls,
        ..ConnectionInfo::for_this_process(controller_id, LOOPBACK, port, key)
    };
    connection::write(&path, &info)?;
    tracing::info!(
        "engines may join with: hs client -p {port} (connection file {})",
        path.display()
    );
    Ok(path)
}
