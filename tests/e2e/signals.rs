//! SIGUSR1 and SIGUSR2 (HyperShell's signals, reference §1.10): an engine drains (USR1) or stops
//! its running tasks (USR2), handing back what it does not finish; a controller stops
//! scheduling. Every task runs to its end exactly once, and nothing counts as an attempt.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::*;

/// Each task appends its number to `started.txt` when it starts and to `done.txt` when it ends.
const MARK: &str = "echo {} >> started.txt; sleep 1; echo {} >> done.txt";

/// A server on `port` for the tasks 1..=n (numbers, run through each engine's template).
fn server(s: &Scratch, port: &str, n: u64, extra: &[&str]) -> Child {
    let tasks: String = (1..=n).map(|i| format!("{i}\n")).collect();
    let file = s.write("tasks.txt", &tasks);
    let mut args = vec!["server", file.to_str().unwrap(), "-p", port];
    args.extend_from_slice(extra);
    let server = spawn_piped(s.hs(&args));
    s.wait_for_server(port);
    server
}

/// An engine with `slots` slots running [`MARK`].
fn engine(s: &Scratch, port: &str, slots: &str, extra: &[&str]) -> Child {
    let mut args = vec!["client", "-p", port, "-N", slots, "-t", MARK];
    args.extend_from_slice(extra);
    spawn_piped(s.hs(&args))
}

/// Wait until `n` tasks have started.
fn started(s: &Scratch, n: usize) {
    assert!(
        wait_until(Duration::from_secs(30), || numbers_in(
            &s.read("started.txt")
        )
        .len()
            >= n),
        "tasks did not start: {}",
        s.read("started.txt")
    );
}

/// Every task of 1..=n ended exactly once.
fn each_done_once(s: &Scratch, n: u64) {
    assert_eq!(
        numbers_in(&s.read("done.txt")),
        (1..=n).collect::<Vec<_>>(),
        "started: {}",
        s.read("started.txt")
    );
}

fn attempts(s: &Scratch) -> String {
    let out = s.hs(&["list", "attempt"]).output().expect("hs list");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn sigusr1_drains_an_engine_its_tasks_run_once_and_the_unstarted_go_to_the_other() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let server = server(&s, &port, 24, &[]);
    let victim = engine(&s, &port, "2", &[]);
    started(&s, 2);
    let survivor = engine(&s, &port, "2", &[]);
    signal(victim.id(), libc::SIGUSR1);
    let victim = wait_output(victim, Duration::from_secs(30));
    let log = stderr(&victim);
    assert_eq!(victim.status.code(), Some(0), "{log}");
    assert!(log.contains("draining:"), "{log}");
    // Its prefetched tasks went back at once; its two running ones finished there.
    assert!(log.contains("handed back"), "{log}");
    let out = wait_output(server, Duration::from_secs(60));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("tasks: 24 done, 24 succeeded"), "{err}");
    assert!(err.contains("is draining"), "{err}");
    // Nothing ran twice: every task started once and ended once.
    assert_eq!(
        numbers_in(&s.read("started.txt")),
        (1..=24).collect::<Vec<_>>()
    );
    each_done_once(&s, 24);
    let survivor = wait_output(survivor, Duration::from_secs(20));
    assert_eq!(survivor.status.code(), Some(0), "{}", stderr(&survivor));
}

#[test]
fn sigusr2_stops_an_engines_running_tasks_and_hands_them_back_without_an_attempt() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    // No retries: a stop counted as a failed attempt would leave its task failed and not done.
    let server = server(&s, &port, 10, &[]);
    let victim = engine(&s, &port, "2", &["-S", "1"]);
    started(&s, 2);
    let survivor = engine(&s, &port, "2", &[]);
    signal(victim.id(), libc::SIGUSR2);
    let victim = wait_output(victim, Duration::from_secs(30));
    let log = stderr(&victim);
    assert_eq!(victim.status.code(), Some(0), "{log}");
    assert!(log.contains("stopping 2 running tasks"), "{log}");
    let out = wait_output(server, Duration::from_secs(60));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("tasks: 10 done, 10 succeeded, 0 failed"),
        "{err}"
    );
    each_done_once(&s, 10);
    // The two stopped tasks started again, from scratch, on the other engine.
    assert_eq!(numbers_in(&s.read("started.txt")).len(), 12);
    assert_eq!(
        attempts(&s),
        "1\n".repeat(10),
        "no stop counted as an attempt"
    );
    let survivor = wait_output(survivor, Duration::from_secs(20));
    assert_eq!(survivor.status.code(), Some(0), "{}", stderr(&survivor));
}

#[test]
fn a_drained_engine_that_holds_nothing_exits_0_at_once_also_while_starting() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let server = spawn_piped(s.hs(&["server", "--forever", "--no-db", "-p", &port]));
    s.wait_for_server(&port);
    let idle = engine(&s, &port, "2", &[]);
    // Registered or not by now, it holds nothing either way.
    std::thread::sleep(Duration::from_millis(500));
    signal(idle.id(), libc::SIGUSR1);
    let idle = wait_output(idle, Duration::from_secs(5));
    assert_eq!(idle.status.code(), Some(0), "{}", stderr(&idle));
    assert!(
        stderr(&idle).contains("holds no tasks"),
        "{}",
        stderr(&idle)
    );
    // Signalled as it starts: the handler is among the first things an engine sets up.
    let starting = engine(&s, &port, "2", &[]);
    std::thread::sleep(Duration::from_millis(30));
    signal(starting.id(), libc::SIGUSR2);
    let starting = wait_output(starting, Duration::from_secs(5));
    assert_eq!(starting.status.code(), Some(0), "{}", stderr(&starting));
    // A controller with nothing to do stops at once too.
    signal(server.id(), libc::SIGUSR1);
    let out = wait_output(server, Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn sigusr1_on_the_server_finishes_running_tasks_and_keeps_the_rest_for_restart() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let server = server(&s, &port, 12, &[]);
    let eng = engine(&s, &port, "2", &[]);
    started(&s, 2);
    signal(server.id(), libc::SIGUSR1);
    let out = wait_output(server, Duration::from_secs(30));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("not finished (stopped)"), "{err}");
    assert!(err.contains("`--restart` runs them"), "{err}");
    let eng = wait_output(eng, Duration::from_secs(10));
    assert_eq!(eng.status.code(), Some(0), "{}", stderr(&eng));
    // What was running finished and was recorded; nothing else started.
    let first = numbers_in(&s.read("done.txt"));
    assert_eq!(numbers_in(&s.read("started.txt")), first);
    assert!(!first.is_empty() && first.len() < 12, "{first:?}");

    let port = free_ports().to_string();
    let again = spawn_piped(s.hs(&["server", "--restart", "-p", &port]));
    s.wait_for_server(&port);
    let eng = engine(&s, &port, "4", &[]);
    let out = wait_output(again, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let _ = wait_output(eng, Duration::from_secs(10));
    each_done_once(&s, 12);
    assert_eq!(attempts(&s), "1\n".repeat(12));
}

#[test]
fn sigusr2_on_hs_cluster_stops_its_tasks_and_a_restart_runs_them_again() {
    let s = Scratch::new();
    let tasks: String = (1..=8).map(|i| format!("{i}\n")).collect();
    s.write("tasks.txt", &tasks);
    let cluster = spawn_piped(s.hs(&["cluster", "tasks.txt", "-N2", "-S", "1", "-t", MARK]));
    started(&s, 2);
    signal(cluster.id(), libc::SIGUSR2);
    let out = wait_output(cluster, Duration::from_secs(30));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("not finished"), "{err}");
    assert!(
        s.read("done.txt").is_empty(),
        "the running tasks were stopped"
    );
    let out = s
        .hs(&["cluster", "--restart", "-N4", "-t", MARK])
        .stdin(Stdio::null())
        .output()
        .expect("hs cluster --restart");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    each_done_once(&s, 8);
    assert_eq!(attempts(&s), "1\n".repeat(8));
}

/// The process ids whose parent is `pid`.
fn children(pid: u32) -> Vec<u32> {
    live_pids()
        .into_iter()
        .filter(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
                stat.rsplit(')')
                    .next()
                    .and_then(|rest| rest.split_whitespace().nth(1))
                    .is_some_and(|ppid| ppid == pid.to_string())
            })
        })
        .collect()
}

/// A batch system may signal every process of a job at once (Slurm does, for a step): tasks
/// killed by the signal that drains their engine were not failures, and run again elsewhere.
#[test]
fn tasks_killed_by_the_signal_that_drains_their_engine_run_again_elsewhere() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let server = server(&s, &port, 8, &[]);
    let victim = engine(&s, &port, "2", &[]);
    started(&s, 2);
    // The two task shells and, with the warm executor, the slot shells they were forked from:
    // the batch system signals those too.
    let tasks = children(victim.id());
    assert!(tasks.len() >= 2, "two task shells run: {tasks:?}");
    for pid in tasks {
        signal(pid, libc::SIGUSR1);
    }
    signal(victim.id(), libc::SIGUSR1);
    let victim = wait_output(victim, Duration::from_secs(30));
    let log = stderr(&victim);
    assert_eq!(victim.status.code(), Some(0), "{log}");
    assert!(
        log.contains("killed by the SIGUSR1 sent to this engine's whole job"),
        "{log}"
    );
    let survivor = engine(&s, &port, "2", &[]);
    let out = wait_output(server, Duration::from_secs(60));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("tasks: 8 done, 8 succeeded, 0 failed"),
        "{err}"
    );
    each_done_once(&s, 8);
    assert_eq!(attempts(&s), "1\n".repeat(8));
    let _ = wait_output(survivor, Duration::from_secs(20));
}

/// The pilot-job recipe: `srun --signal=USR1@N` asks Slurm to signal the engine it runs N
/// seconds before the step's time limit. Slurm signals every process of the step, so these
/// tasks ignore the signal (as docs/signals.md recommends for tasks that must finish through a
/// drain): the engine finishes them, hands back the rest, and another engine runs that.
#[test]
fn srun_signal_usr1_drains_the_engine_of_a_slurm_step() {
    let _hold = hold_netns_hosts(false);
    let Some(conf) = crate::launch::infra_var("HS_SLURM_CONF", "Slurm was not started") else {
        return;
    };
    let s = Scratch::new();
    let port = free_ports().to_string();
    let key = "signals-test-key-0123456789";
    let server = server(&s, &port, 100, &["-H", "10.77.0.1", "-k", key]);
    let started_txt = s.path("started.txt");
    let done_txt = s.path("done.txt");
    let template = format!(
        "trap '' USR1; echo {{}} >> {}; sleep 1; echo {{}} >> {}",
        started_txt.display(),
        done_txt.display()
    );
    let client = |slots: &str| -> Vec<String> {
        [
            "client",
            "-H",
            "10.77.0.1",
            "-p",
            &port,
            "-k",
            key,
            "-N",
            slots,
            "-t",
            &template,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    // A one-minute step, signalled 55 s before its end: Slurm sends it at its first check of
    // time limits after that, within about 30 s. The engine has 50 s of work, so it is busy then.
    let mut srun = Command::new("srun");
    srun.args(["-N1", "-n1", "-t", "1", "--signal=USR1@55", "-J"])
        .arg(format!("hs-signals-{port}"))
        .arg(hs_bin())
        .args(client("2"))
        .current_dir(s.dir.path())
        .env("SLURM_CONF", &conf)
        .env("HYPERSHELL_SITE", s.path("site"));
    let pilot = wait_output(spawn_piped(srun), Duration::from_secs(90));
    let log = stderr(&pilot);
    assert_eq!(pilot.status.code(), Some(0), "{log}");
    assert!(log.contains("SIGUSR1: draining"), "{log}");
    assert!(
        log.contains("tasks not started handed back; waiting for"),
        "it held tasks when it was signalled: {log}"
    );
    // Then another engine runs what the pilot handed back and what it never got.
    let mut local = s.hs(&client("4").iter().map(String::as_str).collect::<Vec<_>>());
    local.stdin(Stdio::null());
    let other = spawn_piped(local);
    let out = wait_output(server, Duration::from_secs(120));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("tasks: 100 done, 100 succeeded, 0 failed"),
        "{err}"
    );
    each_done_once(&s, 100);
    assert_eq!(attempts(&s), "1\n".repeat(100));
    let _ = wait_output(other, Duration::from_secs(10));
}

/// A server whose stderr reader has gone (a closed terminal, a log pipe that quit) still stops
/// on a signal: a log line it cannot write is dropped, not allowed to kill the signal thread.
#[test]
fn signals_stop_a_server_whose_stderr_is_gone() {
    let s = Scratch::new();
    for sig in [libc::SIGTERM, libc::SIGUSR1] {
        let port = free_ports().to_string();
        let mut server = server(&s, &port, 3, &[]);
        drop(server.stderr.take());
        drop(server.stdout.take());
        signal(server.id(), sig);
        let pid = server.id();
        let stopped = wait_until(Duration::from_secs(20), || {
            server.try_wait().ok().flatten().is_some()
        });
        if !stopped {
            signal(pid, libc::SIGKILL);
        }
        assert!(stopped, "signal {sig} did not stop the server");
    }
}
