//! Timeouts and signal escalation through the real binary.

use std::time::{Duration, Instant};

use crate::helpers::*;

#[test]
fn timeout_stops_the_whole_process_group() {
    let s = Scratch::new();
    let marker = format!("sleep {}", unique_seconds());
    let start = Instant::now();
    let out = run_with_input(
        s.hs(&["cluster", "-W", "0.5", "-S", "0.3"]),
        &format!("{marker} & {marker}; wait\n"),
        Duration::from_secs(30),
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("timed out after 0.5s"),
        "{}",
        stderr(&out)
    );
    assert!(
        wait_until(Duration::from_secs(3), || processes_with(&marker)
            .is_empty()),
        "grandchild survived"
    );
}

#[test]
fn a_task_that_ignores_sigint_and_sigterm_is_killed() {
    let s = Scratch::new();
    let out = run_with_input(
        s.hs(&["cluster", "-W", "0.3", "-S", "0.2"]),
        "trap '' INT TERM; sleep 30\n",
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("stopped with signal 9"),
        "{}",
        stderr(&out)
    );
}

/// Both executors through the binary: the same task lines give the same output, `--executor`
/// and `task.executor` choose, and a bash that would read `BASH_ENV` for every task gets the
/// fresh-exec executor after one log line.
#[test]
fn executors_are_chosen_by_flag_or_key_and_give_the_same_output() {
    let s = Scratch::new();
    let tasks = "echo \"$BASH_SUBSHELL $SHLVL $0 $(( $$ == BASHPID ))\"\nexit 3\nkill $$\necho \"$TASK_ARGS\"\n";
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["cluster", "-N1", "--no-db"];
        args.extend_from_slice(extra);
        let mut cmd = s.hs(&args);
        cmd.envs(env.iter().copied());
        run_with_input(cmd, tasks, Duration::from_secs(30))
    };
    let warm = run(&[], &[]);
    let spawn = run(&["--executor", "spawn"], &[]);
    let by_key = run(&[], &[("HYPERSHELL_TASK_EXECUTOR", "spawn")]);
    assert!(
        stdout(&warm).starts_with("0 ") && stdout(&warm).contains(" bash 1\n"),
        "{}",
        stdout(&warm)
    );
    for out in [&warm, &spawn, &by_key] {
        assert_eq!(stdout(out), stdout(&warm), "{}", stderr(out));
        assert!(
            stderr(out).contains("(killed by signal 15)"),
            "{}",
            stderr(out)
        );
        assert!(!stderr(out).contains("warm executor"), "{}", stderr(out));
    }
    let fallback = run(&[], &[("BASH_ENV", "/dev/null")]);
    assert_eq!(stdout(&fallback), stdout(&warm));
    assert_eq!(
        stderr(&fallback)
            .matches("warm executor unavailable (BASH_ENV is set")
            .count(),
        1,
        "{}",
        stderr(&fallback)
    );
    let bad = run(&["--executor", "cold"], &[]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}
