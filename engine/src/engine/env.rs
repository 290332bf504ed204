//! The environment a task sees: the engine's own, plus `HYPERSHELL_EXPORT_*` exports, plus the
//! `TASK_*` description of the task itself.

use crate::task::Task;

/// The machine's short host name (up to the first dot).
pub fn short_hostname() -> String {
    let full = hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string());
    full.split('.').next().unwrap_or(&full).to_string()
}

/// `HYPERSHELL_EXPORT_X=v` in the engine's environment becomes `X=v` for every task.
pub fn exported_from_environment() -> Vec<(String, String)> {
    exported_from(std::env::vars())
}

fn exported_from(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    vars.filter_map(|(k, v)| {
        k.strip_prefix("HYPERSHELL_EXPORT_")
            .filter(|name| !name.is_empty())
            .map(|name| (name.to_string(), v))
    })
    .collect()
}

/// Engine-side facts that go into every task's environment.
pub struct EngineFacts<'a> {
    pub engine_id: &'a str,
    pub host: &'a str,
    pub slot_count: u32,
}

/// The variables for one task, in addition to the engine's environment and the exports.
/// Names follow HyperShell's `TASK_<COLUMN>` convention; `TASK_ARG` is kept for older scripts.
pub fn task_env(
    task: &Task,
    command: &str,
    slot: u32,
    facts: &EngineFacts<'_>,
    outpath: Option<&str>,
    errpath: Option<&str>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("TASK_ID".to_string(), task.id.to_string()),
        ("TASK_ARGS".to_string(), task.args.clone()),
        ("TASK_ARG".to_string(), task.args.clone()),
        ("TASK_ATTEMPT".to_string(), task.attempt.to_string()),
        ("TASK_GROUP".to_string(), task.group.to_string()),
        ("TASK_COMMAND".to_string(), command.to_string()),
        (
            "TASK_SUBMIT_TIME".to_string(),
            task.submit_time.to_rfc3339(),
        ),
        ("TASK_CLIENT_ID".to_string(), facts.engine_id.to_string()),
        ("TASK_CLIENT_HOST".to_string(), facts.host.to_string()),
        ("TASK_SLOT".to_string(), slot.to_string()),
        ("TASK_SLOT_COUNT".to_string(), facts.slot_count.to_string()),
        (
            "TASK_TIMEOUT".to_string(),
            task.timeout
                .map_or_else(|| "null".to_string(), |t| t.to_string()),
        ),
    ];
    for (key, value) in &task.tag {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        env.push((format!("TASK_TAG_{}", tag_env_name(key)), text));
    }
    if let Some(host) = &task.submit_host {
        env.push(("TASK_SUBMIT_HOST".to_string(), host.clone()));
    }
    if let Some(p) = outpath {
        env.push(("TASK_OUTPATH".to_string(), p.to_string()));
    }
    if let Some(p) = errpath {
        env.push(("TASK_ERRPATH".to_string(), p.to_string()));
    }
    env
}

/// Tag keys may hold `.`, `+` and `-`, which cannot appear in variable names: they become `_`.
fn tag_env_name(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_strip_the_prefix() {
        let vars = vec![
            ("HYPERSHELL_EXPORT_FOO".to_string(), "1".to_string()),
            ("HYPERSHELL_EXPORT_".to_string(), "ignored".to_string()),
            ("HYPERSHELL_LOGGING_LEVEL".to_string(), "debug".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        assert_eq!(
            exported_from(vars.into_iter()),
            vec![("FOO".to_string(), "1".to_string())]
        );
    }
}
