//! HyperShell-style layered configuration.
//!
//! Lowest to highest: built-in defaults < `/etc/hypershell.toml` < `~/.hypershell/config.toml`
//! < `./.hypershell/config.toml` (or `$HYPERSHELL_SITE/config.toml`) < `HYPERSHELL_<SECTION>_<KEY>`
//! variables < command-line flags (applied by each command over what it reads here).
//! `HYPERSHELL_CONFIG_FILE=PATH` reads only PATH (empty: no file at all). See docs/config.md.
//!
//! `hs` loads once, before the logger starts (the configuration decides the log level), and
//! passes the result to the command. Commands read typed values; every value remembers where it
//! came from, so an error can say
//! "server.port = "x" (user: /home/me/.hypershell/config.toml): expected an integer".
//!
//! ```ignore
//! let cfg = Config::load_with(Context::from_process()).map_err(Failure::from)?;
//! logging::init(…, &cfg)?;
//! cfg.log_notes();
//! let port: u16 = cfg.value(args.port, key::SERVER_PORT)?;
//! ```

mod access;
pub mod command;
mod database;
mod defaults;
mod docs;
pub mod env;
mod error;
mod expand;
#[doc(hidden)]
pub mod fuzzing;
pub mod key;
mod keys;
mod layers;
mod merge;
mod option;
mod patch;
mod paths;
mod show;
mod source;
mod value;
mod write;

pub use database::Provider;
pub use defaults::KeyDef;
pub use error::ConfigError;
pub use option::Layers;
pub use paths::{Context, SYSTEM_LIB};
pub use source::{Level, Source};

use merge::{Layer, Merged, Setting};

/// The merged configuration of this process.
#[derive(Clone, Debug)]
pub struct Config {
    merged: Merged,
    ctx: Context,
    warnings: Vec<String>,
}

impl Config {
    /// Defaults, files and environment of a described machine (the process's own context,
    /// with the profile of `--profile` when given; tests describe others). A file that is not
    /// valid TOML is an error. Nothing is logged yet (the logger is set up from the result):
    /// call `log_notes` once it is.
    pub fn load_with(ctx: Context) -> Result<Config, ConfigError> {
        let (files, warnings) = layers::file_layers(&ctx)?;
        let mut merged = Merged::default();
        merged.apply(default_layer(&ctx));
        for layer in files {
            merged.apply(layer);
        }
        merged.apply(env::env_layer(&ctx));
        Ok(Config {
            merged,
            ctx,
            warnings,
        })
    }

    /// Defaults and environment, no file: what `hs config` runs with when a file is broken, so
    /// that it can still show and edit it.
    pub fn without_files(ctx: Context) -> Config {
        let mut merged = Merged::default();
        merged.apply(default_layer(&ctx));
        merged.apply(env::env_layer(&ctx));
        Config {
            merged,
            ctx,
            warnings: Vec::new(),
        }
    }

    /// Only the built-in defaults (`hs config get --default`).
    pub fn defaults_only(ctx: Context) -> Config {
        let mut merged = Merged::default();
        merged.apply(default_layer(&ctx));
        Config {
            merged,
            ctx,
            warnings: Vec::new(),
        }
    }

    /// Only the file of one level, as written (`hs config get --user`); empty when missing.
    pub fn file_only(ctx: Context, level: Level) -> Result<Config, ConfigError> {
        let mut merged = Merged::default();
        let mut warnings = Vec::new();
        if let Some(path) = ctx.file_path(level)
            && let Some(table) = layers::read_file(&path, false)?
        {
            let (layer, w) = layers::settings_of(&table, &Source::File { level, path });
            merged.apply(layer);
            warnings = w;
        }
        Ok(Config {
            merged,
            ctx,
            warnings,
        })
    }

    /// Problems that did not stop loading (unknown keys), one line each.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Log what loading noticed: unknown keys in files (warnings) and `HYPERSHELL_*` variables
    /// that match no key (debug: HyperShell has variables hs does not know).
    pub fn log_notes(&self) {
        for w in self.warnings() {
            tracing::warn!("{w}");
        }
        for name in env::unknown_vars(&self.ctx) {
            tracing::debug!("{name} is not a configuration key: ignored");
        }
    }
}

fn default_layer(ctx: &Context) -> Layer {
    defaults::defaults(ctx)
        .into_iter()
        .map(|(k, v)| (k, Setting::new(v, Source::Default)))
        .collect()
}

#[cfg(test)]
mod tests;
