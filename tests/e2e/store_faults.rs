//! Store faults a run must survive without running a task twice: a database that fills its
//! disk while the input is read (finished by running the same command again).

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

/// How many lines the error of a run stopped by its store says were stored ("the first N lines").
fn lines_stored(err: &str) -> u64 {
    err.split("the first ")
        .nth(1)
        .and_then(|after| after.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of stored lines in: {err}"))
}
