//! `HYPERSHELL_<SECTION>_<KEY>=value` environment variables as a configuration layer.
//!
//! HyperShell splits the name on every underscore, so keys with underscores in them
//! (`server.tls.min_version`, `database.password_env`) cannot be set from the environment. hs
//! instead matches the name against the known keys (and their `_env`/`_eval` variants); names
//! inside a free-form section (`HYPERSHELL_DATABASE_SSLMODE`) go to the longest such section.

use super::key::{KEYS, OPEN_SECTIONS};
use super::merge::{Layer, Setting};
use super::paths::Context;
use super::source::Source;
use super::value::coerce;

const PREFIX: &str = "HYPERSHELL_";

/// Variables that start with `HYPERSHELL_` but are not configuration: the site, the config file
/// selection, and `HYPERSHELL_EXPORT_*`, which hs passes to tasks as their environment.
const NOT_CONFIG: &[&str] = &["SITE", "CONFIG_FILE", "PYTHONPATH"];

/// What an environment variable name means.
#[derive(Debug, PartialEq, Eq)]
pub enum Mapping {
    Key(String),
    /// Not a `HYPERSHELL_` variable, or one that is not configuration.
    NotConfig,
    /// A `HYPERSHELL_` variable that matches no key: ignored, logged at debug level.
    Unknown,
}

/// The variable that sets `key`: `server.tls.min_version` → `HYPERSHELL_SERVER_TLS_MIN_VERSION`.
pub fn var_for(key: &str) -> String {
    format!("{PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
}

/// The key an environment variable sets.
pub fn key_for(name: &str) -> Mapping {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return Mapping::NotConfig;
    };
    if NOT_CONFIG.contains(&rest) || rest.starts_with("EXPORT_") || rest.is_empty() {
        return Mapping::NotConfig;
    }
    if rest == "DATABASE" {
        // `database = "path"`: HyperShell's shorthand for a SQLite file.
        return Mapping::Key("database".into());
    }
    for def in KEYS {
        for suffix in ["", "_env", "_eval"] {
            let key = format!("{}{suffix}", def.name);
            if var_for(&key) == name {
                return Mapping::Key(key);
            }
        }
    }
    let section = OPEN_SECTIONS
        .iter()
        .map(|s| s.name)
        .filter(|s| {
            name.strip_prefix(&var_for(s))
                .is_some_and(|r| r.len() > 1 && r.starts_with('_'))
        })
        .max_by_key(|s| s.len());
    match section {
        Some(s) => {
            let sub = &name[var_for(s).len() + 1..];
            Mapping::Key(format!("{s}.{}", sub.to_ascii_lowercase()))
        }
        None => Mapping::Unknown,
    }
}

/// The environment layer. Values are coerced (`8080` is a number, `true` a boolean, `null`
/// unsets); the text is kept for callers that want it verbatim.
pub fn env_layer(ctx: &Context) -> Layer {
    let mut layer = Layer::new();
    for (name, text) in ctx.vars() {
        match key_for(name) {
            Mapping::Key(key) => {
                let source = Source::Env {
                    var: name.to_string(),
                };
                layer.push((
                    key,
                    Setting::new(coerce(text), source).with_raw(text.into()),
                ));
            }
            Mapping::Unknown | Mapping::NotConfig => {}
        }
    }
    layer
}

/// `HYPERSHELL_*` variables that match no key. Listed rather than logged while loading, because
/// configuration is loaded before the logger exists (it decides the log level).
pub fn unknown_vars(ctx: &Context) -> Vec<String> {
    ctx.vars()
        .filter(|(name, _)| key_for(name) == Mapping::Unknown)
        .map(|(name, _)| name.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> String {
        match key_for(name) {
            Mapping::Key(k) => k,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn keys_with_underscores_are_found() {
        assert_eq!(key("HYPERSHELL_SERVER_EVICT"), "server.evict");
        assert_eq!(key("HYPERSHELL_CLIENT_HEARTRATE"), "client.heartrate");
        assert_eq!(
            key("HYPERSHELL_DATABASE_PASSWORD_ENV"),
            "database.password_env"
        );
        assert_eq!(
            key("HYPERSHELL_DATABASE_PASSWORD_EVAL"),
            "database.password_eval"
        );
        assert_eq!(
            key("HYPERSHELL_SERVER_TLS_MIN_VERSION"),
            "server.tls.min_version"
        );
        assert_eq!(key("HYPERSHELL_LOGGING_LEVEL"), "logging.level");
        assert_eq!(key("HYPERSHELL_LOGGING_FILE_LEVEL"), "logging.file.level");
        assert_eq!(key("HYPERSHELL_AUTOSCALE_SIZE_MAX"), "autoscale.size.max");
    }

    #[test]
    fn free_form_sections_take_the_rest() {
        assert_eq!(key("HYPERSHELL_DATABASE_SSLMODE"), "database.sslmode");
        assert_eq!(
            key("HYPERSHELL_DATABASE_PRAGMAS_JOURNAL_MODE"),
            "database.pragmas.journal_mode"
        );
        assert_eq!(key("HYPERSHELL_SSH_NODELIST_GPU"), "ssh.nodelist.gpu");
        assert_eq!(key("HYPERSHELL_SSH_NODELIST"), "ssh.nodelist");
        assert_eq!(key("HYPERSHELL_DATABASE"), "database");
    }

    #[test]
    fn non_config_and_unknown_names() {
        for name in [
            "HYPERSHELL_SITE",
            "HYPERSHELL_CONFIG_FILE",
            "HYPERSHELL_EXPORT_FOO",
            "HYPERSHELL_PYTHONPATH",
            "HOME",
        ] {
            assert_eq!(key_for(name), Mapping::NotConfig, "{name}");
        }
        assert_eq!(key_for("HYPERSHELL_SERVER_PROT"), Mapping::Unknown);
        assert_eq!(key_for("HYPERSHELL_DATABASE_"), Mapping::Unknown);
        assert_eq!(key_for("hypershell_server_port"), Mapping::NotConfig);
    }

    #[test]
    fn values_are_coerced_and_kept_verbatim() {
        let vars = [
            ("HYPERSHELL_SERVER_PORT", "8080"),
            ("HYPERSHELL_SERVER_AUTH", "0123456789012345"),
            ("HYPERSHELL_SERVER_EAGER", "true"),
            ("HYPERSHELL_EXPORT_X", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let ctx = Context::new(vars, "/".into(), false);
        let layer = env_layer(&ctx);
        let get = |k: &str| layer.iter().find(|(key, _)| key == k).map(|(_, s)| s);
        assert_eq!(get("server.port").map(|s| &s.value), Some(&8080.into()));
        assert_eq!(get("server.eager").map(|s| &s.value), Some(&true.into()));
        let auth = get("server.auth").expect("auth");
        assert_eq!(auth.raw.as_deref(), Some("0123456789012345"));
        assert_eq!(layer.len(), 3);
    }
}
