//! `hs initdb`: create the tables, or truncate, vacuum or back up the database.

use std::io::{BufRead, IsTerminal, Write};

use crate::cli::InitdbArgs;
use crate::config::Config;
use crate::database::{self, Location, Prepare};
use crate::exit::{Failure, Status};

/// Ask `question`; Enter means yes. Without a terminal, `--yes` is required.
fn confirm(question: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(Failure::usage(format!(
            "{question}: not on a terminal, so pass --yes to confirm"
        )));
    }
    eprint!("{question}? [Y]es/no: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "" | "y" | "yes"
    ))
}

pub fn run(args: InitdbArgs, cfg: &Config) -> anyhow::Result<Status> {
    let location = Location::persistent(cfg)?;
    let mut store = database::open(&location, Prepare::Initialize)?;
    let target = location.describe();
    if args.truncate {
        if !confirm(&format!("Delete every task in {target}"), args.yes)? {
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
