//! Hooks for the fuzz targets in `fuzz/`: the two ways hs writes configuration, so the target
//! can check that what it writes reads back.

use super::show;
use super::write;
use super::{Config, ConfigError, Context, Level};

/// `hs config get` with no key: the merged configuration as a TOML document.
pub fn show_all(cfg: &Config) -> Result<String, ConfigError> {
    show::get(cfg, None, false, false)
}

/// `hs config set KEY TEXT --user` (the user file of `ctx`).
pub fn set_user(ctx: &Context, key: &str, text: &str) -> Result<(), ConfigError> {
    write::set(ctx, Level::User, key, text).map(|_| ())
}
