//! `hs stop --profile=NAME`: stop a profile's controller and every engine it started.
//!
//! By default the controller is told to stop now (SIGTERM): engines stop their running tasks
//! and hand them back, and everything unfinished stays in the database for the next start.
//! `--drain` lets the queued work finish first. Either way `hs stop` waits for the controller
//! to exit, and kills it (and with it the engines that read its end of their stdin) if it is
//! still there after `--timeout`.

use std::time::{Duration, Instant};

use crate::cli::StopArgs;
use crate::connection;
use crate::exit::{Failure, Status};
use crate::profile::Profile;
use crate::site::Site;

pub fn run(args: StopArgs) -> anyhow::Result<Status> {
    let profile = Profile::find(&Site::from_env(), &args.profile)?;
    let cluster = super::running::cluster(&profile)?;
    let started = Instant::now();
    if args.drain {
        let info = connection::read(&profile.client_file())?;
        connection::connect(&info, Duration::from_secs(10))?
            .drain()
            .map_err(connection::client_error)?;
        eprintln!(
            "profile {}: draining (queued tasks finish first)",
            profile.name
        );
    } else {
        signal(cluster.pid, libc::SIGTERM);
    }
    let deadline = started + Duration::from_secs_f64(args.timeout);
    while cluster.running() {
        if Instant::now() >= deadline {
            signal(cluster.pid, libc::SIGKILL);
            std::thread::sleep(Duration::from_millis(200));
            profile.remove_runtime_files();
            return Err(Failure::runtime(format!(
                "profile {}: the controller (pid {}) did not stop within {:.0}s and was killed; \
                 its log is in {}",
                profile.name,
                cluster.pid,
                args.timeout,
                profile.log_dir().display()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "profile {}: stopped in {:.2}s",
        profile.name,
        started.elapsed().as_secs_f64()
    );
    Ok(Status::Ok)
}

fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill only sends a signal to the process recorded (and checked) as ours.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}
