//! Which controller a live command asks, from `--profile`, `--file` or `-H`/`-p`/`-k`.

use std::time::Duration;

use hs_broker::client::{Client, StatusReply};

use crate::cli::LiveTarget;
use crate::commands::common::controller_info;
use crate::commands::running;
use crate::config::Config;
use crate::connection::{self, ConnectionInfo};
use crate::profile::Profile;
use crate::site::Site;

/// How long a request may wait for the controller before it counts as not answering.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A controller found, ready to dial, and the profile it runs for (if it does).
#[derive(Clone, Debug)]
pub struct Dialed {
    pub info: ConnectionInfo,
    pub profile: Option<ProfileRun>,
}

/// What a profile's state file says about its running cluster.
#[derive(Clone, Debug)]
pub struct ProfileRun {
    pub name: String,
    pub pid: u32,
    pub started: String,
    pub launcher: String,
}

/// Find the controller `target` names; exit status 11 for a profile that is not running, 2 for
/// a connection file that must be fixed or a remote controller without a key.
pub fn resolve(target: &LiveTarget, cfg: &Config) -> anyhow::Result<Dialed> {
    let mut dialed = if let Some(name) = &target.profile {
        let profile = Profile::find(&Site::from_env(), name)?;
        let cluster = running::cluster(&profile)?;
        Dialed {
            info: connection::read(&profile.client_file())?,
            profile: Some(ProfileRun {
                name: profile.name,
                pid: cluster.pid,
                started: cluster.started,
                launcher: cluster.launcher,
            }),
        }
    } else if let Some(path) = &target.file {
        Dialed {
            info: hs_broker::client::locate(path).map_err(connection::client_error)?,
            profile: None,
        }
    } else {
        Dialed {
            info: controller_info(
                target.host.clone(),
                target.port,
                (target.auth.as_deref(), target.key_file.as_deref()),
                cfg,
            )?,
            profile: None,
        }
    };
    dialed.info.no_tls |= target.tls.no_tls;
    Ok(dialed)
}

impl Dialed {
    /// A client of this controller; errors carry their exit status (5 unreachable, 7 wrong key).
    pub fn connect(&self) -> anyhow::Result<Client> {
        connection::connect(&self.info, REQUEST_TIMEOUT)
    }

    /// One status reply from `client`, errors mapped as [`connect`](Self::connect)'s.
    pub fn ask(client: &mut Client) -> anyhow::Result<StatusReply> {
        client.status().map_err(connection::client_error)
    }

    /// `host:port` of the controller's engine socket, as engines dial it.
    pub fn address(&self) -> String {
        format!("{}:{}", self.info.host, self.info.engine_port)
    }
}
