//! Provenance: which layer gave a key its value. `hs config which` prints it, and error
//! messages name it, so a wrong value can be traced to the file or variable that set it.

use std::fmt;
use std::path::PathBuf;

/// A configuration file's place in the precedence order (lowest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `/etc/hypershell.toml`: settings for every user of the machine.
    System,
    /// `~/.hypershell/config.toml`: one person's settings.
    User,
    /// `./.hypershell/config.toml`, or `$HYPERSHELL_SITE/config.toml`: one project's settings.
    Local,
    /// `HYPERSHELL_CONFIG_FILE=PATH`: the only file read when that variable is set.
    ConfigFile,
    /// `<site>/profile_NAME/config.toml` of the profile a command was given (`--profile`):
    /// above every other file, below the environment and flags.
    Profile,
}

impl Level {
    /// The name used in output and in `hs config which --site`.
    pub fn name(self) -> &'static str {
        match self {
            Level::System => "system",
            Level::User => "user",
            Level::Local => "local",
            Level::ConfigFile => "file",
            Level::Profile => "profile",
        }
    }
}

/// Where the effective value of a key came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Built into hs (or absent: a key nothing sets has no value and this source).
    Default,
    /// A configuration file.
    File { level: Level, path: PathBuf },
    /// An environment variable, named in full.
    Env { var: String },
}

impl Source {
    /// Just the layer's name: `default`, `system`, `user`, `local`, `file` or `env`.
    pub fn site(&self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File { level, .. } => level.name(),
            Source::Env { .. } => "env",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { level, path } => write!(f, "{}: {}", level.name(), path.display()),
            Source::Env { var } => write!(f, "env: {var}"),
        }
    }
}
