//! `hs cluster` / `hsx` on one machine.

use std::process::Command;
use std::time::Duration;

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn readme_example_runs_every_task_once() {
    let s = Scratch::new();
    let input: String = (1..=100).map(|i| format!("{i}\n")).collect();
    let out = run_with_input(s.hs(&["cluster", "-N4", "-t", "echo {}"]), &input, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(numbers_in(&stdout(&out)), (1..=100).collect::<Vec<_>>());
    assert!(
        stderr(&out).contains("tasks: 100 done, 100 succeeded, 0 failed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn hsx_is_hs_cluster_and_reads_a_file() {
    let s = Scratch::new();
    let file = s.write(
        "tasks.txt",
        "echo a\n\n# a comment line\necho 'b#c' # not a comment to the shell\n",
    );
    let mut cmd = Command::new(hsx_bin());
    cmd.arg(&file)
        .arg("-N2")
        .env("HYPERSHELL_SITE", s.path("site"));
    let out = run_with_input(cmd, "", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut lines: Vec<_> = stdout(&out).lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["a", "b#c"]);
}

#[test]
fn failures_are_sieved_to_the_failures_file_and_the_log() {
    let s = Scratch::new();
    let input = "true\nexit 3\ntrue | true\nfalse | true\nkill -9 $$\n";
    let out = run_with_input(s.hs(&["cluster", "-N2", "-f", "failed.txt"]), input, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut failed: Vec<_> = s.read("failed.txt").lines().map(String::from).collect();
    failed.sort();
    // pipefail: a failure anywhere in a pipeline fails the task.
    assert_eq!(failed, ["exit 3", "false | true", "kill -9 $$"]);
    let err = stderr(&out);
    assert!(err.contains("killed by signal 9"), "{err}");
    assert!(err.contains("exit status 3"), "{err}");
}

/// A failed task leaves the status 0, as in HyperShell, so `hsx tasks.in && next_step` runs
/// `next_step` as it did there; the summary line counts the failure. `--fail-exit` makes it 1.
#[test]
fn a_failed_task_exits_0_as_hypershell_and_1_with_fail_exit() {
    let s = Scratch::new();
    for (flags, code) in [(&[][..], 0), (&["--fail-exit"][..], 1)] {
        let mut cmd = Command::new(hsx_bin());
        cmd.arg("--no-db")
            .args(flags)
            .env("HYPERSHELL_SITE", s.path("site"));
        let out = run_with_input(cmd, "exit 3\n", LIMIT);
        assert_eq!(out.status.code(), Some(code), "{flags:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("WARNING tasks: 1 done, 0 succeeded, 1 failed"),
            "{flags:?}: {err}"
        );
    }
}

#[test]
fn templates_expand_on_the_engine_and_shell_braces_survive() {
    let s = Scratch::new();
    let cases: &[(&str, &str, &str)] = &[
        ("echo ${HOME:+home} {}", "x", "home x"),
        ("echo 'a b c' | awk '{print $2}' && echo {}", "y", "b\ny"),
        ("echo {/-} {+}", "/data/run/file.tar.gz", "file.tar .gz"),
        ("echo {[-1]} {[0:2]}", "a b c d", "d a b"),
        ("echo {= x * 2 =}", "21", "42"),
        ("echo {% printf %s @ | tr a-z A-Z %}", "shout", "SHOUT"),
    ];
    for (template, arg, expected) in cases {
        let out = run_with_input(
            s.hs(&["cluster", "-t", template]),
            &format!("{arg}\n"),
            LIMIT,
        );
        assert_eq!(out.status.code(), Some(0), "{template}: {}", stderr(&out));
        assert_eq!(stdout(&out).trim_end(), *expected, "template {template:?}");
    }
}

#[test]
fn a_template_that_fails_for_one_task_fails_only_that_task() {
    let s = Scratch::new();
    let out = run_with_input(
        s.hs(&["cluster", "-t", "echo {[2]}"]),
        "a b c\nonly-one\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out).trim(), "c");
    assert!(stderr(&out).contains("template error"), "{}", stderr(&out));
}

#[test]
fn tasks_see_their_environment() {
    let s = Scratch::new();
    let mut cmd = s.hs(&[
        "cluster",
        "-N3",
        "-t",
        "echo \"$TASK_ARGS|$TASK_ARG|$TASK_SLOT/$TASK_SLOT_COUNT|$FOO|${#TASK_ID}|$TASK_ATTEMPT\"",
    ]);
    cmd.env("HYPERSHELL_EXPORT_FOO", "bar");
    let out = run_with_input(cmd, "one\n", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = stdout(&out);
    let parts: Vec<_> = line.trim().split('|').collect();
    assert_eq!(parts[0], "one");
    assert_eq!(parts[1], "one");
    assert!(
        ["1/3", "2/3", "3/3"].contains(&parts[2]),
        "slot {}",
        parts[2]
    );
    assert_eq!(parts[3], "bar");
    assert_eq!(parts[4], "36", "TASK_ID is a UUID");
    assert_eq!(parts[5], "1");
}

#[test]
fn lines_of_concurrent_tasks_never_interleave() {
    let s = Scratch::new();
    // Each task writes 300 long lines in small pieces; every line must come out whole.
    let task = "for i in $(seq 300); do printf '%s' {}-; printf '%0200d' 0; printf '\\n'; done";
    let input: String = (1..=6).map(|i| format!("{i}\n")).collect();
    let out = run_with_input(s.hs(&["cluster", "-N3", "-t", task]), &input, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 1800);
    for l in lines {
        let (prefix, zeros) = l.split_once('-').expect("dash");
        assert!(
            prefix.parse::<u32>().is_ok() && zeros.len() == 200 && zeros.bytes().all(|b| b == b'0'),
            "torn line {l:?}"
        );
    }
}

#[test]
fn capture_writes_per_task_files_under_the_site() {
    let s = Scratch::new();
    let out = run_with_input(
        s.hs(&["cluster", "--capture", "-t", "echo out-{}; echo err-{} >&2"]),
        "7\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "captured output must not reach stdout");
    let dir = s.path("site/lib/task");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("task dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2);
    assert_eq!(std::fs::read_to_string(&names[0]).unwrap().trim(), "err-7");
    assert_eq!(std::fs::read_to_string(&names[1]).unwrap().trim(), "out-7");
}

#[test]
fn output_and_error_files() {
    let s = Scratch::new();
    let out = run_with_input(
        s.hs(&[
            "cluster",
            "-N2",
            "-o",
            "out.txt",
            "-e",
            "err.txt",
            "-t",
            "echo o{}; echo e{} >&2",
        ]),
        "1\n2\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(numbers_in(&s.read("out.txt").replace('o', "")), [1, 2]);
    assert_eq!(numbers_in(&s.read("err.txt").replace('e', "")), [1, 2]);
}

#[test]
fn zero_threads_means_one_per_core_and_empty_input_is_fine() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster", "-N0"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the input had no tasks"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn interrupt_stops_running_tasks_and_leaves_nothing_behind() {
    let s = Scratch::new();
    let marker = format!("sleep {}", unique_seconds());
    let input = format!("{marker} & {marker}; wait\n{marker}\n{marker}\n");
    let mut cmd = s.hs(&["cluster", "-N2", "-S", "0.5"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(10), || processes_with(&marker).len()
            >= 3),
        "tasks did not start"
    );
    signal(child.id(), libc::SIGINT);
    let out = wait_output(child, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_none_left(&marker, Duration::from_secs(3));
}

/// Input that fails to read (a directory) ends the run with exit 5 and says why, rather than
/// leaving the controller waiting for input that never comes; `hs submit` and `hs stream` too.
#[test]
fn unreadable_input_ends_the_run_with_exit_5() {
    let s = Scratch::new();
    let dir = s.path("a-directory");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let dir = dir.to_str().expect("utf-8");
    for args in [
        vec!["cluster", dir, "-N1", "--no-db"],
        vec!["submit", "-f", dir, "--initdb"],
    ] {
        let out = run_with_input(s.hs(&args), "", LIMIT);
        assert_eq!(out.status.code(), Some(5), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("Is a directory"), "{}", stderr(&out));
    }
    let mut stream = s.hs(&["stream", "-N1"]);
    stream
        .stdin(std::fs::File::open(dir).expect("open dir"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = wait_output(stream.spawn().expect("spawn hs"), LIMIT);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("reading the jobs stopped"),
        "{}",
        stderr(&out)
    );
}

/// hs run inside an hs task inherits the outer task's TASK_* variables; every task sees its own.
#[test]
fn task_variables_override_inherited_ones() {
    let s = Scratch::new();
    let mut cmd = s.hs(&[
        "cluster",
        "-N1",
        "--no-db",
        "-t",
        "echo $TASK_ID $TASK_ARGS $TASK_SLOT_COUNT",
    ]);
    cmd.env("TASK_ID", "stale")
        .env("TASK_ARGS", "outer")
        .env("TASK_SLOT_COUNT", "99");
    let out = run_with_input(cmd, "inner\n", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = stdout(&out);
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 3, "{line}");
    assert!(uuid::Uuid::parse_str(words[0]).is_ok(), "{line}");
    assert_eq!(&words[1..], ["inner", "1"], "{line}");
}

/// `-p` adds the TCP trio to the in-process engine's sockets: the connection file names
/// PORT+1 and PORT+2, and the local engine still runs the tasks.
#[test]
fn cluster_port_writes_the_trio_and_runs_locally() {
    use std::io::Write;
    let s = Scratch::new();
    let port = free_ports();
    let (child, mut input) = spawn_fed(s.hs(&["cluster", "-p", &port.to_string(), "-N1"]));
    let conn = s.wait_for_server(&port.to_string());
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&conn).expect("connection file"))
            .expect("connection file is JSON");
    assert_eq!(info["engine_port"], port);
    assert_eq!(info["heartbeat_port"], port + 1);
    assert_eq!(info["client_port"], port + 2);
    assert_eq!(info["host"], "127.0.0.1");
    input.write_all(b"echo local\n").expect("feed");
    drop(input);
    let out = wait_output(child, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "local\n");
    assert!(!conn.exists(), "the connection file is removed at the end");
}

/// A run whose engine leaves idle (`-T`) ends then, even with its input still open: it does
/// not wait for a reader that may never see the end of a pipe or terminal.
#[test]
fn an_idle_engine_ends_the_run_while_the_input_stays_open() {
    let s = Scratch::new();
    let (child, stdin) = spawn_fed(s.hs(&["cluster", "--no-db", "-N1", "-T", "1"]));
    let started = std::time::Instant::now();
    let out = wait_output(child, Duration::from_secs(15));
    let took = started.elapsed();
    drop(stdin);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(
        stderr(&out).contains("idle for 1s: leaving"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("the input had no tasks"),
        "{}",
        stderr(&out)
    );
}
