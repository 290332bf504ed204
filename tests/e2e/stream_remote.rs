//! `hs stream --file`: JSON jobs to a running `hs server --forever` and its `hs client` engines,
//! every line answered exactly once, Ctrl-C cancelling through the controller, a wrong key
//! refused and a controller that dies reported.

use std::io::Write;
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(120);

/// A server (SQLite store in the scratch site) with one engine, stopped on drop.
struct Cluster {
    s: Scratch,
    conn: PathBuf,
    server: Option<Child>,
    engine: Option<Child>,
}

impl Cluster {
    fn start(slots: &str) -> Cluster {
        let s = Scratch::new();
        let port = free_ports().to_string();
        let server = spawn_piped(s.hs(&["server", "--forever", "-p", &port]));
        let conn = s.wait_for_server(&port);
        let engine = spawn_piped(s.hs(&["client", "-p", &port, slots, "-S", "0.3"]));
        Cluster {
            s,
            conn,
            server: Some(server),
            engine: Some(engine),
        }
    }

    fn stream(&self, extra: &[&str]) -> std::process::Command {
        let mut args = vec!["stream", "--file", self.conn.to_str().unwrap()];
        args.extend(extra);
        self.s.hs(&args)
    }

    /// Kill the controller outright (no goodbye to anyone).
    fn kill_server(&mut self) {
        if let Some(server) = self.server.take() {
            signal(server.id(), libc::SIGKILL);
            let _ = wait_output(server, LIMIT);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A stopped server leaves its engine waiting to reconnect: stop both.
        for child in [self.engine.take(), self.server.take()]
            .into_iter()
            .flatten()
        {
            signal(child.id(), libc::SIGTERM);
            let _ = wait_output(child, LIMIT);
        }
    }
}

fn by_id(rs: &[Value], id: &str) -> Value {
    rs.iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no result for {id}"))
        .clone()
}

#[test]
fn stream_file_mixed_jobs_each_get_one_result_line() {
    let c = Cluster::start("-N2");
    let dir = c.s.path("work");
    std::fs::create_dir_all(&dir).unwrap();
    let jobs = [
        r#"{"cmd":"echo out","id":"a","extra":{"kept":true}}"#.to_string(),
        r#"{"cmd":"exit 3","id":"b"}"#.to_string(),
        "this is not json".to_string(),
        format!(
            r#"{{"cmd":"pwd > where.txt; echo text; echo oops >&2","cd":"{}","out":"o.txt","err":"e.txt","id":"e"}}"#,
            dir.display()
        ),
        r#"{"cmd":"true","cd":"/no/such/place","id":"f"}"#.to_string(),
        format!(
            r#"{{"cmd":"echo $GREETING","env":{{"GREETING":"hi"}},"cd":"{}","out":"g.txt","id":"g"}}"#,
            dir.display()
        ),
        r#"{"cmd":"sleep 30","timeout":1,"id":"h"}"#.to_string(),
        r#"{"cmd":"echo $TASK_TAG_COLOUR","tags":{"colour":"blue"},"id":"t"}"#.to_string(),
    ];
    let input = jobs.join("\n") + "\n";
    let out = run_with_input(c.stream(&["--keep-order"]), &input, LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rs = json_lines(&out);
    assert_eq!(rs.len(), jobs.len(), "one line per input line");
    // In input order, the object passed through, the result in local mode's shape.
    assert_eq!(rs[0]["id"], "a");
    assert_eq!(rs[0]["extra"]["kept"], true);
    assert_ok_result(&rs[0]["result"]);
    let b = by_id(&rs, "b");
    assert_eq!(
        (b["result"]["status"].as_str(), b["result"]["code"].as_i64()),
        (Some("error"), Some(3))
    );
    assert_eq!(rs[2]["input"], "this is not json");
    assert!(
        rs[2]["result"]["error"]
            .as_str()
            .unwrap()
            .starts_with("line 3: not valid JSON")
    );
    assert_eq!(by_id(&rs, "e")["result"]["status"], "ok");
    assert_ran_in(&dir);
    let f = by_id(&rs, "f");
    assert_eq!(f["result"]["status"], "error");
    assert!(
        f["result"]["error"]
            .as_str()
            .unwrap()
            .starts_with("line 5: working directory /no/such/place"),
        "{f}"
    );
    assert_eq!(f["result"]["line"], 5);
    assert!(f["result"]["code"].is_null(), "it never started: {f}");
    assert_eq!(std::fs::read_to_string(dir.join("g.txt")).unwrap(), "hi\n");
    assert_eq!(by_id(&rs, "h")["result"]["status"], "timeout");
    assert_eq!(by_id(&rs, "t")["result"]["status"], "ok");
    // The controller keeps them: the store has every job that ran, under its msg_id.
    let id = rs[0]["result"]["msg_id"].as_str().unwrap();
    let info = run_with_input(c.s.hs(&["info", id, "-x", "exit_status"]), "", LIMIT);
    assert_eq!(stdout(&info).trim(), "0", "{}", stderr(&info));
}

#[test]
fn stream_file_two_thousand_jobs_are_each_answered_exactly_once() {
    let c = Cluster::start("-N2");
    let input: String = (0..2000)
        .map(|i| format!("{{\"cmd\":\"exit $(( {i} % 7 == 0 ))\",\"id\":{i}}}\n"))
        .collect();
    let started = Instant::now();
    let out = run_with_input(c.stream(&[]), &input, Duration::from_secs(300));
    eprintln!(
        "2000 jobs through hs stream --file: {:?}",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rs = json_lines(&out);
    let mut ids: Vec<i64> = rs.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..2000).collect::<Vec<_>>(), "each answered once");
    for r in &rs {
        let i = r["id"].as_i64().unwrap();
        let want = if i % 7 == 0 { "error" } else { "ok" };
        assert_eq!(r["result"]["status"], want, "{r}");
    }
}

#[test]
fn stream_file_interrupted_cancels_through_the_controller_and_leaves_nothing_running() {
    let c = Cluster::start("-N2");
    let marker = format!("sleep {}", unique_seconds());
    let (child, mut stdin) = spawn_fed(c.stream(&[]));
    for i in 0..6 {
        writeln!(stdin, "{{\"cmd\":\"{marker}\",\"id\":{i}}}").unwrap();
    }
    // Keep stdin open: a live stream, interrupted in the middle of long jobs.
    assert!(
        wait_until(Duration::from_secs(15), || processes_with(&marker).len()
            >= 2),
        "jobs never started"
    );
    signal(child.id(), libc::SIGINT);
    let out = wait_output(child, Duration::from_secs(60));
    drop(stdin);
    assert_stream_cancelled(&out, 6);
    assert_none_left(&marker, Duration::from_secs(5));
}

#[test]
fn stream_file_with_a_wrong_key_is_refused_with_exit_7() {
    use std::os::unix::fs::PermissionsExt;
    let c = Cluster::start("-N1");
    let mut info: Value = serde_json::from_slice(&std::fs::read(&c.conn).unwrap()).unwrap();
    info["key"] = Value::String("0".repeat(64));
    let wrong = c.s.write("wrong.json", &info.to_string());
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run_with_input(
        c.s.hs(&["stream", "--file", wrong.to_str().unwrap()]),
        "{\"cmd\":\"true\"}\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(stderr(&out).contains("key"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    // Flags for local engines, or for a broker of its own, make no sense with --file: the
    // controller's own settings apply.
    for flag in [["-N", "4"], ["--host-wait", "1"]] {
        let out = run_with_input(c.stream(&flag), "", LIMIT);
        assert_eq!(out.status.code(), Some(2), "{flag:?}: {}", stderr(&out));
    }
}

#[test]
fn stream_file_reports_a_controller_that_dies_and_its_unanswered_jobs() {
    let mut c = Cluster::start("-N1");
    let marker = format!("sleep {}", unique_seconds());
    let (mut child, mut stdin) = spawn_fed(c.stream(&[]));
    // Read the results as they come, so the controller dies only once job 0 is answered.
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let results = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(results)).map_while(Result::ok)
        {
            let _ = lines_tx.send(line);
        }
    });
    writeln!(stdin, "{{\"cmd\":\"true\",\"id\":0}}").unwrap();
    for i in 1..4 {
        writeln!(stdin, "{{\"cmd\":\"{marker}\",\"id\":{i}}}").unwrap();
    }
    let first = lines_rx
        .recv_timeout(Duration::from_secs(15))
        .expect("job 0 answered");
    assert!(
        wait_until(Duration::from_secs(15), || processes_with(&marker).len()
            == 1),
        "job never started"
    );
    c.kill_server();
    let out = wait_output(child, Duration::from_secs(60));
    drop(stdin);
    let _ = reader.join();
    let lines: Vec<String> = std::iter::once(first).chain(lines_rx.try_iter()).collect();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.contains("lost the controller") && last.contains("3 jobs unanswered"),
        "{err}"
    );
    let rs: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    assert_eq!(rs.len(), 4, "{}", lines.join("\n"));
    assert_eq!(
        rs.iter().find(|r| r["id"] == 0).unwrap()["result"]["status"],
        "ok"
    );
    for i in 1..4 {
        let r = rs.iter().find(|r| r["id"] == i).unwrap();
        assert_eq!(r["result"]["status"], "error", "{r}");
        assert!(!r["result"]["msg_id"].is_null(), "{r}");
    }
    // The engine keeps running its task for a controller that may come back; stop it.
    drop(c);
    assert_none_left(&marker, Duration::from_secs(10));
}
