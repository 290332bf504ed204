//! `hs config`: the real binary with HOME, HYPERSHELL_SITE and the working directory in a
//! scratch folder, so no file of the machine running the tests is read or written.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(30);

/// `hs config ARGS` with HOME = scratch/home and no configuration variable from outside.
fn config(s: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut full = vec!["config"];
    full.extend_from_slice(args);
    let mut cmd: Command = s.hs(&full);
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
    run_with_input(cmd, "", LIMIT)
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
