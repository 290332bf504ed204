//! `hs config set`: check the key and value, change the file (keeping comments when the line
//! editor can), and keep the previous version as `.config.YYYYmmdd-HHMMSS.toml` beside it, so
//! a mistaken `set` can always be undone by hand.

use std::path::{Path, PathBuf};

use super::defaults::Kind;
use super::error::ConfigError;
use super::keys;
use super::layers;
use super::patch;
use super::paths::Context;
use super::source::Level;
use super::value::{self, Value};

/// What `set` did.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub backup: Option<PathBuf>,
    /// Set when the file had to be rewritten without its comments.
    pub rewritten: bool,
}

/// Set `key` to the coerced `text` in the file of `level`; `null` removes the key.
pub fn set(ctx: &Context, level: Level, key: &str, text: &str) -> Result<Written, ConfigError> {
    if !keys::is_known_leaf(key) {
        return Err(unknown_key(key));
    }
    let value = value_for(key, text)?;
    let path = ctx.file_path(level).ok_or_else(|| {
        ConfigError::Usage(format!(
            "the {} config file cannot be located (is HOME set?)",
            level.name()
        ))
    })?;
    let old_text = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(ConfigError::Read { path, error }),
    };
    let old_table = match &old_text {
        Some(t) => layers::parse(t, &path)?,
        None => toml::Table::new(),
    };
    let mut expected = old_table;
    set_in_table(&mut expected, key, value.clone(), &path)?;
    let patched = patch::set_in_text(old_text.as_deref().unwrap_or(""), key, value.as_ref())
        .filter(|t| toml::from_str::<toml::Table>(t).is_ok_and(|p| p == expected));
    let rewritten = patched.is_none() && old_text.as_deref().is_some_and(|t| t.contains('#'));
    let new_text = match patched {
        Some(t) => t,
        None => toml::to_string(&expected)
            .map_err(|e| ConfigError::Usage(format!("cannot write {key} as TOML: {e}")))?,
    };
    let write_err = |p: &Path| {
        let p = p.to_path_buf();
        move |error| ConfigError::Write { path: p, error }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    }
    let backup = match old_text {
        Some(_) => Some(backup(&path).map_err(write_err(&path))?),
        None => None,
    };
    let secret = keys::def(key).is_some_and(|d| d.secret && d.name == key);
    replace(&path, &new_text, secret).map_err(write_err(&path))?;
    Ok(Written {
        path,
        backup,
        rewritten,
    })
}

/// The error for a key hs does not know, with the closest known key when there is one.
pub fn unknown_key(key: &str) -> ConfigError {
    let hint = keys::suggest(key)
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default();
    ConfigError::Usage(format!("unknown config key: {key}{hint}"))
}

/// The TOML value to store: coerced like HyperShell, but checked against the key's kind, and
/// text keys keep text (`server.auth 0123…` must not turn into a number). `None` for null.
fn value_for(key: &str, text: &str) -> Result<Option<toml::Value>, ConfigError> {
    let coerced = value::coerce(text);
    if coerced.is_null() {
        return Ok(None);
    }
    let kind = keys::kind_of(key);
    let ok = match kind {
        Kind::Str => return Ok(Some(toml::Value::String(text.to_string()))),
        Kind::Int => coerced.is_i64(),
        Kind::Number => coerced.is_number(),
        Kind::Bool => coerced.is_boolean(),
        Kind::Any => true,
    };
    if !ok {
        let expected = match kind {
            Kind::Int => "an integer",
            Kind::Number => "a number",
            _ => "true or false",
        };
        return Err(ConfigError::Usage(format!(
            "{key} takes {expected}, not {}",
            value::json_ish(&Value::String(text.into()))
        )));
    }
    Ok(value::to_toml(&coerced))
}

/// Apply the change to the parsed file, creating tables on the way.
fn set_in_table(
    table: &mut toml::Table,
    key: &str,
    value: Option<toml::Value>,
    path: &Path,
) -> Result<(), ConfigError> {
    let parts: Vec<&str> = key.split('.').collect();
    let Some((last, parents)) = parts.split_last() else {
        return Ok(());
    };
    let mut t = table;
    for (i, p) in parents.iter().enumerate() {
        if value.is_none() && !t.contains_key(*p) {
            return Ok(());
        }
        let slot = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = match slot {
            toml::Value::Table(inner) => inner,
            _ => {
                return Err(ConfigError::Usage(format!(
                    "cannot set {key}: {} is a value, not a section, in {}",
                    parts[..=i].join("."),
                    path.display()
                )));
            }
        };
    }
    match value {
        Some(v) => {
            t.insert(last.to_string(), v);
        }
        None => {
            t.remove(*last);
        }
    }
    Ok(())
}

/// Copy `path` to `.config.YYYYmmdd-HHMMSS.toml` in the same folder (`-2`, `-3`… when several
/// changes fall within one second).
fn backup(path: &Path) -> std::io::Result<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
    let mut target = dir.join(format!(".config.{stamp}.toml"));
    let mut n = 2;
    while target.exists() {
        target = dir.join(format!(".config.{stamp}-{n}.toml"));
        n += 1;
    }
    std::fs::copy(path, &target)?;
    Ok(target)
}

/// Write through a temporary file and a rename, so a crash never leaves half a file; keep the
/// old file's permissions (a file holding a key may be private). A file given a `secret` (a
/// key, a password) is made private: 0600 when new, else without its group and other bits.
fn replace(path: &Path, text: &str, secret: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension(format!("toml.tmp-{}", std::process::id()));
    if secret {
        let _ = std::fs::remove_file(&tmp);
        let mut file = hs_engine::private::open_options()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        std::io::Write::write_all(&mut file, text.as_bytes())?;
    } else {
        std::fs::write(&tmp, text)?;
    }
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o7777;
        let mode = if secret { mode & 0o700 } else { mode };
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn ctx(dir: &Path) -> Context {
        let vars: BTreeMap<String, String> = [("HOME".to_string(), dir.display().to_string())]
            .into_iter()
            .collect();
        Context::new(vars, dir.to_path_buf(), false)
    }

    #[test]
    fn set_creates_then_edits_and_backs_up() {
        let dir = crate::config::tests::TempDir::new();
        let c = ctx(dir.path());
        let w = set(&c, Level::User, "server.port", "8080").expect("set");
        assert_eq!(w.path, dir.path().join(".hypershell/config.toml"));
        assert!(w.backup.is_none());
        let with_comment = "# keep me\n[server]\nport = 8080 # mine\n";
        std::fs::write(&w.path, with_comment).expect("write");
        let w = set(&c, Level::User, "server.port", "9090").expect("set");
        let text = std::fs::read_to_string(&w.path).expect("read");
        assert_eq!(text, "# keep me\n[server]\nport = 9090 # mine\n");
        let backup = w.backup.expect("backup");
        let name = backup.file_name().map(|n| n.to_string_lossy().into_owned());
        assert!(
            name.as_deref()
                .is_some_and(|n| n.starts_with(".config.") && n.ends_with(".toml"))
        );
        assert_eq!(std::fs::read_to_string(backup).expect("read"), with_comment);
        set(&c, Level::User, "server.port", "null").expect("unset");
        let text = std::fs::read_to_string(&w.path).expect("read");
        assert_eq!(text, "# keep me\n[server]\n");
    }

    #[test]
    fn values_are_checked_against_the_key() {
        assert!(matches!(
            value_for("server.port", "x"),
            Err(ConfigError::Usage(_))
        ));
        assert_eq!(
            value_for("server.auth", "0123").expect("text"),
            Some(toml::Value::String("0123".into()))
        );
        assert_eq!(
            value_for("server.evict", "2.5").expect("number"),
            Some(toml::Value::Float(2.5))
        );
        assert_eq!(
            value_for("export.N", "3").expect("any"),
            Some(toml::Value::Integer(3))
        );
        assert_eq!(value_for("server.port", "none").expect("null"), None);
        let err = set(
            &ctx(Path::new("/nonexistent")),
            Level::User,
            "server.prot",
            "1",
        )
        .expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown config key: server.prot (did you mean server.port?)"
        );
    }

    #[test]
    fn a_file_given_a_key_becomes_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        let dir = crate::config::tests::TempDir::new();
        let c = ctx(dir.path());
        let w = set(&c, Level::User, "server.port", "8080").expect("set");
        std::fs::set_permissions(&w.path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        set(&c, Level::User, "server.port", "8081").expect("set");
        assert_eq!(mode(&w.path), 0o644, "a plain value keeps the mode");
        set(&c, Level::User, "server.auth", "k3J9-xQ2m_Lp8wZr").expect("set");
        assert_eq!(mode(&w.path), 0o600);
        let other = crate::config::tests::TempDir::new();
        let w = set(&ctx(other.path()), Level::User, "client.auth", "x").expect("set");
        assert_eq!(mode(&w.path), 0o600, "a new file holding a key");
    }

    #[test]
    fn a_value_in_the_way_is_reported() {
        let dir = crate::config::tests::TempDir::new();
        let c = ctx(dir.path());
        let path = dir.path().join(".hypershell/config.toml");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, "[logging]\nfile = true\n").expect("write");
        let err = set(&c, Level::User, "logging.file.level", "debug").expect_err("conflict");
        assert!(err.to_string().contains("logging.file is a value"), "{err}");
    }
}
