//! `hs client` / `hs engine`: connect to a server, run its tasks, report back.

use std::sync::Arc;
use std::time::Duration;

use hs_engine::engine::{self, Endpoints, EngineControl, StopMode};

use super::common::{
    controller_address, engine_config, is_local, seconds_or_none, slots, start_delay,
};
use crate::cli::ClientArgs;
use crate::config::{Config, Layers, key};
use crate::connection;
use crate::exit::{Failure, Status};
use crate::signals::{self, StopRequest};
use crate::site::Site;

/// The endpoints, key and `--no-tls` of a connection file.
fn dial(info: hs_broker::connection::ConnectionInfo) -> (Endpoints, String, bool) {
    let endpoints = Endpoints {
        engines: info.engine_endpoint(),
        heartbeat: info.heartbeat_endpoint(),
    };
    (endpoints, info.key, info.no_tls)
}

/// Endpoints and key: from `--file`, from `-k` (else `client.auth`, else `server.auth`) with
/// `-H`/`-p` (else `server.host`, `server.port`), or from a local server's connection file.
fn locate(
    args: &ClientArgs,
    site: &Site,
    cfg: &Config,
) -> anyhow::Result<(Endpoints, String, bool)> {
    if let Some(name) = &args.profile {
        let profile = crate::profile::Profile::find(site, name)?;
        // Its controller must be alive: a file left by one that died would be dialled in vain.
        super::running::cluster(&profile)?;
        return Ok(dial(connection::read(&profile.engine_file())?));
    }
    if let Some(path) = &args.connection_file {
        let info = if path.as_os_str() == "-" {
            from_stdin()?
        } else {
            connection::read(path)?
        };
        return Ok(dial(info));
    }
    let (host, port, key) = controller_address(
        args.host.clone(),
        args.port,
        (args.auth.as_deref(), args.key_file.as_deref()),
        cfg,
    )?;
    let beat = port
        .checked_add(1)
        .ok_or_else(|| Failure::usage("-p must leave room for PORT+1 (heartbeats)"))?;
    let endpoints = Endpoints {
        engines: format!("tcp://{host}:{port}"),
        heartbeat: format!("tcp://{host}:{beat}"),
    };
    if let Some(key) = key {
        return Ok((endpoints, key, false));
    }
    let path = connection::default_path(site, port);
    // `hs server & hs client`: the server may not have written its file yet.
    if is_local(&host) && !path.exists() {
        tracing::debug!(
            "waiting for a local server on port {port} to write {}",
            path.display()
        );
        let until = std::time::Instant::now() + Duration::from_secs_f64(args.connect_timeout);
        while !path.exists() && std::time::Instant::now() < until && !signals::interrupted() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    if is_local(&host) && path.exists() {
        let info = connection::read(&path)?;
        tracing::debug!("using the key from {}", path.display());
        return Ok((endpoints, info.key, info.no_tls));
    }
    Err(Failure::usage(format!(
        "no key for the server at {}:{}: pass its key with -k KEY or its connection file with --file PATH \
         (a local server writes it to {})",
        host,
        port,
        path.display()
    )))
}

/// `--file -`: the connection file as one line on stdin (launchers send it there so the key is
/// never on a command line).
fn from_stdin() -> anyhow::Result<connection::ConnectionInfo> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| {
        Failure::runtime(format!("cannot read the connection file from stdin: {e}"))
    })?;
    serde_json::from_str(line.trim()).map_err(|e| {
        Failure::usage(format!(
            "--file -: stdin does not start with an hs connection file on one line: {e}"
        ))
    })
}

/// After `--file -`, the end of stdin means the launcher (ssh session, controller) is gone:
/// stop, handing tasks back, instead of lingering.
fn stop_when_stdin_ends(control: Arc<EngineControl>) {
    let spawned = std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            let mut sink = [0u8; 256];
            loop {
                match std::io::Read::read(&mut std::io::stdin(), &mut sink) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            tracing::info!("the launcher closed this engine's stdin: stopping");
            control.request(StopMode::Abort);
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot watch stdin: {e}");
    }
}

/// SIGUSR1 drains the engine, SIGUSR2 stops its running tasks too; either way what it did not
/// finish goes back to the controller and the engine exits 0.
fn stop_on_signals(control: Arc<EngineControl>) -> anyhow::Result<()> {
    signals::on_stop_signal(move |request| {
        let mode = match request {
            StopRequest::Drain => {
                tracing::info!(
                    "{}: draining: no new tasks, tasks not started go back to the controller, \
                     running tasks finish",
                    request.signal_name()
                );
                StopMode::Drain
            }
            StopRequest::Stop => {
                tracing::info!(
                    "{}: stopping running tasks and handing every task back to the controller",
                    request.signal_name()
                );
                StopMode::Abort
            }
        };
        control.request_by_signal(mode, request.signal());
    })
}

pub fn run(args: ClientArgs, cfg: &Config) -> anyhow::Result<Status> {
    if let (Some(count), Some(name)) = (args.engines, &args.profile) {
        // Not an engine here: the profile's launcher starts them (`hs start --add`).
        let profile = crate::profile::Profile::find(&Site::from_env(), name)?;
        return super::start_resize::add(&profile, count, super::start_resize::WAIT);
    }
    // First, so a drain asked for while the engine starts is not lost (nor kills it).
    let control = Arc::new(EngineControl::new());
    stop_on_signals(control.clone())?;
    args.tls.note_unused();
    let site = Site::from_env();
    // `--no-tls` here, or in the connection file of a controller that runs with it.
    let (endpoints, key, file_no_tls) = locate(&args, &site, cfg)?;
    let mut ecfg = engine_config(
        &args.run,
        &args.bundle,
        slots(args.slots.num_threads),
        endpoints,
        key,
        &site,
        cfg,
    )?;
    ecfg.idle_timeout =
        seconds_or_none(cfg.option(args.idle_timeout, key::CLIENT_TIMEOUT, Layers::All)?);
    ecfg.connect_timeout = Duration::from_secs_f64(args.connect_timeout);
    ecfg.mode = hs_engine::protocol::Mode::from_no_tls(args.tls.no_tls || file_no_tls);
    ecfg.reconnect_limit = Duration::from_secs_f64(args.reconnect_limit);
    ecfg.resources = super::common::engine_resources(&args.capacity, args.gpus.as_ref(), cfg)?;
    super::common::watch_tasks(&mut ecfg, &args.capacity, &site, cfg)?;

    {
        let c = control.clone();
        signals::on_interrupt(move || c.request(StopMode::Abort))?;
    }
    if args.connection_file.as_deref() == Some(std::path::Path::new("-")) {
        stop_when_stdin_ends(control.clone());
    }
    engine::wait_to_start(start_delay(args.delay_start), &|| {
        signals::interrupted() || signals::stop_requested().is_some()
    });
    let ctx = zmq::Context::new();
    let summary = engine::run(ecfg, &ctx, &control)?;
    tracing::info!(
        "engine done: {} tasks ({} failed){}",
        summary.done,
        summary.failed,
        if summary.returned > 0 {
            format!(", {} handed back", summary.returned)
        } else {
            String::new()
        }
    );
    Ok(client_status(
        signals::interrupted(),
        signals::stop_requested(),
        &summary,
    ))
}

/// Interrupted (4) when this engine was, or when it stopped running tasks because its controller
/// was stopping (they went back to it, not lost, but not done either); a SIGUSR1 or SIGUSR2 to
/// the engine itself is the documented way to end a pilot job, and exits 0. A runtime error (5)
/// when output of its tasks could not be written.
fn client_status(
    interrupted: bool,
    stop: Option<StopRequest>,
    summary: &engine::EngineSummary,
) -> Status {
    if interrupted || (summary.interrupted > 0 && stop.is_none()) {
        Status::Interrupted
    } else if summary.output_lost > 0 {
        tracing::error!(
            "the output of {} tasks could not be written: they are recorded as failed",
            summary.output_lost
        );
        Status::Runtime
    } else {
        Status::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopped_running_tasks_make_an_engine_exit_interrupted_unless_it_was_told_to_stop() {
        let cut = engine::EngineSummary {
            interrupted: 1,
            returned: 1,
            ..Default::default()
        };
        let clean = engine::EngineSummary::default();
        assert_eq!(client_status(false, None, &clean), Status::Ok);
        assert_eq!(client_status(true, None, &clean), Status::Interrupted);
        assert_eq!(client_status(false, None, &cut), Status::Interrupted);
        assert_eq!(
            client_status(false, Some(StopRequest::Stop), &cut),
            Status::Ok,
            "SIGUSR2 ends a pilot job cleanly"
        );
        let lost = engine::EngineSummary {
            output_lost: 1,
            ..Default::default()
        };
        assert_eq!(client_status(false, None, &lost), Status::Runtime);
    }
}
