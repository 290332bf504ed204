//! The text of `hs config get` and `hs config which`: a section as TOML (what one would paste
//! into a file), one value as JSON (unambiguous for scripts: `"8080"` is text, `8080` a number),
//! and provenance as `value (user: /path)`.

use super::error::ConfigError;
use super::source::Level;
use super::value::{self, Value};
use super::write::unknown_key;
use super::{Config, Context};

/// Which configuration `get` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Everything merged: what hs commands use.
    Merged,
    /// One file as written.
    File(Level),
    /// The built-in defaults.
    Default,
}

/// Load the configuration a view shows; warnings go to the log.
pub fn load(ctx: Context, view: View) -> Result<Config, ConfigError> {
    let cfg = match view {
        View::Merged => Config::load_with(ctx)?,
        View::File(level) => Config::file_only(ctx, level)?,
        View::Default => Config::defaults_only(ctx),
    };
    cfg.log_notes();
    Ok(cfg)
}

/// `hs config get [KEY] [-x] [-r]`.
pub fn get(
    cfg: &Config,
    key: Option<&str>,
    expand: bool,
    raw: bool,
) -> Result<String, ConfigError> {
    let Some(key) = key else {
        return Ok(value::to_toml_text(&cfg.get_section("", expand)?));
    };
    check_key(cfg, key)?;
    if is_section(cfg, key) {
        return Ok(value::to_toml_text(&cfg.get_section(key, expand)?));
    }
    let v = if expand {
        cfg.get(key)?.unwrap_or(Value::Null)
    } else {
        cfg.merged.get(key).map_or(Value::Null, |s| s.value.clone())
    };
    Ok(line(if raw {
        value::raw(&v)
    } else {
        value::json_ish(&v)
    }))
}

/// `hs config which KEY [--site]`: the value (never expanded: no command runs) and its origin.
/// For a section, one line per key.
pub fn which(cfg: &Config, key: &str, site: bool) -> Result<String, ConfigError> {
    check_key(cfg, key)?;
    if is_section(cfg, key) {
        let mut out = String::new();
        for (rel, s) in cfg.merged.under(key) {
            let what = if site {
                s.source.site().to_string()
            } else {
                format!("{} ({})", value::json_ish(&s.value), s.source)
            };
            out.push_str(&line(format!("{rel} = {what}")));
        }
        return Ok(out);
    }
    let Some((setting, suffix)) = cfg.provider(key) else {
        return Ok(line(
            if site { "default" } else { "null (default)" }.to_string(),
        ));
    };
    if site {
        return Ok(line(setting.source.site().to_string()));
    }
    let via = suffix
        .map(|s| format!(", as {key}{}", s.text()))
        .unwrap_or_default();
    Ok(line(format!(
        "{} ({}{via})",
        value::json_ish(&setting.value),
        setting.source
    )))
}

/// Known keys and sections, and anything a file or variable actually set, may be asked for.
fn check_key(cfg: &Config, key: &str) -> Result<(), ConfigError> {
    let known = super::keys::is_known_leaf(key)
        || super::keys::is_section(key)
        || cfg.merged.get(key).is_some()
        || cfg.merged.under(key).next().is_some();
    if known { Ok(()) } else { Err(unknown_key(key)) }
}

/// A key with values below it, or a known section that is empty here.
fn is_section(cfg: &Config, key: &str) -> bool {
    cfg.merged.under(key).next().is_some()
        || (super::keys::is_section(key) && cfg.merged.get(key).is_none())
}

fn line(mut s: String) -> String {
    s.push('\n');
    s
}
