//! Keys and message authentication seen from outside.

use std::process::Stdio;
use std::time::Duration;

use crate::helpers::*;

const KEY: &str = "test-key-0123456789abcdef";

#[test]
fn a_wrong_key_is_refused_with_a_clear_message() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let mut server = s.hs(&["server", "-p", &port, "-k", KEY, "--forever"]);
    server.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut server = server.spawn().unwrap();
    // The key in the environment: `-k` would add its warning (the key shows in `ps`).
    let client = s
        .hs(&["client", "-p", &port, "--connect-timeout", "20"])
        .env("HYPERSHELL_CLIENT_AUTH", "another-key-0123456789")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_output(client, Duration::from_secs(15));
    signal(server.id(), libc::SIGTERM);
    let _ = server.wait();
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("authentication failed"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn forged_and_malformed_messages_are_dropped_and_service_continues() {
    let s = Scratch::new();
    let port = free_ports();
    let file = s.write("tasks.txt", "echo served\n");
    let mut server = s.hs(&[
        "server",
        file.to_str().unwrap(),
        "-p",
        &port.to_string(),
        "-k",
        KEY,
    ]);
    // Its log goes to a file, to be watched while it runs.
    let log = s.path("server.log");
    server
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let server = server.spawn().unwrap();

    // (Sent before the server listens, they wait in the socket until it does.)
    let ctx = zmq::Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    let id = uuid::Uuid::new_v4();
    dealer.set_identity(id.as_bytes()).unwrap();
    dealer.set_linger(1000).unwrap();
    dealer.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    // A register signed with the wrong key.
    let mut forger = hs_engine::protocol::Sealer::new(b"not-the-server-key-000", id);
    let body = serde_json::json!({"engine_id": id, "host": "forger", "pid": 1, "slots": 4, "nonce": 1, "version": "x"});
    let frames = forger.seal_raw("register", serde_json::to_vec(&body).unwrap());
    dealer.send_multipart(frames, 0).unwrap();
    // Garbage of the wrong shape, from another peer (each peer's refusals are logged at most
    // once a minute), and a second forgery from the first, counted but not logged again.
    let other = ctx.socket(zmq::DEALER).unwrap();
    other.set_linger(1000).unwrap();
    other.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    other
        .send_multipart([b"hs/1".to_vec(), b"register".to_vec()], 0)
        .unwrap();
    let frames = forger.seal_raw("register", serde_json::to_vec(&body).unwrap());
    dealer.send_multipart(frames, 0).unwrap();
    // Dropped before a real engine comes (the server leaves once its task is done).
    let dropped = |text: &str| {
        text.contains(&format!(
            "dropped a message on the engine socket from {id}: bad signature"
        )) && text.contains("wrong number of frames")
    };
    assert!(
        wait_until(Duration::from_secs(10), || dropped(&s.read("server.log"))),
        "{}",
        s.read("server.log")
    );

    let client = s
        .hs(&["client", "-p", &port.to_string(), "-k", KEY])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = wait_output(client, Duration::from_secs(30));
    let out = wait_output(server, Duration::from_secs(30));
    let err = s.read("server.log");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(
        err.matches("bad signature").count(),
        1,
        "one line per peer a minute: {err}"
    );
    assert_eq!(stdout(&client), "served\n");
    assert!(
        !err.contains("forger"),
        "unauthenticated content must not be logged: {err}"
    );
}

#[test]
fn weak_keys_and_open_binds_without_a_key_are_refused() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    for args in [
        vec!["server", "-p", &port, "-k", "short"],
        vec!["server", "-p", &port, "-k", "<not-secure>"],
        vec!["server", "-p", &port, "-H", "0.0.0.0"],
    ] {
        let out = run_with_input(s.hs(&args), "", Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).starts_with("hs: error: "), "{}", stderr(&out));
    }
}
