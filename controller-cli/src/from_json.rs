//! `--from-json FILE`: tasks made from JSON objects.
//!
//! FILE holds a JSON array of objects, or one object per line. Each object's keys are fields for
//! the template (`{key}`) and become the task's tags; `args` is the task's `{}`, and `group`,
//! `cores`, `memory` and `timeout` set those columns. The template is expanded when the tasks are
//! submitted, so a field that any object lacks is an error before anything runs.
//!
//! A field is `{name}` with `name` a word (letters, digits, `_`, not starting with a digit) that
//! is not right after a `$`, so `${HOME}` stays the shell's.

use std::path::Path;

use hs_broker::store::TaskRecord;
use hs_engine::template::Template;
use serde_json::{Map, Value};

use crate::exit::Failure;
use crate::input::Submitter;
use crate::query::parse_bytes;

/// The `{name}` fields a template uses, in order of first appearance.
pub fn fields(template: &str) -> Vec<String> {
    let bytes = template.as_bytes();
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(rel) = template[i..].find('{') {
        let open = i + rel;
        i = open + 1;
        if open > 0 && bytes[open - 1] == b'$' {
            continue;
        }
        let Some(len) = template[open + 1..].find('}') else {
            break;
        };
        let name = &template[open + 1..open + 1 + len];
        let word = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if word && !found.iter().any(|f| f == name) {
            found.push(name.to_string());
        }
    }
    found
}

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
    let parsed = Template::parse(template)
        .map_err(|e| Failure::usage(format!("bad template {template:?}: {e}")))?;
    let wanted = fields(template);
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
    let mut rows = Vec::with_capacity(objects.len());
    for (label, object) in objects {
        let args = object.get("args").map(text_of).unwrap_or_default();
        let mut command = parsed
            .expand(&args)
            .map_err(|e| Failure::usage(format!("{} {label}: {e}", path.display())))?;
        for name in &wanted {
            command = command.replace(&format!("{{{name}}}"), &text_of(&object[name.as_str()]));
        }
        let mut row = submitter.task(command, &submitter.defaults);
        for (key, value) in object {
            let bad = |what: &str| {
                Failure::usage(format!("{} {label}: \"{key}\" {what}", path.display()))
            };
            match key.as_str() {
                "group" => {
                    row.group = value
                        .as_i64()
                        .ok_or_else(|| bad("must be a whole number"))?
                }
                "cores" => {
                    row.cores = Some(
                        value
                            .as_i64()
                            .ok_or_else(|| bad("must be a whole number"))?,
                    )
                }
                "timeout" => {
                    row.timeout =
                        Some(value.as_f64().ok_or_else(|| bad("must be seconds"))?.ceil() as i64)
                }
                "memory" => {
                    row.memory = Some(match &value {
                        Value::String(s) => {
                            parse_bytes(s).map_err(|e| Failure::usage(e.to_string()))?
                        }
                        other => other
                            .as_i64()
                            .ok_or_else(|| bad("must be bytes or a size like 8G"))?,
                    })
                }
                "args" => {}
                _ => {
                    row.tag.insert(key, value);
                }
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_words_in_braces_but_not_shell_expansions() {
        assert_eq!(
            fields("run {input} > {out}.txt; echo ${HOME} {} {/} {input}"),
            ["input", "out"]
        );
        assert!(fields("awk '{ print $1 }' {}").is_empty());
    }

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
    fn a_missing_field_is_an_error_before_anything() {
        let err = load_text("{\"name\":\"a\"}\n{\"other\":1}\n", "echo {name}").unwrap_err();
        assert!(err.to_string().contains("line 2 has no \"name\""), "{err}");
        let err = load_text("[1]", "echo {name}").unwrap_err();
        assert!(err.to_string().contains("item 1 is not an object"), "{err}");
    }
}
