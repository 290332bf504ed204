//! Timeouts and signal escalation through the real binary.

use std::time::{Duration, Instant};

use crate::helpers::*;

#[test]
fn timeout_stops_the_whole_process_group() {
    let s = Scratch::new();
    let marker = format!("sleep 95.{}", std::process::id());
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
