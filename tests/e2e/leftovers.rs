//! Nothing a task starts outlives it or its engine (docs/reliability.md): an engine killed with
//! SIGKILL takes its running tasks' whole trees with it, `setsid` children too; what a task
//! leaves running when it ends is killed with it unless `--keep-daemons`; a walltime stop
//! reaches what left the task's process group. And an engine cut off from its controller stops
//! its running task before the controller could requeue it, then gives up (`--reconnect-limit`)
//! and exits 5.

use std::time::Duration;

use crate::helpers::*;

const KEY: &str = "leftovers-test-key-0123456789abcdef";

/// Whether `pid` runs in a cgroup the engine made for its tasks (`…/hs-PID/slot-N`). Without
/// one, what leaves the process group cannot be caught (the documented fallback).
fn in_task_cgroup(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|c| {
        c.lines()
            .any(|l| l.starts_with("0::") && l.contains("/slot-"))
    })
}

/// The pid of the one process whose command line is exactly `sleep SECONDS`.
fn sleeper(marker: &str) -> Option<u32> {
    processes_with(marker)
        .into_iter()
        .find(|&pid| cmdline(pid).trim() == marker)
}

/// Skips (loudly) where no cgroup could be made for the task that `marker` names.
fn cgroups_here(marker: &str) -> bool {
    let here = sleeper(marker).is_some_and(in_task_cgroup);
    if !here {
        skip_or_fail("no cgroup v2 for tasks here: setsid children are not followed");
    }
    here
}

/// The watchdog that cleans up after the engine `pid` (`/bin/sh -c … …/hs-PID`).
fn watchdog_of(pid: u32) -> Option<u32> {
    let root = format!("/hs-{pid} ");
    processes_with(&root)
        .into_iter()
        .find(|&p| cmdline(p).starts_with("/bin/sh -c "))
}

#[test]
fn a_killed_engine_takes_its_running_tasks_and_their_setsid_children_along() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let (daemon, task) = (
        format!("sleep {}", unique_seconds()),
        format!("sleep {}", unique_seconds()),
    );
    let file = s.write("tasks.txt", &format!("setsid {daemon} & {task}\n"));
    let server = spawn_piped(s.hs(&[
        "server",
        file.to_str().unwrap(),
        "-p",
        &port,
        "-k",
        KEY,
        "--no-db",
    ]));
    s.wait_for_server(&port);
    let client = spawn_piped(s.hs(&["client", "-p", &port, "-k", KEY]));
    assert!(
        wait_until(Duration::from_secs(15), || sleeper(&daemon).is_some()
            && sleeper(&task).is_some()),
        "the task did not start"
    );
    let with_cgroup = cgroups_here(&daemon);
    if with_cgroup {
        // The watchdog's /bin/sh is started from a thread of its own, not waited for.
        assert!(
            wait_until(Duration::from_secs(5), || watchdog_of(client.id())
                .is_some()),
            "the engine has a watchdog"
        );
        let watchdog = watchdog_of(client.id()).expect("the watchdog");
        let environ = std::fs::read(format!("/proc/{watchdog}/environ")).unwrap_or_default();
        let names: Vec<_> = String::from_utf8_lossy(&environ)
            .split('\0')
            .filter_map(|var| var.split_once('=').map(|(name, _)| name.to_string()))
            .collect();
        assert_eq!(
            names,
            ["PATH"],
            "the watchdog carries none of the engine's environment"
        );
    }
    signal(client.id(), libc::SIGKILL);
    // The task's shell dies by its parent-death signal, its own group and the setsid child
    // with the engine's cgroup.
    assert_none_left(&task, Duration::from_secs(2));
    if with_cgroup {
        assert_none_left(&daemon, Duration::from_secs(2));
    } else if let Some(pid) = sleeper(&daemon) {
        signal(pid, libc::SIGKILL);
    }
    let _ = wait_output(client, Duration::from_secs(5));
    signal(server.id(), libc::SIGKILL);
    let _ = wait_output(server, Duration::from_secs(5));
}

#[test]
fn what_a_task_leaves_running_is_killed_at_its_end_unless_kept() {
    for keep in [false, true] {
        let s = Scratch::new();
        let daemon = format!("sleep {}", unique_seconds());
        let mut args = vec!["cluster", "--no-db"];
        if keep {
            args.push("--keep-daemons");
        }
        let out = run_with_input(
            s.hs(&args),
            // Reports where the daemon runs before the task ends.
            &format!("setsid {daemon} & sleep 0.5; cat /proc/$!/cgroup\n"),
            Duration::from_secs(30),
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let with_cgroup = stdout(&out).contains("/slot-");
        if keep {
            assert!(
                sleeper(&daemon).is_some(),
                "--keep-daemons keeps what a task leaves running"
            );
            let pid = sleeper(&daemon).expect("kept");
            // Kept processes leave the engine's cgroup, which goes with the engine.
            assert!(!in_task_cgroup(pid), "moved out of the task's cgroup");
            signal(pid, libc::SIGKILL);
        } else if with_cgroup {
            assert_none_left(&daemon, Duration::from_secs(2));
        } else {
            skip_or_fail("no cgroup v2 for tasks here: setsid children are not followed");
            if let Some(pid) = sleeper(&daemon) {
                signal(pid, libc::SIGKILL);
            }
        }
    }
}

/// A slot whose leftovers were killed runs its next tasks as before: Linux kills every child
/// cloned into a cgroup that was ever killed, so the slot moves to a fresh cgroup.
#[test]
fn tasks_after_one_whose_leftovers_were_killed_run_normally_on_the_same_slot() {
    let s = Scratch::new();
    let daemon = format!("sleep {}", unique_seconds());
    let out = run_with_input(
        s.hs(&["cluster", "--no-db", "-N", "1"]),
        &format!("setsid {daemon} & sleep 0.2\necho second\necho third\n"),
        Duration::from_secs(30),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("3 done, 3 succeeded, 0 failed"), "{err}");
    assert_eq!(stdout(&out), "second\nthird\n");
    assert_none_left(&daemon, Duration::from_secs(2));
}

#[test]
fn a_walltime_stop_kills_setsid_descendants_too() {
    let s = Scratch::new();
    let (daemon, task) = (
        format!("sleep {}", unique_seconds()),
        format!("sleep {}", unique_seconds()),
    );
    let mut cmd = s.hs(&["cluster", "--no-db", "-W", "1.5", "-S", "0.2"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "setsid {daemon} & {task}").expect("write");
    }
    assert!(
        wait_until(Duration::from_secs(10), || sleeper(&daemon).is_some()),
        "the task did not start"
    );
    let with_cgroup = cgroups_here(&daemon);
    let out = wait_output(child, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_none_left(&task, Duration::from_secs(2));
    if with_cgroup {
        assert_none_left(&daemon, Duration::from_secs(2));
    } else if let Some(pid) = sleeper(&daemon) {
        signal(pid, libc::SIGKILL);
    }
}

#[test]
fn an_engine_cut_off_stops_its_running_task_before_the_eviction_then_gives_up() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let tag = unique_seconds();
    let file = s.write(
        "tasks.txt",
        &format!("sleep 3; echo finished {tag} > done.txt\n"),
    );
    let server = spawn_piped(s.hs(&[
        "server",
        file.to_str().unwrap(),
        "-p",
        &port,
        "-k",
        KEY,
        "--no-db",
        "--heartrate",
        "0.2",
        "--evict",
        "1",
    ]));
    s.wait_for_server(&port);
    let client = spawn_piped(s.hs(&["client", "-p", &port, "-k", KEY, "--reconnect-limit", "1"]));
    assert!(
        wait_until(Duration::from_secs(15), || !processes_with(&tag).is_empty()),
        "the task did not start"
    );
    // A partition, as the engine sees it: its controller says nothing any more.
    signal(server.id(), libc::SIGSTOP);
    let engine = wait_output(client, Duration::from_secs(20));
    let err = stderr(&engine);
    signal(server.id(), libc::SIGKILL);
    signal(server.id(), libc::SIGCONT);
    let _ = wait_output(server, Duration::from_secs(5));
    assert_eq!(engine.status.code(), Some(5), "{err}");
    assert!(err.contains("giving up on the controller"), "{err}");
    // Stopped ahead of the eviction (after 0.75 s of silence with --evict 1), before the
    // engine counted its controller lost: the controller may requeue it any moment after that.
    let stop = err
        .find("stopping 1 running tasks")
        .unwrap_or_else(|| panic!("the running task was stopped: {err}"));
    assert!(stop < err.find("lost the controller").unwrap(), "{err}");
    assert!(!s.path("done.txt").exists(), "it never finished: {err}");
    assert!(
        processes_with(&tag).is_empty(),
        "nothing of it is left: {err}"
    );
}

/// Where the cgroup v2 hierarchy is mounted (`None` without one).
fn cgroup2_mount() -> Option<std::path::PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|line| {
        let (mount, rest) = line.split_once(" - ")?;
        rest.starts_with("cgroup2 ")
            .then(|| mount.split(' ').nth(4).map(std::path::PathBuf::from))?
    })
}

#[test]
fn an_engine_that_ends_leaves_neither_its_cgroups_nor_its_watchdog() {
    let s = Scratch::new();
    let (child, mut stdin) = spawn_fed(s.hs(&["cluster", "--no-db"]));
    let pid = child.id();
    {
        use std::io::Write as _;
        stdin
            .write_all(b"grep '^0::' /proc/self/cgroup\n")
            .expect("task");
    }
    drop(stdin);
    let out = wait_output(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let Some(relative) = stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        .filter(|path| path.contains("/slot-"))
    else {
        skip_or_fail("no cgroup v2 for tasks here");
        return;
    };
    let mount = cgroup2_mount().expect("a cgroup2 mount, as the task ran in one");
    let slot = mount.join(relative.trim_start_matches('/'));
    let engine = slot.parent().expect("hs-PID").to_path_buf();
    assert!(
        engine.ends_with(format!("hs-{pid}")),
        "{}",
        engine.display()
    );
    assert!(
        !engine.exists(),
        "{} is gone with the engine",
        engine.display()
    );
    assert!(
        wait_until(Duration::from_secs(5), || watchdog_of(pid).is_none()),
        "the watchdog ends with its engine"
    );
}

/// This process's own cgroup directory (`None` without cgroup v2): where an engine started from
/// here makes its `hs-PID`.
fn own_cgroup() -> Option<std::path::PathBuf> {
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = membership.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(cgroup2_mount()?.join(path.trim_start_matches('/')))
}

#[test]
fn an_engine_killed_as_it_starts_leaves_no_cgroup() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let mut server = s.serve_forever(&port, KEY);
    let client = spawn_piped(s.hs(&["client", "-p", &port, "-k", KEY]));
    let made = own_cgroup().map(|dir| dir.join(format!("hs-{}", client.id())));
    // Killed the moment its cgroup appears: its watchdog must already be there.
    let seen = made.as_ref().is_some_and(|dir| {
        let started = std::time::Instant::now();
        while !dir.exists() && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        dir.exists()
    });
    signal(client.id(), libc::SIGKILL);
    let _ = wait_output(client, Duration::from_secs(5));
    signal(server.id(), libc::SIGTERM);
    let _ = server.wait();
    let Some(dir) = made.filter(|_| seen) else {
        skip_or_fail("no cgroup v2 for tasks here");
        return;
    };
    assert!(
        wait_until(Duration::from_secs(5), || !dir.exists()),
        "{} outlived its engine",
        dir.display()
    );
}
