//! Values: coercion of text (environment, `hs config set`) the way HyperShell does it, and the
//! conversions between TOML documents and the flat `dotted.key → value` form used for merging.
//!
//! Values are held as JSON values because JSON, unlike TOML, has a null: `HYPERSHELL_SERVER_AUTH=null`
//! must be able to unset a key that a file set. TOML datetimes become strings.

use std::collections::BTreeMap;

pub use serde_json::Value;

/// HyperShell's coercion: `null`/`none` → null, `true`/`false` → bool (any case), then integer,
/// then float, otherwise the text itself. Non-finite floats (`inf`, `nan`) stay text, since
/// neither JSON nor most callers can use them.
pub fn coerce(text: &str) -> Value {
    match text.to_ascii_lowercase().as_str() {
        "null" | "none" => return Value::Null,
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = text.parse::<f64>()
        && f.is_finite()
    {
        return Value::from(f);
    }
    Value::String(text.to_string())
}

/// A TOML value as a JSON value.
pub fn from_toml(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(from_toml).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.iter().map(|(k, v)| (k.clone(), from_toml(v))).collect())
        }
    }
}

/// A JSON value as TOML; `None` for null (TOML cannot say null), and nulls inside arrays and
/// tables are left out.
pub fn to_toml(v: &Value) -> Option<toml::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(a) => toml::Value::Array(a.iter().filter_map(to_toml).collect()),
        Value::Object(o) => toml::Value::Table(
            o.iter()
                .filter_map(|(k, v)| Some((k.clone(), to_toml(v)?)))
                .collect(),
        ),
    })
}

/// The leaves of a TOML table as `(dotted.key, value)` pairs. Arrays are leaves (they replace,
/// never merge). Keys containing a dot cannot be addressed as `a.b.c`, so they are reported in
/// `skipped` instead.
pub fn flatten(table: &toml::Table) -> (Vec<(String, Value)>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    flatten_into(table, "", &mut out, &mut skipped);
    (out, skipped)
}

fn flatten_into(
    table: &toml::Table,
    prefix: &str,
    out: &mut Vec<(String, Value)>,
    skipped: &mut Vec<String>,
) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if k.contains('.') || k.is_empty() {
            skipped.push(key);
            continue;
        }
        match v {
            toml::Value::Table(t) => flatten_into(t, &key, out, skipped),
            other => out.push((key, from_toml(other))),
        }
    }
}

/// The inverse of `flatten`: nested TOML tables from dotted keys, leaving out nulls. When a key
/// is both a leaf and a table (which merging prevents), the first one wins.
pub fn nest<'a>(entries: impl IntoIterator<Item = (&'a str, &'a Value)>) -> toml::Table {
    let mut root = toml::Table::new();
    for (key, value) in entries {
        if let Some(value) = to_toml(value) {
            let parts: Vec<&str> = key.split('.').collect();
            insert_path(&mut root, &parts, value);
        }
    }
    root
}

fn insert_path(table: &mut toml::Table, parts: &[&str], value: toml::Value) {
    match parts {
        [] => {}
        [last] => {
            table.entry(last.to_string()).or_insert(value);
        }
        [first, rest @ ..] => {
            let slot = table
                .entry(first.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(inner) = slot {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// One value as HyperShell prints it: JSON (strings quoted, `null` for none).
pub fn json_ish(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// One value for scripts (`get -r`): strings without quotes, null as nothing, the rest as JSON.
pub fn raw(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => json_ish(other),
    }
}

/// A TOML document for a set of entries (already relative to the section being shown).
pub fn to_toml_text(entries: &BTreeMap<String, Value>) -> String {
    let table = nest(entries.iter().map(|(k, v)| (k.as_str(), v)));
    toml::to_string(&table).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn coercion_follows_hypershell() {
        assert_eq!(coerce("null"), Value::Null);
        assert_eq!(coerce("None"), Value::Null);
        assert_eq!(coerce("TRUE"), json!(true));
        assert_eq!(coerce("false"), json!(false));
        assert_eq!(coerce("50001"), json!(50001));
        assert_eq!(coerce("-3"), json!(-3));
        assert_eq!(coerce("2.5"), json!(2.5));
        assert_eq!(coerce("1e3"), json!(1000.0));
        assert_eq!(coerce("inf"), json!("inf"));
        assert_eq!(coerce("localhost"), json!("localhost"));
        assert_eq!(coerce(""), json!(""));
        assert_eq!(coerce("0.0.0.0"), json!("0.0.0.0"));
    }

    #[test]
    fn flatten_and_nest_round_trip() {
        let t: toml::Table = toml::from_str(
            "top = 1\n[server]\nport = 2\n[server.tls]\nenabled = true\n[ssh]\nnodelist = ['a', 'b']\n",
        )
        .expect("valid toml");
        let (flat, skipped) = flatten(&t);
        assert!(skipped.is_empty());
        let keys: Vec<&str> = flat.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["server.port", "server.tls.enabled", "ssh.nodelist", "top"]
        );
        let back = nest(flat.iter().map(|(k, v)| (k.as_str(), v)));
        assert_eq!(back, t);
    }

    #[test]
    fn dotted_key_names_are_skipped() {
        let t: toml::Table = toml::from_str("[export]\n\"A.B\" = 1\nC = 2\n").expect("valid");
        let (flat, skipped) = flatten(&t);
        assert_eq!(flat, vec![("export.C".to_string(), json!(2))]);
        assert_eq!(skipped, vec!["export.A.B".to_string()]);
    }

    #[test]
    fn printing() {
        assert_eq!(json_ish(&json!("x")), "\"x\"");
        assert_eq!(raw(&json!("x")), "x");
        assert_eq!(json_ish(&Value::Null), "null");
        assert_eq!(raw(&json!([1, 2])), "[1,2]");
    }
}
