//! The live view of a running controller: `hs top --json` / `hs status --json` against a real
//! `hs server` with engines, and `hs top` drawing on a pseudo-terminal of 80×24, quit by a key,
//! leaving the terminal as it found it.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;
use crate::tty::open_pty;

/// A bound against a hang, not an expected duration.
const LIMIT: Duration = Duration::from_secs(20);

/// A `hs server --forever` on free ports with `engines` engines of 2 slots, stopped on drop.
struct Cluster {
    s: Scratch,
    port: String,
    server: Option<Child>,
    engines: Vec<Child>,
}

impl Cluster {
    fn start(engines: usize) -> Cluster {
        let s = Scratch::new();
        let port = free_ports().to_string();
        let server = spawn_piped(s.hs(&["server", "--forever", "-p", &port]));
        s.wait_for_server(&port);
        let engines = (0..engines)
            .map(|_| spawn_piped(s.hs(&["client", "-p", &port, "-N2"])))
            .collect();
        let c = Cluster {
            s,
            port,
            server: Some(server),
            engines,
        };
        let want = c.engines.len() as u64;
        let mut last = Value::Null;
        let up = wait_until(LIMIT, || {
            last = c.snapshot(&[]);
            last["totals"]["engines"] == want
        });
        assert!(up, "{want} engines never registered: {last}");
        c
    }

    /// `hs top --json -p PORT EXTRA...`, which must succeed.
    fn snapshot(&self, extra: &[&str]) -> Value {
        let mut args = vec!["top", "--json", "-p", &self.port];
        args.extend_from_slice(extra);
        let out = run_with_input(self.s.hs(&args), "", LIMIT);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_str(stdout(&out).trim()).expect("one JSON object")
    }

    fn submit(&self, lines: &str) {
        let out = run_with_input(self.s.hs(&["submit", "-q", "-p", &self.port]), lines, LIMIT);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            signal(server.id(), libc::SIGINT);
            let _ = wait_output(server, LIMIT);
        }
        for engine in self.engines.drain(..) {
            signal(engine.id(), libc::SIGINT);
            let _ = wait_output(engine, LIMIT);
        }
    }
}

#[test]
fn the_json_snapshot_counts_engines_tasks_rate_and_failures() {
    let c = Cluster::start(2);
    c.submit("true\nexit 3\nsleep 30\n");
    let mut snap = Value::Null;
    let settled = wait_until(LIMIT, || {
        snap = c.snapshot(&[]);
        // The rate needs a second of the controller's life to go by.
        snap["tasks"]["succeeded"] == 1
            && snap["tasks"]["failed"] == 1
            && snap["tasks"]["rate_per_minute"].is_f64()
    });
    assert!(settled, "{snap}");
    assert_eq!(snap["tasks"]["running"], 1, "sleep 30 runs: {snap}");
    assert_eq!(snap["tasks"]["waiting"], 0, "{snap}");
    assert_eq!(snap["tasks"]["finished_last_minute"], 2, "{snap}");
    assert!(
        snap["tasks"]["rate_per_minute"].as_f64().unwrap() > 0.0,
        "{snap}"
    );
    assert!(snap["tasks"]["eta_seconds"].is_u64(), "{snap}");
    assert_eq!(snap["totals"]["engines"], 2, "{snap}");
    assert_eq!(snap["totals"]["slots"], 4, "{snap}");
    assert_eq!(snap["totals"]["busy"], 1, "{snap}");
    let engines = snap["engines"].as_array().unwrap();
    assert_eq!(engines.len(), 2, "{snap}");
    assert_eq!(engines[0]["busy"], 1, "the busy engine first: {snap}");
    let failures = snap["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{snap}");
    assert_eq!(failures[0]["args"], "exit 3", "{snap}");
    assert_eq!(failures[0]["exit_status"], 3, "{snap}");
    assert!(!failures[0]["host"].as_str().unwrap().is_empty(), "{snap}");

    // hs status --json is the same snapshot, and so is the controller found by its connection
    // file, or by the configured port alone.
    let conn = c.s.wait_for_server(&c.port);
    for (cmd, env) in [
        (vec!["status", "--json", "-p", &c.port], None),
        (
            vec!["status", "--json", "--file", conn.to_str().unwrap()],
            None,
        ),
        (
            vec!["top", "--json"],
            Some(("HYPERSHELL_SERVER_PORT", &c.port)),
        ),
    ] {
        let mut hs = c.s.hs(&cmd);
        if let Some((k, v)) = env {
            hs.env(k, v);
        }
        let out = run_with_input(hs, "", LIMIT);
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {}", stderr(&out));
        let other: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        assert_eq!(other["controller_id"], snap["controller_id"], "{cmd:?}");
        assert_eq!(other["failures"][0]["id"], failures[0]["id"], "{cmd:?}");
    }
    let out = run_with_input(c.s.hs(&["status", "-p", &c.port]), "", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("engines: 2 (4 slots, 1 busy)"), "{text}");
    assert!(
        text.contains("recent failures:") && text.contains("exit 3"),
        "{text}"
    );
}

#[test]
fn no_controller_or_no_terminal_are_clear_errors() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let out = run_with_input(s.hs(&["top", "--json", "-p", &port]), "", LIMIT);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no controller on this host's port"),
        "{}",
        stderr(&out)
    );
    let out = run_with_input(s.hs(&["status", "--profile", "nope"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let c = Cluster::start(1);
    // Output to a pipe: the view refuses to draw and says what to use instead.
    let out = run_with_input(c.s.hs(&["top", "-p", &c.port]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--json"), "{}", stderr(&out));
}

/// Bytes the master end has ready, waiting up to `wait` for the first of them.
fn read_some(master: &mut File, wait: Duration) -> Vec<u8> {
    let mut pfd = libc::pollfd {
        fd: master.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for a descriptor `master` keeps open.
    let ready = unsafe { libc::poll(&mut pfd, 1, wait.as_millis() as libc::c_int) };
    if ready <= 0 {
        return Vec::new();
    }
    let mut buf = [0u8; 8192];
    match master.read(&mut buf) {
        Ok(n) => buf[..n].to_vec(),
        Err(_) => Vec::new(),
    }
}

/// The local modes of the terminal `fd` is on (echo, canonical input: what raw mode turns off).
fn local_modes(fd: &OwnedFd) -> libc::tcflag_t {
    // SAFETY: tcgetattr fills a zeroed termios for a descriptor `fd` keeps open.
    unsafe {
        let mut tio: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(fd.as_raw_fd(), &mut tio), 0, "tcgetattr");
        tio.c_lflag
    }
}

/// How `hs top` is asked to end.
#[derive(Debug)]
enum Ending {
    /// Keys typed on its terminal: it exits 0.
    Keys(&'static [u8]),
    /// A signal from outside: it exits 4 (interrupted).
    Signal(libc::c_int),
}

/// `hs top` on an 80×24 pseudo-terminal draws its parts, quits when `ending` asks with its
/// exit status, leaves the alternate screen, shows the cursor again and puts the terminal's
/// modes back.
fn top_on_a_terminal_quits_on(ending: Ending) {
    let c = Cluster::start(1);
    let pty = open_pty();
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer, on a descriptor we own.
    assert_eq!(
        unsafe { libc::ioctl(pty.master.as_raw_fd(), libc::TIOCSWINSZ, &size) },
        0
    );
    let modes_before = local_modes(&pty.slave);
    let mut cmd: Command = c.s.hs(&["top", "-p", &c.port, "--interval", "0.2"]);
    cmd.stdin(Stdio::from(pty.slave.try_clone().unwrap()))
        .stdout(Stdio::from(pty.slave.try_clone().unwrap()))
        .stderr(Stdio::from(pty.slave.try_clone().unwrap()))
        .env_remove("NO_COLOR");
    let mut top = Reaped::new(cmd.spawn().expect("spawn hs top"));
    let mut master = File::from(pty.master);
    let mut seen = Vec::new();
    let until = Instant::now() + LIMIT;
    let drawn = |seen: &[u8]| {
        let text = String::from_utf8_lossy(seen);
        ["hs top", "Tasks", "Engines 1", "Recent failures", "quit"]
            .iter()
            .all(|part| text.contains(part))
    };
    while !drawn(&seen) && Instant::now() < until {
        seen.extend(read_some(&mut master, Duration::from_millis(100)));
    }
    assert!(
        drawn(&seen),
        "the view was not drawn: {:?}",
        String::from_utf8_lossy(&seen)
    );
    assert!(
        alive(top.child().id()),
        "hs top ended by itself: {:?}",
        String::from_utf8_lossy(&seen)
    );
    let expected_exit = match ending {
        Ending::Keys(keys) => {
            master.write_all(keys).unwrap();
            0
        }
        Ending::Signal(signal) => {
            // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
            assert_eq!(
                unsafe { libc::kill(top.child().id() as libc::pid_t, signal) },
                0
            );
            4
        }
    };
    let mut status = None;
    while status.is_none() && Instant::now() < until {
        seen.extend(read_some(&mut master, Duration::from_millis(50)));
        status = top.child().try_wait().unwrap();
    }
    let Some(status) = status else {
        panic!("hs top did not quit on {ending:?}");
    };
    seen.extend(read_some(&mut master, Duration::from_millis(100)));
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert_eq!(status.code(), Some(expected_exit), "{text:?}");
    let entered = text
        .rfind("\x1b[?1049h")
        .expect("the alternate screen was entered");
    let left = text
        .rfind("\x1b[?1049l")
        .expect("the alternate screen was left");
    assert!(left > entered, "{text:?}");
    assert!(
        text[left..].contains("\x1b[?25h"),
        "the cursor is shown again: {text:?}"
    );
    assert_eq!(
        local_modes(&pty.slave),
        modes_before,
        "the terminal's modes are put back"
    );
    // Nothing is drawn past the 80th column: every cursor move stays on the screen.
    let moves = regex::Regex::new(r"\x1b\[(\d+);(\d+)H").unwrap();
    for m in moves.captures_iter(&text) {
        let (row, col): (u32, u32) = (m[1].parse().unwrap(), m[2].parse().unwrap());
        assert!(row <= 24 && col <= 80, "a move to {row};{col}");
    }
}

#[test]
fn top_draws_on_an_80_by_24_terminal_and_q_restores_it() {
    top_on_a_terminal_quits_on(Ending::Keys(b"q"));
}

#[test]
fn top_quits_on_ctrl_c_and_restores_the_terminal() {
    top_on_a_terminal_quits_on(Ending::Keys(b"\x03"));
}

#[test]
fn top_killed_with_sigterm_restores_the_terminal_and_exits_interrupted() {
    top_on_a_terminal_quits_on(Ending::Signal(libc::SIGTERM));
}

#[test]
fn top_hung_up_restores_the_terminal_and_exits_interrupted() {
    top_on_a_terminal_quits_on(Ending::Signal(libc::SIGHUP));
}
