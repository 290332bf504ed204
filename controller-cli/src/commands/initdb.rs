//! `hs initdb`: create the tables, or truncate, vacuum, back up or rotate the database.

use hs_broker::store::{SqliteStore, TaskStore};

use crate::cli::InitdbArgs;
use crate::config::Config;
use crate::database::{self, Location, Prepare};
use crate::exit::{Failure, Status};

/// Whether to go ahead: `--yes`, or the user's answer (Enter means yes here, as in HyperShell).
fn confirmed(question: &str, yes: bool) -> anyhow::Result<bool> {
    Ok(yes
        || super::common::confirm(
            &format!("{question}? [Y]es/no: "),
            true,
            &format!("{question}: no answer on stdin, so pass --yes to confirm"),
        )?)
}

/// `--rotate`: move the finished tasks into the next partition file (see docs/store.md,
/// Partitions). Partitions are SQLite files, so other stores refuse it, as HyperShell does.
fn rotate(location: &Location, yes: bool) -> anyhow::Result<Status> {
    let Location::Sqlite(path) = location else {
        return Err(Failure::usage(format!(
            "--rotate: partitions are SQLite files; {} is not SQLite (only a SQLite database can be rotated)",
            location.describe()
        )));
    };
    let mut store = SqliteStore::open(path).map_err(database::runtime)?;
    store.initialize().map_err(database::runtime)?;
    let next = store.next_partition();
    let question = format!(
        "Move the finished tasks of {} into {}",
        path.display(),
        next.path.display()
    );
    if !confirmed(&question, yes)? {
        return Ok(Status::Ok);
    }
    let done = store.rotate().map_err(database::runtime)?;
    tracing::info!(
        "moved {} finished tasks into {} (tag part:{})",
        done.moved,
        done.partition.path.display(),
        done.partition.number
    );
    Ok(Status::Ok)
}

pub fn run(args: InitdbArgs, cfg: &Config) -> anyhow::Result<Status> {
    let location = Location::persistent(cfg)?;
    if args.rotate {
        return rotate(&location, args.yes);
    }
    let mut store = database::open(&location, Prepare::Initialize)?;
    let target = location.describe();
    if args.truncate {
        if !confirmed(&format!("Delete every task in {target}"), args.yes)? {
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
