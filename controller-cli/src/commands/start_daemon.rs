//! `hs start --daemonize`: run the cluster in a background process (its own process group,
//! output in the profile's `log/controller.log`) and return once its engines have registered,
//! or with the controller's own last words when it fails to start.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::cli::StartArgs;
use crate::connection;
use crate::exit::{Failure, Status};
use crate::profile::Profile;
use crate::profile::state;

pub fn run(args: &StartArgs, profile: &Profile) -> anyhow::Result<Status> {
    let log_path = profile.controller_log();
    hs_engine::private::create_dir_all(&profile.log_dir())?;
    // The log names hosts, paths and failed commands: the owner's only (0600).
    let log = hs_engine::private::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let exe = std::env::current_exe().context("cannot find the hs program to run")?;
    let mut cmd = Command::new(exe);
    // This very command line, in the foreground: every flag given reaches the controller.
    cmd.args(std::env::args_os().skip(1).filter(|a| a != "--daemonize"));
    use std::os::unix::process::CommandExt;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        // Its own group: Ctrl-C in this terminal is not meant for it.
        .process_group(0)
        .spawn()
        .context("cannot start the background controller")?;
    let pid = child.id();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.startup_timeout);
    let mut seen = (0, None);
    loop {
        if let Some(status) = child.try_wait()? {
            // Its exit status says what kind of failure it was (2 usage, 3 config, …).
            let kind = status
                .code()
                .and_then(Status::from_code)
                .filter(|s| *s != Status::Ok)
                .unwrap_or(Status::Runtime);
            return Err(Failure {
                status: kind,
                message: format!(
                    "profile {} did not start ({}): {}",
                    profile.name,
                    status,
                    last_lines(&log_path)
                ),
            }
            .into());
        }
        if let Some((registered, expected)) = registered(profile, pid) {
            seen = (registered, expected);
            if expected.is_none_or(|n| registered as u64 >= n)
                && (registered > 0 || expected == Some(0))
            {
                break;
            }
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                "profile {}: {} of {} engines registered after {:.0}s; it keeps running (see `hs status --profile {0}` and {})",
                profile.name,
                seen.0,
                seen.1.map_or("?".to_string(), |n| n.to_string()),
                args.startup_timeout,
                log_path.display()
            );
            return Ok(Status::Ok);
        }
        std::thread::sleep(POLL);
    }
    eprintln!(
        "profile {}: started (pid {pid}), {} engines registered in {:.2}s; log {}",
        profile.name,
        seen.0,
        started.elapsed().as_secs_f64(),
        log_path.display()
    );
    Ok(Status::Ok)
}

/// How long `--daemonize` waits between looks at the starting cluster.
const POLL: Duration = Duration::from_millis(100);

/// The engines registered with the cluster started as `pid`, and how many its launcher was
/// asked for; `None` while its files are not written yet.
fn registered(profile: &Profile, pid: u32) -> Option<(usize, Option<u64>)> {
    let cluster = state::read(&profile.state_file()).filter(|s| s.pid == pid)?;
    let info = connection::read(&profile.client_file()).ok()?;
    let status = connection::connect(&info, Duration::from_secs(2))
        .ok()?
        .status()
        .ok()?;
    Some((status.engine_total() as usize, cluster.expected_engines))
}

/// The end of the log, as one line, to say why a start failed.
fn last_lines(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(3)..];
    if tail.is_empty() {
        format!("no output (see {})", path.display())
    } else {
        tail.join(" | ")
    }
}
