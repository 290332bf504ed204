//! `hs server`: serve tasks to engines on this and other hosts; failed task lines go to stdout
//! (or `-f`), so `hs server < tasks > failed` works as a sieve.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use hs_broker::{Broker, BrokerConfig, BrokerControl, feed};
use hs_engine::protocol::{generate_key, validate_key};

use super::common::{heartbeat, signalwait, stop_grace};
use super::controller;
use super::listen::{bind_address, choose_port, dial_address, tcp_binds};
use super::store_args::input_settings;
use crate::cli::ServerArgs;
use crate::config::{Config, Layers};
use crate::connection::{self, ConnectionInfo};
use crate::exit::{Failure, Status};
use crate::input::{self, Source, Submitter};
use crate::report::{FailureLog, Report};
use crate::site::Site;
use crate::{progress, signals};

/// `-k`, else `server.auth` (validated the same way, the message naming where it came from),
/// else a generated key, which only a loopback server may use.
fn server_key(
    args: &ServerArgs,
    cfg: &Config,
    bind: &str,
    loopback: bool,
) -> anyhow::Result<String> {
    const KEY: &str = "server.auth";
    // An empty configured key is no key, as an empty HYPERSHELL_SERVER_AUTH always was.
    let configured = cfg
        .option(None::<String>, KEY, Layers::All)?
        .filter(|k| !k.is_empty());
    match (&args.auth, configured) {
        (Some(k), _) => {
            validate_key(k)
                .map_err(|e| Failure::usage(format!("refusing the key given with -k: {e}")))?;
            Ok(k.clone())
        }
        (None, Some(k)) => {
            validate_key(&k).map_err(|e| {
                Failure::usage(format!("refusing {KEY} ({}): {e}", cfg.source(KEY)))
            })?;
            Ok(k)
        }
        (None, None) if !loopback => Err(Failure::usage(format!(
            "binding to {bind} exposes the server to the network: pass a shared key with -k KEY \
             or set {KEY} (e.g. -k $(openssl rand -hex 32)) and give the same key to each hs client"
        ))),
        (None, None) => Ok(generate_key()),
    }
}

pub fn run(args: ServerArgs, cfg: &Config) -> anyhow::Result<Status> {
    let started = Instant::now();
    // First, so a stop asked for while the server starts is not lost (nor kills it).
    let control = Arc::new(BrokerControl::new());
    controller::stop_on_signals(control.clone())?;
    let site = Site::from_env();
    let bind = cfg
        .option(args.bind.clone(), "server.bind", Layers::All)?
        .unwrap_or_else(|| "localhost".into());
    let (address, loopback) = bind_address(&bind)?;
    let key = server_key(&args, cfg, &bind, loopback)?;
    let input = match (&args.file, args.forever || args.store.restart) {
        (None, true) => None,
        (file, _) => Some(Source::from_arg(file.clone()).open()?),
    };
    args.tls.note_unused();
    let failures = match &args.failures {
        Some(p) => FailureLog::path(p)?,
        None => FailureLog::stdout(),
    };

    let port = cfg
        .option(args.port, "server.port", Layers::All)?
        .unwrap_or(50001);
    let port = choose_port(&address, Some(port))?;
    let sockets = tcp_binds(&address, port);
    let (heartrate, evict) = heartbeat(&args.heartbeat, cfg)?;
    let mut bcfg = BrokerConfig::new(key.clone(), sockets);
    bcfg.heartrate = heartrate;
    bcfg.evict = evict;
    bcfg.bundlesize = cfg
        .option(args.bundle.bundlesize, "server.bundlesize", Layers::Set)?
        .unwrap_or(0);
    bcfg.forever = args.forever;
    bcfg.store_poll = controller::store_poll(&args.poll, args.forever, cfg)?;
    // After Ctrl-C the engines are told to stop their tasks and hand back what is unfinished;
    // they get as long as a task takes to stop to do so and say goodbye.
    bcfg.abort_grace = stop_grace(signalwait(None, cfg)?);
    let (location, store) = controller::open_store(&args.store, cfg)?;
    controller::configure(&mut bcfg, &args.store, &location, cfg)?;
    let ctx = zmq::Context::new();
    let mut broker = Broker::bind(bcfg, &ctx, store)?;

    site.security_dir()?;
    let path = connection::default_path(&site, port);
    let dial = dial_address(&address, loopback);
    let info = ConnectionInfo::for_this_process(broker.controller_id(), dial, port, key);
    connection::write(&path, &info)?;
    tracing::info!(
        "serving on {bind}:{port} (heartbeats {}, clients {}); connection file {}",
        info.heartbeat_port,
        info.client_port,
        path.display()
    );

    {
        let c = control.clone();
        signals::on_interrupt(move || c.abort())?;
    }
    let alive = Arc::new(AtomicBool::new(true));
    let (feed_rx, reader) = match input {
        Some(input) => {
            let (tx, rx) = feed::channel(&ctx)?;
            let mut submitter = Submitter::new(hs_engine::engine::short_hostname());
            submitter.defaults = input_settings(args.cores, args.memory, args.task_timeout, cfg)?;
            let reader =
                input::spawn_reader(input, tx, alive.clone(), failures.clone(), submitter)?;
            (Some(rx), Some(reader))
        }
        None => (None, None),
    };
    let mut report = Report::new(failures, progress::start());
    let outcome = broker.run(feed_rx, &mut report, &control);
    alive.store(false, Ordering::SeqCst);
    progress::finish();
    let _ = std::fs::remove_file(&path);
    let summary = outcome?;
    let input_report = reader.and_then(|r| r.report(summary.aborted || summary.stopped));
    controller::note_unfinished(&summary, &location);
    let expected_input = args.file.is_some() || !(args.forever || args.store.restart);
    let status = controller::finish(
        &summary,
        input_report,
        started,
        expected_input,
        args.fail_exit.fail_exit,
    );
    std::mem::forget(ctx);
    Ok(status)
}
