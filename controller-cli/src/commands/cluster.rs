//! `hs cluster` / `hsx`: a controller and one engine with N slots in one process, talking over
//! in-process ZeroMQ sockets with the same signed protocol as remote engines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hs_broker::{Broker, BrokerConfig, feed};
use hs_engine::protocol::generate_key;

use super::cluster_launch;
use super::common::{
    engine_config, heartbeat, seconds_or_none, signalwait, slots, start_delay, stop_grace,
};
use super::controller;
use super::listen::{bind_address, choose_port, dial_address, tcp_binds};
use super::store_args::input_settings;
use crate::cli::ClusterArgs;
use crate::config::{Config, Layers};
use crate::connection::{self, ConnectionInfo};
use crate::exit::Status;
use crate::input::{self, Source, Submitter};
use crate::launch::{LaunchSpec, Launcher, Supervisor, SupervisorConfig};
use crate::progress;
use crate::report::{FailureLog, Report};
use crate::site::Site;

/// Where `-p` listens when no launcher is given: engines on this host only.
const LOOPBACK: &str = "127.0.0.1";

pub fn run(args: ClusterArgs, cfg: &Config) -> anyhow::Result<Status> {
    let started = Instant::now();
    let site = Site::from_env();
    // With --from-json the template is expanded here, per object, before anything runs.
    let json_rows = match &args.from_json {
        Some(path) => {
            let submitter = Submitter::new(hs_engine::engine::short_hostname());
            Some(crate::from_json::load(
                path,
                &args.run.template,
                &submitter,
            )?)
        }
        None => None,
    };
    let input = if args.store.restart || json_rows.is_some() {
        None
    } else {
        Some(Source::from_arg(args.file.clone()).open()?)
    };
    args.tls.note_unused();
    args.capacity.note_unenforced();
    let failures = match &args.failures {
        Some(p) => FailureLog::path(p)?,
        None => FailureLog::none(),
    };
    let key = generate_key();
    let ctx = zmq::Context::new();
    let launcher = cluster_launch::launcher(&args.launch, cfg)?;
    // Launched engines resolve 0 (= all cores) on their own hosts.
    let slots = match launcher {
        Some(_) => args.slots.num_threads,
        None => slots(args.slots.num_threads),
    };

    let (local, mut bind) = super::local::inproc();
    let mut remote = None;
    // The port of `-p` without a launcher: engines and clients may also join on localhost.
    let mut local_port = None;
    if let Some(launcher) = launcher {
        remote = Some(remote_binds(
            &args,
            cfg,
            &mut bind,
            launcher,
            &key,
            json_rows.is_some(),
            slots,
        )?);
    } else if let Some(port) = args.port {
        let port = choose_port(LOOPBACK, Some(port))?;
        let tcp = tcp_binds(LOOPBACK, port);
        bind.engines.extend(tcp.engines);
        bind.heartbeat.extend(tcp.heartbeat);
        bind.clients.extend(tcp.clients);
        local_port = Some(port);
    }
    let (heartrate, evict) = heartbeat(&args.heartbeat, cfg)?;
    let mut bcfg = BrokerConfig::new(key.clone(), bind);
    bcfg.heartrate = heartrate;
    bcfg.evict = evict;
    bcfg.bundlesize = cfg
        .option(args.bundle.bundlesize, "server.bundlesize", Layers::Set)?
        .unwrap_or(0);
    bcfg.announce_engines = args.port.is_some();
    bcfg.forever = args.forever;
    bcfg.store_poll = controller::store_poll(&args.poll, args.forever, cfg)?;
    // An engine added by the autoscaler can only help with tasks still queued at the
    // controller: engines hold no more than they run.
    // Launched engines register one after another: a small prefetch keeps the first one from
    // taking a short queue all to itself.
    match &remote {
        Some(r) if r.autoscale.is_some() => bcfg.prefetch = Some(0),
        Some(_) => bcfg.prefetch = Some(slots.max(1)),
        None => {}
    }
    // After Ctrl-C, give the engines time to stop their tasks and report; launched ones get
    // as long before they are killed.
    let grace = stop_grace(signalwait(args.run.signalwait, cfg)?);
    bcfg.abort_grace = grace;
    let (location, store) = controller::open_store(&args.store, cfg)?;
    controller::configure(&mut bcfg, &args.store, &location, cfg)?;
    // The engines of a crashed local cluster died with it; only engines joining through -p
    // could still report tasks they were running.
    if args.port.is_none() {
        bcfg.restart_grace = Duration::ZERO;
    }
    let mut broker = Broker::bind(bcfg, &ctx, store)?;
    let connection_file = match local_port {
        Some(port) => Some(write_connection(&site, port, &broker, &key)?),
        None => None,
    };

    let mut ecfg = engine_config(
        &args.run,
        &args.bundle,
        slots,
        local,
        key.clone(),
        &site,
        cfg,
    )?;
    ecfg.idle_timeout =
        seconds_or_none(cfg.option(args.idle_timeout, "client.timeout", Layers::All)?);
    let controls = super::local::Controls::install()?;
    controls.stop_on_signals()?;

    let alive = Arc::new(AtomicBool::new(true));
    let (feed_rx, reader) = match (input, json_rows) {
        (Some(input), _) => {
            let (tx, rx) = feed::channel(&ctx)?;
            let mut submitter = Submitter::new(ecfg.host.clone());
            submitter.defaults =
                input_settings(args.cores, args.memory, args.run.task_timeout, cfg)?;
            let reader =
                input::spawn_reader(input, tx, alive.clone(), failures.clone(), submitter)?;
            (Some(rx), Some(reader))
        }
        (None, Some(rows)) => {
            let (tx, rx) = feed::channel(&ctx)?;
            ecfg.template = super::common::parse_template("{}")?;
            (Some(rx), Some(input::spawn_rows(rows, tx, alive.clone())?))
        }
        (None, None) => (None, None),
    };
    let (engine_thread, supervisor) = match remote {
        None => {
            let delay = start_delay(args.launch.delay_start.unwrap_or(0.0));
            (Some(controls.spawn_engine(ecfg, &ctx, delay)?), None)
        }
        Some(mut plan) => {
            plan.spec.info.controller_id = broker.controller_id();
            let config = SupervisorConfig {
                spec: plan.spec,
                autoscale: plan.autoscale,
                end_with_engines: true,
                stop_grace: grace,
            };
            (
                None,
                Some(Supervisor::start(config, controls.broker.clone())?),
            )
        }
    };

    let mut report = Report::new(failures, progress::start());
    let outcome = broker.run(feed_rx, &mut report, &controls.broker);
    alive.store(false, Ordering::SeqCst);
    let aborted = outcome.as_ref().map_or(true, |s| s.aborted || s.stopped);
    let launched = supervisor.map(|s| s.finish(aborted));
    let engine_outcome = match engine_thread {
        Some(t) => controls.join_engine(t).map(|_| ()),
        None => Ok(()),
    };
    progress::finish();
    if let Some(path) = connection_file {
        let _ = std::fs::remove_file(path);
    }
    let summary = outcome?;
    engine_outcome?;
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
    // Sockets owned by a reader still blocked on its input would make context teardown wait.
    std::mem::forget(ctx);
    Ok(status)
}

fn write_connection(
    site: &Site,
    port: u16,
    broker: &Broker,
    key: &str,
) -> anyhow::Result<std::path::PathBuf> {
    site.security_dir()?;
    let path = connection::default_path(site, port);
    let info = ConnectionInfo::for_this_process(broker.controller_id(), LOOPBACK, port, key);
    connection::write(&path, &info)?;
    tracing::info!(
        "engines may join with: hs client -p {port} (connection file {})",
        path.display()
    );
    Ok(path)
}

/// Engines launched outside this process: what to start and where they connect.
struct RemotePlan {
    spec: LaunchSpec,
    autoscale: Option<crate::launch::autoscale::Settings>,
}

/// Listen on TCP for launched engines and clients, the launch supervisor among them (`-H`,
/// `-p`, else the first free ports from 50001).
fn remote_binds(
    args: &ClusterArgs,
    cfg: &Config,
    bind: &mut hs_broker::BindSet,
    launcher: Launcher,
    key: &str,
    templated: bool,
    slots: u32,
) -> anyhow::Result<RemotePlan> {
    let host = cfg
        .option(args.launch.bind.clone(), "server.bind", Layers::All)?
        .unwrap_or_else(|| "localhost".into());
    let (address, loopback) = bind_address(&host)?;
    if loopback && launcher.reaches_other_hosts() {
        tracing::warn!(
            "the controller listens on localhost only: engines on other hosts cannot reach it; \
             pass -H with an address they can reach"
        );
    }
    let port = choose_port(&address, args.port)?;
    *bind = tcp_binds(&address, port);
    // The broker's id is filled in once it is bound.
    let info = ConnectionInfo::for_this_process(
        uuid::Uuid::nil(),
        dial_address(&address, loopback),
        port,
        key,
    );
    tracing::info!(
        "controller on {host}:{port}; starting engines with the {} launcher",
        launcher.name()
    );
    Ok(RemotePlan {
        spec: LaunchSpec {
            launcher,
            engine: cluster_launch::engine_args(args, slots, cfg, templated)?,
            info,
        },
        autoscale: cluster_launch::autoscale(&args.launch, cfg)?,
    })
}
