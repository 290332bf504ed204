//! `hs start --profile=NAME --add K` (and `hs engine --profile=NAME -n K`): K more engines for
//! a running profile, started by its launcher (asked through its control socket, so they are its own processes and `hs stop`
//! ends them with the rest); returns once they have registered with the controller.

use std::time::{Duration, Instant};

use crate::connection;
use crate::exit::{Failure, Status};
use crate::launch::control::{self, Reply, Request};
use crate::profile::Profile;

/// How long `hs engine -n` waits for the engines to register (`hs start --add` takes
/// `--startup-timeout`, with this default).
pub const WAIT: Duration = Duration::from_secs(60);

/// Ask for `count` engines and wait up to `wait` for them to register.
pub fn run(profile: &Profile, count: u32, wait: Duration) -> anyhow::Result<Status> {
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
    let deadline = started + wait;
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
                wait.as_secs_f64(),
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
