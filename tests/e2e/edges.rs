//! Edges: honest results for stopped tasks, limits on durations and sizes named at the edge,
//! output that keeps its promises (whole lines, a final newline, values passed through).

use std::time::Duration;

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(30);

/// A task that traps the walltime's SIGINT and exits 0 is still recorded as stopped by it: a
/// failure in the store (`hs list --failed` finds it), with the signal it answered.
#[test]
fn walltime_stopped_task_is_stored_as_stopped_whatever_its_shell_returns() {
    let s = Scratch::new();
    let out = run_with_input(
        s.hs(&["cluster", "-W", "0.3", "-S", "1"]),
        "trap 'exit 0' INT; sleep 30 & wait\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let list = s
        .hs(&["list", "--failed", "exit_status", "signal", "--json"])
        .output()
        .expect("hs list");
    let rows: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(
        rows,
        serde_json::json!([{"exit_status": -2, "signal": 2}]),
        "{}",
        stderr(&list)
    );
}

/// Durations too long for any clock are usage errors naming the limit, wherever they are given;
/// none reaches a slot (where it used to panic it and hang the run).
#[test]
fn durations_over_the_limit_are_refused_with_the_limit() {
    let s = Scratch::new();
    for args in [
        &["-W", "1e19"][..],
        &["-S", "1e19"],
        &["--heartrate", "1e19"],
        &["-d", "1e19"],
        &["-A", "dynamic", "-P", "1e19"],
    ] {
        let mut cmd = s.hs(&["cluster", "--no-db"]);
        cmd.args(args);
        let out = run_with_input(cmd, "echo hi\n", LIMIT);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("1000000000"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = run_with_input(
        s.hs(&["cluster", "--no-db", "-f", "failed"]),
        "echo no # HYPERSHELL: timeout:1e19\necho yes\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(stdout(&out), "yes\n");
    assert!(stderr(&out).contains("1000000000"), "{}", stderr(&out));
    let out = run_with_input(
        s.hs(&["stream"]),
        "{\"cmd\":\"echo no\",\"timeout\":1e19}\n{\"cmd\":\"echo yes\"}\n",
        LIMIT,
    );
    let results = json_lines(&out);
    assert_eq!(results.len(), 2, "{}", stderr(&out));
    assert!(
        results[0]["result"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("1000000000"))
    );
}
