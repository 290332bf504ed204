//! Command-line options whose default is a configuration key. The precedence is the documented
//! one: the flag, else `HYPERSHELL_*` variables, else the local, user and system files, else the
//! key's built-in default, else the command's own fallback (`.unwrap_or(…)` at the call site,
//! reached only when the key is absent or set to null).
//!
//! ```ignore
//! let port = cfg.option(args.port, "server.port", Layers::All)?.unwrap_or(50001);
//! ```

use super::Config;
use super::error::ConfigError;
use super::source::Source;
use super::value;
use crate::exit::Failure;

/// Which layers may give an option its value when the flag is absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layers {
    /// Environment, files and the key's built-in default.
    All,
    /// Environment and files only. For options whose hs default differs from the key's
    /// HyperShell default: the bundle sizes, which hs chooses itself unless someone asks.
    Set,
}

/// A type an option can take from configuration, with the checks its uses need.
pub trait FromConfig: Sized {
    /// The value of `key` as this type; `None` when absent or null.
    fn read(cfg: &Config, key: &str) -> Result<Option<Self>, ConfigError>;
}

impl Config {
    /// `flag` when given, else the value of `key` from `layers`; `None` when neither has one.
    /// A wrong value is one line naming the key, the value and where it came from (exit 3).
    pub fn option<T: FromConfig>(
        &self,
        flag: Option<T>,
        key: &str,
        layers: Layers,
    ) -> Result<Option<T>, Failure> {
        if flag.is_some() {
            return Ok(flag);
        }
        if layers == Layers::Set && self.source(key) == Source::Default {
            return Ok(None);
        }
        T::read(self, key).map_err(Failure::from)
    }

    /// The error for a value of `key` that has the right type but is not usable.
    pub fn invalid(&self, key: &str, expected: &'static str) -> ConfigError {
        let shown = match self.get(key) {
            Ok(Some(v)) => value::json_ish(&v),
            _ => "null".into(),
        };
        ConfigError::Type {
            key: key.to_string(),
            value: shown,
            origin: self.source(key),
            expected,
        }
    }
}

impl FromConfig for String {
    fn read(cfg: &Config, key: &str) -> Result<Option<Self>, ConfigError> {
        cfg.get_str(key)
    }
}

impl FromConfig for bool {
    fn read(cfg: &Config, key: &str) -> Result<Option<Self>, ConfigError> {
        cfg.get_bool(key)
    }
}

/// Every `f64` option is a number of seconds: negative ones mean nothing, and one too large for
/// a `Duration` would end the command with a panic instead of a message.
impl FromConfig for f64 {
    fn read(cfg: &Config, key: &str) -> Result<Option<Self>, ConfigError> {
        match cfg.get_f64(key)? {
            Some(s) if std::time::Duration::try_from_secs_f64(s).is_err() => {
                Err(cfg.invalid(key, "a number of seconds (0 or more)"))
            }
            other => Ok(other),
        }
    }
}

/// Integers: ports, counts and sizes, none of which is negative (`i64` for task columns).
macro_rules! unsigned {
    ($($t:ty => $expected:literal),* $(,)?) => {$(
        impl FromConfig for $t {
            fn read(cfg: &Config, key: &str) -> Result<Option<Self>, ConfigError> {
                cfg.get_i64(key)?
                    .map(|n| {
                        <$t>::try_from(n)
                            .ok()
                            .filter(|_| n >= 0)
                            .ok_or_else(|| cfg.invalid(key, $expected))
                    })
                    .transpose()
            }
        }
    )*};
}

unsigned!(
    u16 => "an integer from 0 to 65535",
    u32 => "an integer, 0 or more",
    usize => "an integer, 0 or more",
    i64 => "an integer, 0 or more",
);

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::Context;

    fn cfg(vars: &[(&str, &str)]) -> Config {
        let vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("HYPERSHELL_CONFIG_FILE".to_string(), String::new())])
            .collect();
        Config::load_with(Context::new(vars, PathBuf::from("/"), false)).expect("config")
    }

    #[test]
    fn flag_then_environment_then_default() {
        let c = cfg(&[("HYPERSHELL_SERVER_PORT", "9000")]);
        assert_eq!(
            c.option(Some(7u16), "server.port", Layers::All).ok(),
            Some(Some(7))
        );
        assert_eq!(
            c.option(None::<u16>, "server.port", Layers::All).ok(),
            Some(Some(9000))
        );
        let c = cfg(&[]);
        assert_eq!(
            c.option(None::<u16>, "server.port", Layers::All).ok(),
            Some(Some(50001))
        );
        assert_eq!(
            c.option(None::<String>, "server.auth", Layers::All).ok(),
            Some(None)
        );
    }

    #[test]
    fn set_only_skips_built_in_defaults() {
        let c = cfg(&[]);
        assert_eq!(
            c.option(None::<usize>, "server.bundlesize", Layers::Set)
                .ok(),
            Some(None)
        );
        let c = cfg(&[("HYPERSHELL_SERVER_BUNDLESIZE", "1")]);
        assert_eq!(
            c.option(None::<usize>, "server.bundlesize", Layers::Set)
                .ok(),
            Some(Some(1))
        );
    }

    #[test]
    fn unusable_values_name_key_value_and_origin() {
        let c = cfg(&[
            ("HYPERSHELL_SERVER_PORT", "70000"),
            ("HYPERSHELL_TASK_SIGNALWAIT", "-1"),
        ]);
        let err = c
            .option(None::<u16>, "server.port", Layers::All)
            .expect_err("out of range");
        assert_eq!(
            err.message,
            "server.port = 70000 (env: HYPERSHELL_SERVER_PORT): expected an integer from 0 to 65535"
        );
        assert_eq!(err.status, crate::exit::Status::Config);
        assert!(
            c.option(None::<f64>, "task.signalwait", Layers::All)
                .is_err()
        );
    }
}
