//! Hostile peers against a running controller, speaking the real protocol (`hs_engine::protocol`),
//! while a real `hs client` engine runs a workload alongside: outsiders at the door (no
//! credential, a forged one, a wrong key's), outsiders past it with a credential replayed from
//! the wire (garbage, truncated, oversized, unsigned, wrong-key, replayed, on the wrong port, a
//! flood of connections, a heartbeat subscriber) and a key holder with bugs (unknown kinds,
//! results for tasks it was never leased or under a stale lease, a registration for another engine's id, a forged output
//! path, a give-back of nothing). Each is refused and logged, no task state changes, nothing
//! crashes or stalls, and every task runs once.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hs_engine::protocol::{
    Bye, GivenBack, Held, Incoming, Leaving, Mode, PeerLink, Register, Results, Role, ToEngine,
};
use hs_engine::task::{Outcome, TaskResult};
use uuid::Uuid;

use crate::helpers::*;

const KEY: &str = "hostile-test-key-0123456789";
const TASKS: u64 = 200;
/// Connections of the flood (each sends maximum-size garbage frames until told to stop).
const FLOOD: usize = 1000;
/// The controller's resident memory may not grow past this under the flood. Not issue 13's
/// 200 MB target (a debug build on a shared machine measures 220-360 MB, see
/// docs/benchmarks.md "Hostile peers"), but it catches the old failure, where frames of up to
/// 64 MiB were buffered per connection and the controller grew by gigabytes.
const RSS_BOUND_KIB: u64 = 1024 * 1024;

/// A DEALER to the controller on `port`, knocking at its door with a credential of `key` (as a
/// key holder, or a wiretapper replaying one it saw), or with none.
pub fn dealer(ctx: &zmq::Context, port: u16, key: Option<&str>) -> zmq::Socket {
    let d = ctx.socket(zmq::DEALER).unwrap();
    if let Some(key) = key {
        hs_engine::protocol::door::knock(&d, key.as_bytes()).unwrap();
    }
    d.set_linger(0).unwrap();
    d.set_rcvtimeo(10_000).unwrap();
    d.set_sndtimeo(1_000).unwrap();
    d.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    d
}

/// The next message on `socket` that opens and decodes as `ToEngine`.
pub fn next_to_engine(socket: &zmq::Socket, link: &mut PeerLink) -> ToEngine {
    loop {
        let frames = socket.recv_multipart(0).expect("the controller answers");
        if let Ok(Incoming::Message(env)) = link.receive(frames)
            && let Ok(msg) = env.decode::<ToEngine>()
        {
            return msg;
        }
    }
}

pub fn result(id: Uuid, lease: u64, exit: i32, outpath: Option<&str>) -> TaskResult {
    let mut r = TaskResult::not_run(id, lease, Outcome::Exited, exit, None);
    r.start_time = Some(r.completion_time);
    r.outpath = outpath.map(str::to_string);
    r
}

pub fn register(id: Uuid, slots: u32) -> Register {
    Register {
        engine_id: id,
        host: "hostile".into(),
        pid: std::process::id(),
        slots,
        nonce: 7,
        version: "test".into(),
        running: Vec::new(),
        finished: Vec::new(),
        returned: Vec::new(),
        resources: None,
    }
}

/// Resident memory of `pid` at its peak, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Raise this process's open-file limit to its hard limit (the controller, started after,
/// inherits it): a thousand connections need a thousand descriptors on each side.
fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

/// `FLOOD` connections to the engine port, each sending frames of the largest size a socket
/// takes, filled with garbage, until `stop`. They knock with a credential replayed from the
/// wire, the one flood the door lets in (a flood without one is closed at the door). Returns
/// how many frames were sent.
fn flood(port: u16, connections: usize, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let ctx = zmq::Context::new();
        ctx.set_io_threads(1).unwrap();
        // At most 1,000 sockets: under libzmq's default of 1,023 per context.
        let sockets: Vec<zmq::Socket> = (0..connections)
            .map(|_| {
                let d = ctx.socket(zmq::DEALER).unwrap();
                hs_engine::protocol::door::knock(&d, KEY.as_bytes()).unwrap();
                d.set_linger(0).unwrap();
                d.set_sndhwm(4).unwrap();
                d.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
                d
            })
            .collect();
        let garbage = vec![0xA5u8; hs_engine::protocol::MAX_FRAME_BYTES];
        let mut sent = 0;
        while !stop.load(Ordering::Relaxed) {
            for s in &sockets {
                let frames = [
                    b"hs/2".to_vec(),
                    b"sealed".to_vec(),
                    vec![0; 8],
                    garbage.clone(),
                ];
                if s.send_multipart(frames, zmq::DONTWAIT).is_ok() {
                    sent += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        sent
    })
}

#[test]
fn hostile_peers_are_refused_while_a_real_engine_runs_every_task_once() {
    let s = Scratch::new();
    let nofile = raise_nofile();
    let connections = FLOOD.min((nofile as usize).saturating_sub(200) / 2);
    let port = free_ports();
    let p = port.to_string();
    let tasks: String = (1..=TASKS).map(|i| format!("echo {i}\n")).collect();
    let file = s.write("tasks.txt", &tasks);
    let log = s.path("server.log");
    let mut server = s.hs(&["server", file.to_str().unwrap(), "-p", &p, "-k", KEY]);
    server
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let server = server.spawn().unwrap();
    s.wait_for_server(&p);
    let ctx = zmq::Context::new();

    // Outsiders at the door: no credential (a ZeroMQ peer that is not hs), a forged one, one
    // made with a wrong key. Each is closed in the ZMTP handshake: nothing it sends is read.
    let bare = dealer(&ctx, port, None);
    bare.send_multipart([vec![0xFF; 3000]], 0).unwrap();
    let forged = ctx.socket(zmq::DEALER).unwrap();
    forged.set_linger(0).unwrap();
    forged.set_plain_username(Some(&"0".repeat(32))).unwrap();
    forged.set_plain_password(Some(&"0".repeat(64))).unwrap();
    forged.connect(&format!("tcp://127.0.0.1:{port}")).unwrap();
    forged.send_multipart([vec![0xFF; 3000]], 0).unwrap();
    let wrong_door = dealer(&ctx, port, Some("not-the-key-0123456789"));
    let bare_sub = ctx.socket(zmq::SUB).unwrap();
    bare_sub.set_subscribe(b"").unwrap();
    bare_sub.set_rcvtimeo(2_000).unwrap();
    bare_sub
        .connect(&format!("tcp://127.0.0.1:{}", port + 1))
        .unwrap();

    // Outsiders past the door with a credential replayed from the wire, each on its own
    // connection: garbage, truncated, unsigned, a frame just over the limit (libzmq drops that
    // connection before buffering it), an oversized handshake.
    let tapped = |port| dealer(&ctx, port, Some(KEY));
    let garbage = tapped(port);
    garbage.send_multipart([vec![0xFF; 3000]], 0).unwrap();
    let truncated = tapped(port);
    truncated
        .send_multipart([b"hs/2".to_vec(), b"sealed".to_vec()], 0)
        .unwrap();
    let unsigned = tapped(port);
    unsigned
        .send_multipart(
            [
                b"hs/2".to_vec(),
                b"clear".to_vec(),
                1u64.to_be_bytes().to_vec(),
                b"\x07resultsX".to_vec(),
            ],
            0,
        )
        .unwrap();
    let oversized = tapped(port);
    oversized
        .send_multipart([vec![0; hs_engine::protocol::MAX_FRAME_BYTES + 1]], 0)
        .unwrap();
    let big_hello = tapped(port);
    big_hello
        .send_multipart([b"hs/2".to_vec(), b"hello".to_vec(), vec![1; 300]], 0)
        .unwrap();
    // A wrong key in the handshake.
    let wrong = tapped(port);
    let mut wrong_link = PeerLink::new(
        b"not-the-key-0123456789",
        Role::Engine,
        Mode::Sealed,
        Uuid::new_v4(),
    );
    wrong.send_multipart(wrong_link.hello(), 0).unwrap();
    if let Ok(Incoming::Failed { proof, .. }) = wrong_link.receive(wrong.recv_multipart(0).unwrap())
    {
        wrong.send_multipart(proof, 0).unwrap();
    }
    // A client on the engine port, an engine on the client port.
    let lost_client = tapped(port);
    lost_client
        .send_multipart(
            PeerLink::new(KEY.as_bytes(), Role::Client, Mode::Sealed, Uuid::new_v4()).hello(),
            0,
        )
        .unwrap();
    let lost_engine = tapped(port + 2);
    lost_engine
        .send_multipart(
            PeerLink::new(KEY.as_bytes(), Role::Engine, Mode::Sealed, Uuid::new_v4()).hello(),
            0,
        )
        .unwrap();
    // A subscriber on the heartbeat channel sees sealed pings only.
    let sub = ctx.socket(zmq::SUB).unwrap();
    hs_engine::protocol::door::knock(&sub, KEY.as_bytes()).unwrap();
    sub.set_subscribe(b"").unwrap();
    sub.set_rcvtimeo(5_000).unwrap();
    sub.connect(&format!("tcp://127.0.0.1:{}", port + 1))
        .unwrap();

    // A key holder with bugs. It registers (one slot) and takes a task.
    let buggy = dealer(&ctx, port, Some(KEY));
    let mut link = handshake(&buggy, KEY, Role::Engine);
    let me = link.session().unwrap().peer_id;
    buggy
        .send_multipart(link.seal(&register(me, 1)).unwrap(), 0)
        .unwrap();
    let ToEngine::Welcome(_) = next_to_engine(&buggy, &mut link) else {
        panic!("the buggy engine is welcomed first");
    };
    let leased = loop {
        if let ToEngine::Tasks(t) = next_to_engine(&buggy, &mut link) {
            break t.tasks;
        }
    };
    let (mine, lease) = (leased[0].task.id, leased[0].lease);
    // An unknown kind; a registration for another engine's id; results for a task never
    // leased and for its own task under a stale lease (exit 99); a give-back of nothing.
    let unknown = link.seal_raw("take_over", b"{}").unwrap();
    buggy.send_multipart(&unknown, 0).unwrap();
    buggy
        .send_multipart(link.seal(&register(Uuid::new_v4(), 64)).unwrap(), 0)
        .unwrap();
    let stale = Results {
        results: vec![
            result(Uuid::now_v7(), 1, 99, None),
            result(mine, lease + 7, 99, None),
        ],
    };
    buggy.send_multipart(link.seal(&stale).unwrap(), 0).unwrap();
    buggy
        .send_multipart(
            link.seal(&GivenBack {
                returned: vec![Held {
                    id: Uuid::now_v7(),
                    lease: 3,
                }],
            })
            .unwrap(),
            0,
        )
        .unwrap();
    // A replay of its own (genuine) message.
    buggy.send_multipart(&unknown, 0).unwrap();
    // Its one real result carries a forged output path; the rest it leaves to others.
    let forged = Results {
        results: vec![result(mine, lease, 0, Some("/etc/passwd"))],
    };
    buggy
        .send_multipart(link.seal(&forged).unwrap(), 0)
        .unwrap();
    let rest: Vec<Held> = leased[1..]
        .iter()
        .map(|l| Held {
            id: l.task.id,
            lease: l.lease,
        })
        .collect();
    buggy
        .send_multipart(link.seal(&Leaving { returned: rest }).unwrap(), 0)
        .unwrap();
    buggy
        .send_multipart(link.seal(&Bye::default()).unwrap(), 0)
        .unwrap();

    // The flood, then the real engine.
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = flood(port, connections, stop.clone());
    let ping = sub.recv_multipart(0).expect("pings are published");
    assert!(
        ping.concat().windows(4).all(|w| w != b"ping"),
        "pings are sealed"
    );
    let engine = spawn_piped(s.hs(&["client", "-p", &p, "-k", KEY]));
    let started = Instant::now();
    let mut peak = 0;
    while alive(server.id()) && started.elapsed() < Duration::from_secs(40) {
        peak = peak.max(peak_rss_kib(server.id()));
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let frames = flooder.join().unwrap();
    let out = wait_output(server, Duration::from_secs(20));
    let engine = wait_output(engine, Duration::from_secs(20));
    let err = s.read("server.log");
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("tasks: {TASKS} done, {TASKS} succeeded")),
        "{err}"
    );
    let ran = numbers_in(&stdout(&engine));
    assert_eq!(
        ran.len() as u64,
        TASKS - 1,
        "every other task ran once, on the real engine"
    );
    assert!(
        bare_sub.recv_multipart(0).is_err(),
        "no pings without a credential"
    );
    drop((bare, forged, wrong_door));
    for why in [
        "on the engine port from 127.0.0.1: refused at the door: its credential does not prove the key",
        "on the engine port from a peer with no id: refused at the door: it offered no credential",
        "on the heartbeat port from a peer with no id: refused at the door: it offered no credential",
        "no session",
        "frame too large",
        "does not match",
        "a client connected to the engine port",
        "an engine connected to the client port",
        "unexpected message kind \"take_over\"",
        "replayed or out-of-order",
    ] {
        assert!(err.contains(why), "refused and logged: {why}: {err}");
    }
    assert!(
        err.contains("output paths that are not its tasks'"),
        "{err}"
    );
    // The registration for another id was refused (counted; that peer was logged already).
    assert_eq!(err.matches("joined from").count(), 2, "{err}");
    eprintln!(
        "controller peak RSS {peak} KiB; {frames} garbage frames over {connections} connections"
    );
    assert!(
        frames > connections as u64,
        "the flood ran: {frames} frames"
    );
    assert!(
        peak <= RSS_BOUND_KIB,
        "controller peak RSS {peak} KiB under the flood"
    );
    // The forged path was not recorded: `hs info --stdout` reads nothing of the host.
    let info = run_with_input(
        s.hs(&["info", &mine.to_string(), "--stdout"]),
        "",
        Duration::from_secs(10),
    );
    assert!(!stdout(&info).contains("root:"), "{}", stdout(&info));
    assert!(
        stderr(&info).contains("no captured output"),
        "{}",
        stderr(&info)
    );
}
