//! The durable store seen through the binaries: history, retries, submit to a running server,
//! one controller per database, and restart after a controller is killed with SIGKILL — on
//! SQLite and on a real PostgreSQL server.

use std::process::{Child, Command};
use std::time::Duration;

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(60);

/// Which database a test runs on.
enum Db {
    Sqlite,
    Postgres(String),
}

impl Db {
    /// A fresh PostgreSQL database for one test, or `None` (skipped visibly) without a server.
    fn postgres() -> Option<Db> {
        let Ok(url) = std::env::var("DATABASE_URL") else {
            skip_or_fail(
                "PostgreSQL is not running (DATABASE_URL unset): run scripts/test as root",
            );
            return None;
        };
        let name = format!("hs_{}", uuid::Uuid::new_v4().simple());
        let made = Command::new("psql")
            .arg(&url)
            .args(["-qc", &format!("CREATE DATABASE {name}")])
            .output();
        match made {
            Ok(o) if o.status.success() => {}
            other => panic!("cannot create a test database: {other:?}"),
        }
        let base = url
            .rsplit_once('/')
            .map_or(url.as_str(), |(b, _)| b)
            .to_string();
        Some(Db::Postgres(format!("{base}/{name}")))
    }

    fn apply(&self, cmd: &mut Command) {
        if let Db::Postgres(url) = self {
            cmd.env("HYPERSHELL_DATABASE_URL", url);
        }
    }
}

fn hs(s: &Scratch, db: &Db, args: &[&str]) -> Command {
    let mut c = s.hs(args);
    db.apply(&mut c);
    c
}

fn list(s: &Scratch, db: &Db, args: &[&str]) -> String {
    let mut full = vec!["list"];
    full.extend_from_slice(args);
    let out = run_with_input(hs(s, db, &full), "", LIMIT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "hs list {args:?}: {}",
        stderr(&out)
    );
    stdout(&out)
}

fn init(s: &Scratch, db: &Db) {
    if let Db::Postgres(_) = db {
        let out = run_with_input(hs(s, db, &["initdb"]), "", LIMIT);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
}

#[test]
fn cluster_keeps_history_in_sqlite_by_default() {
    let s = Scratch::new();
    let out = run_with_input(
        s.hs(&["cluster", "-N2"]),
        "true\nexit 3\necho 'a#b'\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(s.path("site/lib/main.db").exists());
    assert_eq!(list(&s, &Db::Sqlite, &["--count"]).trim(), "3");
    assert_eq!(
        list(&s, &Db::Sqlite, &["args", "-w", "exit_status >= 1"]).trim(),
        "exit 3"
    );
    assert_eq!(
        list(
            &s,
            &Db::Sqlite,
            &["exit_status", "-w", "args == echo 'a#b'"]
        )
        .trim(),
        "0"
    );
    // D1: a database whose tasks are all done still runs the new input.
    let out = run_with_input(s.hs(&["cluster", "-b", "10"]), "echo again\n", LIMIT);
    assert_eq!(stdout(&out), "again\n", "{}", stderr(&out));
}

#[test]
fn retries_are_new_rows_linked_to_the_last() {
    let s = Scratch::new();
    let out = run_with_input(
        s.hs(&["cluster", "-r", "2"]),
        "test -e marker || (touch marker; exit 1)\n",
        LIMIT,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "the first attempt failed: {}",
        stderr(&out)
    );
    let json: serde_json::Value =
        serde_json::from_str(&list(&s, &Db::Sqlite, &["--json", "-s", "attempt"])).expect("json");
    let rows = json.as_array().expect("array");
    assert_eq!(rows.len(), 2, "{json}");
    assert_eq!(
        (rows[0]["attempt"].as_i64(), rows[0]["exit_status"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(rows[0]["retried"], serde_json::Value::Bool(true));
    assert_eq!(rows[0]["next_id"], rows[1]["id"]);
    assert_eq!(rows[1]["previous_id"], rows[0]["id"]);
    assert_eq!(
        (rows[1]["attempt"].as_i64(), rows[1]["exit_status"].as_i64()),
        (Some(2), Some(0))
    );
}

#[test]
fn directives_and_tags_reach_the_task() {
    let s = Scratch::new();
    let input = "# HYPERSHELL: site:north\necho $TASK_TAG_SITE $TASK_TAG_KIND # HYPERSHELL: kind:probe timeout:30\n";
    let out = run_with_input(s.hs(&["cluster"]), input, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "north probe\n");
    assert_eq!(
        list(&s, &Db::Sqlite, &["timeout", "-t", "site:north", "kind"]).trim(),
        "30"
    );
}

/// Input in two groups (`# HYPERSHELL: group:1` on a line of its own): group 1 waits until
/// group 0 has finished, then runs too, and every task runs exactly once. Group 0's tasks are
/// slow enough that the input ends while they run, so the run must not look done when the last
/// of them finishes with group 1 still in the store.
fn groups_run_in_order(extra: &[&str]) -> Scratch {
    let s = Scratch::new();
    let mut input = String::new();
    for i in 1..=4 {
        input.push_str(&format!("sleep 0.5; echo a{i} >> order.txt\n"));
    }
    input.push_str("# HYPERSHELL: group:1\n");
    for i in 1..=4 {
        input.push_str(&format!("echo b{i} >> order.txt\n"));
    }
    let mut args = vec!["cluster", "-N2"];
    args.extend_from_slice(extra);
    let out = run_with_input(s.hs(&args), &input, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("tasks: 8 done, 8 succeeded, 0 failed"),
        "{}",
        stderr(&out)
    );
    let order: Vec<String> = s.read("order.txt").lines().map(String::from).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"],
        "each task ran exactly once"
    );
    // Group 0's tasks write when they end, group 1's when they start.
    assert!(
        order[..4].iter().all(|l| l.starts_with('a')),
        "group 1 ran before group 0 had finished: {order:?}"
    );
    s
}

#[test]
fn later_groups_run_after_earlier_ones_finish_sqlite() {
    let s = groups_run_in_order(&[]);
    assert_eq!(list(&s, &Db::Sqlite, &["--count"]).trim(), "8");
    assert_eq!(
        list(&s, &Db::Sqlite, &["--count", "-w", "group == 1"]).trim(),
        "4"
    );
}

#[test]
fn later_groups_run_after_earlier_ones_finish_in_memory() {
    groups_run_in_order(&["--no-db"]);
}

fn submit_to_a_running_server(db: Db) {
    let s = Scratch::new();
    init(&s, &db);
    let port = free_ports().to_string();
    let server = spawn_piped(hs(&s, &db, &["server", "--forever", "-p", &port]));
    s.wait_for_server(&port);
    let engine = spawn_piped(hs(&s, &db, &["client", "-p", &port, "--capture"]));
    let out = run_with_input(
        hs(&s, &db, &["task", "submit", "echo", "submitted later"]),
        "",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    let out = run_with_input(
        hs(&s, &db, &["wait", &id, "-n", "0.1", "-T", "30"]),
        "",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run_with_input(hs(&s, &db, &["info", &id, "--stdout"]), "", LIMIT);
    assert_eq!(stdout(&out), "submitted later\n", "{}", stderr(&out));
    let out = run_with_input(
        hs(&s, &db, &["run", "--", "sh", "-c", "echo ran; exit 4"]),
        "",
        LIMIT,
    );
    assert_eq!(
        (out.status.code(), stdout(&out).as_str()),
        (Some(4), "ran\n"),
        "{}",
        stderr(&out)
    );
    signal(server.id(), libc::SIGTERM);
    let _ = wait_output(server, LIMIT);
    let _ = wait_output(engine, LIMIT);
}

#[test]
fn submit_wait_info_and_run_against_a_running_server_sqlite() {
    submit_to_a_running_server(Db::Sqlite);
}

#[test]
fn submit_wait_info_and_run_against_a_running_server_postgres() {
    if let Some(db) = Db::postgres() {
        submit_to_a_running_server(db);
    }
}

#[test]
fn a_second_controller_on_the_same_database_is_refused() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let first = spawn_piped(s.hs(&["server", "--forever", "-p", &port]));
    // Its connection file is written once it has claimed the database and listens.
    s.wait_for_server(&port);
    let out = run_with_input(
        s.hs(&["server", "--forever", "-p", &free_ports().to_string()]),
        "",
        LIMIT,
    );
    signal(first.id(), libc::SIGTERM);
    let _ = wait_output(first, LIMIT);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("in use by another live controller"),
        "{}",
        stderr(&out)
    );
}

fn crash_recovery(db: Db) {
    let s = Scratch::new();
    init(&s, &db);
    let port = free_ports().to_string();
    let tasks: String = (1..=200)
        .map(|i| format!("sleep 0.03; echo {i} >> done.txt\n"))
        .collect();
    let file = s.write("tasks.txt", &tasks);
    let beat = ["--heartrate", "0.2", "--evict", "1"];
    let mut first = vec!["server", file.to_str().unwrap(), "-p", &port];
    first.extend_from_slice(&beat);
    let server = spawn_piped(hs(&s, &db, &first));
    let conn = s.wait_for_server(&port);
    let key = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&conn).unwrap()).unwrap()
        ["key"]
        .as_str()
        .unwrap()
        .to_string();
    let engines: Vec<Child> = (0..2)
        .map(|_| spawn_piped(hs(&s, &db, &["client", "-p", &port, "-k", &key, "-N2"])))
        .collect();
    assert!(wait_until(Duration::from_secs(30), || numbers_in(
        &s.read("done.txt")
    )
    .len()
        >= 60));
    signal(server.id(), libc::SIGKILL);
    let _ = wait_output(server, LIMIT);
    // The engines keep running what they hold; a new controller on the same database and port
    // takes their reports instead of running those tasks again.
    let mut second = vec![
        "server",
        "--restart",
        "-p",
        &port,
        "-k",
        &key,
        "--restart-grace",
        "8",
    ];
    second.extend_from_slice(&beat);
    let out = wait_output(spawn_piped(hs(&s, &db, &second)), LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for e in engines {
        let o = wait_output(e, LIMIT);
        assert_eq!(o.status.code(), Some(0), "engine: {}", stderr(&o));
    }
    assert_eq!(list(&s, &db, &["--count"]).trim(), "200");
    assert_eq!(list(&s, &db, &["--count", "--succeeded"]).trim(), "200");
    assert_eq!(list(&s, &db, &["--count", "--remaining"]).trim(), "0");
    assert_eq!(
        numbers_in(&s.read("done.txt")),
        (1..=200).collect::<Vec<_>>(),
        "every task ran exactly once"
    );
}

#[test]
fn controller_killed_with_sigkill_restarts_without_losing_or_repeating_sqlite() {
    crash_recovery(Db::Sqlite);
}

#[test]
fn controller_killed_with_sigkill_restarts_without_losing_or_repeating_postgres() {
    if let Some(db) = Db::postgres() {
        crash_recovery(db);
    }
}

/// `hs cluster --restart` with no FILE after an interrupted run, with more tasks submitted while
/// no controller ran: it reads no input (its stdin stays open, holding a task that must never
/// run), runs exactly what the database has left — the tasks stopped mid-run and those never
/// started — and then stops by itself with exit 0. Tasks that had finished do not run again.
#[test]
fn cluster_restart_without_a_file_runs_only_what_is_left_and_stops() {
    use std::io::Write;
    let s = Scratch::new();
    let tasks: String = (1..=16)
        .map(|i| format!("sleep 0.3; echo {i} >> done.txt\n"))
        .collect();
    let file = s.write("tasks.txt", &tasks);
    let first = spawn_piped(s.hs(&["cluster", file.to_str().unwrap(), "-N2"]));
    assert!(
        wait_until(Duration::from_secs(10), || numbers_in(&s.read("done.txt"))
            .len()
            >= 4),
        "the first run got going"
    );
    // Both slots started their next task as the last ones ended; interrupt well inside their
    // sleeps, away from the moment a task writes its number.
    std::thread::sleep(Duration::from_millis(80));
    signal(first.id(), libc::SIGINT);
    let out = wait_output(first, LIMIT);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let finished = numbers_in(&s.read("done.txt")).len();
    assert_eq!(
        list(&s, &Db::Sqlite, &["--count", "--completed"]).trim(),
        finished.to_string()
    );
    let left: usize = list(&s, &Db::Sqlite, &["--count", "--remaining"])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(finished + left, 16);
    assert!(left >= 2, "the interrupt left tasks unfinished: {left}");

    let out = run_with_input(
        s.hs(&["submit"]),
        "echo 17 >> done.txt\necho 18 >> done.txt\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let (restart, mut stdin) = spawn_fed(s.hs(&["cluster", "--restart", "-N2"]));
    stdin
        .write_all(b"echo 99 >> done.txt\n")
        .expect("write to stdin");
    let out = wait_output(restart, Duration::from_secs(20));
    drop(stdin);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let ran = left + 2;
    assert!(
        err.contains(&format!("tasks: {ran} done, {ran} succeeded, 0 failed")),
        "{err}"
    );
    assert_eq!(
        numbers_in(&s.read("done.txt")),
        (1..=18).collect::<Vec<_>>(),
        "every task ran exactly once, and nothing from stdin"
    );
    assert_eq!(list(&s, &Db::Sqlite, &["--count"]).trim(), "18");
    assert_eq!(
        list(&s, &Db::Sqlite, &["--count", "--succeeded"]).trim(),
        "18"
    );
    assert_eq!(
        list(&s, &Db::Sqlite, &["--count", "--remaining"]).trim(),
        "0"
    );
}

#[test]
fn bad_store_input_gets_one_line_errors_and_changes_nothing() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster"]), "true\nexit 4\n", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cases: &[(&[&str], i32, &str)] = &[
        (&["list", "-w", "exit_status => 0"], 2, "use \">=\""),
        (&["list", "-w", "no_such_field == 1"], 2, "unknown field"),
        (&["list", "nonsense"], 2, "unknown field"),
        (&["list", "-t", "file:/a/b"], 2, "file:/a/b"),
        (
            &[
                "update",
                "-w",
                "exit_status == 99",
                "--cancel",
                "--no-confirm",
            ],
            0,
            "no task matches",
        ),
        (&["update", "id=0", "--no-confirm"], 2, "id"),
        (&["info", "not-a-uuid"], 2, "not a task id"),
    ];
    for (args, code, needle) in cases {
        let out = run_with_input(s.hs(args), "", LIMIT);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: expected {needle:?} in {err}"
        );
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: one line, got {err}"
        );
    }
    // Nothing was changed by the refused commands.
    assert_eq!(list(&s, &Db::Sqlite, &["--count", "--failed"]).trim(), "1");

    // A file that is not a database is named, and nothing overwrites it.
    let t = Scratch::new();
    std::fs::create_dir_all(t.path("site/lib")).unwrap();
    std::fs::write(
        t.path("site/lib/main.db"),
        "these are my notes, not a database\n",
    )
    .unwrap();
    let out = run_with_input(t.hs(&["cluster"]), "true\n", LIMIT);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not an hs database"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        t.read("site/lib/main.db"),
        "these are my notes, not a database\n"
    );

    // An unreachable PostgreSQL server is one line, with no password in it.
    let mut c = t.hs(&["list"]);
    c.env(
        "HYPERSHELL_DATABASE_URL",
        "postgres://hs:secret@127.0.0.1:1/hs",
    );
    let out = run_with_input(c, "", LIMIT);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot reach PostgreSQL"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("secret"), "{}", stderr(&out));
}

#[test]
fn cancel_stops_running_and_waiting_tasks_of_a_live_server() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let marker = format!("sleep {}", unique_seconds());
    let server = spawn_piped(s.hs(&[
        "server",
        "--forever",
        "-p",
        &port,
        "--heartrate",
        "0.2",
        "--evict",
        "2",
    ]));
    s.wait_for_server(&port);
    let engine = spawn_piped(s.hs(&["client", "-p", &port, "-N1", "-S", "0.3"]));
    for _ in 0..3 {
        let words: Vec<&str> = marker.split(' ').collect();
        let mut args = vec!["submit"];
        args.extend(words);
        let out = run_with_input(s.hs(&args), "", LIMIT);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    assert!(
        wait_until(Duration::from_secs(15), || processes_with(&marker).len()
            == 1),
        "one task running"
    );
    let clause = format!("args == {marker}");
    let out = run_with_input(
        s.hs(&["update", "-w", &clause, "--cancel", "--no-confirm"]),
        "",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        wait_until(Duration::from_secs(5), || processes_with(&marker)
            .is_empty()),
        "running task stopped"
    );
    // The waiting ones never start.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        processes_with(&marker).is_empty(),
        "a cancelled task started"
    );
    assert_eq!(
        list(&s, &Db::Sqlite, &["--count", "-w", "exit_status == -1"]).trim(),
        "3"
    );
    // A stopped server leaves its engine waiting to reconnect; stop the engine too.
    signal(engine.id(), libc::SIGTERM);
    signal(server.id(), libc::SIGTERM);
    let _ = wait_output(server, LIMIT);
    let _ = wait_output(engine, LIMIT);
}

#[test]
fn from_json_fills_template_fields_and_tags_or_runs_nothing() {
    let s = Scratch::new();
    let good = s.write(
        "jobs.json",
        r#"[{"name":"alpha","n":1},{"name":"beta gamma","n":2,"args":"/x/y.tar.gz"}]"#,
    );
    let out = run_with_input(
        s.hs(&[
            "cluster",
            "--from-json",
            good.to_str().unwrap(),
            "-t",
            "echo {name} {n} {/-} $TASK_TAG_NAME",
        ]),
        "",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut lines: Vec<_> = stdout(&out).lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["alpha 1 alpha", "beta gamma 2 y.tar beta gamma"]);
    assert_eq!(
        list(&s, &Db::Sqlite, &["--count", "-t", "name:alpha"]).trim(),
        "1"
    );

    let bad = s.write("bad.jsonl", "{\"name\":\"a\"}\n{\"other\":1}\n");
    let out = run_with_input(
        s.hs(&[
            "submit",
            "--from-json",
            bad.to_str().unwrap(),
            "--template",
            "echo {name}",
        ]),
        "",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("line 2 has no \"name\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        list(&s, &Db::Sqlite, &["--count"]).trim(),
        "2",
        "nothing of the bad file was submitted"
    );
}

#[test]
fn initdb_list_and_info_options_through_the_binary() {
    let s = Scratch::new();
    let input = "true # HYPERSHELL: site:north\nexit 2 # HYPERSHELL: site:south\n";
    let out = run_with_input(s.hs(&["cluster"]), input, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(list(&s, &Db::Sqlite, &["--tag-keys"]), "part\nsite\n");
    assert_eq!(
        list(&s, &Db::Sqlite, &["--tag-values", "site"]),
        "north\nsouth\n"
    );
    let id = list(&s, &Db::Sqlite, &["id", "-t", "site:south"])
        .trim()
        .to_string();
    let out = run_with_input(s.hs(&["info", &id, "--json"]), "", LIMIT);
    let info: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("info --json is JSON");
    assert_eq!(
        (info["exit_status"].as_i64(), info["args"].as_str()),
        (Some(2), Some("exit 2"))
    );
    let out = run_with_input(s.hs(&["info", &id, "-x", "exit_status"]), "", LIMIT);
    assert_eq!(stdout(&out), "2\n");

    let backup = s.path("backup.db");
    let out = run_with_input(
        s.hs(&["initdb", "--backup", backup.to_str().unwrap()]),
        "",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(backup.exists());
    let out = run_with_input(
        s.hs(&["initdb", "--backup", backup.to_str().unwrap()]),
        "",
        LIMIT,
    );
    assert_eq!(
        out.status.code(),
        Some(5),
        "an existing backup is never overwritten: {}",
        stderr(&out)
    );
    let out = run_with_input(s.hs(&["initdb", "--vacuum"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run_with_input(s.hs(&["initdb", "--truncate"]), "", LIMIT);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no terminal and no --yes: refused, {}",
        stderr(&out)
    );
    assert_eq!(list(&s, &Db::Sqlite, &["--count"]).trim(), "2");
    let out = run_with_input(s.hs(&["initdb", "--truncate", "--yes"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(list(&s, &Db::Sqlite, &["--count"]).trim(), "0");
}

/// Without a terminal nobody can answer the confirmation, so `hs update` and
/// `hs initdb --truncate` refuse, name the flag that skips it, and change nothing.
#[test]
fn confirmation_without_a_terminal_names_the_flag() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster"]), "true\n", LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run_with_input(s.hs(&["update", "--cancel"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("this would change 1 tasks: no answer on stdin, so pass --no-confirm"),
        "{}",
        stderr(&out)
    );
    let out = run_with_input(s.hs(&["initdb", "--truncate"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no answer on stdin, so pass --yes to confirm"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        list(&s, &Db::Sqlite, &["--count", "-w", "exit_status == 0"]).trim(),
        "1"
    );
}
