//! Reading configuration files into layers: which files (system, user, local, or only
//! `HYPERSHELL_CONFIG_FILE`), TOML errors with line and column, and warnings for unknown keys
//! (a warning, not an error: a file shared with HyperShell or a newer hs must still work).

use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::keys;
use super::merge::{Layer, Setting};
use super::paths::Context;
use super::source::{Level, Source};
use super::value::{self, Value};

/// The file layers in precedence order (lowest first), and warnings about their contents.
pub fn file_layers(ctx: &Context) -> Result<(Vec<Layer>, Vec<String>), ConfigError> {
    let mut layers = Vec::new();
    let mut warnings = Vec::new();
    let mut files: Vec<(Level, PathBuf, bool)> = match ctx.config_file_override() {
        Some(None) => Vec::new(),
        Some(Some(path)) => vec![(Level::ConfigFile, path, true)],
        None => [Level::System, Level::User, Level::Local]
            .into_iter()
            .filter_map(|l| Some((l, ctx.file_path(l)?, false)))
            .collect(),
    };
    // A profile's file is read whatever else is: it is what `--profile` asks for.
    if let Some(path) = ctx.file_path(Level::Profile) {
        files.push((Level::Profile, path, true));
    }
    let mut seen: Vec<PathBuf> = Vec::new();
    for (level, path, required) in files {
        // Working in HOME makes the local file the user file: read it once, as `user`.
        let real = path.canonicalize().unwrap_or_else(|_| path.clone());
        if seen.contains(&real) {
            continue;
        }
        seen.push(real);
        if let Some(table) = read_file(&path, required)? {
            let (layer, mut w) = settings_of(&table, &Source::File { level, path });
            layers.push(layer);
            warnings.append(&mut w);
        }
    }
    Ok((layers, warnings))
}

/// The parsed file; `None` when it does not exist and is not `required`.
pub fn read_file(path: &Path, required: bool) -> Result<Option<toml::Table>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(None),
        Err(error) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// Parse TOML text, reporting an error as `path:line:column: message` on one line.
pub fn parse(text: &str, path: &Path) -> Result<toml::Table, ConfigError> {
    toml::from_str::<toml::Table>(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_column(text, s.start));
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().replace('\n', "; "),
        }
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// The settings of one parsed file, and warnings about keys hs does not know.
pub fn settings_of(table: &toml::Table, source: &Source) -> (Layer, Vec<String>) {
    let origin = match source {
        Source::File { path, .. } => path.display().to_string(),
        other => other.to_string(),
    };
    let (flat, skipped) = value::flatten(table);
    let mut warnings: Vec<String> = skipped
        .iter()
        .map(|k| format!("{origin}: key {k:?} contains a dot and cannot be used"))
        .collect();
    let mut layer = Layer::new();
    for (key, value) in flat {
        for (key, value) in expand_shorthand(key, value) {
            if !keys::is_known_leaf(&key) {
                let hint = keys::suggest(&key)
                    .map(|s| format!("; did you mean {s}?"))
                    .unwrap_or_default();
                warnings.push(format!(
                    "{origin}: unknown key {key} (not used by hs{hint})"
                ));
            }
            layer.push((key, Setting::new(value, source.clone())));
        }
    }
    (layer, warnings)
}

/// `logging.file = true | "enabled" | "disabled" | "/path"` is HyperShell's shorthand for the
/// `[logging.file]` table; it is rewritten so that it merges with that table's keys.
fn expand_shorthand(key: String, value: Value) -> Vec<(String, Value)> {
    if key != "logging.file" {
        return vec![(key, value)];
    }
    let enabled = |b: bool| ("logging.file.enabled".to_string(), Value::Bool(b));
    match value {
        Value::Bool(b) => vec![enabled(b)],
        Value::String(s) if s == "enabled" => vec![enabled(true)],
        Value::String(s) if s == "disabled" || s.is_empty() => vec![enabled(false)],
        Value::String(path) => vec![
            enabled(true),
            ("logging.file.path".to_string(), Value::String(path)),
        ],
        other => vec![(key, other)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let text = "[server]\nport = 1\nbind = = 'x'\n";
        let err = parse(text, Path::new("/etc/x.toml")).expect_err("bad toml");
        let msg = err.to_string();
        assert!(msg.starts_with("/etc/x.toml:3:"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        let dup = parse("[a]\nb = 1\nb = 2\n", Path::new("f")).expect_err("duplicate");
        assert!(dup.to_string().starts_with("f:3:"), "{dup}");
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncdé f", 8), (2, 5));
        assert_eq!(line_column("", 5), (1, 1));
    }

    #[test]
    fn unknown_keys_warn_with_a_suggestion() {
        let t: toml::Table = toml::from_str("[server]\nprot = 1\nport = 2\n").expect("toml");
        let (layer, warnings) = settings_of(&t, &Source::Default);
        assert_eq!(layer.len(), 2);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("server.prot") && warnings[0].contains("server.port"),
            "{warnings:?}"
        );
    }

    #[test]
    fn logging_file_shorthand() {
        let t: toml::Table = toml::from_str("[logging]\nfile = '/var/log/hs.log'\n").expect("toml");
        let (layer, warnings) = settings_of(&t, &Source::Default);
        assert!(warnings.is_empty());
        let keys: Vec<(&str, &Value)> = layer.iter().map(|(k, s)| (k.as_str(), &s.value)).collect();
        assert_eq!(
            keys,
            [
                ("logging.file.enabled", &json!(true)),
                ("logging.file.path", &json!("/var/log/hs.log"))
            ]
        );
    }
}
