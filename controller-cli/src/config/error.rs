//! What can go wrong with configuration, each worded as one line for the person who must fix it:
//! the file, line and column of a syntax error; the key, value and origin of a wrong type.

use std::path::PathBuf;

use super::source::Source;
use crate::exit::{Failure, Status};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file is not valid TOML. `path:line:column:` lets editors and terminals jump there.
    #[error("{}:{line}:{column}: invalid TOML: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// A file exists (or was named by `HYPERSHELL_CONFIG_FILE`) but cannot be read.
    #[error("cannot read config file {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },

    /// `hs config set`/`edit` could not write a file or make its folder or backup.
    #[error("cannot write {}: {error}", path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },

    /// A value has the wrong type for what the caller reads it as.
    #[error("{key} = {value} ({origin}): expected {expected}")]
    Type {
        key: String,
        value: String,
        origin: Source,
        expected: &'static str,
    },

    /// A `_env` or `_eval` key could not be expanded.
    #[error("{key}: {message}")]
    Expand { key: String, message: String },

    /// The `[database]` keys do not describe a usable database.
    #[error("database configuration: {0}")]
    Database(String),

    /// The request itself is wrong: an unknown key, a value of the wrong kind for `set`.
    #[error("{0}")]
    Usage(String),
}

impl ConfigError {
    /// The exit status this error should produce: 2 for a bad request, 5 for a file that
    /// cannot be written, 3 (bad configuration) for everything else.
    pub fn status(&self) -> Status {
        match self {
            ConfigError::Usage(_) => Status::Usage,
            ConfigError::Write { .. } => Status::Runtime,
            _ => Status::Config,
        }
    }
}

/// Callers write `Config::load().map_err(Failure::from)?` so that `main` exits with the
/// documented status instead of the generic runtime error.
impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Failure {
        Failure {
            status: e.status(),
            message: e.to_string(),
        }
    }
}
