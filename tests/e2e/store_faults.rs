//! Store faults a run must survive without running a task twice: a database that fills its
//! disk while the input is read, and one that stays read-only past `--db-wait` (each finished
//! by running the same command again).

use std::process::Command;
use std::time::Duration;

use crate::helpers::*;

/// A tmpfs of `size` mounted at `at` for the test's life (needs root; `None`: cannot mount).
struct Tiny {
    at: std::path::PathBuf,
}

impl Tiny {
    fn mount(at: &std::path::Path, size: &str) -> Option<Tiny> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tiny {
            at: at.to_path_buf(),
        })
    }

    fn resize(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.at)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cannot grow the tmpfs");
    }
}

impl Drop for Tiny {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.at).status();
    }
}

#[test]
fn a_run_whose_database_fills_its_disk_is_finished_by_the_same_command_without_running_any_twice() {
    let s = Scratch::new();
    // The site (and its database) on a disk too small for the whole input.
    let Some(disk) = Tiny::mount(&s.path("site"), "700k") else {
        skip_or_fail("cannot mount a tmpfs (not root?): the full-disk case is not tested");
        return;
    };
    let ran = s.path("ran.txt");
    let lines: String = (1..=3000)
        .map(|i| format!("echo {i} >> {}\n", ran.display()))
        .collect();
    s.write("tasks.txt", &lines);
    let run = || {
        let mut c = s.hs(&["cluster", "tasks.txt", "-N", "4"]);
        c.stdin(std::process::Stdio::null());
        wait_output(spawn_piped(c), Duration::from_secs(120))
    };

    let first = run();
    assert_eq!(first.status.code(), Some(5), "{}", stderr(&first));
    let err = stderr(&first);
    assert!(err.contains("is full"), "{err}");
    let stored = lines_stored(&err);
    assert!(stored > 0 && stored < 3000, "{err}");
    assert!(err.contains("run the same command again"), "{err}");

    disk.resize("40m");
    let second = run();
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stderr(&second).contains(&format!("stored its first {stored} lines")),
        "{}",
        stderr(&second)
    );
    let mut runs: Vec<u64> = std::fs::read_to_string(&ran)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    runs.sort();
    let every: Vec<u64> = (1..=3000).collect();
    assert_eq!(runs, every, "every task once");
}

/// `hs submit` into a database that fills its disk says how far it stored the input, and the
/// same command then stores the rest: every line once.
#[test]
fn a_submit_whose_database_fills_its_disk_is_finished_by_the_same_command() {
    let s = Scratch::new();
    let Some(disk) = Tiny::mount(&s.path("site"), "700k") else {
        skip_or_fail("cannot mount a tmpfs (not root?): the full-disk case is not tested");
        return;
    };
    let lines: String = (1..=3000).map(|i| format!("echo {i}\n")).collect();
    s.write("tasks.txt", &lines);
    let submit = || {
        let mut c = s.hs(&["submit", "tasks.txt", "-b", "100"]);
        c.stdin(std::process::Stdio::null());
        wait_output(spawn_piped(c), Duration::from_secs(120))
    };

    let first = submit();
    assert_eq!(first.status.code(), Some(5), "{}", stderr(&first));
    let err = stderr(&first);
    assert!(err.contains("is full"), "{err}");
    let stored = lines_stored(&err);
    assert!(
        stored > 0 && stored < 3000 && stored.is_multiple_of(100),
        "{err}"
    );
    assert!(err.contains("run the same command again"), "{err}");

    disk.resize("40m");
    let second = submit();
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stderr(&second).contains(&format!("stored its first {stored} lines")),
        "{}",
        stderr(&second)
    );
    let listed = s
        .hs(&["list", "args", "--format", "plain"])
        .output()
        .unwrap();
    let mut args: Vec<u64> = stdout(&listed)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("echo ")?.parse().ok())
        .collect();
    args.sort();
    assert_eq!(args, (1..=3000).collect::<Vec<u64>>(), "every line once");

    // Stored to its end: the same command now submits everything again, as HyperShell does.
    let third = submit();
    assert_eq!(third.status.code(), Some(0), "{}", stderr(&third));
    let count = s.hs(&["list", "--count"]).output().unwrap();
    assert_eq!(stdout(&count).trim(), "6000", "{}", stderr(&count));
}

/// `psql -c SQL` on `url`, which must succeed.
fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args(["-X", "-q", url, "-c", sql])
        .output()
        .expect("psql");
    assert!(out.status.success(), "{sql}: {}", stderr(&out));
}

/// `hs cluster` on a PostgreSQL database that turns read-only for longer than `--db-wait`
/// gives up (exit 5) holding the results its own engine reported meanwhile; they are kept in
/// the site, and the same command again records them: no finished task runs a second time.
#[test]
fn results_held_when_a_cluster_gives_up_on_its_database_are_recorded_by_the_next_run() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        skip_or_fail("PostgreSQL is not running (DATABASE_URL unset): run scripts/test as root");
        return;
    };
    let s = Scratch::new();
    let name = format!("hs_{}", uuid::Uuid::new_v4().simple());
    psql(&url, &format!("CREATE DATABASE {name}"));
    let db = format!(
        "{}/{name}",
        url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b)
    );
    let done = s.path("done.txt");
    let lines: String = (1..=80)
        .map(|i| format!("sleep 0.1; echo {i} >> {}\n", done.display()))
        .collect();
    s.write("tasks.txt", &lines);
    let run = || {
        let mut c = s.hs(&["cluster", "tasks.txt", "-N", "4", "--db-wait", "1"]);
        c.env("HYPERSHELL_DATABASE_URL", &db);
        spawn_piped(c)
    };
    let mut init = s.hs(&["initdb"]);
    init.env("HYPERSHELL_DATABASE_URL", &db);
    assert!(init.status().unwrap().success());

    let first = run();
    let finished = || numbers_in(&std::fs::read_to_string(&done).unwrap_or_default()).len();
    assert!(wait_until(Duration::from_secs(30), || finished() >= 8));
    // Read-only for every new session; the controller's is ended, so it reconnects to one.
    psql(
        &url,
        &format!("ALTER DATABASE {name} SET default_transaction_read_only = on"),
    );
    psql(
        &url,
        &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
    );
    let first = wait_output(first, Duration::from_secs(60));
    let err = stderr(&first);
    psql(
        &url,
        &format!("ALTER DATABASE {name} SET default_transaction_read_only = off"),
    );
    assert_eq!(first.status.code(), Some(5), "{err}");
    assert!(err.contains("results not recorded are kept in"), "{err}");

    let second = wait_output(run(), Duration::from_secs(60));
    let err2 = stderr(&second);
    assert_eq!(second.status.code(), Some(0), "{err2}");
    assert!(
        err2.contains("recorded") && err2.contains("an earlier run held"),
        "{err2}"
    );
    let runs = numbers_in(&std::fs::read_to_string(&done).unwrap());
    assert_eq!(
        runs,
        (1..=80).collect::<Vec<u64>>(),
        "every task finished once\n{err}"
    );
    assert!(
        !s.path("site/lib/unrecorded")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "the kept results are gone once recorded"
    );
}

/// How many lines the error of a run stopped by its store says were stored ("the first N lines").
fn lines_stored(err: &str) -> u64 {
    err.split("the first ")
        .nth(1)
        .and_then(|after| after.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of stored lines in: {err}"))
}
