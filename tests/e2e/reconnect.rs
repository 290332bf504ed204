//! An engine that loses its controller keeps running, keeps its results, registers again and
//! reports what it holds; the controller reconciles instead of running those tasks again.

use std::time::Duration;

use crate::helpers::*;

#[test]
fn engine_survives_a_frozen_controller_and_nothing_runs_twice() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let tasks: String = (1..=16)
        .map(|i| format!("sleep 0.3; echo {i} >> done.txt\n"))
        .collect();
    let file = s.write("tasks.txt", &tasks);
    let server = s.hs(&[
        "server",
        file.to_str().unwrap(),
        "-p",
        &port,
        "--heartrate",
        "0.2",
        "--evict",
        "1",
    ]);
    let server = spawn_piped(server);
    s.wait_for_server(&port);
    let client = spawn_piped(s.hs(&["client", "-p", &port, "-N2"]));
    assert!(wait_until(Duration::from_secs(20), || numbers_in(
        &s.read("done.txt")
    )
    .len()
        >= 2));
    // Freeze the controller well past the eviction time; the engine goes on meanwhile.
    signal(server.id(), libc::SIGSTOP);
    std::thread::sleep(Duration::from_millis(2500));
    signal(server.id(), libc::SIGCONT);
    let out = wait_output(server, Duration::from_secs(60));
    let engine = wait_output(client, Duration::from_secs(20));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("tasks: 16 done, 16 succeeded"), "{err}");
    let engine_err = stderr(&engine);
    assert!(engine_err.contains("lost the controller"), "{engine_err}");
    assert!(engine_err.contains("registered again"), "{engine_err}");
    assert!(err.contains("registered again"), "{err}");
    assert_eq!(
        numbers_in(&s.read("done.txt")),
        (1..=16).collect::<Vec<_>>(),
        "each task exactly once"
    );
}
