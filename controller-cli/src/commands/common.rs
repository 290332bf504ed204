//! Pieces the commands share: the cluster, server and client settings, run summaries and the
//! confirmation prompt.

use std::sync::Arc;
use std::time::Duration;

use hs_engine::engine::{Endpoints, EngineConfig, OutputConfig};
use hs_engine::executor::LineSink;
use hs_engine::template::Template;

use hs_engine::resources::Resources;

use crate::cli::{BundleArgs, CapacityArgs, HeartbeatArgs, RunArgs};
use crate::config::{Config, KeyDef, Layers, key};
use crate::exit::Failure;
use crate::key_file;
use crate::site::Site;

/// `-N`: 0 means one slot per CPU core.
pub fn slots(n: u32) -> u32 {
    if n > 0 {
        return n;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

pub fn parse_template(text: &str) -> anyhow::Result<Template> {
    Template::parse(text).map_err(|e| Failure::usage(format!("bad template {text:?}: {e}")))
}

fn sink(
    path: &Option<std::path::PathBuf>,
    fallback: fn() -> LineSink,
) -> anyhow::Result<Arc<LineSink>> {
    Ok(Arc::new(match path {
        Some(p) => LineSink::file(p).map_err(|e| {
            Failure::runtime(format!("cannot open {} for task output: {e}", p.display()))
        })?,
        None => fallback(),
    }))
}

/// The engine's stdout. When its reader goes away (`hs cluster … | head -1`) the command stops
/// as on Ctrl-C, as other Unix tools stop on SIGPIPE: what is left would run with its output
/// thrown away. The tasks not finished stay in the store; the exit status is 4.
fn stdout_sink() -> LineSink {
    let sink = LineSink::stdout();
    sink.when_closed(|| crate::signals::interrupt("stdout was closed by its reader"));
    sink
}

/// An engine configuration from the shared flags, each defaulting to its configuration key.
pub fn engine_config(
    run: &RunArgs,
    bundle: &BundleArgs,
    slots: u32,
    endpoints: Endpoints,
    key: String,
    site: &Site,
    cfg: &Config,
) -> anyhow::Result<EngineConfig> {
    // Refused here, with the real reason, rather than failing (or hanging) once slots start.
    hs_engine::executor::check_slot_files(slots).map_err(|e| Failure::usage(e.to_string()))?;
    let output = OutputConfig {
        stdout: sink(&run.output, stdout_sink)?,
        // Through the log writer, so task lines on a terminal clear the progress bar first
        // (as log lines do) instead of leaving a frame of it stuck to them.
        stderr: sink(&run.errors, || {
            LineSink::from_writer(Box::new(crate::progress::LogWriter))
        })?,
        capture_dir: if run.capture {
            Some(site.task_dir()?)
        } else {
            None
        },
    };
    let mut ecfg = EngineConfig::new(endpoints, key, slots, output);
    ecfg.template = parse_template(&run.template)?;
    ecfg.task_timeout =
        seconds_or_none(cfg.option(run.task_timeout, key::TASK_TIMEOUT, Layers::All)?);
    ecfg.signalwait = signalwait(run.signalwait, cfg)?;
    ecfg.keep_daemons = run.keep_daemons;
    let executor: String = cfg.value(run.executor.clone(), key::TASK_EXECUTOR)?;
    ecfg.executor = executor
        .parse()
        .map_err(|e| anyhow::anyhow!("{}: {e}", key::TASK_EXECUTOR))?;
    // HyperShell's defaults (1 result, 5 s) would hold every result back; hs sends a bundle
    // once half of what the engine holds has finished or the oldest result has lingered 50 ms,
    // unless the flags or the configuration ask for something else.
    ecfg.result_bundle = cfg.value(bundle.bundlesize, key::CLIENT_BUNDLESIZE)?;
    if let Some(wait) = cfg.option(bundle.bundlewait, key::CLIENT_BUNDLEWAIT, Layers::Set)? {
        ecfg.result_wait = Duration::from_secs_f64(wait);
    }
    ecfg.export_env = exports(cfg, std::mem::take(&mut ecfg.export_env))?;
    ecfg.task_dir = Some(site.lib.join("task"));
    Ok(ecfg)
}

/// What an engine's tasks may use together: `-C`, `-M` and `--gpus` (`gpus`, else
/// `--client-gpus`), else `client.cores`, `client.memory` and `client.gpus`, else the host's
/// CPUs, RAM and the GPUs it finds.
pub fn engine_resources(
    capacity: &CapacityArgs,
    gpus: Option<&crate::cli::GpuList>,
    cfg: &Config,
) -> anyhow::Result<Resources> {
    use hs_engine::engine::host_resources as host;
    let cores = match capacity.client_cores {
        Some(n) if n > 0 => u64::from(n),
        _ => match cfg.option(None::<i64>, key::CLIENT_CORES, Layers::All)? {
            Some(n) if n > 0 => n as u64,
            _ => host::cpu_count(),
        },
    };
    let configured_memory = match cfg.option(None::<String>, key::CLIENT_MEMORY, Layers::All)? {
        Some(text) => Some(crate::query::parse_bytes(&text).map_err(|_| {
            Failure::from(cfg.invalid(key::CLIENT_MEMORY.name, "a size such as 64G"))
        })?),
        None => None,
    };
    let memory = capacity
        .client_memory
        .or(configured_memory)
        .filter(|m| *m > 0)
        .map(|m| m as u64)
        .or_else(host::total_memory);
    let gpus = match gpus.or(capacity.client_gpus.as_ref()) {
        Some(list) => list.0.clone(),
        None => match cfg.option(None::<String>, key::CLIENT_GPUS, Layers::All)? {
            Some(text) if !text.trim().is_empty() => host::parse_gpus(&text)
                .map_err(|e| Failure::usage(format!("{}: {e}", key::CLIENT_GPUS.name)))?,
            _ => host::probe_gpus(),
        },
    };
    Ok(Resources {
        cores: Some(cores),
        memory,
        gpus,
    })
}

/// `--monitor` and `-R` on an engine: the monitor's samples go to the site's `lib/task`
/// (created here, 0700, as `--capture` creates it).
pub fn watch_tasks(
    ecfg: &mut EngineConfig,
    capacity: &CapacityArgs,
    site: &Site,
    cfg: &Config,
) -> anyhow::Result<()> {
    ecfg.ratelimit = ratelimit(capacity, cfg)?;
    ecfg.monitor = capacity.monitor;
    if capacity.monitor {
        ecfg.task_dir = Some(site.task_dir()?);
    }
    Ok(())
}

/// `-R`, else `client.ratelimit` (whose 0 means none): tasks an engine may start per second.
/// The flag's parser refuses what is not positive; the key is checked here.
pub fn ratelimit(capacity: &CapacityArgs, cfg: &Config) -> anyhow::Result<Option<f64>> {
    if capacity.ratelimit.is_some() {
        return Ok(capacity.ratelimit);
    }
    // Read as a plain number: a rate, not the seconds other number keys hold.
    match cfg
        .get_f64(key::CLIENT_RATELIMIT.name)
        .map_err(Failure::from)?
    {
        None => Ok(None),
        Some(0.0) => Ok(None),
        Some(rate) if rate.is_finite() && rate > 0.0 => Ok(Some(rate)),
        Some(_) => Err(Failure::from(cfg.invalid(
            key::CLIENT_RATELIMIT.name,
            "a positive number of tasks per second (0 = no limit)",
        ))
        .into()),
    }
}

/// `[export]` from the configuration, then the `HYPERSHELL_EXPORT_*` variables (`from_env`)
/// over them: the environment wins, as it does for every other key.
fn exports(cfg: &Config, from_env: Vec<(String, String)>) -> anyhow::Result<Vec<(String, String)>> {
    let mut merged: std::collections::BTreeMap<String, String> =
        cfg.exports().map_err(Failure::from)?.into_iter().collect();
    merged.extend(from_env);
    Ok(merged.into_iter().collect())
}

/// `-S`, else `task.signalwait` (10 s): the engine's pause between signals, which also tells
/// a controller how long an interrupted engine needs to stop its tasks ([`stop_grace`]).
pub fn signalwait(flag: Option<f64>, cfg: &Config) -> anyhow::Result<Duration> {
    let seconds = cfg.value(flag, key::TASK_SIGNALWAIT)?;
    // The flag's parser and the configuration's reader both refuse what no Duration holds.
    Ok(Duration::from_secs_f64(seconds))
}

/// How long a controller gives interrupted engines to stop their tasks and report before it
/// ends or kills them: an engine escalates SIGINT, SIGTERM, SIGKILL `signalwait` apart, so
/// three waits and two seconds more leave it room to send the results. Saturating, since a
/// huge `signalwait` is still a valid one.
pub fn stop_grace(signalwait: Duration) -> Duration {
    signalwait
        .saturating_mul(3)
        .saturating_add(Duration::from_secs(2))
}

/// `-d/--delay-start`: how long an engine waits before it connects. A negative value asks for
/// a random wait of up to its size, so the engines of a large launch register spread out.
pub fn start_delay(seconds: f64) -> Duration {
    let seconds = if seconds < 0.0 {
        rand::random::<f64>() * -seconds
    } else {
        seconds
    };
    Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
}

/// A configured number of seconds where 0 means "none" (`task.timeout`, `client.timeout`).
pub fn seconds_or_none(seconds: Option<f64>) -> Option<Duration> {
    positive(seconds).map(Duration::from_secs_f64)
}

/// A seconds option for which 0 means unset (HyperShell's convention for timeouts).
pub fn positive(seconds: Option<f64>) -> Option<f64> {
    seconds.filter(|s| *s > 0.0)
}

/// Heartbeat interval and eviction time: `--heartrate`/`--evict`, else `server.heartrate` and
/// `server.evict` (in every mode, unlike HyperShell: D12). Both must be positive; eviction is
/// at least two heartbeats so one late beat never evicts.
pub fn heartbeat(h: &HeartbeatArgs, cfg: &Config) -> anyhow::Result<(Duration, Duration)> {
    let positive = |flag: Option<f64>, key: &KeyDef| -> anyhow::Result<Duration> {
        match cfg.value(flag, key)? {
            s if s > 0.0 => Ok(Duration::from_secs_f64(s)),
            _ => Err(Failure::from(cfg.invalid(key.name, "a positive number of seconds")).into()),
        }
    };
    let heartrate = positive(h.heartrate, key::SERVER_HEARTRATE)?;
    let evict = positive(h.evict, key::SERVER_EVICT)?.max(heartrate * 2);
    tracing::debug!(
        "heartbeats every {}s; engines silent for {}s are evicted",
        heartrate.as_secs_f64(),
        evict.as_secs_f64()
    );
    Ok((heartrate, evict))
}

/// How long a task that names hosts waits for an engine on one of them: `--host-wait`, else
/// `server.hostwait` (30 s). Zero fails such a task as soon as none of its hosts has an engine.
pub fn host_wait(flag: Option<f64>, cfg: &Config) -> anyhow::Result<Duration> {
    let seconds = cfg.value(flag, key::SERVER_HOSTWAIT)?;
    // The flag's parser and the configuration's reader both refuse what no Duration holds.
    Ok(Duration::from_secs_f64(seconds))
}

/// Ask before a change that cannot be undone: `prompt` on stderr, an answer read from stdin
/// (a terminal, or a pipe such as `echo yes | hs update …`, as HyperShell reads it), where Enter
/// answers `enter_means_yes` (each command keeps HyperShell's default). When stdin has no
/// answer at all (closed, `/dev/null`), it is a usage error saying which flag skips the question.
pub fn confirm(prompt: &str, enter_means_yes: bool, no_answer: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer)? == 0 {
        eprintln!();
        return Err(Failure::usage(no_answer));
    }
    Ok(match answer.trim().to_ascii_lowercase().as_str() {
        "" => enter_means_yes,
        a => a == "y" || a == "yes",
    })
}

/// The last line of a run, on stderr: what happened to every task.
pub fn log_summary(summary: &hs_broker::ControllerSummary, rejected_lines: u64, elapsed: Duration) {
    let done = summary.succeeded + summary.failed;
    let mut line = format!(
        "tasks: {done} done, {} succeeded, {} failed in {:.2}s",
        summary.succeeded,
        summary.failed,
        elapsed.as_secs_f64()
    );
    if summary.unfinished > 0 {
        let why = if summary.aborted {
            "interrupted"
        } else {
            "stopped"
        };
        line.push_str(&format!("; {} not finished ({why})", summary.unfinished));
    }
    if rejected_lines > 0 {
        line.push_str(&format!("; {rejected_lines} input lines rejected"));
    }
    if summary.failed > 0 || rejected_lines > 0 || summary.aborted || summary.unfinished > 0 {
        tracing::warn!("{line}");
    } else {
        tracing::info!("{line}");
    }
}

/// Exit status for a finished run. A run stopped by SIGUSR1/SIGUSR2 was asked to end that way,
/// so it is not "interrupted" (HyperShell exits 0 too).
pub fn run_status(
    summary: &hs_broker::ControllerSummary,
    rejected_lines: u64,
    fail_exit: bool,
) -> crate::exit::Status {
    let by_request = crate::signals::stop_requested().is_some();
    controller_status(
        (summary.aborted && !by_request) || crate::signals::interrupted(),
        summary.failed,
        rejected_lines,
        fail_exit,
    )
}

/// A controller's exit status. Failed tasks leave it 0 as in HyperShell (the summary line,
/// the failures file and `hs list --failed` say which failed) unless `--fail-exit` asks for 1;
/// a rejected input line is always 1, since that task never existed.
fn controller_status(
    interrupted: bool,
    failed_tasks: u64,
    rejected_lines: u64,
    fail_exit: bool,
) -> crate::exit::Status {
    crate::exit::Status::of_run(
        interrupted,
        rejected_lines > 0 || (fail_exit && failed_tasks > 0),
    )
}

/// A host name that is this host: only there is a controller's connection file found by port.
pub fn is_local(host: &str) -> bool {
    host == "localhost" || host == "127.0.0.1" || host == hs_engine::engine::short_hostname()
}

/// Where a command that dials a controller finds it: `-H`/`-p`, else `server.host` and
/// `server.port` (HyperShell 2.8.2 dials `server.bind`; the documented key is `server.host`,
/// D12), and the key of `--key-file` or `-k` (warned about: it shows in `ps`), else
/// `client.auth`, else `server.auth` (an empty configured key is no key, as an empty
/// `HYPERSHELL_CLIENT_AUTH` always was). A `-k` given empty is refused.
pub fn controller_address(
    host: Option<String>,
    port: Option<u16>,
    (auth, key_file): (Option<&str>, Option<&std::path::Path>),
    cfg: &Config,
) -> anyhow::Result<(String, u16, Option<String>)> {
    let host = cfg.value(host, key::SERVER_HOST)?;
    let port = cfg.value(port, key::SERVER_PORT)?;
    let key = key_file::from_flags(auth, key_file)?;
    if auth.is_some() {
        key_file::warn_command_line(key::CLIENT_AUTH);
    }
    let configured = match cfg.option(None::<String>, key::CLIENT_AUTH, Layers::All)? {
        Some(key) => Some(key),
        None => cfg.option(None::<String>, key::SERVER_AUTH, Layers::All)?,
    };
    Ok((host, port, key.or(configured.filter(|k| !k.is_empty()))))
}

/// The controller a client command dials on `-H`/`-p` (see [`controller_address`]): with a
/// key, that address (which controller answers is learnt from its first signed reply);
/// without one, the connection file a controller on this host's port wrote.
pub fn controller_info(
    host: Option<String>,
    port: Option<u16>,
    keys: (Option<&str>, Option<&std::path::Path>),
    cfg: &Config,
) -> anyhow::Result<crate::connection::ConnectionInfo> {
    use crate::connection::{self, ConnectionInfo};
    let (host, port, key) = controller_address(host, port, keys, cfg)?;
    if port > u16::MAX - 2 {
        return Err(Failure::usage(
            "-p must leave room for PORT+2 (the client socket)",
        ));
    }
    let local_file = connection::default_path(&Site::from_env(), port);
    match key {
        Some(key) => Ok(ConnectionInfo::for_this_process(
            uuid::Uuid::nil(),
            host,
            port,
            key,
        )),
        None if is_local(&host) && local_file.exists() => connection::read(&local_file),
        None if is_local(&host) => Err(Failure {
            status: crate::exit::Status::Runtime,
            message: format!(
                "no controller on this host's port {port} (a local hs server or hs cluster -p \
                 writes {}): start one, or name it with -p PORT, --profile NAME or --file PATH",
                local_file.display()
            ),
        }
        .into()),
        None => Err(Failure::usage(format!(
            "no key for the controller at {host}:{port}: pass it with --key-file FILE or -k KEY \
             (a local controller on that port writes {})",
            local_file.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_grace_is_three_signal_waits_and_two_seconds_saturating() {
        assert_eq!(stop_grace(Duration::from_secs(10)), Duration::from_secs(32));
        assert_eq!(stop_grace(Duration::ZERO), Duration::from_secs(2));
        // -S 1e19 is a valid Duration; three of it is not, and panicked before.
        assert_eq!(stop_grace(Duration::from_secs_f64(1e19)), Duration::MAX);
    }

    #[test]
    fn failed_tasks_exit_0_unless_fail_exit_and_rejected_lines_exit_1() {
        use crate::exit::Status;
        assert_eq!(controller_status(false, 0, 0, false), Status::Ok);
        assert_eq!(controller_status(false, 3, 0, false), Status::Ok);
        assert_eq!(controller_status(false, 3, 0, true), Status::TasksFailed);
        assert_eq!(controller_status(false, 0, 0, true), Status::Ok);
        assert_eq!(controller_status(false, 0, 2, false), Status::TasksFailed);
        assert_eq!(controller_status(true, 3, 2, true), Status::Interrupted);
        assert_eq!(controller_status(true, 0, 0, false), Status::Interrupted);
    }
}
