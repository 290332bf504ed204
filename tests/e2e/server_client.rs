//! `hs server` with separate `hs client` engines over TCP.

use std::time::Duration;

use crate::helpers::*;

#[test]
fn kill_9_of_one_engine_loses_no_task() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let tasks: String = (1..=200)
        .map(|i| format!("sleep 0.02; echo {i} >> done.txt\n"))
        .collect();
    let file = s.write("tasks.txt", &tasks);
    let server = spawn_piped(s.hs(&[
        "server",
        file.to_str().unwrap(),
        "-p",
        &port,
        "--heartrate",
        "0.2",
        "--evict",
        "1",
    ]));
    s.wait_for_server(&port);
    let victim = spawn_piped(s.hs(&["client", "-p", &port, "-N2"]));
    let survivor = spawn_piped(s.hs(&["client", "-p", &port, "-N2"]));
    assert!(wait_until(Duration::from_secs(20), || numbers_in(
        &s.read("done.txt")
    )
    .len()
        >= 40));
    signal(victim.id(), libc::SIGKILL);
    let out = wait_output(server, Duration::from_secs(60));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("tasks: 200 done, 200 succeeded, 0 failed"),
        "{err}"
    );
    assert!(
        err.contains("lost (no heartbeat"),
        "eviction not logged: {err}"
    );
    assert_eq!(stdout(&out), "", "no failed lines expected");
    let done = numbers_in(&s.read("done.txt"));
    let mut unique = done.clone();
    unique.dedup();
    assert_eq!(unique, (1..=200).collect::<Vec<_>>(), "every task ran");
    // Only tasks the killed engine ran but had not reported may have run twice: its 2 running
    // ones, and finished ones it had not sent yet. A bundle goes once as many are done as it
    // still holds; with 20 ms tasks it holds 5 per slot beyond the running ones (about 100 ms
    // of work), 12 in all, so that is at most 6 more.
    assert!(
        done.len() - unique.len() <= 8,
        "{} duplicates",
        done.len() - unique.len()
    );
    let survivor = wait_output(survivor, Duration::from_secs(20));
    assert_eq!(survivor.status.code(), Some(0), "{}", stderr(&survivor));
    let _ = wait_output(victim, Duration::from_secs(5));
}

#[test]
fn server_writes_a_private_connection_file_that_clients_use() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    let port = free_ports().to_string();
    let file = s.write("tasks.txt", "echo hello\n");
    let server = spawn_piped(s.hs(&["server", file.to_str().unwrap(), "-p", &port]));
    let conn = s.wait_for_server(&port);
    let mode = std::fs::metadata(&conn).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(conn.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(&conn).unwrap()).unwrap();
    assert_eq!(info["key"].as_str().unwrap().len(), 64);
    // A copy of the file works from anywhere with --file.
    let copy = s.path("copy.json");
    std::fs::copy(&conn, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
    let client = wait_output(
        spawn_piped(s.hs(&["client", "--file", copy.to_str().unwrap()])),
        Duration::from_secs(30),
    );
    assert_eq!(client.status.code(), Some(0), "{}", stderr(&client));
    assert_eq!(stdout(&client), "hello\n");
    let out = wait_output(server, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!conn.exists(), "connection file removed on exit");
}

/// `--fail-exit` makes the failures an exit status of 1 too.
#[test]
fn server_prints_failed_lines_on_stdout() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let server = spawn_piped(s.hs(&[
        "server",
        "--fail-exit",
        "-p",
        &port,
        s.write("t", "true\nfalse\nexit 2\n").to_str().unwrap(),
    ]));
    s.wait_for_server(&port);
    let client = wait_output(
        spawn_piped(s.hs(&["engine", "-p", &port, "-N2"])),
        Duration::from_secs(30),
    );
    assert_eq!(client.status.code(), Some(0), "{}", stderr(&client));
    let out = wait_output(server, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    let mut lines: Vec<_> = stdout(&out).lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["exit 2", "false"]);
}

/// Ctrl-C on `hs server` stops the tasks its engines run and takes back what they hold (exit
/// 4); a restart then runs all of it at once, not after waiting for engines to claim it.
#[test]
fn an_interrupted_server_stops_its_engines_tasks_and_a_restart_runs_them_at_once() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let marker = format!("interrupted-server-{}", std::process::id());
    let tasks: String = (1..=6)
        .map(|i| format!(": {marker}; sleep 1.5; echo {i} >> done.txt\n"))
        .collect();
    let file = s.write("tasks.txt", &tasks);
    let server = spawn_piped(s.hs(&["server", file.to_str().unwrap(), "-p", &port]));
    s.wait_for_server(&port);
    let client = spawn_piped(s.hs(&["client", "-p", &port, "-N2"]));
    assert!(
        wait_until(Duration::from_secs(10), || processes_with(&marker).len()
            == 2),
        "two tasks running"
    );
    signal(server.id(), libc::SIGINT);
    let out = wait_output(server, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("handed back 6 tasks"),
        "{}",
        stderr(&out)
    );
    assert!(
        wait_until(Duration::from_secs(5), || processes_with(&marker)
            .is_empty()),
        "the running tasks were stopped"
    );
    let client = wait_output(client, Duration::from_secs(20));
    // Its running tasks were interrupted by the controller's stop: exit 4, not success.
    assert_eq!(client.status.code(), Some(4), "{}", stderr(&client));
    assert_eq!(s.read("done.txt"), "", "nothing finished");

    // With the default restart grace (10 s) a task still marked as handed out would wait.
    let started = std::time::Instant::now();
    let server = spawn_piped(s.hs(&["server", "--restart", "-p", &port]));
    s.wait_for_server(&port);
    let client = spawn_piped(s.hs(&["client", "-p", &port, "-N3"]));
    let out = wait_output(server, Duration::from_secs(30));
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        took < Duration::from_secs(8),
        "took {took:?}: {}",
        stderr(&out)
    );
    let mut done = numbers_in(&s.read("done.txt"));
    done.sort_unstable();
    assert_eq!(done, (1..=6).collect::<Vec<_>>(), "each task once");
    let _ = wait_output(client, Duration::from_secs(20));
}
