//! Reading effective values: `_env`/`_eval` expansion, typed accessors that accept what the
//! environment and hand-written files naturally produce (`"8080"` for a port, `5` for a
//! float), and errors that name the key, the value and its origin.

use std::collections::BTreeMap;

use super::Config;
use super::error::ConfigError;
use super::expand::expand;
use super::keys::{Suffix, split_suffix};
use super::merge::Setting;
use super::source::Source;
use super::value::{self, Value};

impl Config {
    /// The setting that provides `key`, and how: directly, or through `key_env`/`key_eval`.
    /// When one layer sets several, the plain key wins, then `_env`, then `_eval`.
    pub(super) fn provider(&self, key: &str) -> Option<(&Setting, Option<Suffix>)> {
        if let Some(s) = self.merged.get(key) {
            return Some((s, None));
        }
        [Suffix::Env, Suffix::Eval].into_iter().find_map(|suffix| {
            let s = self.merged.get(&format!("{key}{}", suffix.text()))?;
            Some((s, Some(suffix)))
        })
    }

    /// Where the value of `key` comes from (`Default` also for keys nothing sets).
    pub fn source(&self, key: &str) -> Source {
        self.provider(key)
            .map_or(Source::Default, |(s, _)| s.source.clone())
    }

    /// The effective value of a key, expanded; `None` when absent or null. Sections are not
    /// values: use `get_section`.
    pub fn get(&self, key: &str) -> Result<Option<Value>, ConfigError> {
        let Some((setting, suffix)) = self.provider(key) else {
            return Ok(None);
        };
        let value = match suffix {
            None => setting.value.clone(),
            Some(sfx) => expand(
                &format!("{key}{}", sfx.text()),
                sfx,
                &setting.value,
                &self.ctx,
            )?,
        };
        Ok((!value.is_null()).then_some(value))
    }

    /// Every key under `prefix` (all keys for `""`), relative to it; with `expand`, `k_env` and
    /// `k_eval` are replaced by `k` and their value.
    pub fn get_section(
        &self,
        prefix: &str,
        expand: bool,
    ) -> Result<BTreeMap<String, Value>, ConfigError> {
        let mut out = BTreeMap::new();
        for (rel, setting) in self.merged.under(prefix) {
            let full = if prefix.is_empty() {
                rel.to_string()
            } else {
                format!("{prefix}.{rel}")
            };
            match split_suffix(rel) {
                Some((base, _)) if expand => {
                    let base_full = &full[..full.len() - (rel.len() - base.len())];
                    if self.merged.get(base_full).is_none()
                        && let Some(v) = self.get(base_full)?
                    {
                        out.insert(base.to_string(), v);
                    }
                }
                _ => {
                    out.insert(rel.to_string(), setting.value.clone());
                }
            }
        }
        Ok(out)
    }

    /// Text. Numbers and booleans are accepted as text (an environment value that looks like a
    /// number reads back exactly as written).
    pub fn get_str(&self, key: &str) -> Result<Option<String>, ConfigError> {
        if let Some((setting, None)) = self.provider(key)
            && let Some(raw) = &setting.raw
            && !setting.value.is_null()
        {
            return Ok(Some(raw.clone()));
        }
        self.typed(key, "text", as_text)
    }

    pub fn get_i64(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        self.typed(key, "an integer", as_i64)
    }

    pub fn get_f64(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        self.typed(key, "a number", as_f64)
    }

    pub fn get_bool(&self, key: &str) -> Result<Option<bool>, ConfigError> {
        self.typed(key, "true or false", as_bool)
    }

    fn typed<T>(
        &self,
        key: &str,
        expected: &'static str,
        convert: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(v) = self.get(key)? else {
            return Ok(None);
        };
        convert(&v).map(Some).ok_or_else(|| ConfigError::Type {
            key: key.to_string(),
            value: value::json_ish(&v),
            origin: self.source(key),
            expected,
        })
    }
}

/// Text; numbers and booleans as written.
pub(super) fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}

/// An integer, also from a whole float or from text.
pub(super) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A finite number, also from text.
pub(super) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// A boolean, also from `"true"`/`"false"` in any case.
pub(super) fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

impl Config {
    /// `[export]`: `NAME = value` for every task's environment. A list is joined with `:` (a
    /// `PATH` written as an array). A nested table cannot be one variable: it is skipped with a
    /// warning, so that a file HyperShell reads still works.
    pub fn exports(&self) -> Result<Vec<(String, String)>, ConfigError> {
        let mut out = Vec::new();
        for (name, v) in self.get_section("export", true)? {
            if name.contains('.') {
                tracing::warn!(
                    "export.{name}: a nested table is not an environment variable: ignored"
                );
                continue;
            }
            let text = match &v {
                Value::Null => continue,
                Value::Array(items) => items.iter().map(value::raw).collect::<Vec<_>>().join(":"),
                other => value::raw(other),
            };
            out.push((name, text));
        }
        Ok(out)
    }
}
