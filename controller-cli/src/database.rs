//! Opening the task store a command uses: in memory (`--no-db`), PostgreSQL (when configured),
//! or the embedded SQLite file `<site>/lib/main.db` (the default).

use hs_broker::store::{MemoryStore, PostgresStore, SqliteStore, StoreError, TaskStore};

use crate::exit::{Failure, Status};
use crate::site::Site;

/// How a command wants its store prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prepare {
    /// Create missing tables (SQLite always does this; PostgreSQL only with `--initdb`).
    Initialize,
    /// Use the tables as they are; a database without them is an error that says to run
    /// `hs initdb`.
    Existing,
}

/// Where the store lives, as the site and environment say.
pub enum Location {
    Memory,
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Location {
    pub fn resolve(site: &Site, no_db: bool) -> Location {
        if no_db {
            return Location::Memory;
        }
        if let Some(url) = std::env::var("HYPERSHELL_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            return Location::Postgres(url);
        }
        Location::Sqlite(site.lib.join("main.db"))
    }

    pub fn is_durable(&self) -> bool {
        !matches!(self, Location::Memory)
    }

    pub fn describe(&self) -> String {
        match self {
            Location::Memory => "memory (--no-db)".into(),
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(url) => redact(url),
        }
    }
}

/// A PostgreSQL URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Open the store at `location`, prepared as asked.
pub fn open(location: &Location, prepare: Prepare) -> anyhow::Result<Box<dyn TaskStore>> {
    let mut store: Box<dyn TaskStore> = match location {
        Location::Memory => Box::new(MemoryStore::new()),
        Location::Sqlite(path) => Box::new(SqliteStore::open(path).map_err(runtime)?),
        Location::Postgres(url) => Box::new(PostgresStore::connect(url).map_err(runtime)?),
    };
    let sqlite = matches!(location, Location::Sqlite(_));
    match prepare {
        Prepare::Initialize => store.initialize().map_err(runtime)?,
        Prepare::Existing if sqlite => store.initialize().map_err(runtime)?,
        Prepare::Existing => store.check().map_err(runtime)?,
    }
    Ok(store)
}

/// Store errors are runtime errors (exit 5), with the store's own one-line message.
pub fn runtime(e: StoreError) -> anyhow::Error {
    Failure {
        status: Status::Runtime,
        message: e.to_string(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://hs:secret@db.example:5432/hs"),
            "postgres://hs@db.example:5432/hs"
        );
        assert_eq!(redact("postgres://db/hs"), "postgres://db/hs");
    }
}
