//! Bad input: one clear line, a documented exit status, and every valid task still runs.

use std::time::Duration;

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(30);

fn one_line_error(err: &str, needle: &str) {
    assert!(err.contains(needle), "expected {needle:?} in {err:?}");
}

#[test]
fn unknown_option_is_a_usage_error() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster", "--no-such-option"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2));
    one_line_error(&stderr(&out), "unexpected argument '--no-such-option'");
    let out = run_with_input(s.hs(&[]), "", LIMIT);
    assert_eq!(
        out.status.code(),
        Some(1),
        "no command prints usage, exit 1 as HyperShell"
    );
}

#[test]
fn missing_file_is_a_runtime_error() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster", "no-such-file.txt"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(5));
    one_line_error(&stderr(&out), "cannot read task file no-such-file.txt");
}

#[test]
fn malformed_template_is_a_usage_error_before_anything_runs() {
    let s = Scratch::new();
    for t in ["echo {= 1 + =}", "echo {[1:x]}", "echo {% unterminated"] {
        let out = run_with_input(s.hs(&["cluster", "-t", t]), "touch ran\n", LIMIT);
        assert_eq!(out.status.code(), Some(2), "{t}: {}", stderr(&out));
        one_line_error(&stderr(&out), "bad template");
        assert!(!s.path("ran").exists());
    }
}

#[test]
fn a_non_utf8_line_is_reported_with_its_number_and_the_rest_runs() {
    let s = Scratch::new();
    let mut input = b"echo one\n".to_vec();
    input.extend_from_slice(b"echo \xff\xfe\n");
    input.extend_from_slice(b"echo three\n");
    let path = s.path("tasks.bin");
    std::fs::write(&path, &input).unwrap();
    let out = run_with_input(
        s.hs(&["cluster", path.to_str().unwrap(), "-f", "failed"]),
        "",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(1));
    let mut lines: Vec<_> = stdout(&out).lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["one", "three"]);
    one_line_error(&stderr(&out), "line 2: not valid UTF-8");
    assert_eq!(
        std::fs::read(s.path("failed")).unwrap(),
        b"echo \xff\xfe\n",
        "sieve keeps the raw line"
    );
}

#[test]
fn unreachable_server() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let out = run_with_input(
        s.hs(&[
            "client",
            "-p",
            &port,
            "-k",
            "some-key-0123456789",
            "--connect-timeout",
            "1",
        ]),
        "",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(5));
    one_line_error(&stderr(&out), "no controller answered");
}

#[test]
fn client_without_a_key_says_how_to_get_one() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let out = run_with_input(s.hs(&["client", "-p", &port]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2));
    one_line_error(&stderr(&out), "pass its key with -k");
}

#[test]
fn port_in_use() {
    let s = Scratch::new();
    let port = free_ports();
    let _holder = std::net::TcpListener::bind(("127.0.0.1", port + 1)).unwrap();
    let out = run_with_input(s.hs(&["server", "-p", &port.to_string()]), "true\n", LIMIT);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    one_line_error(
        &stderr(&out),
        &format!("tcp://127.0.0.1:{} is already in use", port + 1),
    );
}

#[test]
fn bad_numbers_are_usage_errors() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster", "-W", "0"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2));
    one_line_error(&stderr(&out), "positive number of seconds");
}

/// Seconds too large for a duration (`inf`, `1e300`) are refused by the parser, not by a panic
/// where the value is used; `-d` keeps its negative values (a random wait).
#[test]
fn seconds_no_duration_holds_are_usage_errors() {
    let s = Scratch::new();
    let values: [&[&str]; 5] = [
        &["-d", "inf"],
        &["-d", "1e300"],
        &["-d=-inf"],
        &["--delay-start=-1e300"],
        &["-d", "NaN"],
    ];
    for value in values {
        for cmd in ["client", "cluster"] {
            let argv: Vec<&str> = std::iter::once(cmd).chain(value.iter().copied()).collect();
            let out = run_with_input(s.hs(&argv), "", LIMIT);
            assert_eq!(out.status.code(), Some(2), "{argv:?}: {}", stderr(&out));
            one_line_error(
                &stderr(&out),
                "expected a number of seconds (negative = a random wait",
            );
        }
    }
    let out = run_with_input(s.hs(&["client", "--connect-timeout", "1e300"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    one_line_error(&stderr(&out), "positive number of seconds");
    let out = run_with_input(s.hs(&["cluster", "-A", "-P", "1e300"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    one_line_error(&stderr(&out), "positive number of seconds");
}

/// A host wait no duration can hold: the flag is a usage error (2), the configuration key a
/// configuration error (3) naming where it was set.
#[test]
fn a_host_wait_no_duration_holds_is_refused() {
    let s = Scratch::new();
    for value in ["--host-wait=-1", "--host-wait=1e300"] {
        let out = run_with_input(s.hs(&["stream", "-N1", value]), "", LIMIT);
        assert_eq!(out.status.code(), Some(2), "{value}: {}", stderr(&out));
    }
    let mut cmd = s.hs(&["stream", "-N1"]);
    cmd.env("HYPERSHELL_SERVER_HOSTWAIT", "-1");
    let out = run_with_input(cmd, "{\"cmd\":\"true\"}\n", LIMIT);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    one_line_error(
        &stderr(&out),
        "server.hostwait = -1 (env: HYPERSHELL_SERVER_HOSTWAIT)",
    );
    assert_eq!(stdout(&out), "", "nothing ran");
}

/// `-p` leaves room for its heartbeat and client ports in a local cluster too: 65534 would
/// have bound 65535 twice.
#[test]
fn cluster_port_without_room_for_its_trio_is_a_usage_error() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster", "-p", "65534"]), "true\n", LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    one_line_error(&stderr(&out), "-p must leave room for PORT+1 and PORT+2");
}

/// A `--from-json` object's columns are checked as a directive's are: a negative count is
/// refused before anything is submitted, naming the file and the object.
#[test]
fn from_json_negative_cores_or_group_is_a_usage_error() {
    let s = Scratch::new();
    for (object, why) in [
        (
            r#"{"args":"x","cores":-1}"#,
            "cores must be a whole number of 0 or more",
        ),
        (
            r#"{"args":"x","group":-3}"#,
            "group must be a whole number of 0 or more",
        ),
    ] {
        let file = s.write("jobs.json", &format!("{{\"args\":\"ok\"}}\n{object}\n"));
        let out = run_with_input(
            s.hs(&[
                "cluster",
                "--from-json",
                file.to_str().unwrap(),
                "-t",
                "echo {}",
            ]),
            "",
            LIMIT,
        );
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        one_line_error(&stderr(&out), &format!("jobs.json line 2: {why}"));
        assert_eq!(stdout(&out), "", "nothing ran");
    }
}
