//! HyperShell-style layered configuration.
//!
//! Lowest to highest: built-in defaults < `/etc/hypershell.toml` < `~/.hypershell/config.toml`
//! < `./.hypershell/config.toml` (or `$HYPERSHELL_SITE/config.toml`) < `HYPERSHELL_<SECTION>_<KEY>`
//! variables < command-line flags (applied by each command over what it reads here).
//! `HYPERSHELL_CONFIG_FILE=PATH` reads only PATH (empty: no file at all). See docs/config.md.
//!
//! Callers load once and read typed values; every value remembers where it came from, so an
//! error can say "server.port = "x" (user: /home/me/.hypershell/config.toml): expected an integer".
//!
//! ```ignore
//! let cfg = Config::load().map_err(Failure::from)?;
//! let port = cfg.get_i64("server.port").map_err(Failure::from)?.unwrap_or(50001);
//! ```

mod access;
pub mod command;
mod database;
mod defaults;
mod env;
mod error;
mod expand;
mod keys;
mod layers;
mod merge;
mod patch;
mod paths;
mod show;
mod source;
mod value;
mod write;

#[allow(
    unused_imports,
    reason = "the accessor API for hs commands; they start reading configuration as they are wired to it"
)]
pub use database::{DatabaseSettings, Provider};
pub use error::ConfigError;
pub use paths::Context;
pub use source::{Level, Source};
#[allow(
    unused_imports,
    reason = "the accessor API for hs commands; they start reading configuration as they are wired to it"
)]
pub use value::Value;

use merge::{Layer, Merged, Setting};

/// The merged configuration of this process.
#[derive(Clone, Debug)]
pub struct Config {
    merged: Merged,
    ctx: Context,
    warnings: Vec<String>,
}

impl Config {
    /// Defaults, files and environment of this process. Warnings (unknown keys in files) are
    /// logged once here; a file that is not valid TOML is an error.
    #[allow(
        dead_code,
        reason = "the accessor API for hs commands; they start reading configuration as they are wired to it"
    )]
    pub fn load() -> Result<Config, ConfigError> {
        let cfg = Config::load_with(Context::from_process())?;
        for w in cfg.warnings() {
            tracing::warn!("{w}");
        }
        Ok(cfg)
    }

    /// The same for a described machine (tests, and `hs config` which reuses its context).
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

    #[allow(
        dead_code,
        reason = "the accessor API for hs commands; they start reading configuration as they are wired to it"
    )]
    pub fn context(&self) -> &Context {
        &self.ctx
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
