//! Runs own their input (issue 12, item 6): `hs cluster`/`hsx`/`hs server` with a FILE or stdin
//! schedules the tasks it was given and their retries; what earlier runs left in the database
//! runs only with `--restart` (or `--forever`), and a plain run says in one line how much it
//! leaves alone. A retry runs exactly the command its first attempt ran.
//!
//! Every test uses the default store (the SQLite file of a scratch site), as a user would.

use std::process::{Command, Output};
use std::time::Duration;

use crate::helpers::{Scratch, hsx_bin, run_with_input, stderr, stdout};

const LIMIT: Duration = Duration::from_secs(60);

/// `hsx ARGS` with the scratch folder as site and working directory.
fn hsx(s: &Scratch, args: &[&str]) -> Command {
    let mut c = Command::new(hsx_bin());
    c.args(args)
        .current_dir(s.dir.path())
        .env("HYPERSHELL_SITE", s.path("site"))
        .env_remove("HYPERSHELL_LOGGING_LEVEL")
        .env_remove("HYPERSHELL_LOGGING_STYLE");
    c
}

fn run(cmd: Command, input: &str) -> Output {
    run_with_input(cmd, input, LIMIT)
}

/// `hs list ARGS` (tab-separated columns), which must succeed.
fn list(s: &Scratch, args: &[&str]) -> String {
    let mut full = vec!["list"];
    full.extend_from_slice(args);
    let out = run(s.hs(&full), "");
    assert_eq!(
        out.status.code(),
        Some(0),
        "hs list {args:?}: {}",
        stderr(&out)
    );
    stdout(&out)
}

/// The stderr lines that tell what earlier runs left.
fn notices(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.contains("from earlier runs"))
        .map(String::from)
        .collect()
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines.sort();
    lines
}

/// The issue's own report: after `echo 'echo old; exit 9' | hsx`, an unrelated
/// `echo x | hsx -r 2 -t 'echo new {}'` retried the old failure, under the new template. Now it
/// runs `x` only and says what it left; `--restart -r 2` retries the old failure, running
/// exactly what its first attempt ran.
#[test]
fn a_later_run_leaves_an_earlier_failure_alone_and_restart_retries_it_as_it_ran() {
    let s = Scratch::new();
    let out = run(hsx(&s, &[]), "echo old; exit 9\n");
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "old\n"),
        "{}",
        stderr(&out)
    );

    let out = run(hsx(&s, &["-r", "2", "-t", "echo new {}"]), "x\n");
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "new x\n"),
        "only its own task runs: {}",
        stderr(&out)
    );
    assert_eq!(
        notices(&out),
        [
            "WARNING 1 failed task with retries left from earlier runs is left in the database: \
          run them with --restart"
        ],
        "{}",
        stderr(&out)
    );
    assert_eq!(
        list(&s, &["--count", "-w", "args == echo old; exit 9"]).trim(),
        "1",
        "the old failure was not retried"
    );

    let out = run(hsx(&s, &["--restart", "-r", "2", "-t", "echo new {}"]), "");
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "old\nold\n"),
        "the two retries left ran the old command, not the new template: {}",
        stderr(&out)
    );
    assert!(notices(&out).is_empty(), "{}", stderr(&out));
    assert_eq!(
        list(
            &s,
            &[
                "command",
                "attempt",
                "-w",
                "args == echo old; exit 9",
                "-s",
                "attempt"
            ]
        ),
        "echo old; exit 9\t1\necho old; exit 9\t2\necho old; exit 9\t3\n"
    );
    assert_eq!(list(&s, &["command", "-w", "args == x"]), "echo new x\n");
}

/// Tasks `hs submit` added (never scheduled) are another run's: a plain run counts them in
/// one line and runs only its input; `--restart` runs them; then nothing is left to tell.
#[test]
fn unfinished_tasks_of_earlier_runs_wait_for_restart_and_a_plain_run_counts_them() {
    let s = Scratch::new();
    let out = run(s.hs(&["submit"]), "echo s1\necho s2\necho s3\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = run(s.hs(&["cluster", "-N2"]), "echo mine\n");
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "mine\n"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        notices(&out),
        [
            "WARNING 3 unfinished tasks from earlier runs are left in the database: \
          run them with --restart"
        ],
        "{}",
        stderr(&out)
    );
    assert_eq!(list(&s, &["--count", "--remaining"]).trim(), "3");

    let out = run(s.hs(&["cluster", "--restart", "-N2"]), "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(sorted_lines(&stdout(&out)), ["s1", "s2", "s3"]);
    assert_eq!(list(&s, &["--count", "--remaining"]).trim(), "0");

    let out = run(s.hs(&["cluster"]), "echo again\n");
    assert_eq!(stdout(&out), "again\n", "{}", stderr(&out));
    assert!(notices(&out).is_empty(), "{}", stderr(&out));
}

/// `hs server FILE` is a run like any other: it serves its FILE, not the leftovers, and says
/// how many there are (with failures and unfinished tasks both counted).
#[test]
fn a_server_with_a_file_serves_its_file_only() {
    let s = Scratch::new();
    let out = run(s.hs(&["submit", "echo", "left"]), "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(s.hs(&["cluster"]), "exit 3\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let port = crate::helpers::free_ports().to_string();
    let file = s.write("tasks.txt", "echo served\n");
    let server = crate::helpers::spawn_piped(s.hs(&[
        "server",
        file.to_str().expect("utf-8 path"),
        "-p",
        &port,
        "-r",
        "1",
    ]));
    s.wait_for_server(&port);
    let engine = run(s.hs(&["client", "-p", &port, "-N1"]), "");
    assert_eq!(engine.status.code(), Some(0), "{}", stderr(&engine));
    assert_eq!(stdout(&engine), "served\n", "{}", stderr(&engine));
    let out = crate::helpers::wait_output(server, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        notices(&out),
        [
            "WARNING 2 tasks (1 unfinished, 1 failed with retries left) from earlier runs are left \
          in the database: run them with --restart"
        ],
        "{}",
        stderr(&out)
    );
}

/// A task that was running when its controller was killed is an earlier run's too: a plain run
/// neither runs it again nor stops it, but counts it; `--restart` runs it.
#[test]
fn a_task_interrupted_by_a_crash_waits_for_restart() {
    use crate::helpers::{processes_with, signal, spawn_fed, wait_output, wait_until};
    use std::io::Write;
    let s = Scratch::new();
    let marker = format!("sleep 60.{}", std::process::id());
    let line = format!("echo started >> runs.txt; test -e release || {marker}\n");
    let (crashed, mut stdin) = spawn_fed(s.hs(&["cluster"]));
    stdin.write_all(line.as_bytes()).expect("write the task");
    assert!(
        wait_until(Duration::from_secs(20), || !processes_with(&marker)
            .is_empty()),
        "the task started"
    );
    signal(crashed.id(), libc::SIGKILL);
    let _ = wait_output(crashed, LIMIT);
    for pid in processes_with(&marker) {
        signal(pid, libc::SIGKILL);
    }
    drop(stdin);

    let out = run(s.hs(&["cluster"]), "echo mine\n");
    assert_eq!(stdout(&out), "mine\n", "{}", stderr(&out));
    assert_eq!(
        notices(&out),
        [
            "WARNING 1 unfinished task from earlier runs is left in the database: \
          run them with --restart"
        ],
        "{}",
        stderr(&out)
    );
    assert_eq!(s.read("runs.txt"), "started\n", "not run again");

    s.write("release", "");
    let out = run(s.hs(&["cluster", "--restart"]), "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(s.read("runs.txt"), "started\nstarted\n");
    assert_eq!(list(&s, &["--count", "--remaining"]).trim(), "0");
}
