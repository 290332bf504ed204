//! `--from-json FILE`: tasks made from JSON objects.
//!
//! FILE holds a JSON array of objects, or one object per line. Each object's keys are fields for
//! the template (`{key}`) and become the task's tags; `args` is the task's `{}`, and `group`,
//! `cores`, `memory` and `timeout` set those columns, with the values and checks of a
//! `# HYPERSHELL:` directive (see `directives`). The template is expanded when the tasks are
//! submitted, so a field that any object lacks is an error before anything runs.
//!
//! A field is `{name}` with `name` a word (letters, digits, `_`, not starting with a digit) that
//! is not right after a `$`, so `${HOME}` stays the shell's (see `Template::field_names`). Each
//! value is inserted once, as data: a value holding `{other}` or `{}` is not expanded again.

use std::path::Path;

use hs_broker::store::TaskRecord;
use serde_json::{Map, Value};

use crate::exit::Failure;
use crate::input::Submitter;
use crate::submit_shell::SubmitShell;

/// The objects in `text`: a JSON array, or one object per line. Each comes with a label for
/// messages ("line 3", "item 3").
fn objects(text: &str, path: &Path) -> anyhow::Result<Vec<(String, Map<String, Value>)>> {
    let bad = |what: String| Failure::usage(format!("{}: {what}", path.display()));
    if text.trim_start().starts_with('[') {
        let items: Vec<Value> = serde_json::from_str(text)
            .map_err(|e| bad(format!("not a JSON array of objects: {e}")))?;
        return items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(o) => Ok((format!("item {}", i + 1), o)),
                other => Err(bad(format!("item {} is not an object: {other}", i + 1))),
            })
            .collect();
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(o)) => out.push((format!("line {}", n + 1), o)),
            Ok(other) => return Err(bad(format!("line {} is not an object: {other}", n + 1))),
            Err(e) => return Err(bad(format!("line {} is not JSON: {e}", n + 1))),
        }
    }
    Ok(out)
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Task rows for every object in `path`, with `template` expanded for each. Nothing is
/// returned unless every object can be expanded.
pub fn load(path: &Path, template: &str, submitter: &Submitter) -> anyhow::Result<Vec<TaskRecord>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::runtime(format!("cannot read {}: {e}", path.display())))?;
    let parsed = crate::commands::common::parse_template(template)?;
    let wanted = parsed.field_names();
    let objects = objects(&text, path)?;
    if wanted.is_empty()
        && template.trim() == "{}"
        && objects.iter().any(|(_, o)| !o.contains_key("args"))
    {
        return Err(Failure::usage(format!(
            "{}: objects without \"args\" need a template that uses their fields (e.g. -t 'echo {{name}}')",
            path.display()
        )));
    }
    for (label, object) in &objects {
        if let Some(missing) = wanted.iter().find(|f| !object.contains_key(f.as_str())) {
            return Err(Failure::usage(format!(
                "{} {label} has no \"{missing}\", which the template uses as {{{missing}}}: nothing was submitted",
                path.display()
            )));
        }
    }
    let shell = SubmitShell::new(&parsed)?;
    let mut rows = Vec::with_capacity(objects.len());
    for (label, object) in objects {
        let args = object.get("args").map(text_of).unwrap_or_default();
        let value = |name: &str| object.get(name).map(text_of);
        let command = parsed
            .expand_with_fields(&args, &shell, &value)
            .map_err(|e| Failure::usage(format!("{} {label}: {e}", path.display())))?;
        // The columns take the values a `# HYPERSHELL:` directive takes; other keys are tags.
        let mut settings = submitter.defaults.clone();
        for (key, value) in object.into_iter().filter(|(key, _)| key != "args") {
            settings.add_value(key, value).map_err(|reason| {
                Failure::usage(format!("{} {label}: {reason}", path.display()))
            })?;
        }
        rows.push(submitter.task(command, settings));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str, template: &str) -> anyhow::Result<Vec<TaskRecord>> {
        let dir = tempfile_dir();
        let path = dir.join("jobs.json");
        std::fs::write(&path, text).unwrap();
        load(&path, template, &Submitter::new("h".into()))
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("hs-from-json-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn objects_fill_the_template_and_become_tags() {
        let rows = load_text(
            r#"[{"name":"a","n":1,"group":2},{"name":"b/c","n":2,"args":"x.gz"}]"#,
            "echo {name} {n} {/-}",
        )
        .unwrap();
        assert_eq!(rows[0].args, "echo a 1 ");
        assert_eq!(rows[1].args, "echo b/c 2 x");
        assert_eq!(rows[0].group, 2);
        assert_eq!(rows[1].tag["name"], "b/c");
    }

    #[test]
    fn values_are_data_inserted_once() {
        let rows = load_text(r#"{"a":"{b}","b":"X","c":"{}"}"#, "echo {a} {b} {c}").unwrap();
        assert_eq!(rows[0].args, "echo {b} X {}");
        let rows = load_text(r#"{"args":"{b}","b":"X"}"#, "echo {} {b}").unwrap();
        assert_eq!(rows[0].args, "echo {b} X");
    }

    #[test]
    fn a_missing_field_is_an_error_before_anything() {
        let err = load_text("{\"name\":\"a\"}\n{\"other\":1}\n", "echo {name}").unwrap_err();
        assert!(err.to_string().contains("line 2 has no \"name\""), "{err}");
        let err = load_text("[1]", "echo {name}").unwrap_err();
        assert!(err.to_string().contains("item 1 is not an object"), "{err}");
    }

    #[test]
    fn columns_take_what_a_directive_takes_and_errors_say_where() {
        let rows = load_text(
            r#"{"args":"a","cores":2,"memory":"1K","timeout":0.5}"#,
            "echo {}",
        )
        .unwrap();
        assert_eq!(
            (rows[0].cores, rows[0].memory, rows[0].timeout),
            (Some(2), Some(1024), Some(1))
        );
        for (object, why) in [
            (
                r#"{"args":"a","cores":-1}"#,
                "cores must be a whole number of 0 or more",
            ),
            (
                r#"{"args":"a","group":-2}"#,
                "group must be a whole number of 0 or more",
            ),
            (
                r#"{"args":"a","timeout":-1}"#,
                "timeout must be a number of seconds",
            ),
            (
                r#"{"args":"a","memory":"lots"}"#,
                "size \"lots\" is not understood",
            ),
        ] {
            let err = load_text(&format!("{{\"args\":\"ok\"}}\n{object}\n"), "echo {}")
                .unwrap_err()
                .to_string();
            assert!(err.contains("jobs.json line 2: "), "{err}");
            assert!(err.contains(why), "{err}");
        }
    }
}
