//! `hs initdb`: create the tables, or truncate, vacuum or back up the database.

use crate::cli::InitdbArgs;
use crate::config::Config;
use crate::database::{self, Location, Prepare};
use crate::exit::Status;

pub fn run(args: InitdbArgs, cfg: &Config) -> anyhow::Result<Status> {
    if args.rotate {
        return Err(crate::exit::Failure::usage(
            "--rotate: hs keeps every task in one database (no partitions); to archive finished \
             tasks run `hs initdb --backup FILE` and then `hs update --delete --completed`",
        ));
    }
    let location = Location::persistent(cfg)?;
    let mut store = database::open(&location, Prepare::Initialize)?;
    let target = location.describe();
    if args.truncate {
        let question = format!("Delete every task in {target}");
        // Enter means yes here, as in HyperShell.
        if !args.yes
            && !super::common::confirm(
                &format!("{question}? [Y]es/no: "),
                true,
                &format!("{question}: no answer on stdin, so pass --yes to confirm"),
            )?
        {
            return Ok(Status::Ok);
        }
        store.truncate().map_err(database::runtime)?;
        tracing::info!("truncated {target}");
    } else if args.vacuum {
        store.vacuum().map_err(database::runtime)?;
        tracing::info!("vacuumed {target}");
    } else if let Some(path) = &args.backup {
        store.backup(path).map_err(database::runtime)?;
        tracing::info!("backed up {target} to {}", path.display());
    } else {
        tracing::info!("database ready: {target}");
    }
    Ok(Status::Ok)
}
