//! `hs stream`: JSON jobs in, JSON results out, every line answered exactly once.

use std::io::Write;
use std::time::Duration;

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(90);

#[test]
fn mixed_jobs_each_get_one_result_line() {
    let s = Scratch::new();
    let dir = s.path("work");
    std::fs::create_dir_all(&dir).unwrap();
    let jobs = [
        r#"{"cmd":"echo out","id":"a","extra":{"kept":true}}"#.to_string(),
        r#"{"cmd":"exit 3","id":"b"}"#.to_string(),
        "this is not json".to_string(),
        r#"["not","an","object"]"#.to_string(),
        r#"{"id":"c"}"#.to_string(),
        r#"{"cmd":7,"id":"d"}"#.to_string(),
        format!(
            r#"{{"cmd":"pwd > where.txt; echo text; echo oops >&2","cd":"{}","out":"o.txt","err":"e.txt","id":"e"}}"#,
            dir.display()
        ),
        r#"{"cmd":"true","cd":"/no/such/place","id":"f"}"#.to_string(),
        r#"{"cmd":"echo $GREETING","env":{"GREETING":"hi"},"out":"g.txt","id":"g"}"#.to_string(),
        r#"{"cmd":"sleep 30","timeout":1,"id":"h"}"#.to_string(),
        r#"{"cmd":"true","host":["no-such-host.example"],"id":"i"}"#.to_string(),
        r#"{"cmd":"true","out":"/no/such/dir/out.txt","id":"j"}"#.to_string(),
    ];
    // A blank line (skipped, but counted) before "f": line numbers are input lines.
    let input = jobs[..7].join("\n") + "\n\n" + &jobs[7..].join("\n") + "\n";
    let out = run_with_input(
        s.hs(&[
            "stream",
            "-N2",
            "--keep-order",
            "-S",
            "0.2",
            "--host-wait",
            "0",
        ]),
        &input,
        LIMIT,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "some jobs failed: {}",
        stderr(&out)
    );
    let rs = json_lines(&out);
    assert_eq!(rs.len(), jobs.len(), "one line per input line");
    let status = |i: usize| {
        rs[i]["result"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let error = |i: usize| {
        rs[i]["result"]["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    // In input order, with the input object passed through untouched.
    assert_eq!(rs[0]["id"], "a");
    assert_eq!(rs[0]["extra"]["kept"], true);
    assert_eq!(
        rs[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["cmd", "id", "extra", "result"]
    );
    assert_ok_result(&rs[0]["result"]);
    assert_eq!(rs[0]["result"]["line"], 1);
    assert_eq!(
        (status(1), rs[1]["result"]["code"].as_i64()),
        ("error".to_string(), Some(3))
    );
    assert_eq!(error(1), "line 2: exit status 3");
    assert_eq!(rs[2]["input"], "this is not json");
    assert!(
        error(2).starts_with("line 3: not valid JSON"),
        "{}",
        error(2)
    );
    assert!(
        error(3).contains("line 4") && error(3).contains("JSON object"),
        "{}",
        error(3)
    );
    assert!(error(4).contains("no \"cmd\""), "{}", error(4));
    assert!(error(5).contains("must be a string"), "{}", error(5));
    assert_eq!(status(6), "ok", "{}", rs[6]);
    assert_ran_in(&dir);
    // A job that cannot start says so with its input line number; the others still ran.
    assert_eq!(
        error(7),
        "line 9: working directory /no/such/place does not exist"
    );
    assert_eq!(rs[7]["result"]["line"], 9);
    assert!(
        rs[7]["result"]["code"].is_null(),
        "it never started: {}",
        rs[7]
    );
    assert_eq!(s.read("g.txt"), "hi\n");
    assert_eq!(status(9), "timeout");
    assert_eq!(rs[9]["result"]["signal"], 2);
    assert_eq!(
        error(10),
        "line 12: no engine on host(s) no-such-host.example joined within 0s"
    );
    assert!(
        error(11).starts_with("line 13: ") && error(11).contains("/no/such/dir/out.txt"),
        "{}",
        error(11)
    );
}

/// The id and result of every line, by id.
fn by_id(out: &std::process::Output) -> std::collections::HashMap<String, serde_json::Value> {
    json_lines(out)
        .into_iter()
        .map(|r| (r["id"].as_str().unwrap_or_default().to_string(), r))
        .collect()
}

#[test]
fn a_job_for_an_absent_host_fails_after_host_wait_while_the_others_run() {
    let s = Scratch::new();
    let mut jobs = vec![r#"{"cmd":"echo never","host":["nosuchhost"],"id":"stuck"}"#.to_string()];
    jobs.extend((0..6).map(|i| format!(r#"{{"cmd":"sleep 0.1","id":"free{i}"}}"#)));
    let input = jobs.join("\n") + "\n";
    let started = std::time::Instant::now();
    let out = run_with_input(
        s.hs(&["stream", "-N2", "--host-wait", "1"]),
        &input,
        Duration::from_secs(30),
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let rs = json_lines(&out);
    assert_eq!(rs.len(), jobs.len(), "{}", stdout(&out));
    // The others were answered first: nothing waited behind the stuck job.
    let last = &rs[rs.len() - 1];
    assert_eq!(last["id"], "stuck", "{}", stdout(&out));
    assert_eq!(last["result"]["status"], "error");
    assert!(last["result"]["code"].is_null(), "it never ran: {last}");
    assert_eq!(
        last["result"]["error"],
        "line 1: no engine on host(s) nosuchhost joined within 1s"
    );
    assert!(
        rs[..rs.len() - 1]
            .iter()
            .all(|r| r["result"]["status"] == "ok")
    );
    assert!(
        !stderr(&out).lines().any(|l| l == "never"),
        "the job must not run"
    );
}

#[test]
fn a_job_for_this_host_runs_however_the_name_is_spelt() {
    let s = Scratch::new();
    let short = hs_engine::engine::short_hostname();
    let jobs = [
        format!(r#"{{"cmd":"true","host":"{short}","id":"short"}}"#),
        format!(
            r#"{{"cmd":"true","host":["nosuchhost","{}.some.domain"],"id":"fqdn"}}"#,
            short.to_uppercase()
        ),
        r#"{"cmd":"true","host":"localhost","id":"localhost"}"#.to_string(),
    ];
    let input = jobs.join("\n") + "\n";
    let out = run_with_input(s.hs(&["stream", "-N2"]), &input, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rs = by_id(&out);
    for id in ["short", "fqdn", "localhost"] {
        assert_eq!(rs[id]["result"]["status"], "ok", "{}", rs[id]);
        assert_eq!(rs[id]["result"]["host"], short.as_str(), "{}", rs[id]);
    }
}

#[test]
fn ten_thousand_jobs_are_each_answered_exactly_once() {
    let s = Scratch::new();
    let input: String = (0..10_000)
        .map(|i| format!("{{\"cmd\":\"true\",\"id\":{i}}}\n"))
        .collect();
    let out = run_with_input(s.hs(&["stream", "-N2"]), &input, Duration::from_secs(300));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut ids: Vec<i64> = json_lines(&out)
        .iter()
        .map(|r| {
            assert_eq!(r["result"]["status"], "ok");
            r["id"].as_i64().unwrap()
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..10_000).collect::<Vec<_>>());
}

#[test]
fn interrupting_a_stream_cancels_everything_and_leaves_nothing_behind() {
    let s = Scratch::new();
    let marker = format!("sleep {}", unique_seconds());
    let (child, mut stdin) = spawn_fed(s.hs(&["stream", "-N2", "-S", "0.3"]));
    {
        for i in 0..5 {
            writeln!(
                stdin,
                "{{\"cmd\":\"{marker} & {marker}; wait\",\"id\":{i}}}"
            )
            .unwrap();
        }
        // Keep stdin open: a live stream, interrupted mid-way.
        assert!(wait_until(Duration::from_secs(10), || processes_with(
            &marker
        )
        .len()
            >= 4));
        signal(child.id(), libc::SIGINT);
        let out = wait_output(child, Duration::from_secs(30));
        drop(stdin);
        assert_stream_cancelled(&out, 5);
    }
    assert_none_left(&marker, Duration::from_secs(3));
}

/// Seconds from a result's `completed` to its `received` (when the stream had it).
fn delivery_delay(r: &serde_json::Value) -> f64 {
    let at = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(r["result"][field].as_str().expect(field))
            .expect("ISO-8601")
    };
    (at("received") - at("completed")).as_seconds_f64()
}

/// Engines hold finished results for a bundle up to `-w` seconds while other tasks run, send
/// each at once with `-w 0` or `-b 1`, and never hold one when nothing else runs.
#[test]
fn results_linger_up_to_bundlewait_only_while_other_tasks_run() {
    let s = Scratch::new();
    // A slow job first, so that every job has reached the engine before `quick` runs (on a
    // loaded machine the first job can finish before the others arrive); after `quick`, one
    // slow job runs and one waits: nothing forces a send but the bundle filling or the linger
    // running out.
    let jobs: String = ["{\"cmd\":\"sleep 0.8\",\"id\":\"first\"}\n".to_string()]
        .into_iter()
        .chain(std::iter::once(
            "{\"cmd\":\"true\",\"id\":\"quick\"}\n".to_string(),
        ))
        .chain((0..2).map(|i| format!("{{\"cmd\":\"sleep 0.8\",\"id\":\"slow{i}\"}}\n")))
        .collect();
    let jobs = jobs.as_str();
    let quick_delay = |flags: &[&str], input: &str| {
        let mut args = vec!["stream", "-N1"];
        args.extend_from_slice(flags);
        let out = run_with_input(s.hs(&args), input, LIMIT);
        assert_eq!(out.status.code(), Some(0), "{flags:?}: {}", stderr(&out));
        delivery_delay(&by_id(&out)["quick"])
    };
    let held = quick_delay(&["-b", "100", "-w", "0.5"], jobs);
    assert!((0.4..1.5).contains(&held), "held {held}s with -w 0.5");
    for flags in [["-b", "100", "-w", "0"], ["-b", "1", "-w", "5"]] {
        let d = quick_delay(&flags, jobs);
        assert!(d < 0.2, "held {d}s with {flags:?}");
    }
    let alone = quick_delay(&["-w", "5"], "{\"cmd\":\"true\",\"id\":\"quick\"}\n");
    assert!(alone < 0.2, "held {alone}s with nothing else running");
}

/// A job whose `env` cannot be a variable is answered with its line number; the rest run.
#[test]
fn a_job_with_an_unusable_variable_is_answered_and_the_rest_run() {
    let s = Scratch::new();
    let input = concat!(
        "{\"cmd\":\"true\",\"id\":\"bad-name\",\"env\":{\"A=B\":\"x\"}}\n",
        "{\"cmd\":\"true\",\"id\":\"nul\",\"env\":{\"A\":\"x\\u0000y\"}}\n",
        "{\"cmd\":\"echo $GOOD\",\"id\":\"good\",\"env\":{\"GOOD\":\"yes\"}}\n",
    );
    let out = run_with_input(s.hs(&["stream", "-N1"]), input, LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rs = by_id(&out);
    for (id, line) in [("bad-name", 1), ("nul", 2)] {
        let error = rs[id]["result"]["error"].as_str().unwrap_or_default();
        assert_eq!(rs[id]["result"]["status"], "error", "{}", rs[id]);
        assert!(
            error.contains(&format!("line {line}")) && error.contains("not a usable variable"),
            "{error}"
        );
    }
    assert_eq!(rs["good"]["result"]["status"], "ok", "{}", rs["good"]);
    assert!(stderr(&out).lines().any(|l| l == "yes"), "{}", stderr(&out));
}
