//! The environment of a task (HyperShell 2.8.2's, reference §5.3): `TASK_<COLUMN>` for every
//! column of the task's row, written as HyperShell writes them, the paths and working directory,
//! the tags; with the SQLite store and with `--no-db`. And a task killed by SIGHUP, whose
//! `exit_status` is -1 like a cancel's, is a failure (retried), not a cancel.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(60);

/// HyperShell 2.8.2's `task` columns in its field order (reference §3.2), but `tag`, which
/// becomes one `TASK_TAG_<KEY>` per tag.
const COLUMNS: [&str; 29] = [
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
];

/// The `TASK_*` variables in `env` output.
fn task_vars(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| l.starts_with("TASK_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every variable HyperShell 2.8.2 sets, with its form: times as `isoformat(sep=' ')` (hs always
/// writes the `+00:00`), ids as UUIDs, `null` for what the row does not hold yet.
fn assert_hypershell_environment(vars: &BTreeMap<String, String>, s: &Scratch) {
    let time =
        regex::Regex::new(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00$").unwrap();
    let uuid = regex::Regex::new(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
        .unwrap();
    for column in COLUMNS {
        let name = format!("TASK_{}", column.to_uppercase());
        assert!(vars.contains_key(&name), "{name} missing from {vars:?}");
    }
    for name in ["TASK_CWD", "TASK_ARG", "TASK_SLOT", "TASK_SLOT_COUNT"] {
        assert!(vars.contains_key(name), "{name} missing from {vars:?}");
    }
    let var = |name: &str| vars[name].as_str();
    for name in ["TASK_SUBMIT_TIME", "TASK_SCHEDULE_TIME", "TASK_START_TIME"] {
        assert!(time.is_match(var(name)), "{name}={}", var(name));
    }
    for name in [
        "TASK_ID",
        "TASK_SUBMIT_ID",
        "TASK_SERVER_ID",
        "TASK_CLIENT_ID",
    ] {
        assert!(uuid.is_match(var(name)), "{name}={}", var(name));
    }
    for name in [
        "TASK_CORES_MAX",
        "TASK_MEMORY_MAX",
        "TASK_COMPLETION_TIME",
        "TASK_EXIT_STATUS",
        "TASK_DURATION",
        "TASK_NEXT_ID",
    ] {
        assert_eq!(var(name), "null", "{name}");
    }
    assert_eq!(var("TASK_RETRIED"), "false");
    assert!(
        var("TASK_WAITED").parse::<i64>().is_ok(),
        "{}",
        var("TASK_WAITED")
    );
    assert_eq!(var("TASK_ARG"), var("TASK_ARGS"));
    // The paths are the site's task files whether output is captured or not.
    let dir = s.path("site/lib/task");
    for (name, ext) in [
        ("TASK_OUTPATH", "out"),
        ("TASK_ERRPATH", "err"),
        ("TASK_CSVPATH", "csv"),
    ] {
        let expected = dir.join(format!("{}.{ext}", var("TASK_ID")));
        assert_eq!(var(name), expected.to_str().unwrap(), "{name}");
    }
    let cwd = s.dir.path().canonicalize().unwrap();
    assert_eq!(
        std::path::Path::new(var("TASK_CWD"))
            .canonicalize()
            .unwrap(),
        cwd
    );
}

#[test]
fn every_task_variable_is_set_as_hypershell_writes_it() {
    for store in [&[][..], &["--no-db"][..]] {
        let s = Scratch::new();
        let mut args = vec!["cluster", "-t", "env"];
        args.extend_from_slice(store);
        let out = run_with_input(s.hs(&args), "first\n", LIMIT);
        assert_eq!(out.status.code(), Some(0), "{store:?}: {}", stderr(&out));
        let vars = task_vars(&stdout(&out));
        assert_hypershell_environment(&vars, &s);
        assert_eq!(vars["TASK_ARGS"], "first");
        assert_eq!(vars["TASK_COMMAND"], "env");
        assert_eq!(vars["TASK_ATTEMPT"], "1");
        assert_eq!(vars["TASK_PREVIOUS_ID"], "null");
        for name in ["TASK_CORES", "TASK_MEMORY", "TASK_TIMEOUT"] {
            assert_eq!(vars[name], "null", "{store:?}: {name}");
        }
        assert_eq!(
            vars["TASK_SERVER_HOST"], vars["TASK_CLIENT_HOST"],
            "one machine"
        );
    }
}

/// Tags and resources given at submission reach the task when a later cluster runs it.
#[test]
fn submitted_tags_and_resources_become_variables() {
    let s = Scratch::new();
    let tasks = s.write(
        "tasks.in",
        "env # HYPERSHELL: cores:2 memory:1G timeout:30 site:b prod n:3 a.b:1.5\n",
    );
    let out = s
        .hs(&["submit", tasks.to_str().unwrap()])
        .output()
        .expect("hs submit");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run_with_input(s.hs(&["cluster", "--restart"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let vars = task_vars(&stdout(&out));
    assert_hypershell_environment(&vars, &s);
    for (name, value) in [
        ("TASK_CORES", "2"),
        ("TASK_MEMORY", "1073741824"),
        ("TASK_TIMEOUT", "30"),
        ("TASK_TAG_SITE", "b"),
        ("TASK_TAG_PROD", ""),
        ("TASK_TAG_N", "3"),
        ("TASK_TAG_A.B", "1.5"),
        ("TASK_TAG_A_B", "1.5"),
    ] {
        assert_eq!(vars.get(name).map(String::as_str), Some(value), "{name}");
    }
    assert_ne!(
        vars["TASK_SUBMIT_ID"], vars["TASK_SERVER_ID"],
        "submitted by hs submit, scheduled by the cluster"
    );
}

/// A retry knows the attempt it retries.
#[test]
fn a_retry_names_its_previous_attempt() {
    let s = Scratch::new();
    let out = run_with_input(
        s.hs(&["cluster", "-r", "1", "-t", "env; exit 3"]),
        "x\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let (first, second) = text
        .split_once("TASK_ATTEMPT=2")
        .expect("a second attempt ran");
    let first = task_vars(first);
    let second = task_vars(&format!("TASK_ATTEMPT=2{second}"));
    assert_eq!(first["TASK_PREVIOUS_ID"], "null");
    assert_eq!(second["TASK_PREVIOUS_ID"], first["TASK_ID"]);
    // HyperShell's retry row is submitted by the server that retries it.
    assert_eq!(second["TASK_SUBMIT_ID"], second["TASK_SERVER_ID"]);
}

/// A task killed by SIGHUP is recorded as HyperShell records signal deaths (`exit_status = -1`,
/// and hs's `signal = 1`) but it is a failure like any other, so `-r` retries it; a cancel (-1
/// without a signal) would not be.
#[test]
fn a_sighup_death_is_a_failure_not_a_cancel() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster", "-r", "1"]), "kill -HUP $$\n", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("killed by signal 1"),
        "{}",
        stderr(&out)
    );
    let list = s
        .hs(&[
            "list",
            "-s",
            "attempt",
            "attempt",
            "exit_status",
            "signal",
            "retried",
        ])
        .output()
        .expect("hs list");
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    assert_eq!(
        stdout(&list).lines().collect::<Vec<_>>(),
        ["1\t-1\t1\ttrue", "2\t-1\t1\tfalse"],
        "retried once, both deaths recorded as signal deaths"
    );
    assert_eq!(
        s.hs(&["list", "--failed", "--count"])
            .output()
            .map(|o| stdout(&o))
            .unwrap()
            .trim(),
        "2"
    );

    // Without a database (where `-r` is refused, as in HyperShell): a failure all the same.
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster", "--no-db"]), "kill -HUP $$\n", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("killed by signal 1"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("1 failed"), "{}", stderr(&out));
}
