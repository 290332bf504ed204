//! `hs client` / `hs engine`: connect to a server, run its tasks, report back.

use std::sync::Arc;
use std::time::Duration;

use hs_engine::engine::{self, Endpoints, EngineControl, StopMode};

use super::common::{engine_config, slots};
use crate::cli::ClientArgs;
use crate::connection;
use crate::exit::{Failure, Status};
use crate::signals;
use crate::site::Site;

fn is_local(host: &str) -> bool {
    host == "localhost" || host == "127.0.0.1" || host == hs_engine::engine::short_hostname()
}

/// Endpoints and key: from `--file`, from `-k` with `-H`/`-p`, or from a local server's
/// connection file.
fn locate(args: &ClientArgs, site: &Site) -> anyhow::Result<(Endpoints, String)> {
    if let Some(path) = &args.connection_file {
        let info = connection::read(path)?;
        return Ok((
            Endpoints {
                engines: info.engine_endpoint(),
                heartbeat: info.heartbeat_endpoint(),
            },
            info.key,
        ));
    }
    let beat = args
        .port
        .checked_add(1)
        .ok_or_else(|| Failure::usage("-p must leave room for PORT+1 (heartbeats)"))?;
    let endpoints = Endpoints {
        engines: format!("tcp://{}:{}", args.host, args.port),
        heartbeat: format!("tcp://{}:{beat}", args.host),
    };
    if let Some(key) = &args.auth {
        if key.is_empty() {
            return Err(Failure::usage("-k needs the server's key"));
        }
        return Ok((endpoints, key.clone()));
    }
    let path = connection::default_path(site, args.port);
    if is_local(&args.host) && path.exists() {
        let info = connection::read(&path)?;
        tracing::debug!("using the key from {}", path.display());
        return Ok((endpoints, info.key));
    }
    Err(Failure::usage(format!(
        "no key for the server at {}:{}: pass its key with -k KEY or its connection file with --file PATH \
         (a local server writes it to {})",
        args.host,
        args.port,
        path.display()
    )))
}

pub fn run(args: ClientArgs) -> anyhow::Result<Status> {
    let site = Site::from_env();
    let (endpoints, key) = locate(&args, &site)?;
    let mut cfg = engine_config(
        &args.run,
        &args.bundle,
        slots(args.num_threads),
        endpoints,
        key,
        &site,
    )?;
    cfg.idle_timeout = args.idle_timeout.map(Duration::from_secs_f64);
    cfg.connect_timeout = Duration::from_secs_f64(args.connect_timeout);
    cfg.reconnect_limit = Duration::from_secs_f64(args.reconnect_limit);

    let control = Arc::new(EngineControl::new());
    {
        let c = control.clone();
        signals::on_interrupt(move || c.request(StopMode::Abort))?;
    }
    let delay = if args.delay_start < 0.0 {
        rand::random::<f64>() * -args.delay_start
    } else {
        args.delay_start
    };
    if delay > 0.0 {
        tracing::debug!("waiting {delay:.2}s before connecting");
        let until = std::time::Instant::now() + Duration::from_secs_f64(delay);
        while std::time::Instant::now() < until && !signals::interrupted() {
            std::thread::sleep(Duration::from_millis(20).min(until - std::time::Instant::now()));
        }
    }
    let ctx = zmq::Context::new();
    let summary = engine::run(cfg, &ctx, &control)?;
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
    Ok(if signals::interrupted() {
        Status::Interrupted
    } else {
        Status::Ok
    })
}
