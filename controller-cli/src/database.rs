//! Opening the task store a command uses, as the `[database]` configuration says (see
//! docs/config.md): the SQLite file `database.file` (default `<site>/lib/main.db`), PostgreSQL
//! (`database.url`, `HYPERSHELL_DATABASE_URL`, or `provider = "postgres"` with its keys), or
//! memory (`--no-db`, or `database.file` empty or `:memory:`).

use hs_broker::store::{MemoryStore, PostgresStore, SqliteStore, StoreError, TaskStore};

use crate::config::{Config, Provider};
use crate::exit::{Failure, Status};

/// Separates a PostgreSQL URL from its schema in a client connection file's `database`.
const SCHEMA_MARK: &str = "#schema=";

/// How a command wants its store prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prepare {
    /// Create missing tables (SQLite always does this; PostgreSQL only with `--initdb`).
    Initialize,
    /// Use the tables as they are; a database without them is an error that says to run
    /// `hs initdb`.
    Existing,
}

/// Where the store lives.
pub enum Location {
    Memory,
    Sqlite(std::path::PathBuf),
    /// A connection URL, and the schema when it is not the default `public`.
    Postgres {
        url: String,
        schema: Option<String>,
    },
}

impl Location {
    /// The store the configuration names; `--no-db` (`no_db`) keeps tasks in memory instead.
    pub fn resolve(cfg: &Config, no_db: bool) -> Result<Location, Failure> {
        if no_db {
            return Ok(Location::Memory);
        }
        Ok(match cfg.database()?.provider {
            Provider::None => Location::Memory,
            Provider::Sqlite { path, pragmas } => {
                if !pragmas.is_empty() {
                    tracing::warn!(
                        "database.pragmas are not applied: hs sets the SQLite pragmas it relies on itself"
                    );
                }
                Location::Sqlite(path)
            }
            Provider::Postgres { url, schema } => Location::Postgres {
                url,
                // `public` is where tables go anyway; naming it would only add a CREATE SCHEMA.
                schema: (schema != "public").then_some(schema),
            },
        })
    }

    /// The store of a command that works on tasks kept between runs (`submit`, `list`, …): an
    /// in-memory store would be empty and forgotten, so a configuration without a database is
    /// an error here.
    pub fn persistent(cfg: &Config) -> Result<Location, Failure> {
        match Location::resolve(cfg, false)? {
            Location::Memory => Err(Failure {
                status: Status::Config,
                message: "no database is configured (database.file is empty or :memory:): \
                          this command needs one"
                    .into(),
            }),
            location => Ok(location),
        }
    }

    pub fn is_durable(&self) -> bool {
        !matches!(self, Location::Memory)
    }

    /// What a client connection file says about the store, so `hs list --file` on another
    /// host can open it: the URL for PostgreSQL, the file for SQLite, nothing for memory.
    pub fn for_clients(&self) -> Option<String> {
        match self {
            Location::Memory => None,
            Location::Sqlite(p) => Some(p.display().to_string()),
            Location::Postgres { url, schema: None } => Some(url.clone()),
            Location::Postgres {
                url,
                schema: Some(s),
            } => Some(format!("{url}{SCHEMA_MARK}{s}")),
        }
    }

    /// The store a client connection file names: the inverse of [`Location::for_clients`].
    pub fn from_clients(text: &str) -> Location {
        if !text.starts_with("postgres") {
            return Location::Sqlite(text.into());
        }
        match text.split_once(SCHEMA_MARK) {
            Some((url, schema)) => Location::Postgres {
                url: url.to_string(),
                schema: Some(schema.to_string()),
            },
            None => Location::Postgres {
                url: text.to_string(),
                schema: None,
            },
        }
    }

    /// The `HYPERSHELL_DATABASE_*` variables that select this store, for a command pointed at it
    /// by a connection file (they count like variables the user exported).
    pub fn as_env(&self) -> Vec<(&'static str, String)> {
        match self {
            Location::Memory => vec![("HYPERSHELL_DATABASE_FILE", String::new())],
            Location::Sqlite(p) => vec![
                ("HYPERSHELL_DATABASE_PROVIDER", "sqlite".into()),
                ("HYPERSHELL_DATABASE_FILE", p.display().to_string()),
            ],
            Location::Postgres { url, schema } => {
                let mut vars = vec![("HYPERSHELL_DATABASE_URL", url.clone())];
                if let Some(s) = schema {
                    vars.push(("HYPERSHELL_DATABASE_SCHEMA", s.clone()));
                }
                vars
            }
        }
    }

    /// For messages: never the password.
    pub fn describe(&self) -> String {
        match self {
            Location::Memory => "memory (no database)".into(),
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres { url, schema: None } => redact(url),
            Location::Postgres {
                url,
                schema: Some(s),
            } => format!("{} (schema {s})", redact(url)),
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
        Location::Postgres { url, schema } => Box::new(
            match schema {
                Some(schema) => PostgresStore::connect_with_schema(url, schema),
                None => PostgresStore::connect(url),
            }
            .map_err(runtime)?,
        ),
    };
    let sqlite = matches!(location, Location::Sqlite(_));
    match prepare {
        Prepare::Initialize => store.initialize().map_err(runtime)?,
        Prepare::Existing if sqlite => store.initialize().map_err(runtime)?,
        Prepare::Existing => store.check().map_err(runtime)?,
    }
    Ok(store)
}

/// Open the store of a reading command (`hs list`, `hs info`, `hs wait`): on SQLite it reads the
/// database and every `initdb --rotate` partition beside it as one, unless `ignore_partitions`
/// (`-i`). The store must only be read.
pub fn open_reading(
    location: &Location,
    ignore_partitions: bool,
) -> anyhow::Result<Box<dyn TaskStore>> {
    match location {
        Location::Sqlite(path) if !ignore_partitions => {
            let mut store = SqliteStore::open(path).map_err(runtime)?;
            store.initialize().map_err(runtime)?;
            store.attach_partitions().map_err(runtime)?;
            Ok(Box::new(store))
        }
        _ => open(location, Prepare::Existing),
    }
}

/// Store errors are runtime errors (exit 5), with the store's own one-line message.
pub fn runtime(e: StoreError) -> anyhow::Error {
    Failure::runtime(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_files_name_the_store_both_ways() {
        for location in [
            Location::Sqlite("/srv/hs/main.db".into()),
            Location::Postgres {
                url: "postgres://db/hs".into(),
                schema: None,
            },
            Location::Postgres {
                url: "postgres://db/hs".into(),
                schema: Some("lab".into()),
            },
        ] {
            let text = location.for_clients().unwrap();
            assert_eq!(
                Location::from_clients(&text).describe(),
                location.describe()
            );
        }
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://hs:secret@db.example:5432/hs"),
            "postgres://hs@db.example:5432/hs"
        );
        assert_eq!(redact("postgres://db/hs"), "postgres://db/hs");
    }
}
