//! `hs cluster` / `hsx`: a controller and one engine with N slots in one process, talking over
//! in-process ZeroMQ sockets with the same signed protocol as remote engines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hs_broker::{Broker, BrokerConfig, feed};
use hs_engine::protocol::generate_key;

use super::common::{engine_config, heartbeat, seconds_or_none, signalwait, slots};
use super::controller;
use crate::cli::ClusterArgs;
use crate::config::{Config, Layers};
use crate::connection::{self, ConnectionInfo};
use crate::exit::Status;
use crate::input::{self, Source, Submitter};
use crate::progress;
use crate::report::{FailureLog, Report};
use crate::site::Site;

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
    let failures = match &args.failures {
        Some(p) => FailureLog::path(p)?,
        None => FailureLog::none(),
    };
    let slots = slots(args.slots.num_threads);
    let key = generate_key();
    let ctx = zmq::Context::new();

    let (local, mut bind) = super::local::inproc();
    if let Some(port) = args.port {
        bind.engines.push(format!("tcp://127.0.0.1:{port}"));
        bind.heartbeat
            .push(format!("tcp://127.0.0.1:{}", port.saturating_add(1)));
        bind.clients
            .push(format!("tcp://127.0.0.1:{}", port.saturating_add(2)));
    }
    let (heartrate, evict) = heartbeat(&args.heartbeat, cfg)?;
    let mut bcfg = BrokerConfig::new(key.clone(), bind);
    bcfg.heartrate = heartrate;
    bcfg.evict = evict;
    bcfg.bundlesize = cfg
        .option(args.bundle.bundlesize, "server.bundlesize", Layers::Set)?
        .unwrap_or(0);
    bcfg.announce_engines = args.port.is_some();
    // After Ctrl-C, give the engine time to stop its tasks (SIGINT, SIGTERM, SIGKILL) and report.
    bcfg.abort_grace = Duration::from_secs_f64(signalwait(&args.run, cfg)? * 3.0 + 2.0);
    let (location, store) = controller::open_store(&args.store, cfg)?;
    controller::configure(&mut bcfg, &args.store, &location, cfg)?;
    // The engines of a crashed local cluster died with it; only engines joining through -p
    // could still report tasks they were running.
    if args.port.is_none() {
        bcfg.restart_grace = Duration::ZERO;
    }
    let mut broker = Broker::bind(bcfg, &ctx, store)?;
    let connection_file = match args.port {
        Some(port) => Some(write_connection(&site, port, &broker, &key)?),
        None => None,
    };

    let mut ecfg = engine_config(&args.run, &args.bundle, slots, local, key, &site, cfg)?;
    ecfg.idle_timeout =
        seconds_or_none(cfg.option(args.idle_timeout, "client.timeout", Layers::All)?);
    let controls = super::local::Controls::install()?;

    let alive = Arc::new(AtomicBool::new(true));
    let (feed_rx, reader) = match (input, json_rows) {
        (Some(input), _) => {
            let (tx, rx) = feed::channel(&ctx)?;
            let submitter = Submitter::new(ecfg.host.clone());
            let reader = input::spawn_reader(input, tx, alive.clone(), failures.clone(), submitter);
            (Some(rx), Some(reader))
        }
        (None, Some(rows)) => {
            let (tx, rx) = feed::channel(&ctx)?;
            ecfg.template = super::common::parse_template("{}")?;
            (Some(rx), Some(input::spawn_rows(rows, tx, alive.clone())))
        }
        (None, None) => (None, None),
    };
    let engine_thread = controls.spawn_engine(ecfg, &ctx)?;

    let mut report = Report::new(failures, progress::start());
    let outcome = broker.run(feed_rx, &mut report, &controls.broker);
    alive.store(false, Ordering::SeqCst);
    let engine_outcome = controls.join_engine(engine_thread);
    progress::finish();
    if let Some(path) = connection_file {
        let _ = std::fs::remove_file(path);
    }
    let summary = outcome?;
    engine_outcome?;
    // The reader may still be blocked on a terminal or pipe after an interrupt; don't wait for it.
    let input_report = reader
        .filter(|r| r.is_finished())
        .and_then(|r| r.join().ok());
    let status = controller::finish(&summary, input_report, started, !args.store.restart);
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
    let info = ConnectionInfo {
        version: connection::VERSION,
        controller_id: broker.controller_id(),
        host: "127.0.0.1".into(),
        engine_port: port,
        heartbeat_port: port.saturating_add(1),
        client_port: port.saturating_add(2),
        key: key.to_string(),
        signature_scheme: "hmac-sha256".into(),
        pid: std::process::id(),
        profile: None,
        database: None,
    };
    connection::write(&path, &info)?;
    tracing::info!(
        "engines may join with: hs client -p {port} (connection file {})",
        path.display()
    );
    Ok(path)
}
