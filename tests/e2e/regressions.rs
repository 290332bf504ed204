//! Single defects from issue 12's list, each pinned by a test named after what it fixes.

use std::time::{Duration, Instant};

use crate::helpers::{Scratch, run_with_input, stderr, stdout};

const LIMIT: Duration = Duration::from_secs(60);

/// `-d/--delay-start` applies to the in-process engine of `hs cluster` too (it was ignored
/// unless a launcher started the engines): the task starts only once the delay has passed.
#[test]
fn delay_start_holds_back_the_local_engine_of_hs_cluster() {
    let s = Scratch::new();
    let started = Instant::now();
    let out = run_with_input(
        s.hs(&["cluster", "-d", "2", "-N1"]),
        "echo delayed\n",
        LIMIT,
    );
    let elapsed = started.elapsed();
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(0), "delayed\n"),
        "{}",
        stderr(&out)
    );
    assert!(elapsed >= Duration::from_secs(2), "ran after {elapsed:?}");
    // Waited from submission to start, in whole seconds: the delay is on record too.
    let out = run_with_input(s.hs(&["list", "waited"]), "", LIMIT);
    let waited: i64 = stdout(&out).trim().parse().expect("one waited value");
    assert!(waited >= 1, "waited {waited}s: {}", stderr(&out));
}

/// `hs update --cancel` said tasks already handed to an engine keep running; a controller on
/// the database stops them (see `durable::cancel_stops_running_and_waiting_tasks_of_a_live_server`),
/// and the message says so.
#[test]
fn update_cancel_says_running_tasks_are_stopped() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["submit", "sleep", "5"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run_with_input(
        s.hs(&[
            "update",
            "-w",
            "args == sleep 5",
            "--cancel",
            "--no-confirm",
        ]),
        "",
        LIMIT,
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("keep running"), "{err}");
    assert!(
        err.contains("a running controller stops those of them its engines are running"),
        "{err}"
    );
}

/// A `-w` regular expression the stores refuse (`[z-a]`) is a usage error on one line (exit 2),
/// not a database error (exit 5).
#[test]
fn a_bad_regex_in_where_is_a_usage_error() {
    let s = Scratch::new();
    let where_ = ["-w", "args ~ [z-a]"];
    for args in [
        [&["list"][..], &where_].concat(),
        [&["update"][..], &where_, &["--cancel", "--no-confirm"]].concat(),
    ] {
        let command = args[0];
        let out = run_with_input(s.hs(&args), "", LIMIT);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "hs {command}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains(r#"where clause "args ~ [z-a]": invalid regular expression"#),
            "{err}"
        );
    }
}
