//! `hs server`: serve tasks to engines on this and other hosts; failed task lines go to stdout
//! (or `-f`), so `hs server < tasks > failed` works as a sieve.

use std::sync::Arc;
use std::time::Instant;

use hs_broker::RunControl;
use hs_engine::protocol::{KeyError, generate_key, validate_key};

use super::common::signalwait;
use super::controller;
use super::listen::{bind_address, choose_port, dial_address, tcp_binds};
use super::setup::{self, Controls};
use super::store_args::input_settings;
use crate::cli::ServerArgs;
use crate::config::{Config, KeyDef, Layers, key};
use crate::connection::{self, ConnectionInfo};
use crate::exit::{Failure, Status};
use crate::input::{self, Source, Submitter};
use crate::key_file;
use crate::progress;
use crate::report::{FailureLog, Report};
use crate::resume;
use crate::site::Site;
use crate::unrecorded;

/// `--key-file` or `-k`, else `server.auth` (validated the same way, the message naming where
/// it came from), else a generated key, which only a loopback server may use. A guessable key
/// is refused unless `--weak-key` or `server.weakkey` says to keep it.
fn server_key(
    args: &ServerArgs,
    cfg: &Config,
    bind: &str,
    loopback: bool,
) -> anyhow::Result<String> {
    const KEY: &KeyDef = key::SERVER_AUTH;
    let weak_ok = args.weak_key || cfg.value(None::<bool>, key::SERVER_WEAKKEY)?;
    let check = |k: &str, what: String| match validate_key(k) {
        Err(KeyError::Weak { .. }) if weak_ok => {
            tracing::warn!("{what} is easy to guess: kept as --weak-key/server.weakkey ask");
            Ok(())
        }
        Err(e) => Err(Failure::usage(format!("refusing {what}: {e}"))),
        Ok(()) => Ok(()),
    };
    let given = key_file::from_flags(args.auth.as_deref(), args.key_file.as_deref())?;
    // An empty configured key is no key, as an empty HYPERSHELL_SERVER_AUTH always was.
    let configured = cfg
        .option(None::<String>, KEY, Layers::All)?
        .filter(|k| !k.is_empty());
    match (given, configured) {
        (Some(k), _) => {
            let what = match &args.key_file {
                Some(path) => format!("the key in {}", path.display()),
                None => "the key given with -k".into(),
            };
            check(&k, what)?;
            if args.auth.is_some() {
                key_file::warn_command_line(KEY);
            }
            Ok(k)
        }
        (None, Some(k)) => {
            check(&k, format!("{KEY} ({})", cfg.source(KEY.name)))?;
            Ok(k)
        }
        (None, None) if !loopback => Err(Failure::usage(format!(
            "binding to {bind} exposes the server to the network: give it a shared key (`hs key \
             -o FILE`, then --key-file FILE here and for each hs client, or set {KEY})"
        ))),
        (None, None) => Ok(generate_key()),
    }
}

pub fn run(args: ServerArgs, cfg: &Config) -> anyhow::Result<Status> {
    let started = Instant::now();
    // First, so a stop asked for while the server starts is not lost (nor kills it).
    let controls = Controls {
        broker: Arc::new(RunControl::new()),
        engine: None,
    };
    controls.stop_on_signals()?;
    let site = Site::from_env();
    let bind = cfg.value(args.bind.clone(), key::SERVER_BIND)?;
    let (address, loopback) = bind_address(&bind)?;
    let key = server_key(&args, cfg, &bind, loopback)?;
    let input = match (&args.file, args.forever || args.store.restart) {
        (None, true) => None,
        (file, _) => {
            let source = Source::from_arg(file.clone());
            let input = source.open()?;
            Some((source, input))
        }
    };
    args.tls.note_unused();
    let failures = match &args.failures {
        Some(p) => FailureLog::path(p)?,
        None => FailureLog::stdout(),
    };

    let port = cfg.value(args.port, key::SERVER_PORT)?;
    let port = choose_port(&address, Some(port))?;
    let binds = tcp_binds(&address, port);
    let mut bcfg = setup::broker_config(
        key.clone(),
        binds,
        &args.heartbeat,
        signalwait(None, cfg)?,
        cfg,
    )?;
    bcfg.bundlesize = setup::bundlesize(args.bundle.bundlesize, cfg)?;
    bcfg.mode = args.tls.mode();
    bcfg.forever = args.forever;
    bcfg.store_poll = controller::store_poll(&args.poll, args.forever, cfg)?;
    let (location, mut builder, journal) = setup::with_store(bcfg, &args.store, cfg)?;
    let input = match input {
        Some((source, input)) => Some(resume::track(
            &mut builder,
            location.is_durable(),
            &source,
            input,
        )?),
        None => None,
    };
    let mut server = builder.control(controls.broker.clone()).bind()?;

    site.security_dir()?;
    let path = connection::default_path(&site, port);
    let dial = dial_address(&address, loopback);
    let info = ConnectionInfo {
        no_tls: args.tls.no_tls,
        ..ConnectionInfo::for_this_process(server.controller_id(), dial, port, key)
    };
    connection::write(&path, &info)?;
    tracing::info!(
        "serving on {bind}:{port} (heartbeats {}, clients {}); connection file {}",
        info.heartbeat_port,
        info.client_port,
        path.display()
    );

    controls.stop_on_interrupt()?;
    let reader = match input {
        Some((input, tracking)) => {
            let mut submitter = Submitter::new(hs_engine::engine::short_hostname());
            submitter.defaults =
                input_settings(args.cores, args.memory, args.gpus, args.task_timeout, cfg)?;
            if let Some(t) = &tracking {
                submitter.id = t.submission;
            }
            Some(input::spawn_reader(
                &mut server,
                input,
                failures.clone(),
                submitter,
                tracking,
            )?)
        }
        None => None,
    };
    let mut report = Report::new(failures, progress::start());
    let outcome = server.run(&mut report);
    if let Err(e) = &outcome {
        unrecorded::keep_after(journal.as_ref(), e);
    }
    progress::finish();
    let _ = std::fs::remove_file(&path);
    let summary = outcome.map_err(setup::run_error)?.broker;
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
    Ok(controller::with_lost_output(status, report.output_lost))
}
