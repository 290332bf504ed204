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

/// `nohup hs …` outlives its terminal: the inherited ignore of SIGHUP is kept (SIGTERM still
/// stops it).
#[test]
fn nohup_keeps_sighup_ignored() {
    let s = Scratch::new();
    let mut cmd = std::process::Command::new("nohup");
    cmd.arg(hs_bin())
        .args(["cluster", "--no-db"])
        .current_dir(s.dir.path())
        .env("HYPERSHELL_SITE", s.path("site"));
    let (child, mut stdin) = spawn_fed(cmd);
    use std::io::Write;
    stdin.write_all(b"echo before\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    signal(child.id(), libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(child.id()), "SIGHUP stopped a nohup'd hs");
    stdin.write_all(b"echo after\n").unwrap();
    drop(stdin);
    let out = wait_output(child, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "before\nafter\n");
}

/// Logs written to a file or a pipe carry no colour codes, the fields of an event included.
#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let s = Scratch::new();
    let out = run_with_input(
        s.hs(&["cluster", "--no-db", "-t", "{= 1/0 =}"]),
        "x\n",
        LIMIT,
    );
    let err = stderr(&out);
    assert!(err.contains("division by zero task="), "{err}");
    assert!(!err.contains('\x1b'), "{err:?}");
}

/// An engine whose running tasks were stopped because its controller was interrupted exits 4
/// (interrupted), not 0: its tasks went back unfinished.
#[test]
fn engine_exits_interrupted_when_its_controller_stops_its_running_tasks() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let file = s.write("tasks.txt", "touch started; sleep 30\n");
    let server = spawn_piped(s.hs(&["server", file.to_str().unwrap(), "-p", &port]));
    s.wait_for_server(&port);
    let client = spawn_piped(s.hs(&["client", "-p", &port, "-S", "1"]));
    assert!(wait_until(LIMIT, || s.path("started").exists()));
    signal(server.id(), libc::SIGINT);
    let server = wait_output(server, LIMIT);
    assert_eq!(server.status.code(), Some(4), "{}", stderr(&server));
    let client = wait_output(client, LIMIT);
    assert_eq!(client.status.code(), Some(4), "{}", stderr(&client));
}

/// A task's last line without a newline gets one: it never runs into the next task's output.
#[test]
fn a_missing_final_newline_is_added_per_task() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster", "--no-db"]), "printf a\nprintf b\n", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "a\nb\n");
}

/// Lines of several MiB from tasks running at once come out whole.
#[test]
fn long_lines_of_different_tasks_stay_whole() {
    let s = Scratch::new();
    let tasks: String = ["a", "b", "c", "d"]
        .iter()
        .map(|c| format!("head -c 3000000 /dev/zero | tr '\\0' {c}; echo\n"))
        .collect();
    let out = run_with_input(s.hs(&["cluster", "--no-db", "-N4"]), &tasks, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    assert_eq!(lines.len(), 4);
    for (line, c) in lines.iter().zip(['a', 'b', 'c', 'd']) {
        assert!(line.len() == 3_000_000 && line.chars().all(|x| x == c));
    }
}

/// Output that cannot be written fails its task (exit_status -5 in the store) and the run
/// exits 5.
#[test]
fn output_that_cannot_be_written_fails_the_task_and_the_run() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster", "-o", "/dev/full"]), "echo lost\n", LIMIT);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("No space left on device"),
        "{}",
        stderr(&out)
    );
    let list = s
        .hs(&["list", "--failed", "exit_status", "--json"])
        .output()
        .expect("hs list");
    let rows: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    assert_eq!(rows, serde_json::json!([{"exit_status": -5}]));
}

/// `hs cluster … | head -1`: once stdout's reader is gone the run stops as on Ctrl-C (exit 4)
/// instead of running the rest with its output thrown away.
#[test]
fn a_closed_stdout_stops_the_run() {
    use std::io::{BufRead, BufReader};
    let s = Scratch::new();
    let tasks: String = (1..=300)
        .map(|i| format!("sleep 0.05; echo {i}\n"))
        .collect();
    let file = s.write("tasks.txt", &tasks);
    let mut cmd = s.hs(&["cluster", "--no-db", "-N2", file.to_str().unwrap()]);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn hs");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read");
    assert!(!first.is_empty());
    // The reader is dropped here: the next line hs writes meets a broken pipe.
    let out = wait_output(child, LIMIT);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("stdout was closed by its reader"), "{err}");
    assert!(err.contains("not finished"), "{err}");
}

/// A line too large for a message is refused with its line number; the rest runs.
#[test]
fn a_task_too_large_for_a_message_is_refused_with_its_line_number() {
    let s = Scratch::new();
    let input = format!("echo first\n: {}\necho last\n", "y".repeat(9 << 20));
    let out = run_with_input(s.hs(&["cluster", "--no-db"]), &input, LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 2: longer than"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "first\nlast\n");
}
