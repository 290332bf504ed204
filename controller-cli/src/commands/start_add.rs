//! `hs start --profile=NAME --add K`: K more engines for a running profile, started by its
//! launcher (asked through its control socket, so they are its own processes and `hs stop`
//! ends them with the rest); returns once they have registered with the controller.

use std::time::{Duration, Instant};

use crate::cli::StartArgs;
use crate::connection;
use crate::exit::{Failure, Status};
use crate::launch::control::{self, Reply, Request};
use crate::profile::Profile;

pub fn run(args: &StartArgs, profile: &Profile, count: u32) -> anyhow::Result<Status> {
    // Exit status 11 when it is not running, as for `hs status` and `hs stop`.
    super::running::cluster(profile)?;
    let before = registered(profile)?;
    let started = Instant::now();
    let socket = profile.control_socket();
    let refused = |why: String| {
        Failure::runtime(format!(
            "profile {}: cannot add engines: {why}",
            profile.name
        ))
    };
    match control::ask(&socket, &Request::Add { count }) {
        Ok(Reply::Added { .. }) => {}
        Ok(Reply::Error { message }) => return Err(refused(message)),
        Ok(other) => return Err(refused(format!("unexpected reply {other:?}"))),
        Err(e) => {
            return Err(refused(format!(
                "its launcher does not answer at {} ({e}); see {}",
                socket.display(),
                profile.controller_log().display()
            )));
        }
    }
    let want = before + u64::from(count);
    let deadline = started + Duration::from_secs_f64(args.startup_timeout);
    let mut now = before;
    loop {
        // A controller that went away is said so by the next look, with exit status 11.
        now = registered(profile).unwrap_or(now);
        if now >= want {
            break;
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                "profile {}: {} of {count} added engines registered after {:.0}s; the rest may \
                 still come (see `hs status --profile {0}` and {})",
                profile.name,
                now.saturating_sub(before),
                args.startup_timeout,
                profile.controller_log().display()
            );
            return Ok(Status::Ok);
        }
        std::thread::sleep(POLL);
    }
    eprintln!(
        "profile {}: {count} engines added in {:.2}s, {now} registered",
        profile.name,
        started.elapsed().as_secs_f64()
    );
    Ok(Status::Ok)
}

/// How long it waits between looks at the registered engines.
const POLL: Duration = Duration::from_millis(100);

/// Engines registered with the profile's controller now.
fn registered(profile: &Profile) -> anyhow::Result<u64> {
    let info = connection::read(&super::running::client_file(profile)?)?;
    let status = connection::connect(&info, Duration::from_secs(2))?
        .status()
        .map_err(connection::client_error)?;
    Ok(status.engine_total())
}
