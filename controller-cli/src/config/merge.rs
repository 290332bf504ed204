//! Merging layers into one flat map that remembers, for every key, which layer set it.
//!
//! Rules, applied layer by layer from lowest to highest:
//! - a key replaces the same key from lower layers;
//! - a value replaces a whole section below it (`database = "x.db"` drops `database.*`), and a
//!   key inside a section replaces a value that stood for the whole section;
//! - `k`, `k_env` and `k_eval` are one setting: any of them replaces the others from lower
//!   layers, so a user's `password_env` is not shadowed by a system-wide `password`.

use std::collections::BTreeMap;

use super::keys::split_suffix;
use super::source::Source;
use super::value::Value;

/// One key's value and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub value: Value,
    pub source: Source,
    /// The text as written, for values coerced from environment variables: a numeric-looking
    /// key (`HYPERSHELL_SERVER_AUTH=0123…`) must read back exactly as given.
    pub raw: Option<String>,
    /// Position of the layer in the merge, to tell same-layer settings from lower ones.
    rank: usize,
}

impl Setting {
    pub fn new(value: Value, source: Source) -> Setting {
        Setting {
            value,
            source,
            raw: None,
            rank: 0,
        }
    }

    pub fn with_raw(mut self, raw: String) -> Setting {
        self.raw = Some(raw);
        self
    }
}

/// One layer: the settings of one file, of the environment, or the defaults.
pub type Layer = Vec<(String, Setting)>;

/// The merged configuration as `dotted.key → setting`.
#[derive(Clone, Debug, Default)]
pub struct Merged {
    map: BTreeMap<String, Setting>,
    layers: usize,
}

impl Merged {
    /// Put `layer` on top of everything merged so far.
    pub fn apply(&mut self, layer: Layer) {
        self.layers += 1;
        let rank = self.layers;
        for (key, mut setting) in layer {
            self.clear_for(&key, rank);
            setting.rank = rank;
            self.map.insert(key, setting);
        }
    }

    /// Remove what a new value for `key` replaces.
    fn clear_for(&mut self, key: &str, rank: usize) {
        let below = format!("{key}.");
        self.map.retain(|k, _| !k.starts_with(&below));
        let mut end = key.len();
        while let Some(dot) = key[..end].rfind('.') {
            self.map.remove(&key[..dot]);
            end = dot;
        }
        let base = split_suffix(key).map_or(key, |(b, _)| b);
        for sibling in [
            base.to_string(),
            format!("{base}_env"),
            format!("{base}_eval"),
        ] {
            if self.map.get(&sibling).is_some_and(|s| s.rank < rank) {
                self.map.remove(&sibling);
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.map.get(key)
    }

    /// Every key at or below `prefix` (everything for an empty prefix), with the key made
    /// relative to `prefix`.
    pub fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a Setting)> {
        self.map.iter().filter_map(move |(k, s)| {
            if prefix.is_empty() {
                return Some((k.as_str(), s));
            }
            let rest = k.strip_prefix(prefix)?.strip_prefix('.')?;
            Some((rest, s))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::Level;
    use serde_json::json;
    use std::path::PathBuf;

    fn file(level: Level) -> Source {
        Source::File {
            level,
            path: PathBuf::from(format!("/{}.toml", level.name())),
        }
    }

    fn layer(source: Source, pairs: &[(&str, Value)]) -> Layer {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Setting::new(v.clone(), source.clone())))
            .collect()
    }

    #[test]
    fn higher_layers_win_and_remember_where_from() {
        let mut m = Merged::default();
        m.apply(layer(
            Source::Default,
            &[
                ("server.port", json!(50001)),
                ("server.bind", json!("localhost")),
            ],
        ));
        m.apply(layer(file(Level::User), &[("server.port", json!(8080))]));
        m.apply(layer(
            Source::Env {
                var: "HYPERSHELL_SERVER_BIND".into(),
            },
            &[("server.bind", json!("0.0.0.0"))],
        ));
        let port = m.get("server.port").expect("port");
        assert_eq!(port.value, json!(8080));
        assert_eq!(port.source, file(Level::User));
        let bind = m.get("server.bind").expect("bind");
        assert_eq!(bind.source.to_string(), "env: HYPERSHELL_SERVER_BIND");
    }

    #[test]
    fn a_value_replaces_a_section_and_back() {
        let mut m = Merged::default();
        m.apply(layer(
            Source::Default,
            &[
                ("database.provider", json!("sqlite")),
                ("database.file", json!("/d.db")),
            ],
        ));
        m.apply(layer(file(Level::User), &[("database", json!("/u.db"))]));
        assert!(m.get("database.provider").is_none());
        assert_eq!(m.get("database").map(|s| &s.value), Some(&json!("/u.db")));
        m.apply(layer(
            file(Level::Local),
            &[("database.file", json!("/l.db"))],
        ));
        assert!(m.get("database").is_none());
        assert_eq!(m.under("database").count(), 1);
    }

    #[test]
    fn env_and_eval_variants_replace_each_other() {
        let mut m = Merged::default();
        m.apply(layer(
            file(Level::System),
            &[("database.password", json!("secret"))],
        ));
        m.apply(layer(
            file(Level::User),
            &[
                ("database.password_env", json!("PGPASS")),
                ("database.user", json!("me")),
            ],
        ));
        assert!(m.get("database.password").is_none());
        assert!(m.get("database.password_env").is_some());
        // Within one layer both stay; the plain key is preferred when reading.
        m.apply(layer(
            file(Level::Local),
            &[
                ("database.password", json!("x")),
                ("database.password_eval", json!("echo y")),
            ],
        ));
        assert!(m.get("database.password_env").is_none());
        assert!(m.get("database.password").is_some());
        assert!(m.get("database.password_eval").is_some());
    }

    #[test]
    fn under_makes_keys_relative() {
        let mut m = Merged::default();
        m.apply(layer(
            Source::Default,
            &[
                ("server.port", json!(1)),
                ("server.tls.enabled", json!(true)),
                ("serverx", json!(2)),
            ],
        ));
        let keys: Vec<&str> = m.under("server").map(|(k, _)| k).collect();
        assert_eq!(keys, ["port", "tls.enabled"]);
    }
}
