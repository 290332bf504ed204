//! Which cluster a command works on, as a configuration context: the process's own, plus the
//! file of the profile given with `--profile`, plus the database that a client connection file
//! given with `--file` names.

use crate::cli::Command;
use crate::config::Context;
use crate::connection::ConnectionInfo;
use crate::database::Location;
use crate::exit::Failure;
use crate::profile::Profile;
use crate::site::Site;

/// The configuration context of a command: the process, plus the profile's file for a command
/// given `--profile`, plus the database named by a client connection file given `--file`.
pub fn config_context(command: &Command) -> anyhow::Result<Context> {
    let mut ctx = Context::from_process();
    if let Some(name) = command.profile() {
        let profile = Profile::find(&Site::from_env(), name)?;
        ctx = ctx.with_profile(profile.config_file());
    }
    if let Some(path) = command.client_file() {
        let info = crate::connection::read(path)?;
        ctx = database_of(ctx, &info)?;
    }
    Ok(ctx)
}

/// Point the database keys at the store a client connection file names.
fn database_of(ctx: Context, info: &ConnectionInfo) -> anyhow::Result<Context> {
    let Some(db) = &info.database else {
        return Err(Failure::usage(
            "this connection file names no database (the cluster keeps its tasks in memory): \
             use hs status or hs stream with it, or a profile with a database",
        ));
    };
    let location = Location::from_clients(db);
    if let Location::Sqlite(path) = &location
        && !path.exists()
    {
        return Err(Failure::usage(format!(
            "the cluster keeps its tasks in the SQLite file {} on its controller's host ({}), \
             which is not on this machine: run this command there, or give the profile a \
             PostgreSQL database (database.url)",
            path.display(),
            info.host
        )));
    }
    Ok(location
        .as_env()
        .into_iter()
        .fold(ctx, |ctx, (name, value)| ctx.with_var(name, value)))
}
