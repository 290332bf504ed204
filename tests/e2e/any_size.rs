//! Any size, any number: odd input, values passed through as written, many slots, big submits.

use std::time::Duration;

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(90);

/// `hs stream` gives back the members it does not read byte for byte, skips a byte-order mark
/// and refuses (with its line number) a line that is not UTF-8 instead of running it altered.
#[test]
fn stream_values_pass_through_as_written_and_bad_bytes_are_refused() {
    let s = Scratch::new();
    let marker = s.path("ran");
    let mut input = Vec::new();
    input.extend_from_slice(
        b"{\"cmd\":\"true\",\"x\":1.5e-300,\"big\":123456789012345678901234567890,\"e\":1e19,\"s\":\"caf\\u00e9\"}\n",
    );
    input.extend_from_slice(b"\xef\xbb\xbf{\"cmd\":\"true\",\"id\":2}\n");
    input.extend_from_slice(format!("{{\"cmd\":\"touch {} ", marker.display()).as_bytes());
    input.extend_from_slice(b"\xff\",\"id\":3}\n");
    let out = run_with_bytes(s.hs(&["stream", "-N1", "--keep-order"]), &input, LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with(
            r#"{"cmd":"true","x":1.5e-300,"big":123456789012345678901234567890,"e":1e19,"s":"caf\u00e9","result":{"#
        ),
        "{text}"
    );
    assert!(
        lines[1].starts_with(r#"{"cmd":"true","id":2,"result":{"#),
        "{text}"
    );
    let rs = json_lines(&out);
    assert_ok_result(&rs[0]["result"]);
    assert_ok_result(&rs[1]["result"]);
    assert_eq!(rs[2]["result"]["status"], "error", "{text}");
    assert!(
        rs[2]["result"]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("line 3: not valid UTF-8")),
        "{text}"
    );
    assert!(!marker.exists(), "the line with a bad byte did not run");
}

/// A task the submit-side template makes longer than a task may be is refused; the rest are
/// submitted and the exit status says one was not.
#[test]
fn a_task_too_long_after_the_template_is_refused_and_the_rest_submitted() {
    let s = Scratch::new();
    let input = format!("echo a\n: {}\necho b\n", "y".repeat(3 << 20));
    let out = run_with_input(
        s.hs(&["submit", "--initdb", "--template", "{} {} {}"]),
        &input,
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("once the template is applied"),
        "{}",
        stderr(&out)
    );
    let count = s.hs(&["list", "--count"]).output().unwrap();
    assert_eq!(stdout(&count).trim(), "2", "{}", stderr(&count));
}

/// More slots than libzmq's 1,023 sockets a context: they start and run (each once had a
/// socket of its own, and the run hung).
#[test]
fn an_engine_of_more_than_a_thousand_slots_runs() {
    let s = Scratch::new();
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the live local.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if limit.rlim_max < 1100 * 10 + 24 {
        skip_or_fail("the hard open-file limit is too low for 1,100 slots");
        return;
    }
    let input: String = (1..=20).map(|i| format!("echo {i}\n")).collect();
    let out = run_with_input(s.hs(&["cluster", "-N", "1100", "--no-db"]), &input, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 20);
}

/// More slots than the open-file limit allows are refused at once (exit 2), naming the limit,
/// by `hs cluster` and `hs client` alike.
#[test]
fn more_slots_than_open_files_allow_are_refused_naming_the_limit() {
    let s = Scratch::new();
    for command in ["cluster -N 300 --no-db", "client -N 300 -p 1 -k key"] {
        let mut c = std::process::Command::new("bash");
        c.arg("-c")
            .arg(format!(
                "ulimit -n 1024 && exec {} {command}",
                hs_bin().display()
            ))
            .current_dir(s.path(""))
            .env("HYPERSHELL_SITE", s.path("site"));
        let out = run_with_input(c, "true\n", LIMIT);
        assert_eq!(out.status.code(), Some(2), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("-N 300 needs about")
                && err.contains("ulimit -n")
                && err.contains("at most 100 slots"),
            "{command}: {err}"
        );
    }
}
