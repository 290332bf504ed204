//! Finding a profile's running cluster, for `hs stop` and `hs status`.

use crate::exit::{Failure, Status};
use crate::profile::Profile;
use crate::profile::state::{self, ClusterState};

/// The running cluster of `profile`; exit status 11 when there is none (stale files from a
/// cluster that died are removed, and the message says so).
pub fn cluster(profile: &Profile) -> anyhow::Result<ClusterState> {
    match state::read(&profile.state_file()) {
        Some(s) if s.running() => Ok(s),
        stale => {
            let note = if stale.is_some() {
                profile.remove_runtime_files();
                " (removed the files of a cluster that ended without cleaning up)"
            } else {
                ""
            };
            Err(Failure {
                status: Status::NotRunning,
                message: format!(
                    "profile {} has no running cluster{note}: start it with `hs start --profile {}`",
                    profile.name, profile.name
                ),
            }
            .into())
        }
    }
}

/// The client connection file of the profile's running cluster; exit status 11 when it has none.
pub fn client_file(profile: &Profile) -> anyhow::Result<std::path::PathBuf> {
    cluster(profile)?;
    Ok(profile.client_file())
}
