//! SQLite partitions: `hs initdb --rotate` and the reading commands that see every partition.

use std::collections::HashSet;
use std::time::Duration;

use crate::helpers::*;

fn ok(s: &Scratch, args: &[&str]) -> String {
    let out = wait_output(spawn_piped(s.hs(args)), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "hs {args:?}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn rotate_moves_finished_tasks_and_the_reading_commands_see_every_partition() {
    let s = Scratch::new();
    let file = s.write("tasks.txt", "echo 1\necho 2\nexit 3\n");
    let out = wait_output(
        spawn_piped(s.hs(&["cluster", file.to_str().unwrap(), "-N2"])),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    ok(&s, &["submit", "echo", "later"]);
    let lib = s.path("site/lib");

    // Like the other initdb actions it asks first; without an answer nothing happens.
    let out = wait_output(
        spawn_piped(s.hs(&["initdb", "--rotate"])),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(!lib.join("main.1").exists());

    let out = run_with_input(s.hs(&["initdb", "-r"]), "y\n", Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("[Y]es/no"), "{}", stderr(&out));
    assert!(lib.join("main.1").is_file(), "HyperShell's name: main.1");

    assert_eq!(ok(&s, &["list", "-c"]).trim(), "4");
    assert_eq!(ok(&s, &["list", "-c", "-i"]).trim(), "1", "main alone");
    assert_eq!(
        ok(&s, &["list", "--ignore-partitions", "args"]).trim(),
        "echo later",
        "the unfinished task stays in main"
    );
    assert_eq!(ok(&s, &["list", "-c", "-t", "part:1"]).trim(), "3");
    assert_eq!(ok(&s, &["list", "--tag-values", "part"]).trim(), "0\n1");
    assert_eq!(ok(&s, &["list", "-c", "-F"]).trim(), "1");

    let failed = ok(&s, &["list", "-F", "id"]);
    let failed = failed.trim();
    assert_eq!(ok(&s, &["info", failed, "-x", "tag"]).trim(), "part:1");
    assert_eq!(ok(&s, &["info", failed, "-x", "exit_status"]).trim(), "3");
    let out = wait_output(
        spawn_piped(s.hs(&["info", "-i", failed])),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(5), "not in main: {}", stderr(&out));
    // `hs wait` finds a finished task in its partition.
    assert_eq!(ok(&s, &["wait", failed, "-s"]).trim(), "3");

    // A second rotation with nothing finished makes main.2, as HyperShell's does.
    ok(&s, &["initdb", "--rotate", "--yes"]);
    assert!(lib.join("main.2").is_file());
    assert_eq!(ok(&s, &["list", "-c"]).trim(), "4");
    assert_eq!(ok(&s, &["list", "-c", "-i"]).trim(), "1");

    // `hs update` acts on main alone, as HyperShell's: the rotated tasks are not there.
    let out = wait_output(
        spawn_piped(s.hs(&["update", "seen:yes", "-f", "-t", "part:1"])),
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("no task matches"), "{}", stderr(&out));
    ok(&s, &["update", "seen:yes", "-f", "-R"]);
    assert_eq!(ok(&s, &["list", "-c", "-t", "seen"]).trim(), "1");
}

#[test]
fn rotate_is_a_usage_error_on_postgres() {
    let s = Scratch::new();
    let mut cmd = s.hs(&["initdb", "--rotate", "--yes"]);
    cmd.env("HYPERSHELL_DATABASE_URL", "postgres://127.0.0.1:1/none");
    let out = wait_output(spawn_piped(cmd), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("SQLite"), "{}", stderr(&out));
}

/// Rotations while a controller records results: every task is kept once, wherever it lands.
#[test]
fn rotating_under_a_live_controller_loses_and_duplicates_nothing() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let tasks: String = (1..=300)
        .map(|i| format!("sleep 0.05; echo {i} >> done.txt\n"))
        .collect();
    let file = s.write("tasks.txt", &tasks);
    let server = spawn_piped(s.hs(&["server", file.to_str().unwrap(), "-p", &port]));
    s.wait_for_server(&port);
    let client = spawn_piped(s.hs(&["client", "-p", &port, "-N4"]));
    let mut rotations = 0;
    while rotations < 3 {
        if wait_until(Duration::from_secs(20), || {
            numbers_in(&s.read("done.txt")).len() >= 60 * (rotations + 1)
        }) {
            ok(&s, &["initdb", "-r", "-y"]);
        }
        rotations += 1;
    }
    let out = wait_output(server, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let _ = wait_output(client, Duration::from_secs(20));
    ok(&s, &["initdb", "-r", "-y"]);

    let ids = ok(&s, &["list", "id", "exit_status"]);
    let rows: Vec<&str> = ids.lines().collect();
    assert_eq!(rows.len(), 300, "every task once");
    let unique: HashSet<&str> = rows.iter().map(|r| r.split('\t').next().unwrap()).collect();
    assert_eq!(unique.len(), 300, "no task twice");
    assert!(rows.iter().all(|r| r.ends_with("\t0")), "{ids}");
    assert_eq!(ok(&s, &["list", "-c", "-i"]).trim(), "0", "main is empty");
    let parts = std::fs::read_dir(s.path("site/lib"))
        .unwrap()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("main.")
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count();
    assert_eq!(parts, 4);
    // The first rotation ran while the run had about 240 × 50 ms of tasks still to go (results
    // reach the store a little after their output does).
    let mut first = s.hs(&["list", "-c", "-i"]);
    first.env("HYPERSHELL_DATABASE_FILE", s.path("site/lib/main.1"));
    let out = wait_output(spawn_piped(first), Duration::from_secs(30));
    let moved: u64 = stdout(&out).trim().parse().expect("a count");
    assert!((1..300).contains(&moved), "main.1 holds {moved}");
}
