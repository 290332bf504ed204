//! Keys and message authentication seen from outside.

use std::process::{Command, Output, Stdio};
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
    // Both peers knock with a door credential replayed from the wire: without one they would
    // be closed at the door before sending anything (tests/e2e/hostile.rs).
    let ctx = zmq::Context::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    hs_engine::protocol::door::knock(&dealer, KEY.as_bytes()).unwrap();
    dealer.set_linger(1000).unwrap();
    dealer.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    // A handshake with the wrong key, twice: the proofs do not match.
    let forger = || {
        hs_engine::protocol::PeerLink::new(
            b"not-the-server-key-000",
            hs_engine::protocol::Role::Engine,
            hs_engine::protocol::Mode::Sealed,
            uuid::Uuid::new_v4(),
        )
    };
    for _ in 0..2 {
        let mut link = forger();
        dealer.send_multipart(link.hello(), 0).unwrap();
        let challenge = dealer.recv_multipart(0).unwrap();
        let Ok(hs_engine::protocol::Incoming::Failed { proof, why }) = link.receive(challenge)
        else {
            panic!("a wrong key must fail the handshake");
        };
        assert_eq!(why, hs_engine::protocol::FrameError::WrongKey);
        dealer.send_multipart(proof, 0).unwrap();
    }
    // Garbage of the wrong shape from another peer, which never made a handshake (each peer's
    // refusals are logged at most once a minute).
    let other = ctx.socket(zmq::DEALER).unwrap();
    hs_engine::protocol::door::knock(&other, KEY.as_bytes()).unwrap();
    other.set_linger(1000).unwrap();
    other.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    other
        .send_multipart([b"hs/1".to_vec(), b"register".to_vec()], 0)
        .unwrap();
    // Dropped before a real engine comes (the server leaves once its task is done).
    let dropped = |text: &str| {
        text.contains("dropped a message on the engine socket from a peer with no id: handshake refused: the peer's proof does not match")
            && text.contains("no session")
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
        err.matches("does not match").count(),
        1,
        "one line per peer a minute: {err}"
    );
    assert_eq!(stdout(&client), "served\n");
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

/// A DEALER connected to the controller's engine socket on `port`, with `identity` if given,
/// past the door with a credential of the key (a key holder's, or one replayed from the wire).
fn dealer_on(ctx: &zmq::Context, port: u16, identity: Option<&[u8]>) -> zmq::Socket {
    let d = ctx.socket(zmq::DEALER).unwrap();
    hs_engine::protocol::door::knock(&d, KEY.as_bytes()).unwrap();
    if let Some(id) = identity {
        d.set_identity(id).unwrap();
    }
    d.set_linger(0).unwrap();
    d.set_rcvtimeo(10_000).unwrap();
    d.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    d
}

#[test]
fn an_outsider_claiming_a_live_engines_id_does_not_stall_the_run() {
    let s = Scratch::new();
    let port = free_ports();
    let tasks: String = (1..=6).map(|i| format!("sleep 0.3; echo {i}\n")).collect();
    let file = s.write("tasks.txt", &tasks);
    let log = s.path("server.log");
    let mut server = s.hs(&[
        "server",
        file.to_str().unwrap(),
        "-p",
        &port.to_string(),
        "-k",
        KEY,
    ]);
    server
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let server = server.spawn().unwrap();
    let client = spawn_piped(s.hs(&["client", "-p", &port.to_string(), "-k", KEY]));
    let joined = |text: &str| {
        text.lines()
            .find_map(|l| l.split("engine ").nth(1)?.split(' ').next()?.parse().ok())
    };
    assert!(
        wait_until(Duration::from_secs(20), || joined(&s.read("server.log"))
            .is_some()),
        "{}",
        s.read("server.log")
    );
    let engine: uuid::Uuid = joined(&s.read("server.log")).unwrap();
    // The repro of the old protocol: connect with the engine's id as routing id, say
    // something, leave. Its id is not its route any more, and a route is taken only by a
    // handshake on the key.
    let ctx = zmq::Context::new();
    for _ in 0..3 {
        let hijacker = dealer_on(&ctx, port, Some(engine.as_bytes()));
        hijacker
            .send_multipart(
                [
                    b"hs/2".to_vec(),
                    b"sealed".to_vec(),
                    vec![0; 8],
                    vec![0; 40],
                ],
                0,
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        drop(hijacker);
    }
    let out = wait_output(server, Duration::from_secs(30));
    let client = wait_output(client, Duration::from_secs(10));
    let err = s.read("server.log");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("tasks: 6 done, 6 succeeded"), "{err}");
    assert_eq!(numbers_in(&stdout(&client)), (1..=6).collect::<Vec<_>>());
    assert!(
        err.contains("no session"),
        "the intruder was refused: {err}"
    );
}

#[test]
fn sealed_tasks_do_not_show_their_command_on_the_wire() {
    let s = Scratch::new();
    let port = free_ports();
    let marker = format!("secret-command-{}", unique_seconds());
    let file = s.write("tasks.txt", &format!("echo {marker}\n"));
    let server = spawn_piped(s.hs(&[
        "server",
        file.to_str().unwrap(),
        "-p",
        &port.to_string(),
        "-k",
        KEY,
    ]));
    s.wait_for_server(&port.to_string());
    // A test engine: what crosses its socket is what a packet capture would see of the
    // messages' content (ZeroMQ adds only framing).
    let ctx = zmq::Context::new();
    let socket = dealer_on(&ctx, port, None);
    let mut link = handshake(&socket, KEY, hs_engine::protocol::Role::Engine);
    let id = link.session().unwrap().peer_id;
    let register = hs_engine::protocol::Register {
        engine_id: id,
        host: "test".into(),
        pid: std::process::id(),
        slots: 1,
        nonce: 1,
        version: "test".into(),
        running: Vec::new(),
        finished: Vec::new(),
        returned: Vec::new(),
        resources: None,
    };
    socket
        .send_multipart(link.seal(&register).unwrap(), 0)
        .unwrap();
    let mut seen = Vec::new();
    let mut body = Vec::new();
    while body.is_empty() {
        let frames = socket
            .recv_multipart(0)
            .expect("the controller sends the task");
        seen.extend(frames.concat());
        if let Ok(hs_engine::protocol::Incoming::Message(env)) = link.receive(frames)
            && env.kind == "tasks"
        {
            body = env.body;
        }
    }
    signal(server.id(), libc::SIGTERM);
    let _ = wait_output(server, Duration::from_secs(20));
    let contains = |hay: &[u8]| hay.windows(marker.len()).any(|w| w == marker.as_bytes());
    assert!(contains(&body), "the opened message carries the command");
    assert!(!contains(&seen), "the sealed bytes must not");
}

#[test]
fn bytes_recorded_in_one_run_run_nothing_in_the_next() {
    let s = Scratch::new();
    let port = free_ports();
    let p = port.to_string();
    let server_args = ["server", "--forever", "--no-db", "-p", &p, "-k", KEY];
    let ctx = zmq::Context::new();
    // Recorded from the wire, the door credential is replayed too.
    let clients = |ctx: &zmq::Context| {
        let d = ctx.socket(zmq::DEALER).unwrap();
        hs_engine::protocol::door::knock(&d, KEY.as_bytes()).unwrap();
        d.set_linger(0).unwrap();
        d.set_rcvtimeo(10_000).unwrap();
        d.connect(&format!("tcp://127.0.0.1:{}", port + 2)).unwrap();
        d
    };

    // First run: a client submits a command; everything it sends is recorded.
    let first = spawn_piped(s.hs(&server_args));
    s.wait_for_server(&p);
    let socket = clients(&ctx);
    let mut link = hs_engine::protocol::PeerLink::new(
        KEY.as_bytes(),
        hs_engine::protocol::Role::Client,
        hs_engine::protocol::Mode::Sealed,
        uuid::Uuid::new_v4(),
    );
    let hello = link.hello();
    socket.send_multipart(&hello, 0).unwrap();
    let Ok(hs_engine::protocol::Incoming::Opened(proof)) =
        link.receive(socket.recv_multipart(0).unwrap())
    else {
        panic!("handshake failed");
    };
    socket.send_multipart(&proof, 0).unwrap();
    let submit = link
        .seal(&hs_engine::protocol::Submit {
            args: vec!["touch replayed.txt".into()],
            ..Default::default()
        })
        .unwrap();
    socket.send_multipart(&submit, 0).unwrap();
    let answer = link.receive(socket.recv_multipart(0).unwrap());
    assert!(
        matches!(answer, Ok(hs_engine::protocol::Incoming::Message(ref e)) if e.kind == "submitted"),
        "the recorded submit was genuine"
    );
    signal(first.id(), libc::SIGTERM);
    let _ = wait_output(first, Duration::from_secs(20));
    drop(socket);

    // Second run, same key and port, with an engine: the recording is played back.
    let log = s.path("second.log");
    let mut second = s.hs(&server_args);
    second
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let second = second.spawn().unwrap();
    s.wait_for_server(&p);
    let engine = spawn_piped(s.hs(&["client", "-p", &p, "-k", KEY]));
    let replayer = clients(&ctx);
    for frames in [&hello, &proof, &submit] {
        replayer.send_multipart(frames, 0).unwrap();
    }
    // The recorded proof fails (logged); the submit after it, from a connection without a
    // session, is dropped (counted; the same peer is logged at most once a minute).
    s.await_text(
        "second.log",
        "does not match",
        Duration::from_secs(10),
        "the recorded proof is refused, and logged",
    );
    std::thread::sleep(Duration::from_secs(2));
    signal(second.id(), libc::SIGTERM);
    let _ = wait_output(second, Duration::from_secs(20));
    let _ = wait_output(engine, Duration::from_secs(20));
    let err = s.read("second.log");
    assert!(
        err.contains("joined"),
        "an engine was there to run it: {err}"
    );
    assert!(
        !s.path("replayed.txt").exists(),
        "a recorded submit ran in a later run: {err}"
    );
}

#[test]
fn a_controller_without_a_door_is_named_at_once_not_waited_for() {
    // A ZeroMQ ROUTER and PUB without the door, as an older hs (or something else) would bind.
    let s = Scratch::new();
    let port = free_ports();
    let ctx = zmq::Context::new();
    let router = ctx.socket(zmq::ROUTER).unwrap();
    router.bind(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let publisher = ctx.socket(zmq::PUB).unwrap();
    publisher
        .bind(&format!("tcp://127.0.0.1:{}", port + 1))
        .unwrap();
    let client = s.hs(&["client", "-p", &port.to_string(), "--connect-timeout", "60"]);
    let limit = Duration::from_secs(20);
    assert_refused_at_once(run_keyed(client, KEY, limit), limit, "older hs");
}

/// Runs `cmd` with `key` as its key, for at most `limit` and 10 s more: its output, and how
/// long it took.
fn run_keyed(mut cmd: Command, key: &str, limit: Duration) -> (Output, Duration) {
    cmd.env("HYPERSHELL_CLIENT_AUTH", key);
    let started = std::time::Instant::now();
    let out = wait_output(spawn_piped(cmd), limit + Duration::from_secs(10));
    (out, started.elapsed())
}

/// That a run of [`run_keyed`] exited 7 within `limit`, saying `says`.
fn assert_refused_at_once((out, took): (Output, Duration), limit: Duration, says: &str) {
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(7), "{err}");
    assert!(err.contains(says), "{err}");
    assert!(took < limit, "told at once, not after a timeout: {err}");
}

#[test]
fn a_client_with_a_wrong_key_is_refused_at_the_door_at_once() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let mut server = s.serve_forever(&port, KEY);
    let submit = s.hs(&["submit", "-q", "-H", "localhost", "-p", &port, "echo never"]);
    let limit = Duration::from_secs(10);
    let run = run_keyed(submit, "another-key-0123456789", limit);
    signal(server.id(), libc::SIGTERM);
    let _ = server.wait();
    assert_refused_at_once(run, limit, "authentication failed");
}

#[test]
fn an_engine_outlasts_a_wrongly_keyed_controller_in_its_place() {
    // The engine's controller dies; for a while another one, with another key, listens on its
    // ports (its doors refuse the engine's reconnects, which libzmq never retries); then the
    // right one is back. The engine joins it once and hears its heartbeats: it stays joined.
    let s = Scratch::new();
    let port = free_ports();
    let p = port.to_string();
    let server = |key: &str, log: &str, file: Option<&str>| {
        let mut args = vec!["server", "--no-db", "-p", &p, "-k", key];
        args.extend(["--heartrate", "0.2", "--evict", "2"]);
        match file {
            Some(f) => args.push(f),
            None => args.push("--forever"),
        }
        let mut cmd = s.hs(&args);
        cmd.stdout(Stdio::null())
            .stderr(std::fs::File::create(s.path(log)).unwrap());
        cmd.spawn().unwrap()
    };
    let first = server(KEY, "first.log", None);
    s.wait_for_server(&p);
    let engine = spawn_piped(s.hs(&["client", "-p", &p, "-k", KEY, "--reconnect-limit", "60"]));
    s.await_text(
        "first.log",
        "joined",
        Duration::from_secs(20),
        "the engine joined the first controller",
    );
    signal(first.id(), libc::SIGKILL);
    let _ = wait_output(first, Duration::from_secs(10));

    let wrong = server("another-key-0123456789", "wrong.log", None);
    s.await_text(
        "wrong.log",
        "refused at the door",
        Duration::from_secs(20),
        "the engine knocked with its key",
    );
    std::thread::sleep(Duration::from_secs(1));
    signal(wrong.id(), libc::SIGTERM);
    let _ = wait_output(wrong, Duration::from_secs(10));

    // Long enough tasks that the controller has nothing to say but heartbeats meanwhile.
    let tasks: String = (1..=2).map(|i| format!("sleep 3; echo {i}\n")).collect();
    let file = s.write("tasks.txt", &tasks);
    let right = server(KEY, "right.log", Some(file.to_str().unwrap()));
    let out = wait_output(right, Duration::from_secs(60));
    let err = s.read("right.log");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("tasks: 2 done, 2 succeeded"), "{err}");
    assert_eq!(
        err.matches("joined").count(),
        1,
        "joined once, never lost for want of heartbeats: {err}"
    );
    signal(engine.id(), libc::SIGTERM);
    let _ = wait_output(engine, Duration::from_secs(20));
}

#[test]
fn a_door_credential_seen_on_the_wire_opens_nothing_when_replayed() {
    use hs_engine::protocol::door::{self, DoorWatch, Shut};
    let s = Scratch::new();
    let port = free_ports().to_string();
    let mut server = s.hs(&["server", "-p", &port, "-k", KEY, "--forever", "--no-db"]);
    server
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(s.path("server.log")).unwrap());
    let server = Reaped::new(server.spawn().unwrap());
    s.wait_for_server(&port);
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let ctx = zmq::Context::new();
    let socket = |credential: &(String, String)| {
        let d = ctx.socket(zmq::DEALER).unwrap();
        d.set_linger(0).unwrap();
        door::knock_with(&d, credential).unwrap();
        let watch = DoorWatch::watching(&ctx, &d, door::SHUT_EVENTS).unwrap();
        d.connect(&endpoint).unwrap();
        (d, watch)
    };
    // A key holder uses a credential (and so puts it on the wire)...
    let seen = door::credential(KEY.as_bytes());
    let (_owner, owner_watch) = socket(&seen);
    assert!(
        wait_until(Duration::from_secs(10), || owner_watch.opened()),
        "the key holder is let in"
    );
    // ...and whoever replays it is turned away at the door, before any message is read.
    let (_replay, replay_watch) = socket(&seen);
    let mut shut = None;
    wait_until(Duration::from_secs(10), || {
        shut = replay_watch.shut();
        shut.is_some()
    });
    assert_eq!(
        shut,
        Some(Shut::Renew),
        "refused as used, not as another key"
    );
    s.await_text(
        "server.log",
        "refused at the door: its credential was used before",
        Duration::from_secs(10),
        "the controller counted the replay",
    );
    drop(server);
}
