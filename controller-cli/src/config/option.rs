//! Command-line options whose default is a configuration key. The precedence is the documented
//! one: the flag, else `HYPERSHELL_*` variables, else the local, user and system files, else the
//! key's default from the key table (hs's own where it has one, else the built-in one).
//!
//! ```ignore
//! let port: u16 = cfg.value(args.port, key::SERVER_PORT)?;
//! ```

use super::Config;
use super::access::{as_bool, as_f64, as_i64, as_text};
use super::defaults::KeyDef;
use super::error::ConfigError;
use super::source::Source;
use super::value::{self, Value};
use crate::exit::{Failure, Status};
use hs_engine::task::seconds_in_range;

/// Which layers may give an option its value when the flag is absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layers {
    /// Environment, files and the key's built-in default.
    All,
    /// Environment and files only: for a value passed on only when someone asked for it (a
    /// key forwarded to engines on other hosts, a port a profile may leave to chance).
    Set,
}

/// A type an option can take from configuration, with the checks its uses need.
pub trait FromConfig: Sized {
    /// The value of `key` as this type; `None` when absent or null.
    fn read(cfg: &Config, key: &str) -> Result<Option<Self>, ConfigError>;

    /// A default from the key table as this type (with the same checks as `read`).
    fn from_value(v: &Value) -> Option<Self>;
}

impl Config {
    /// `flag` when given, else the value of `key` from `layers`; `None` when neither has one.
    /// A wrong value is one line naming the key, the value and where it came from (exit 3).
    pub fn option<T: FromConfig>(
        &self,
        flag: Option<T>,
        key: &KeyDef,
        layers: Layers,
    ) -> Result<Option<T>, Failure> {
        if flag.is_some() {
            return Ok(flag);
        }
        if layers == Layers::Set && self.source(key.name) == Source::Default {
            return Ok(None);
        }
        T::read(self, key.name).map_err(Failure::from)
    }

    /// The value an option takes: `flag` when given, else the configured value of `key`, else
    /// the key's default ([`KeyDef::fallback`]), which a key set to null also falls back to.
    pub fn value<T: FromConfig>(&self, flag: Option<T>, key: &KeyDef) -> Result<T, Failure> {
        let layers = if key.own.is_some() {
            Layers::Set
        } else {
            Layers::All
        };
        match self.option(flag, key, layers)? {
            Some(v) => Ok(v),
            None => self.fallback(key),
        }
    }

    /// The key's default for its option on this machine (hs's own where it has one). A key
    /// without one, or one the caller's type cannot hold, is a bug in the table (exit 6).
    pub fn fallback<T: FromConfig>(&self, key: &KeyDef) -> Result<T, Failure> {
        key.fallback()
            .value(&self.ctx)
            .as_ref()
            .and_then(T::from_value)
            .ok_or_else(|| Failure {
                status: Status::Internal,
                message: format!("{key} has no usable built-in default"),
            })
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

    fn from_value(v: &Value) -> Option<Self> {
        as_text(v)
    }
}

impl FromConfig for bool {
    fn read(cfg: &Config, key: &str) -> Result<Option<Self>, ConfigError> {
        cfg.get_bool(key)
    }

    fn from_value(v: &Value) -> Option<Self> {
        as_bool(v)
    }
}

/// Every `f64` option is a number of seconds: negative ones mean nothing, and one over
/// [`MAX_SECONDS`] would overflow the clock where it is waited for.
impl FromConfig for f64 {
    fn read(cfg: &Config, key: &str) -> Result<Option<Self>, ConfigError> {
        match cfg.get_f64(key)? {
            Some(s) if !seconds_option(s) => Err(cfg.invalid(key, SECONDS_EXPECTED)),
            other => Ok(other),
        }
    }

    fn from_value(v: &Value) -> Option<Self> {
        as_f64(v).filter(|s| seconds_option(*s))
    }
}

/// What a seconds option takes, as its error says; the bound is [`MAX_SECONDS`].
pub(crate) const SECONDS_EXPECTED: &str = "a number of seconds from 0 to 1000000000";

/// A usable value of a seconds option.
fn seconds_option(s: f64) -> bool {
    s >= 0.0 && seconds_in_range(s)
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

            fn from_value(v: &Value) -> Option<Self> {
                as_i64(v).filter(|n| *n >= 0).and_then(|n| <$t>::try_from(n).ok())
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
    use crate::config::defaults::Kind;
    use crate::config::{Context, key};

    fn cfg(vars: &[(&str, &str)]) -> Config {
        let vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("HYPERSHELL_CONFIG_FILE".to_string(), String::new())])
            .collect();
        Config::load_with(Context::new(vars, PathBuf::from("/"), false)).expect("config")
    }

    #[test]
    fn seconds_over_the_limit_are_a_configuration_error_naming_it() {
        assert!(SECONDS_EXPECTED.ends_with(&hs_engine::task::MAX_SECONDS.to_string()));
        let c = cfg(&[("HYPERSHELL_TASK_TIMEOUT", "1e19")]);
        let err = c.option(None::<f64>, key::TASK_TIMEOUT, Layers::All);
        assert!(err.is_err_and(|e| e.to_string().contains(SECONDS_EXPECTED)));
        let c = cfg(&[("HYPERSHELL_TASK_TIMEOUT", "1e9")]);
        assert_eq!(
            c.option(None::<f64>, key::TASK_TIMEOUT, Layers::All).ok(),
            Some(Some(1e9))
        );
    }

    #[test]
    fn flag_then_environment_then_default() {
        let c = cfg(&[("HYPERSHELL_SERVER_PORT", "9000")]);
        assert_eq!(
            c.option(Some(7u16), key::SERVER_PORT, Layers::All).ok(),
            Some(Some(7))
        );
        assert_eq!(
            c.option(None::<u16>, key::SERVER_PORT, Layers::All).ok(),
            Some(Some(9000))
        );
        let c = cfg(&[]);
        assert_eq!(
            c.option(None::<u16>, key::SERVER_PORT, Layers::All).ok(),
            Some(Some(50001))
        );
        assert_eq!(
            c.option(None::<String>, key::SERVER_AUTH, Layers::All).ok(),
            Some(None)
        );
    }

    #[test]
    fn set_only_skips_built_in_defaults() {
        let c = cfg(&[]);
        assert_eq!(
            c.option(None::<usize>, key::SERVER_BUNDLESIZE, Layers::Set)
                .ok(),
            Some(None)
        );
        let c = cfg(&[("HYPERSHELL_SERVER_BUNDLESIZE", "1")]);
        assert_eq!(
            c.option(None::<usize>, key::SERVER_BUNDLESIZE, Layers::Set)
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
            .option(None::<u16>, key::SERVER_PORT, Layers::All)
            .expect_err("out of range");
        assert_eq!(
            err.message,
            "server.port = 70000 (env: HYPERSHELL_SERVER_PORT): expected an integer from 0 to 65535"
        );
        assert_eq!(err.status, crate::exit::Status::Config);
        assert!(
            c.option(None::<f64>, key::TASK_SIGNALWAIT, Layers::All)
                .is_err()
        );
    }

    #[test]
    fn value_falls_back_to_the_table() {
        let c = cfg(&[]);
        assert_eq!(c.value(None::<u16>, key::SERVER_PORT).ok(), Some(50001));
        assert_eq!(c.value(Some(7u16), key::SERVER_PORT).ok(), Some(7));
        // hs's own default, not the built-in one `hs config` shows.
        assert_eq!(
            c.value(None::<usize>, key::SUBMIT_BUNDLESIZE).ok(),
            Some(1000)
        );
        // A key set to null falls back too, as does an own-default key set to null.
        let c = cfg(&[
            ("HYPERSHELL_SERVER_PORT", "null"),
            ("HYPERSHELL_SUBMIT_BUNDLESIZE", "null"),
            ("HYPERSHELL_SERVER_POLL", "2.5"),
        ]);
        assert_eq!(c.value(None::<u16>, key::SERVER_PORT).ok(), Some(50001));
        assert_eq!(
            c.value(None::<usize>, key::SUBMIT_BUNDLESIZE).ok(),
            Some(1000)
        );
        assert_eq!(c.value(None::<f64>, key::SERVER_POLL).ok(), Some(2.5));
        let err = c
            .value(None::<String>, key::SERVER_AUTH)
            .expect_err("no default");
        assert_eq!(err.status, Status::Internal);
    }

    /// Every default in the table reads back as its kind, so `value` finds it.
    #[test]
    fn every_default_reads_as_its_kind() {
        let c = cfg(&[]);
        for def in key::KEYS {
            for d in [Some(def.default), def.own].into_iter().flatten() {
                let Some(v) = d.value(&c.ctx) else { continue };
                let ok = match def.kind {
                    Kind::Str => String::from_value(&v).is_some(),
                    Kind::Int => i64::from_value(&v).is_some(),
                    Kind::Number => f64::from_value(&v).is_some(),
                    Kind::Bool => bool::from_value(&v).is_some(),
                    Kind::Any => true,
                };
                assert!(ok, "{def}: {v}");
            }
        }
    }
}
