//! `hs start --profile=NAME --add K` (and `hs engine --profile=NAME -n K`): K more engines for
//! a running profile, started by its launcher (asked through its control socket, so they are
//! its own processes and `hs stop` ends them with the rest); returns once they have registered
//! with the controller. `--remove K`: the K engines it started last leave (they drain); returns
//! once their processes have ended.

use std::time::{Duration, Instant};

use crate::connection;
use crate::exit::{Failure, Status};
use crate::launch::control::{self, Reply, Request};
use crate::profile::Profile;

/// How long `hs engine -n` waits for the engines to register (`hs start --add` takes
/// `--startup-timeout`, with this default).
pub const WAIT: Duration = Duration::from_secs(60);

/// How long it waits between looks.
const POLL: Duration = Duration::from_millis(100);

/// Ask for `count` engines and wait up to `wait` for them to register.
pub fn add(profile: &Profile, count: u32, wait: Duration) -> anyhow::Result<Status> {
    // Exit status 11 when it is not running, as for `hs status` and `hs stop`.
    super::running::cluster(profile)?;
    let before = registered(profile)?;
    let started = Instant::now();
    match ask(profile, Request::Add { count })? {
        Reply::Added { .. } => {}
        other => return Err(refused(profile, format!("unexpected reply {other:?}"))),
    }
    let want = before + u64::from(count);
    let mut now = before;
    let done = wait_for(started + wait, || {
        // A controller that went away is said so by the next look, with exit status 11.
        now = registered(profile).unwrap_or(now);
        now >= want
    });
    if !done {
        tracing::warn!(
            "profile {}: {} of {count} added engines registered after {:.0}s; the rest may \
             still come (see `hs status --profile {0}` and {})",
            profile.name,
            now.saturating_sub(before),
            wait.as_secs_f64(),
            profile.controller_log().display()
        );
        return Ok(Status::Ok);
    }
    eprintln!(
        "profile {}: {count} engines added in {:.2}s, {now} registered",
        profile.name,
        started.elapsed().as_secs_f64()
    );
    Ok(Status::Ok)
}

/// Ask the launcher to retire its `count` newest engines and wait up to `wait` for their
/// processes to end (a draining engine first finishes the tasks it runs).
pub fn remove(profile: &Profile, count: u32, wait: Duration) -> anyhow::Result<Status> {
    super::running::cluster(profile)?;
    let before = launched_running(profile)?;
    let started = Instant::now();
    let asked = match ask(profile, Request::Remove { count })? {
        Reply::Removed { count } => count,
        other => return Err(refused(profile, format!("unexpected reply {other:?}"))),
    };
    if asked < count {
        tracing::warn!(
            "profile {}: only {asked} of the engines its launcher started were running",
            profile.name
        );
    }
    let want = before.saturating_sub(u64::from(asked));
    let mut now = before;
    let done = wait_for(started + wait, || {
        now = launched_running(profile).unwrap_or(now);
        now <= want
    });
    if !done {
        tracing::warn!(
            "profile {}: {} of {asked} engines asked to leave are still there after {:.0}s \
             (finishing their tasks; see `hs status --profile {0}`)",
            profile.name,
            now.saturating_sub(want),
            wait.as_secs_f64()
        );
        return Ok(Status::Ok);
    }
    eprintln!(
        "profile {}: {asked} engines left in {:.2}s, {now} launched processes run",
        profile.name,
        started.elapsed().as_secs_f64()
    );
    Ok(Status::Ok)
}

/// Poll `done` until it holds or `deadline` passes; whether it held.
fn wait_for(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

fn refused(profile: &Profile, why: String) -> anyhow::Error {
    Failure::runtime(format!(
        "profile {}: cannot change its engines: {why}",
        profile.name
    ))
}

/// Send `request` to the profile's launcher; its error replies become errors.
fn ask(profile: &Profile, request: Request) -> anyhow::Result<Reply> {
    let socket = profile.control_socket();
    match control::ask(&socket, &request) {
        Ok(Reply::Error { message }) => Err(refused(profile, message)),
        Ok(reply) => Ok(reply),
        Err(e) => Err(refused(
            profile,
            format!(
                "its launcher does not answer at {} ({e}); see {}",
                socket.display(),
                profile.controller_log().display()
            ),
        )),
    }
}

/// Engines registered with the profile's controller now.
fn registered(profile: &Profile) -> anyhow::Result<u64> {
    let info = connection::read(&super::running::client_file(profile)?)?;
    let status = connection::connect(&info, Duration::from_secs(2))?
        .status()
        .map_err(connection::client_error)?;
    Ok(status.engine_total())
}

/// Processes the profile's launcher started that still run.
fn launched_running(profile: &Profile) -> anyhow::Result<u64> {
    super::running::cluster(profile)?;
    match ask(profile, Request::Status)? {
        Reply::Status(s) => Ok(s.running),
        other => Err(refused(profile, format!("unexpected reply {other:?}"))),
    }
}
