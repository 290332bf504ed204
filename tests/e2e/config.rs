//! Configuration: `hs config` itself, and every other command taking its defaults from the
//! files and `HYPERSHELL_*` variables. The real binary runs with HOME, HYPERSHELL_SITE and the
//! working directory in a scratch folder, so no file of the machine running the tests is read
//! or written.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(30);

/// `hs ARGS` with HOME = scratch/home and no configuration variable from outside. The local
/// file is `scratch/site/config.toml` (HYPERSHELL_SITE replaces `./.hypershell`).
fn isolated(s: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd: Command = s.hs(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("HYPERSHELL_") && name != "HYPERSHELL_SITE" {
            cmd.env_remove(name);
        }
    }
    cmd.env("HOME", s.path("home"))
        .env_remove("EDITOR")
        .env_remove("VISUAL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// `hs config ARGS`, isolated.
fn config(s: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut full = vec!["config"];
    full.extend_from_slice(args);
    run_with_input(isolated(s, &full, env), "", LIMIT)
}

/// `hs ARGS` with `input` on stdin, isolated.
fn hs(s: &Scratch, args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    run_with_input(isolated(s, args, env), input, LIMIT)
}

/// Write the local configuration file (`$HYPERSHELL_SITE/config.toml`).
fn local_file(s: &Scratch, text: &str) -> PathBuf {
    let path = s.path("site").join("config.toml");
    std::fs::create_dir_all(s.path("site")).expect("mkdir site");
    std::fs::write(&path, text).expect("write config");
    path
}

fn ok(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    stdout(out)
}

fn user_file(s: &Scratch) -> PathBuf {
    s.path("home").join(".hypershell").join("config.toml")
}

#[test]
fn prints_the_file_paths() {
    let s = Scratch::new();
    assert_eq!(
        ok(&config(&s, &[], &[])).trim(),
        user_file(&s).display().to_string()
    );
    assert_eq!(
        ok(&config(&s, &["--local"], &[])).trim(),
        s.path("site").join("config.toml").display().to_string()
    );
    assert_eq!(
        ok(&config(&s, &["--system"], &[])).trim(),
        "/etc/hypershell.toml"
    );
}

#[test]
fn set_then_get_then_which() {
    let s = Scratch::new();
    ok(&config(&s, &["set", "server.port", "8080"], &[]));
    let text = std::fs::read_to_string(user_file(&s)).expect("user file written");
    assert!(
        text.contains("[server]") && text.contains("port = 8080"),
        "{text}"
    );

    assert_eq!(ok(&config(&s, &["get", "server.port"], &[])), "8080\n");
    assert_eq!(
        ok(&config(&s, &["which", "server.port"], &[])),
        format!("8080 (user: {})\n", user_file(&s).display())
    );
    assert_eq!(
        ok(&config(&s, &["which", "server.port", "--site"], &[])),
        "user\n"
    );
    assert_eq!(
        ok(&config(&s, &["which", "server.bind"], &[])),
        "\"localhost\" (default)\n"
    );
    assert_eq!(
        ok(&config(&s, &["get", "server.bind", "-r"], &[])),
        "localhost\n"
    );
    let section = ok(&config(&s, &["get", "server"], &[]));
    assert!(section.contains("port = 8080"), "{section}");
    let all = ok(&config(&s, &["get"], &[]));
    assert!(
        all.contains("[server]") && all.contains("[logging]"),
        "{all}"
    );
    assert_eq!(
        ok(&config(&s, &["get", "server.port", "--user"], &[])),
        "8080\n"
    );
    assert_eq!(
        ok(&config(&s, &["get", "server.port", "--default"], &[])),
        "50001\n"
    );

    // A second change keeps the comments and leaves a backup of the previous version.
    std::fs::write(user_file(&s), "# mine\n[server]\nport = 8080 # why\n").expect("write");
    ok(&config(&s, &["set", "server.port", "9000"], &[]));
    let text = std::fs::read_to_string(user_file(&s)).expect("read");
    assert_eq!(text, "# mine\n[server]\nport = 9000 # why\n");
    let backups: Vec<_> = std::fs::read_dir(s.path("home").join(".hypershell"))
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".config."))
        .collect();
    assert_eq!(backups.len(), 1);
}

#[test]
fn local_site_file_overrides_the_user_file() {
    let s = Scratch::new();
    ok(&config(&s, &["set", "server.bind", "0.0.0.0"], &[]));
    ok(&config(
        &s,
        &["set", "--local", "server.bind", "10.1.2.3"],
        &[],
    ));
    let local = s.path("site").join("config.toml");
    assert_eq!(
        ok(&config(&s, &["which", "server.bind"], &[])),
        format!("\"10.1.2.3\" (local: {})\n", local.display())
    );
    let db = ok(&config(&s, &["get", "database.file", "-r"], &[]));
    assert_eq!(
        db.trim(),
        s.path("site")
            .join("lib")
            .join("main.db")
            .display()
            .to_string()
    );
}

#[test]
fn environment_overrides_files() {
    let s = Scratch::new();
    ok(&config(&s, &["set", "server.port", "8080"], &[]));
    let env = [
        ("HYPERSHELL_SERVER_PORT", "9090"),
        ("HYPERSHELL_SERVER_EVICT", "30"),
        ("HYPERSHELL_NO_SUCH_KEY", "1"),
    ];
    assert_eq!(ok(&config(&s, &["get", "server.port"], &env)), "9090\n");
    assert_eq!(
        ok(&config(&s, &["which", "server.port"], &env)),
        "9090 (env: HYPERSHELL_SERVER_PORT)\n"
    );
    assert_eq!(ok(&config(&s, &["get", "server.evict"], &env)), "30\n");
    let env = [
        ("HYPERSHELL_DATABASE_PASSWORD_ENV", "SECRET_FOR_TEST"),
        ("SECRET_FOR_TEST", "pw"),
    ];
    assert_eq!(
        ok(&config(&s, &["get", "-x", "database.password"], &env)),
        "\"pw\"\n"
    );
}

#[test]
fn a_broken_file_is_exit_3_naming_file_and_line() {
    let s = Scratch::new();
    let path = user_file(&s);
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    std::fs::write(&path, "[server]\nport = 1\nbind = = 'x'\n").expect("write");
    let out = config(&s, &["get"], &[]);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:3:", path.display())), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn config_file_variable_reads_only_that_file() {
    let s = Scratch::new();
    ok(&config(&s, &["set", "server.port", "8080"], &[]));
    let only = s.write("only.toml", "[server]\nport = 7000\n");
    let env = [("HYPERSHELL_CONFIG_FILE", only.to_str().expect("utf-8 path"))];
    assert_eq!(ok(&config(&s, &["get", "server.port"], &env)), "7000\n");
    assert_eq!(
        ok(&config(&s, &["which", "server.port"], &env)),
        format!("7000 (file: {})\n", only.display())
    );
    let env = [("HYPERSHELL_CONFIG_FILE", "")];
    assert_eq!(ok(&config(&s, &["get", "server.port"], &env)), "50001\n");
}

#[test]
fn unknown_keys_and_bad_values_are_usage_errors() {
    let s = Scratch::new();
    for args in [
        &["get", "server.prot"][..],
        &["which", "nosuch.key"],
        &["set", "server.prot", "1"],
        &["set", "server.port", "abc"],
    ] {
        let out = config(&s, args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let out = config(&s, &["get", "server.prot"], &[]);
    assert!(
        stderr(&out).contains("did you mean server.port?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn edit_runs_the_editor_and_checks_the_result() {
    let s = Scratch::new();
    let out = config(&s, &["edit"], &[]);
    assert_eq!(out.status.code(), Some(2), "no editor: {}", stderr(&out));
    let editor = "sh -c 'printf \"[server]\\nport = 7\\n\" > \"$0\"'";
    ok(&config(&s, &["edit"], &[("EDITOR", editor)]));
    assert_eq!(ok(&config(&s, &["get", "server.port"], &[])), "7\n");
    let broken = "sh -c 'echo \"port = \" > \"$0\"'";
    let out = config(&s, &["edit"], &[("VISUAL", broken)]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn task_timeout_from_a_file_and_the_flag_over_it() {
    let s = Scratch::new();
    local_file(&s, "[task]\ntimeout = 1\nsignalwait = 0.2\n");
    let start = Instant::now();
    let out = hs(&s, &["cluster"], &[], "sleep 30\n");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "task.timeout ignored"
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("timed out after 1.0s"),
        "{}",
        stderr(&out)
    );

    let out = hs(&s, &["cluster", "-W", "0.5"], &[], "sleep 30\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("timed out after 0.5s"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn export_table_reaches_tasks_and_the_environment_wins() {
    let s = Scratch::new();
    local_file(
        &s,
        "[export]\nFOO = \"bar\"\nDIRS = [\"/a\", \"/b\"]\nN = 3\n",
    );
    let task = ["cluster", "-t", "echo \"$FOO|$DIRS|$N\""];
    let out = hs(&s, &task, &[], "x\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "bar|/a:/b|3\n");

    let out = hs(&s, &task, &[("HYPERSHELL_EXPORT_FOO", "env")], "x\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "env|/a:/b|3\n");
}

#[test]
fn logging_level_from_a_file_and_the_environment_over_it() {
    let s = Scratch::new();
    local_file(&s, "[logging]\nlevel = \"warning\"\n");
    let out = hs(&s, &["cluster"], &[], "true\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("tasks: 1 done"), "{}", stderr(&out));

    let out = hs(
        &s,
        &["cluster"],
        &[("HYPERSHELL_LOGGING_LEVEL", "info")],
        "true\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("INFO    tasks: 1 done"),
        "{}",
        stderr(&out)
    );

    // A level hs does not know is a configuration error naming where it was set.
    let out = hs(
        &s,
        &["cluster"],
        &[("HYPERSHELL_LOGGING_LEVEL", "loud")],
        "true\n",
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("logging.level = \"loud\" (env: HYPERSHELL_LOGGING_LEVEL)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn database_file_puts_the_database_there() {
    let s = Scratch::new();
    local_file(&s, "[database]\nfile = \"elsewhere/tasks.db\"\n");
    let out = hs(&s, &["cluster"], &[], "true\ntrue\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        s.path("elsewhere/tasks.db").exists(),
        "relative to the working directory"
    );
    assert!(!s.path("site/lib/main.db").exists(), "not the default file");
    let out = hs(&s, &["list", "--count"], &[], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "2\n");

    // `database.file = ""` means no database: a controller keeps tasks in memory, and a command
    // that reads tasks kept between runs says why it cannot.
    local_file(&s, "[database]\nfile = \"\"\n");
    let out = hs(&s, &["cluster"], &[], "true\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = hs(&s, &["list", "--count"], &[], "");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no database is configured"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_broken_file_stops_other_commands_too() {
    let s = Scratch::new();
    let path = user_file(&s);
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    std::fs::write(&path, "[task]\ntimeout = = 1\n").expect("write");
    let out = hs(&s, &["cluster"], &[], "true\n");
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("{}:2:", path.display())), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert_eq!(stdout(&out), "", "no task ran");
    // `hs config` still works, to show where the file is and to fix it.
    assert_eq!(ok(&config(&s, &[], &[])).trim(), path.display().to_string());
    ok(&config(
        &s,
        &["edit"],
        &[("EDITOR", "sh -c 'echo > \"$0\"'")],
    ));
    let out = hs(&s, &["cluster"], &[], "true\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn server_takes_evict_from_the_user_file() {
    let s = Scratch::new();
    ok(&config(&s, &["set", "server.evict", "3"], &[]));
    assert_eq!(
        ok(&config(&s, &["which", "server.evict"], &[])),
        format!("3 (user: {})\n", user_file(&s).display())
    );
    let port = free_ports().to_string();
    // No input: the server starts, logs its settings and stops at once.
    let out = hs(&s, &["server", "-v", "--no-db", "-p", &port], &[], "");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("engines silent for 3s are evicted"),
        "{}",
        stderr(&out)
    );
    // The flag still wins.
    let out = hs(
        &s,
        &["server", "-v", "--no-db", "-p", &port, "--evict", "7"],
        &[],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("engines silent for 7s are evicted"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn server_key_from_the_configuration_is_checked_and_used_by_clients() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let weak = [("HYPERSHELL_SERVER_AUTH", "short")];
    let out = hs(&s, &["server", "--no-db", "-p", &port], &weak, "");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refusing server.auth (env: HYPERSHELL_SERVER_AUTH)"),
        "{}",
        stderr(&out)
    );

    // Bound to all interfaces, a configured key is enough; a client with the same
    // configuration finds the server (server.host, server.port) and the key.
    local_file(
        &s,
        &format!(
            "[server]\nbind = \"0.0.0.0\"\nhost = \"127.0.0.1\"\nport = {port}\n\
             auth = \"k3J9-xQ2m_Lp8wZr0c7T\"\n"
        ),
    );
    let server = isolated(
        &s,
        &[
            "server",
            "--no-db",
            s.write("t", "echo hi\n").to_str().unwrap(),
        ],
        &[],
    );
    let server = run_in_background(server);
    let client = hs(&s, &["client", "-T", "5"], &[], "");
    assert_eq!(client.status.code(), Some(0), "{}", stderr(&client));
    assert_eq!(stdout(&client), "hi\n");
    let out = wait_output(server, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn run_in_background(mut cmd: Command) -> std::process::Child {
    use std::process::Stdio;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hs")
}

#[test]
fn postgres_schema_from_the_configuration() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        skip_or_fail("PostgreSQL is not running (DATABASE_URL unset): run scripts/test as root");
        return;
    };
    let s = Scratch::new();
    let schema = format!("hs_cfg_{}", uuid::Uuid::new_v4().simple());
    local_file(
        &s,
        &format!("[database]\nprovider = \"postgres\"\nurl = \"{url}\"\nschema = \"{schema}\"\n"),
    );
    let out = hs(&s, &["cluster", "--initdb"], &[], "true\ntrue\ntrue\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = hs(&s, &["list", "--count"], &[], "");
    assert_eq!(stdout(&out), "3\n", "{}", stderr(&out));
    let mut raw = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    let count: i64 = raw
        .query_one(&format!("SELECT count(*) FROM \"{schema}\".task"), &[])
        .expect("the tables are in the configured schema")
        .get(0);
    raw.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .expect("drop schema");
    assert_eq!(count, 3);
}
