//! Resources end to end: engines declaring small core counts and fake GPU lists, tasks asking
//! for cores and GPUs, and the bad input around them.
//!
//! Sharing is detected with lock directories rather than timing: a task takes `mkdir LOCK`
//! for what it holds and prints CLASH if another running task already holds it.

use std::time::Duration;

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(60);

/// A task that holds `lock` for a moment, printing CLASH if it is already held.
/// `cmd` with `name=value` in its environment.
fn with_env(mut cmd: std::process::Command, name: &str, value: &str) -> std::process::Command {
    cmd.env(name, value);
    cmd
}

fn holding(lock: &str, directive: &str) -> String {
    format!(
        "mkdir {lock} 2>/dev/null || echo CLASH {lock}; sleep 0.2; rmdir {lock} # HYPERSHELL: {directive}\n"
    )
}

#[test]
fn gpu_tasks_get_their_own_devices_and_never_share_one() {
    let s = Scratch::new();
    let mut input = String::new();
    for _ in 0..6 {
        input.push_str(&holding("gpu.$CUDA_VISIBLE_DEVICES", "gpus:1"));
        input.push_str(
            "echo seen $CUDA_VISIBLE_DEVICES $ROCR_VISIBLE_DEVICES $HYPERSHELL_GPUS $TASK_GPUS \
             # HYPERSHELL: gpus:1\n",
        );
    }
    input.push_str("echo both $CUDA_VISIBLE_DEVICES # HYPERSHELL: gpus:2\n");
    input.push_str("echo none [$TASK_GPUS]\n");
    let out = run_with_input(
        s.hs(&["cluster", "-N", "4", "--client-gpus", "0,1", "--no-db"]),
        &input,
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("CLASH"), "{text}");
    let seen: Vec<&str> = text.lines().filter(|l| l.starts_with("seen ")).collect();
    assert_eq!(seen.len(), 6, "{text}");
    for line in seen {
        assert!(
            line == "seen 0 0 0 0" || line == "seen 1 1 1 1",
            "one device under every name: {line}"
        );
    }
    assert!(text.lines().any(|l| l == "both 0,1"), "{text}");
    assert!(text.lines().any(|l| l == "none []"), "{text}");
}

#[test]
fn an_engine_runs_together_only_what_fits_its_cores() {
    let s = Scratch::new();
    let mut input = String::new();
    for _ in 0..4 {
        // Two of these fill the engine's 4 cores: a third at once would clash on its lock.
        input.push_str(&holding("slot.$TASK_SLOT.busy", "cores:2"));
        input.push_str(&holding("whole", "cores:4"));
    }
    input.push_str("echo cores=$TASK_CORES memory=$TASK_MEMORY # HYPERSHELL: cores:1 memory:1K\n");
    let out = run_with_input(
        s.hs(&["cluster", "-N", "4", "-C", "4", "--no-db"]),
        &input,
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("CLASH"), "{text}");
    assert!(text.contains("cores=1 memory=1024"), "{text}");
}

#[test]
fn a_task_larger_than_every_engine_fails_with_minus_3_and_says_why() {
    let s = Scratch::new();
    let out = run_with_input(
        with_env(
            s.hs(&["cluster", "-N", "2", "-C", "4", "--client-gpus", "0"]),
            "HYPERSHELL_SERVER_HOSTWAIT",
            "1",
        ),
        "echo big # HYPERSHELL: cores:16\necho small ran # HYPERSHELL: cores:2\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("small ran"));
    assert!(
        stderr(&out).contains("no engine is large enough for it (16 cores > 4)"),
        "{}",
        stderr(&out)
    );
    let listed = run_with_input(
        s.hs(&["list", "args", "exit_status", "--failed", "--csv"]),
        "",
        LIMIT,
    );
    assert!(
        stdout(&listed).contains("echo big,-3"),
        "{}{}",
        stdout(&listed),
        stderr(&listed)
    );
}

#[test]
fn bad_resource_values_are_usage_errors_naming_the_value() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster", "-m", "12Q", "--no-db"]), "true\n", LIMIT);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("12Q"), "{}", stderr(&out));
    let out = run_with_input(
        s.hs(&["cluster", "--client-gpus", "0,1,0", "--no-db"]),
        "true\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("names device 0 twice"),
        "{}",
        stderr(&out)
    );
    let out = run_with_input(s.hs(&["client", "--gpus", "a,a"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn visible_devices_are_the_gpus_an_engine_finds() {
    let s = Scratch::new();
    let out = run_with_input(
        with_env(
            s.hs(&["cluster", "-N", "2", "--no-db"]),
            "CUDA_VISIBLE_DEVICES",
            "5",
        ),
        "echo got $CUDA_VISIBLE_DEVICES # HYPERSHELL: gpus:1\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("got 5"), "{}", stdout(&out));
}
