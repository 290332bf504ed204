//! The environment a task sees: the engine's own, plus `HYPERSHELL_EXPORT_*` exports, plus the
//! `TASK_*` description of the task itself.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::env_value::{NULL, put_bool, put_display, put_opt, put_tag_value, put_time, put_uuid};
use crate::executor::TaskVars;
use crate::task::Task;

pub use hs_protocol::host::short_hostname;

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

/// The controller that hands an engine its tasks: HyperShell's "server" (`TASK_SERVER_ID`,
/// `TASK_SERVER_HOST`), as its welcome names it.
#[derive(Clone, Debug, PartialEq)]
pub struct ControllerFacts {
    pub id: Uuid,
    /// `None` from a controller too old to say.
    pub host: Option<Arc<str>>,
}

/// Engine-side facts that go into every task's environment.
pub struct EngineFacts<'a> {
    pub engine_id: Uuid,
    pub host: &'a str,
    pub slot_count: u32,
    /// The engine's working directory, which is a task's unless the task names its own.
    pub cwd: &'a Path,
    /// `<site>/lib/task`: HyperShell's `TASK_OUTPATH`, `TASK_ERRPATH` and `TASK_CSVPATH` always
    /// point there, captured or not.
    pub task_dir: Option<&'a Path>,
}

/// What one run of a task adds to the task's own fields.
pub struct RunFacts<'a> {
    /// The expanded command line.
    pub command: &'a str,
    /// 1-based slot number.
    pub slot: u32,
    /// The task's `start_time`, as it is also recorded.
    pub start: DateTime<Utc>,
    pub server: Option<&'a ControllerFacts>,
    /// The task's own working directory (a JSON job's `cd`), if it has one.
    pub cwd: Option<&'a Path>,
    /// The task's own output files (a JSON job's `out`/`err`, or `--capture`'s), if any.
    pub outpath: Option<&'a str>,
    pub errpath: Option<&'a str>,
    /// The GPUs the engine gave this run (none unless the task asked for some).
    pub gpus: &'a [String],
}

/// Writes a task's own variables into `vars`: HyperShell's `TASK_<COLUMN>` for every column of
/// its row, in its field order, as the row stands when the task starts (so `TASK_EXIT_STATUS`,
/// `TASK_COMPLETION_TIME` and the like are `null`), then `TASK_CWD` and the output paths,
/// `TASK_TAG_<KEY>` for each tag, and what hs adds: `TASK_ARG` (1.x's name for the args),
/// `TASK_SLOT` and `TASK_SLOT_COUNT`, and for a task given GPUs the devices it may use.
/// Values are written as HyperShell writes them (see
/// [`env_value`](super::env_value)).
pub fn task_env(vars: &mut TaskVars, task: &Task, run: &RunFacts<'_>, engine: &EngineFacts<'_>) {
    vars.set_with("TASK_ID", |b| put_uuid(b, task.id));
    vars.set_display("TASK_GROUP", task.group);
    vars.set("TASK_ARGS", &task.args);
    vars.set_with("TASK_SUBMIT_ID", |b| put_opt(b, task.submit_id, put_uuid));
    vars.set_with("TASK_SUBMIT_TIME", |b| put_time(b, task.submit_time));
    vars.set_with("TASK_SUBMIT_HOST", |b| {
        put_opt(b, task.submit_host.as_deref(), put_str)
    });
    vars.set_with("TASK_CORES", |b| put_opt(b, task.cores, put_display));
    vars.set_with("TASK_MEMORY", |b| put_opt(b, task.memory, put_display));
    // Peaks are measured while the task runs.
    vars.set_with("TASK_CORES_MAX", |b| b.extend_from_slice(NULL));
    vars.set_with("TASK_MEMORY_MAX", |b| b.extend_from_slice(NULL));
    vars.set_with("TASK_TIMEOUT", |b| put_opt(b, task.timeout, put_display));
    let server = run.server;
    vars.set_with("TASK_SERVER_ID", |b| {
        put_opt(b, server.map(|s| s.id), put_uuid)
    });
    vars.set_with("TASK_SERVER_HOST", |b| {
        put_opt(b, server.and_then(|s| s.host.as_deref()), put_str)
    });
    vars.set_with("TASK_SCHEDULE_TIME", |b| {
        put_opt(b, task.schedule_time, put_time)
    });
    vars.set_with("TASK_CLIENT_ID", |b| put_uuid(b, engine.engine_id));
    vars.set("TASK_CLIENT_HOST", engine.host);
    vars.set("TASK_COMMAND", run.command);
    vars.set_with("TASK_START_TIME", |b| put_time(b, run.start));
    for unknown in ["TASK_COMPLETION_TIME", "TASK_EXIT_STATUS"] {
        vars.set_with(unknown, |b| b.extend_from_slice(NULL));
    }
    let dir = engine.task_dir;
    vars.set_with("TASK_OUTPATH", |b| {
        put_task_file(b, run.outpath, dir, task.id, ".out")
    });
    vars.set_with("TASK_ERRPATH", |b| {
        put_task_file(b, run.errpath, dir, task.id, ".err")
    });
    vars.set_with("TASK_CSVPATH", |b| {
        put_task_file(b, None, dir, task.id, ".csv")
    });
    vars.set_display("TASK_ATTEMPT", task.attempt);
    vars.set_with("TASK_RETRIED", |b| put_bool(b, task.retried));
    // HyperShell's `waited`: whole seconds from submission to start, truncated.
    vars.set_display("TASK_WAITED", (run.start - task.submit_time).num_seconds());
    vars.set_with("TASK_DURATION", |b| b.extend_from_slice(NULL));
    vars.set_with("TASK_PREVIOUS_ID", |b| {
        put_opt(b, task.previous_id, put_uuid)
    });
    vars.set_with("TASK_NEXT_ID", |b| put_opt(b, task.next_id, put_uuid));
    vars.set_with("TASK_CWD", |b| match run.cwd {
        Some(dir) if dir.is_absolute() => put_path(b, dir),
        Some(dir) => {
            put_path(b, engine.cwd);
            b.push(b'/');
            put_path(b, dir);
        }
        None => put_path(b, engine.cwd),
    });
    let mut name = String::new();
    for (key, value) in &task.tag {
        // HyperShell's name is the key upper-cased. Keys may also hold `.`, `+` and `-`, which no
        // shell variable name can: hs then also sets the name with those made `_`
        // (`TASK_TAG_A_B` beside `TASK_TAG_A.B`). A key no variable name can hold at all (`=`,
        // NUL: never a HyperShell tag) gets only the second.
        let plain = key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
        if !key.contains(['=', '\0']) {
            tag_name(&mut name, key, |c| c.to_ascii_uppercase());
            vars.set_with(&name, |b| put_tag_value(b, value));
        }
        if !plain {
            tag_name(&mut name, key, |c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            });
            vars.set_with(&name, |b| put_tag_value(b, value));
        }
    }
    vars.set("TASK_ARG", &task.args);
    vars.set_display("TASK_SLOT", run.slot);
    vars.set_display("TASK_SLOT_COUNT", engine.slot_count);
    if !run.gpus.is_empty() {
        // Exactly its devices, under the names CUDA, ROCm and scripts look for; a task that
        // asked for none keeps what the engine was started with.
        let devices = run.gpus.join(",");
        for name in [
            "CUDA_VISIBLE_DEVICES",
            "ROCR_VISIBLE_DEVICES",
            "HYPERSHELL_GPUS",
            "TASK_GPUS",
        ] {
            vars.set(name, &devices);
        }
    }
}

/// `TASK_TAG_` and `key` with each character mapped, into `name`.
fn tag_name(name: &mut String, key: &str, map: impl Fn(char) -> char) {
    name.clear();
    name.push_str("TASK_TAG_");
    name.extend(key.chars().map(map));
}

/// The task's own file if it has one, else `<dir>/<id><ext>`, else `null`.
fn put_task_file(buf: &mut Vec<u8>, own: Option<&str>, dir: Option<&Path>, id: Uuid, ext: &str) {
    match (own, dir) {
        (Some(path), _) => put_str(buf, path),
        (None, Some(dir)) => {
            put_path(buf, dir);
            buf.push(b'/');
            put_uuid(buf, id);
            put_str(buf, ext);
        }
        (None, None) => buf.extend_from_slice(NULL),
    }
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(s.as_bytes());
}

fn put_path(buf: &mut Vec<u8>, p: &Path) {
    buf.extend_from_slice(p.as_os_str().as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// HyperShell 2.8.2's `task` columns in its field order (reference §3.2).
    const COLUMNS: [&str; 30] = [
        "id",
        "group",
        "args",
        "submit_id",
        "submit_time",
        "submit_host",
        "cores",
        "memory",
        "cores_max",
        "memory_max",
        "timeout",
        "server_id",
        "server_host",
        "schedule_time",
        "client_id",
        "client_host",
        "command",
        "start_time",
        "completion_time",
        "exit_status",
        "outpath",
        "errpath",
        "csvpath",
        "attempt",
        "retried",
        "waited",
        "duration",
        "previous_id",
        "next_id",
        "tag",
    ];

    fn at(s: u32, micros: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, s).unwrap() + chrono::Duration::microseconds(micros)
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn engine(task_dir: Option<&Path>) -> EngineFacts<'_> {
        EngineFacts {
            engine_id: id(2),
            host: "node1",
            slot_count: 4,
            cwd: Path::new("/work"),
            task_dir,
        }
    }

    fn run<'a>(server: Option<&'a ControllerFacts>) -> RunFacts<'a> {
        RunFacts {
            command: "echo a.txt",
            slot: 3,
            start: at(9, 500_000),
            server,
            cwd: None,
            outpath: None,
            errpath: None,
            gpus: &[],
        }
    }

    fn env_of(task: &Task, run: &RunFacts<'_>, engine: &EngineFacts<'_>) -> TaskVars {
        let mut vars = TaskVars::new();
        task_env(&mut vars, task, run, engine);
        vars
    }

    /// A first attempt as a fresh engine sees it: every column's variable, in HyperShell's
    /// order, then the paths and cwd, the tags and what hs adds, each written as 2.8.2 writes it.
    #[test]
    fn a_first_attempt_gets_every_column_as_hypershell_writes_it() {
        let mut task = Task::new("a.txt");
        task.id = id(1);
        task.submit_id = Some(id(3));
        task.submit_time = at(0, 250);
        task.submit_host = Some("login".into());
        task.schedule_time = Some(at(8, 0));
        let server = ControllerFacts {
            id: id(4),
            host: Some("ctl".into()),
        };
        let dir = Path::new("/site/lib/task");
        let vars = env_of(&task, &run(Some(&server)), &engine(Some(dir)));
        let mut expected: Vec<String> = COLUMNS
            .iter()
            .filter(|c| **c != "tag")
            .map(|c| format!("TASK_{}", c.to_uppercase()))
            .collect();
        expected.extend(["TASK_CWD", "TASK_ARG", "TASK_SLOT", "TASK_SLOT_COUNT"].map(String::from));
        let mut names = vars.names();
        names.sort_unstable();
        expected.sort_unstable();
        assert_eq!(names, expected);
        let file = "00000000-0000-0000-0000-000000000001";
        for (name, value) in [
            ("TASK_ID", file.to_string()),
            ("TASK_GROUP", "0".into()),
            ("TASK_ARGS", "a.txt".into()),
            (
                "TASK_SUBMIT_ID",
                "00000000-0000-0000-0000-000000000003".into(),
            ),
            (
                "TASK_SUBMIT_TIME",
                "2024-05-01 12:00:00.000250+00:00".into(),
            ),
            ("TASK_SUBMIT_HOST", "login".into()),
            ("TASK_CORES", "null".into()),
            ("TASK_MEMORY", "null".into()),
            ("TASK_CORES_MAX", "null".into()),
            ("TASK_MEMORY_MAX", "null".into()),
            ("TASK_TIMEOUT", "null".into()),
            (
                "TASK_SERVER_ID",
                "00000000-0000-0000-0000-000000000004".into(),
            ),
            ("TASK_SERVER_HOST", "ctl".into()),
            ("TASK_SCHEDULE_TIME", "2024-05-01 12:00:08+00:00".into()),
            (
                "TASK_CLIENT_ID",
                "00000000-0000-0000-0000-000000000002".into(),
            ),
            ("TASK_CLIENT_HOST", "node1".into()),
            ("TASK_COMMAND", "echo a.txt".into()),
            ("TASK_START_TIME", "2024-05-01 12:00:09.500000+00:00".into()),
            ("TASK_COMPLETION_TIME", "null".into()),
            ("TASK_EXIT_STATUS", "null".into()),
            ("TASK_OUTPATH", format!("/site/lib/task/{file}.out")),
            ("TASK_ERRPATH", format!("/site/lib/task/{file}.err")),
            ("TASK_CSVPATH", format!("/site/lib/task/{file}.csv")),
            ("TASK_ATTEMPT", "1".into()),
            ("TASK_RETRIED", "false".into()),
            ("TASK_WAITED", "9".into()),
            ("TASK_DURATION", "null".into()),
            ("TASK_PREVIOUS_ID", "null".into()),
            ("TASK_NEXT_ID", "null".into()),
            ("TASK_CWD", "/work".into()),
            ("TASK_ARG", "a.txt".into()),
            ("TASK_SLOT", "3".into()),
            ("TASK_SLOT_COUNT", "4".into()),
        ] {
            assert_eq!(vars.get(name), Some(value.as_str()), "{name}");
        }
    }

    #[test]
    fn a_retry_with_resources_and_tags_says_so() {
        let mut task = Task::new("x");
        task.attempt = 2;
        task.group = 3;
        task.cores = Some(2);
        task.memory = Some(1 << 30);
        task.timeout = Some(30.0);
        task.retried = true;
        task.previous_id = Some(id(7));
        task.next_id = Some(id(8));
        task.submit_time = at(0, 0);
        for (k, v) in [
            ("site", serde_json::json!("b")),
            ("prod", serde_json::json!("")),
            ("n", serde_json::json!(3)),
            ("a.b-c", serde_json::json!(1.5)),
            ("ok", serde_json::json!(true)),
        ] {
            task.tag.insert(k.into(), v);
        }
        let vars = env_of(&task, &run(None), &engine(None));
        for (name, value) in [
            ("TASK_ATTEMPT", "2"),
            ("TASK_GROUP", "3"),
            ("TASK_CORES", "2"),
            ("TASK_MEMORY", "1073741824"),
            ("TASK_TIMEOUT", "30"),
            ("TASK_RETRIED", "true"),
            ("TASK_PREVIOUS_ID", "00000000-0000-0000-0000-000000000007"),
            ("TASK_NEXT_ID", "00000000-0000-0000-0000-000000000008"),
            ("TASK_SUBMIT_ID", "null"),
            ("TASK_SUBMIT_HOST", "null"),
            ("TASK_SCHEDULE_TIME", "null"),
            ("TASK_SERVER_ID", "null"),
            ("TASK_SERVER_HOST", "null"),
            ("TASK_OUTPATH", "null"),
            ("TASK_TAG_SITE", "b"),
            ("TASK_TAG_PROD", ""),
            ("TASK_TAG_N", "3"),
            ("TASK_TAG_A.B-C", "1.5"),
            ("TASK_TAG_A_B_C", "1.5"),
            ("TASK_TAG_OK", "true"),
        ] {
            assert_eq!(vars.get(name), Some(value), "{name}");
        }
    }

    #[test]
    fn a_task_with_its_own_directory_and_files_names_them() {
        let task = Task::new("x");
        let mut run = run(None);
        run.cwd = Some(Path::new("sub/dir"));
        run.outpath = Some("/data/x.out");
        let vars = env_of(&task, &run, &engine(Some(Path::new("/site/lib/task"))));
        assert_eq!(vars.get("TASK_CWD"), Some("/work/sub/dir"));
        assert_eq!(vars.get("TASK_OUTPATH"), Some("/data/x.out"));
        let err = vars.get("TASK_ERRPATH").expect("set");
        assert!(
            err.starts_with("/site/lib/task/") && err.ends_with(".err"),
            "{err}"
        );
        run.cwd = Some(Path::new("/abs"));
        assert_eq!(
            env_of(&task, &run, &engine(None)).get("TASK_CWD"),
            Some("/abs")
        );
    }

    #[test]
    fn a_tag_key_no_variable_can_name_gets_only_the_shell_form() {
        let mut task = Task::new("x");
        task.tag.insert("a=b".into(), serde_json::json!("v"));
        let vars = env_of(&task, &run(None), &engine(None));
        assert_eq!(vars.get("TASK_TAG_A_B"), Some("v"));
        assert!(
            !vars.names().iter().any(|n| n.contains('=')),
            "{:?}",
            vars.names()
        );
    }

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
