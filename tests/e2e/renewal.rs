//! The door admits a credential once, so a connection the network drops, which libzmq opens
//! again with the same credential, is turned away: engines and clients then renew their
//! socket with a fresh credential and carry on, nothing run twice. An engine registers again on
//! its new connection (what was on its way when the connection dropped is reconciled); a
//! client's session carries on, and what the controller could not send it meanwhile comes
//! when it is back. A peer whose clock is far off the
//! controller's makes credentials that are always out of date: it is told so at once.

use std::io::Write;
use std::time::Duration;

use crate::cutter::Cutter;
use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(60);

/// A copy of the connection file `conn` whose ports are the relay's.
fn through(s: &Scratch, conn: &std::path::Path, cutter: &Cutter) -> String {
    let mut info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(conn).unwrap()).unwrap();
    for (i, name) in ["engine_port", "heartbeat_port", "client_port"]
        .into_iter()
        .enumerate()
    {
        info[name] = (cutter.port() + i as u16).into();
    }
    let path = s.write("relayed.json", &info.to_string());
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    path.to_str().unwrap().to_string()
}

/// `hs server` running `tasks` (one per line), and its one engine (`-N2`) connected through a
/// relay that can cut its connections.
fn relayed_run(s: &Scratch, tasks: &str) -> (Reaped, Cutter, Reaped) {
    let port = free_ports();
    let file = s.write("tasks.txt", tasks);
    let server = Reaped::new(spawn_piped(s.hs(&[
        "server",
        file.to_str().unwrap(),
        "-p",
        &port.to_string(),
    ])));
    let conn = s.wait_for_server(&port.to_string());
    let cutter = Cutter::start(port);
    let client = Reaped::new(spawn_piped(s.hs(&[
        "client",
        "--file",
        &through(s, &conn, &cutter),
        "-N2",
    ])));
    (server, cutter, client)
}

/// `hs server --forever --no-db` with one engine, and `hs stream --file` reaching it through a
/// relay that can cut its connection.
struct StreamRun {
    server: Reaped,
    engine: Reaped,
    cutter: Cutter,
    stream: Reaped,
    /// The stream's input.
    jobs: std::process::ChildStdin,
    /// The stream's result lines, as they come.
    results: std::sync::mpsc::Receiver<String>,
}

/// A [`StreamRun`] whose engine has `slots` (`-N2`).
fn relayed_stream(s: &Scratch, slots: &str) -> StreamRun {
    let port = free_ports();
    let server = Reaped::new(spawn_piped(s.hs(&[
        "server",
        "--forever",
        "--no-db",
        "-p",
        &port.to_string(),
    ])));
    let conn = s.wait_for_server(&port.to_string());
    let engine = Reaped::new(spawn_piped(s.hs(&[
        "client",
        "-p",
        &port.to_string(),
        slots,
    ])));
    let cutter = Cutter::start(port);
    let (stream, jobs) = spawn_fed(s.hs(&["stream", "--file", &through(s, &conn, &cutter)]));
    let mut stream = Reaped::new(stream);
    let results = lines_of(stream.child().stdout.take().unwrap());
    StreamRun {
        server,
        engine,
        cutter,
        stream,
        jobs,
        results,
    }
}

/// The lines `out` gives, as they come.
fn lines_of(out: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(out)).map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn appended(s: &Scratch) -> Vec<u64> {
    let mut seen = numbers_in(&s.read("done.txt"));
    seen.sort_unstable();
    seen
}

#[test]
fn an_engine_whose_connections_are_cut_carries_on_over_fresh_credentials() {
    let s = Scratch::new();
    let tasks: String = (1..=30)
        .map(|i| format!("sleep 0.1; echo {i} >> done.txt\n"))
        .collect();
    let (server, cutter, client) = relayed_run(&s, &tasks);
    assert!(
        wait_until(LIMIT, || appended(&s).len() >= 4),
        "the engine never got going"
    );
    assert!(
        cutter.cut() >= 2,
        "the engine and heartbeat connections were cut"
    );
    let out = server.output(LIMIT);
    let engine = client.output(LIMIT);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        appended(&s),
        (1..=30).collect::<Vec<_>>(),
        "each task ran once"
    );
    assert!(
        stderr(&out).contains("its credential was used before"),
        "the reconnect was turned away at the door: {}",
        stderr(&out)
    );
    assert!(
        stderr(&engine).contains("the connection to the controller dropped: registering again"),
        "the engine renewed its connection at once: {}",
        stderr(&engine)
    );
    assert!(
        !stderr(&engine).contains("lost the controller"),
        "…not after a silence: {}",
        stderr(&engine)
    );
}

#[test]
fn a_stream_whose_connection_is_cut_carries_on_over_a_fresh_credential() {
    let s = Scratch::new();
    let mut run = relayed_stream(&s, "-N2");
    let job = |i: u64| format!("{{\"cmd\":\"echo {i} >> done.txt\",\"id\":\"{i}\"}}\n");
    for i in 1..=5 {
        run.jobs.write_all(job(i).as_bytes()).unwrap();
    }
    run.jobs.flush().unwrap();
    // Cut once the five results are in: a message lost inside a connection that drops is lost
    // for good (the client would say so), and this test is about what comes after.
    for _ in 1..=5 {
        run.results.recv_timeout(LIMIT).expect("a result line");
    }
    assert_eq!(run.cutter.cut(), 1, "the stream's one connection was cut");
    for i in 6..=10 {
        run.jobs.write_all(job(i).as_bytes()).unwrap();
    }
    drop(run.jobs);
    for _ in 6..=10 {
        run.results
            .recv_timeout(LIMIT)
            .expect("a result line after the cut");
    }
    let out = run.stream.output(LIMIT);
    run.engine.stop(LIMIT);
    let controller = run.server.stop(LIMIT);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&controller).contains(
            "on the client port from 127.0.0.1: refused at the door: its credential was used before"
        ),
        "the reconnect was turned away at the door: {}",
        stderr(&controller)
    );
    assert_eq!(
        appended(&s),
        (1..=10).collect::<Vec<_>>(),
        "each job ran once"
    );
}

#[test]
fn a_result_that_finds_its_stream_between_connections_comes_when_it_is_back() {
    let s = Scratch::new();
    let mut run = relayed_stream(&s, "-N1");
    run.jobs
        .write_all(b"{\"cmd\":\"echo 0\",\"id\":\"first\"}\n")
        .unwrap();
    run.jobs.flush().unwrap();
    run.results.recv_timeout(LIMIT).expect("the first result");
    let late = "{\"cmd\":\"touch started; sleep 1; echo 1 >> done.txt\",\"id\":\"late\"}\n";
    run.jobs.write_all(late.as_bytes()).unwrap();
    drop(run.jobs);
    assert!(
        wait_until(LIMIT, || s.path("started").exists()),
        "the job never started"
    );
    // The network is down while the job ends: its result cannot be sent, and waits.
    assert_eq!(run.cutter.cut_for(Duration::from_secs(3)), 1);
    s.await_text("done.txt", "1", LIMIT, "the job ran");
    let line = run
        .results
        .recv_timeout(LIMIT)
        .expect("the result, once the stream is back");
    assert!(line.contains("\"late\""), "{line}");
    let out = run.stream.output(LIMIT);
    run.engine.stop(LIMIT);
    run.server.stop(LIMIT);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_engine_cut_off_twice_in_a_busy_run_runs_every_task_once() {
    let s = Scratch::new();
    let tasks: String = (1..=3000)
        .map(|i| format!("echo {i} >> done.txt\n"))
        .collect();
    let (server, cutter, client) = relayed_run(&s, &tasks);
    // Cut while results and tasks are on their way both ways.
    for at in [300, 1000] {
        assert!(
            wait_until(LIMIT, || appended(&s).len() >= at),
            "stalled after a cut: {} ran",
            appended(&s).len()
        );
        cutter.cut();
    }
    let out = server.output(LIMIT);
    let engine = client.output(LIMIT);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(engine.status.success(), "{}", stderr(&engine));
    assert_eq!(
        appended(&s),
        (1..=3000).collect::<Vec<_>>(),
        "each task ran once"
    );
}

/// `hs ARGS` under libfaketime with the wall clock `offset` away (the monotonic one untouched).
fn skewed(s: &Scratch, offset: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new("faketime");
    cmd.args(["-f", offset])
        .arg(hs_bin())
        .args(args)
        .current_dir(s.dir.path())
        .env("HYPERSHELL_SITE", s.path("site"))
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    cmd
}

#[test]
fn a_peer_whose_clock_is_an_hour_off_is_told_so_at_once() {
    let faketime = std::process::Command::new("faketime")
        .arg("--version")
        .output();
    if faketime.is_err() {
        skip_or_fail("faketime is not installed (apt-get install faketime)");
        return;
    }
    let s = Scratch::new();
    let port = free_ports().to_string();
    let server = Reaped::new(spawn_piped(s.hs(&["server", "--forever", "-p", &port])));
    s.wait_for_server(&port);
    for (offset, args) in [
        ("+1h", vec!["client", "-p", &port, "-N1"]),
        ("-1h", vec!["submit", "-q", "-p", &port, "echo hi"]),
    ] {
        let started = std::time::Instant::now();
        let out = run_with_input(skewed(&s, offset, &args), "", LIMIT);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{args:?} took {:?}",
            started.elapsed()
        );
        assert_eq!(out.status.code(), Some(7), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("this host's clock and the controller's disagree by minutes"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = server.stop(LIMIT);
    assert!(
        stderr(&out).contains("refused at the door: its credential is out of date"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("joined"),
        "no engine got in: {}",
        stderr(&out)
    );
}
