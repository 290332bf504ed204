//! Questions about key names: is it known, is it a section, is it an `_env`/`_eval` variant,
//! what did the user probably mean.

use super::defaults::{KeyDef, Kind};
use super::key::{KEYS, OPEN_SECTIONS, SHORTHANDS};

/// How a `_env`/`_eval` key supplies the value of its base key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suffix {
    /// `password_env = "VAR"`: the value of environment variable VAR.
    Env,
    /// `password_eval = "pass hs/db"`: the output of a shell command.
    Eval,
}

impl Suffix {
    pub fn text(self) -> &'static str {
        match self {
            Suffix::Env => "_env",
            Suffix::Eval => "_eval",
        }
    }
}

/// `database.password_env` → (`database.password`, Env). `None` for plain keys.
pub fn split_suffix(key: &str) -> Option<(&str, Suffix)> {
    for suffix in [Suffix::Env, Suffix::Eval] {
        if let Some(base) = key.strip_suffix(suffix.text())
            && !base.is_empty()
            && !base.ends_with('.')
        {
            return Some((base, suffix));
        }
    }
    None
}

/// The definition of a key, exactly as spelled.
pub fn def(key: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|d| d.name == key)
}

/// The longest free-form section that `key` lies strictly inside (`database.sslmode` →
/// `database`, `database.pragmas.journal_mode` → `database.pragmas`).
pub fn open_section_of(key: &str) -> Option<&'static str> {
    OPEN_SECTIONS
        .iter()
        .map(|s| s.name)
        .filter(|s| key.strip_prefix(s).is_some_and(|r| r.starts_with('.')))
        .max_by_key(|s| s.len())
}

/// A key that may hold a value: a known key, an `_env`/`_eval` variant of one, anything in a
/// free-form section, and the shorthands `database = "path"` and `logging.file = …`.
pub fn is_known_leaf(key: &str) -> bool {
    let base = split_suffix(key).map_or(key, |(b, _)| b);
    def(key).is_some()
        || def(base).is_some()
        || open_section_of(key).is_some()
        || SHORTHANDS.iter().any(|s| s.name == key)
}

/// A known section: `server`, `server.tls`, `export`, …
pub fn is_section(key: &str) -> bool {
    OPEN_SECTIONS.iter().any(|s| s.name == key)
        || KEYS.iter().any(|d| {
            d.name
                .strip_prefix(key)
                .is_some_and(|rest| rest.starts_with('.'))
        })
}

/// The kind of value a key takes; `_env`/`_eval` keys and free-form ones take text or anything.
pub fn kind_of(key: &str) -> Kind {
    if let Some(d) = def(key) {
        return d.kind;
    }
    if split_suffix(key).is_some() {
        return Kind::Str;
    }
    Kind::Any
}

/// The known key closest to a misspelt one, if any is close enough to be a likely typo.
pub fn suggest(key: &str) -> Option<&'static str> {
    let (best, distance) = KEYS
        .iter()
        .map(|d| (d.name, edit_distance(key, d.name)))
        .min_by_key(|(_, d)| *d)?;
    (distance <= 2.max(key.len() / 5)).then_some(best)
}

/// Levenshtein distance, for `suggest` only (short strings).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let swap = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = swap.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes() {
        assert_eq!(
            split_suffix("database.password_env"),
            Some(("database.password", Suffix::Env))
        );
        assert_eq!(
            split_suffix("database.password_eval"),
            Some(("database.password", Suffix::Eval))
        );
        assert_eq!(split_suffix("server.port"), None);
        assert_eq!(split_suffix("a._env"), None);
    }

    #[test]
    fn known_keys_and_sections() {
        assert!(is_known_leaf("server.port"));
        assert!(is_known_leaf("database.password_eval"));
        assert!(is_known_leaf("database.sslmode"));
        assert!(is_known_leaf("export.PATH"));
        assert!(is_known_leaf("ssh.nodelist.gpu"));
        assert!(is_known_leaf("database"));
        assert!(!is_known_leaf("server.prot"));
        assert!(!is_known_leaf("server"));
        assert!(is_section("server"));
        assert!(is_section("server.tls"));
        assert!(is_section("export"));
        assert!(!is_section("serv"));
        assert_eq!(
            open_section_of("database.pragmas.journal_mode"),
            Some("database.pragmas")
        );
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(suggest("server.prot"), Some("server.port"));
        assert_eq!(suggest("client.heartrat"), Some("client.heartrate"));
        assert_eq!(suggest("something.else.entirely"), None);
    }
}
