//! Task ids on the command line, and looking one up.

use hs_broker::store::{TaskRecord, TaskStore};
use uuid::Uuid;

use crate::database;
use crate::exit::Failure;

pub fn parse(text: &str) -> anyhow::Result<Uuid> {
    Uuid::parse_str(text.trim()).map_err(|_| {
        Failure::usage(format!(
            "{text:?} is not a task id (a UUID, as `hs list id` prints)"
        ))
    })
}

/// The task, or an error saying it does not exist.
pub fn lookup(store: &mut dyn TaskStore, id: &Uuid) -> anyhow::Result<TaskRecord> {
    store
        .get(id)
        .map_err(database::runtime)?
        .ok_or_else(|| Failure::runtime(format!("no task with id {id} in the database")))
}
