//! `hs update`: change, cancel, revert or delete the tasks a filter matches.

use hs_broker::store::{Change, Query};
use uuid::Uuid;

use super::store_args;
use crate::cli::UpdateArgs;
use crate::config::Config;
use crate::database::{self, Location, Prepare};
use crate::exit::{Failure, Status};
use crate::query::{self, QueryError};

fn usage(e: QueryError) -> anyhow::Error {
    Failure::usage(e.to_string())
}

/// The tasks and changes asked for, including HyperShell's legacy `hs update ID FIELD VALUE`.
fn plan(args: &UpdateArgs) -> anyhow::Result<(Query, Vec<Change>)> {
    if let [id, field, value] = args.changes.as_slice()
        && let Ok(id) = Uuid::parse_str(id)
    {
        let query = Query::by_id(id);
        return Ok((
            query,
            vec![query::parse_legacy_change(field, value).map_err(usage)?],
        ));
    }
    let query = store_args::query(&args.filter)?;
    let mut changes = Vec::new();
    for arg in &args.changes {
        changes.push(query::parse_change(arg).map_err(usage)?);
    }
    changes.extend(
        args.remove_tags
            .iter()
            .map(|k| Change::RemoveTag(k.clone())),
    );
    if args.cancel {
        changes.push(Change::Cancel);
    }
    if args.revert {
        changes.push(Change::Revert);
    }
    if changes.is_empty() && !args.delete {
        return Err(Failure::usage(
            "nothing to change: give field=value, key:value, --cancel, --revert, --delete or --remove-tag",
        ));
    }
    Ok((query, changes))
}

/// HyperShell's `hs update ID FIELD VALUE`: one named task, changed without a question.
fn is_legacy(args: &UpdateArgs) -> bool {
    matches!(args.changes.as_slice(), [id, _, _] if Uuid::parse_str(id).is_ok())
}

pub fn run(args: UpdateArgs, cfg: &Config) -> anyhow::Result<Status> {
    let (query, changes) = plan(&args)?;
    let mut store = database::open(&Location::persistent(cfg)?, Prepare::Existing)?;
    let count = store.count(&query).map_err(database::runtime)?;
    if count == 0 {
        // As HyperShell: nothing to do is not a failure, but say so.
        tracing::warn!(
            "no task matches, nothing changed: check the filter with `hs list` and the same options"
        );
        return Ok(Status::Ok);
    }
    // HyperShell's prompt, where Enter means no.
    if !args.no_confirm
        && !is_legacy(&args)
        && !super::common::confirm(
            &format!("Update affects {count} tasks, continue? yes/[no]: "),
            false,
            &format!(
                "this would change {count} tasks: no answer on stdin, so pass --no-confirm (-f) to go ahead"
            ),
        )?
    {
        tracing::info!("nothing changed");
        return Ok(Status::Ok);
    }
    let done = if args.delete {
        store.delete(&query).map_err(database::runtime)?
    } else {
        store.update(&query, &changes).map_err(database::runtime)?
    };
    let verb = if args.delete { "deleted" } else { "updated" };
    tracing::info!("{verb} {done} tasks");
    if args.cancel {
        // A controller on this database looks for cancels once a heartbeat and stops those of
        // its tasks an engine is running (`watch_cancels`): they do not keep running.
        tracing::info!(
            "a running controller stops those of them its engines are running within a \
             heartbeat; cancelled tasks are never run again or retried"
        );
    }
    Ok(Status::Ok)
}
