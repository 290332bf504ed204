//! Profiles that grow and shrink: an `[autoscale]` section in a profile's config.toml scales its
//! engines as `hs cluster -A` does, and `hs start --profile P --add K` / `--remove K` adds
//! engines to a running profile through its launcher, or has them leave. Engine counts come from `hs status --json`; deadlines are
//! generous and nothing is timed.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;
use crate::profiles::Running;

/// Engines registered with the controller.
fn registered(status: &Value) -> u64 {
    status["totals"]["engines"]
        .as_u64()
        .unwrap_or_else(|| panic!("no engine total in {status}"))
}

/// The hs processes of the cluster (the controller and the engines), without the helpers the
/// engines start (warm slot shells, cgroup cleaners).
fn cluster_processes(p: &Running) -> Vec<(u32, String)> {
    let hs = hs_bin().display().to_string();
    p.processes()
        .into_iter()
        .filter(|(_, cmd)| cmd.starts_with(&hs))
        .collect()
}

#[test]
fn an_autoscaled_profile_grows_under_a_queue_and_shrinks_when_idle() {
    let p = Running::create("elastic", &["--autoscale", "dynamic", "--max-size", "3"]);
    // A decision every second; an idle engine leaves after 2 s.
    p.edit("period = 60", "period = 1");
    p.edit("timeout = 60", "timeout = 2");
    let out = p.start_daemon(&[]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    assert!(
        stderr(&out).contains("1 engines registered"),
        "size.init is 1: {}",
        stderr(&out)
    );
    let status = p.status().expect("status --json");
    let scale = &status["launch"]["autoscale"];
    assert_eq!(scale["policy"], "dynamic", "{status}");
    assert_eq!(scale["max"], 3, "{status}");
    assert_eq!(scale["period"], 1.0, "{status}");
    let out = p.with_profile("status", &[]);
    assert!(
        stdout(&out).contains("autoscale: dynamic"),
        "{}",
        stdout(&out)
    );

    // 30 one-second tasks: far more than one engine finishes within a period or two.
    p.submit(&"sleep 1\n".repeat(30));
    let mut most = 0;
    let mut last = Value::Null;
    let finished = wait_until(Duration::from_secs(120), || {
        let Some(s) = p.status() else { return false };
        most = most.max(registered(&s));
        let done = s["tasks"]["succeeded"] == 30;
        last = s;
        done
    });
    assert!(
        finished,
        "the tasks did not finish: {last}\ncontroller log:\n{}",
        p.log()
    );
    assert!(
        most >= 2,
        "the engines never grew under a queue (at most {most}): {}",
        p.log()
    );
    assert!(most <= 3, "more engines than size.max: {most}");

    // Idle: the engines leave, and the launcher sees its processes end.
    let shrank = wait_until(Duration::from_secs(60), || {
        p.status().is_some_and(|s| {
            let gone = registered(&s) == 0 && s["launch"]["running"] == 0;
            last = s;
            gone
        })
    });
    assert!(
        shrank,
        "the idle engines did not leave: {last}\n{}",
        p.log()
    );
    assert_eq!(p.count(&["--succeeded"]), 30);

    let out = p.with_profile("stop", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let left = p.processes();
    assert!(left.is_empty(), "left after hs stop: {left:?}");
}

#[test]
fn engines_added_to_a_running_profile_take_work_leave_when_asked_and_stop_with_it() {
    let p = Running::create("grow", &["-n", "1", "-N", "1"]);
    let out = p.start_daemon(&[]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());

    let out = p.with_profile("start", &["--add", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    assert!(stderr(&out).contains("2 engines added"), "{}", stderr(&out));
    // Registered when it returns.
    let status = p.status().expect("status --json");
    assert_eq!(registered(&status), 3, "{status}");
    assert_eq!(status["launch"]["running"], 3, "{status}");
    assert!(status["launch"]["autoscale"].is_null(), "{status}");
    // The by-hand command asks the launcher the same way.
    let out = p.with_profile("engine", &["-n", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    let status = p.status().expect("status --json");
    assert_eq!(registered(&status), 4, "{status}");
    assert_eq!(status["launch"]["running"], 4, "{status}");
    let cluster = cluster_processes(&p);
    assert_eq!(
        cluster.len(),
        5,
        "the controller and 4 engines carry the site: {cluster:?}"
    );

    // Each engine runs one task at a time: the added ones take their share.
    p.submit(&"sleep 0.5\n".repeat(32));
    p.wait_completed(32, Duration::from_secs(60));
    let status = p.status().expect("status --json");
    let engines = status["engines"].as_array().expect("engines");
    assert_eq!(engines.len(), 4, "{status}");
    assert!(
        engines.iter().all(|e| e["done"].as_u64() > Some(0)),
        "an engine took no work: {status}"
    );

    // The three started last leave: their processes end and they leave the controller.
    let out = p.with_profile("start", &["--remove", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    assert!(stderr(&out).contains("3 engines left"), "{}", stderr(&out));
    let mut last = Value::Null;
    let left = wait_until(Duration::from_secs(30), || {
        p.status().is_some_and(|s| {
            let one = registered(&s) == 1 && s["launch"]["running"] == 1;
            last = s;
            one
        })
    });
    assert!(left, "the removed engines are still there: {last}");
    let cluster = cluster_processes(&p);
    assert_eq!(cluster.len(), 2, "the controller and 1 engine: {cluster:?}");
    // The one left still runs tasks.
    p.submit("echo after\n");
    p.wait_completed(33, Duration::from_secs(30));

    // hs stop ends the added engines with the first one.
    let out = p.with_profile("stop", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let left = p.processes();
    assert!(left.is_empty(), "left after hs stop: {left:?}");
}

#[test]
fn bad_add_counts_a_stopped_profile_and_an_unknown_policy_are_refused() {
    let p = Running::create("refuse", &["-n", "1"]);
    for n in ["0", "-2", "two"] {
        let out = p.with_profile("start", &["--add", n]);
        assert_eq!(out.status.code(), Some(2), "--add {n}: {}", stderr(&out));
        assert!(stderr(&out).contains("--add"), "{}", stderr(&out));
    }
    for n in ["0", "-1"] {
        let out = p.with_profile("start", &["--remove", n]);
        assert_eq!(out.status.code(), Some(2), "--remove {n}: {}", stderr(&out));
    }
    let out = p.with_profile("engine", &["-n", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // Engines of a profile's launcher take the profile's settings, not this engine's flags.
    let out = p.with_profile("engine", &["-n", "1", "-N", "4"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = p.run(&["engine", "-n", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--profile"), "{}", stderr(&out));
    // Not running: exit 11, as hs status and hs stop.
    for cmd in [["start", "--add"], ["start", "--remove"], ["engine", "-n"]] {
        let out = p.with_profile(cmd[0], &[cmd[1], "1"]);
        assert_eq!(out.status.code(), Some(11), "{cmd:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("no running cluster"),
            "{}",
            stderr(&out)
        );
    }

    // The commented section, turned on with a policy hs does not know.
    p.edit(
        "# [autoscale]\n# policy = \"dynamic\"",
        "[autoscale]\npolicy = \"elastic\"",
    );
    for out in [p.with_profile("start", &[]), p.start_daemon(&[])] {
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("autoscale.policy") && err.contains("\"elastic\""),
            "{err}"
        );
        assert!(!p.security("cluster.json").exists());
        assert!(p.processes().is_empty());
    }
    let out = p.run(&["profile", "show", "refuse"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("autoscale.policy"),
        "{}",
        stderr(&out)
    );
}

/// An `ssh` on PATH that notes the host it is asked for and runs the remote command here: the
/// launcher's choice of host, without hosts to reach.
const FAKE_SSH: &str = r#"#!/bin/bash
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
echo "$1" >> "$(dirname "$0")/hosts.log"
exec bash -c "$2"
"#;

#[test]
fn engines_added_to_an_ssh_profile_go_to_the_hosts_running_fewest() {
    use std::os::unix::fs::PermissionsExt;
    let p = Running::create("spread", &["--launcher", "ssh", "--hosts", "a,b,c"]);
    let bin = p.s.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let ssh = bin.join("ssh");
    std::fs::write(&ssh, FAKE_SSH).unwrap();
    std::fs::set_permissions(&ssh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut start = p.hs(&[
        "start",
        "--profile",
        "spread",
        "--daemonize",
        "--startup-timeout",
        "20",
    ]);
    start.env("PATH", &path);
    let out = run_with_input(start, "", crate::profiles::LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    // The sessions start side by side: their lines come in any order.
    let hosts = || {
        let text = std::fs::read_to_string(bin.join("hosts.log")).unwrap_or_default();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines.sort();
        lines.join(" ")
    };
    assert_eq!(hosts(), "a b c");

    // The newest session (c's) leaves; the next engine goes where none runs, then one more on
    // each host, in the nodefile's order.
    let out = p.with_profile("start", &["--remove", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    let out = p.with_profile("start", &["--add", "4"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    assert_eq!(hosts(), "a a b b c c c");
    assert_eq!(registered(&p.status().expect("status --json")), 6);

    let out = p.with_profile("stop", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let left = p.processes();
    assert!(left.is_empty(), "left after hs stop: {left:?}");
}
