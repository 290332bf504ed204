//! Keys and secrets that must not leak: into a task's environment, onto a command line others
//! see in `ps`, into a file others can read. Weak keys refused, `hs key`, and host lists that
//! cannot smuggle options into ssh.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::helpers::*;
use crate::launch::infra_var;

/// A key and a database password set in hs's own environment: tasks must see neither.
const OWN_KEY: &str = "own-k3J9xQ2mLp8wZr-key";
const DB_PASSWORD: &str = "db-pw-Zr8wpL2mQx9J3k";

/// `hs` run with umask 022 (the usual one, under which a plain file is made 0644).
fn with_umask_022(mut cmd: Command) -> Command {
    // SAFETY: umask is async-signal-safe and only changes the child's creation mask.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    cmd
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Whether `text` holds a run of `n` or more hex digits: a generated key is 64 of them (a task
/// id, with its dashes, never more than 12).
fn has_hex_run(text: &str, n: usize) -> bool {
    let mut run = 0;
    text.chars().any(|c| {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        run >= n
    })
}

/// What one task saw: its environment, then the command lines of every process that mentions
/// this test's site (the launched engines among them), as `ps` shows them to anyone.
/// (The separator is made by the shell, so that `TASK_COMMAND` does not hold it.)
const REPORT: &str =
    "env; echo '---' 'ps'; ps -ww -eo args | grep -F \"$HYPERSHELL_SITE\" | grep -v '^grep '";

/// Run one `env`/`ps` task through `hs cluster ARGS` and check that it saw no secret.
/// (`launched`: the engine is a process of its own, started with the key in a file.)
fn assert_task_sees_no_secret(
    s: &Scratch,
    what: &str,
    args: &[&str],
    env: &[(String, String)],
    launched: bool,
) {
    let mut argv = vec!["cluster", "--no-db", "-t", REPORT];
    argv.extend_from_slice(args);
    let mut cmd = s.hs(&argv);
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .env("HYPERSHELL_SERVER_AUTH", OWN_KEY)
        .env("HYPERSHELL_CLIENT_AUTH", OWN_KEY)
        .env("HYPERSHELL_DATABASE_PASSWORD", DB_PASSWORD)
        .env("HYPERSHELL_LOGGING_LEVEL", "warning");
    let out = run_with_input(cmd, "x\n", Duration::from_secs(90));
    assert_eq!(out.status.code(), Some(0), "{what}: {}", stderr(&out));
    let text = stdout(&out);
    let (task_env, ps) = text.split_once("\n--- ps\n").expect("the task ran");
    assert!(task_env.contains("TASK_ID="), "{what}: {task_env}");
    for line in task_env.lines() {
        let name = line.split('=').next().unwrap_or("");
        assert!(
            !(name.starts_with("HYPERSHELL_") && name.contains("AUTH")),
            "{what}: the task sees {name}"
        );
        assert!(!name.starts_with("HYPERSHELL_DATABASE_PASSWORD"), "{what}");
    }
    for secret in [OWN_KEY, DB_PASSWORD] {
        assert!(!text.contains(secret), "{what}: a secret leaked:\n{text}");
    }
    assert!(
        !has_hex_run(task_env, 32),
        "{what}: a key in the task's environment:\n{task_env}"
    );
    if launched {
        assert!(
            ps.contains("--key-file"),
            "{what}: the launched engine is not in ps:\n{ps}"
        );
    }
    for line in ps.lines() {
        assert!(
            !has_hex_run(line, 32) && !line.contains(" -k ") && !line.contains("--auth"),
            "{what}: a key on a command line: {line}"
        );
    }
    assert!(
        !stderr(&out).contains(OWN_KEY) && !has_hex_run(&stderr(&out), 32),
        "{what}: a key in the log: {}",
        stderr(&out)
    );
}

#[test]
fn no_launcher_hands_a_task_the_key_or_a_database_password() {
    let s = Scratch::new();
    assert_task_sees_no_secret(&s, "in-process engine", &[], &[], false);
    assert_task_sees_no_secret(&s, "command launcher", &["--launcher", "env"], &[], true);
    assert_task_sees_no_secret(
        &s,
        "autoscaled local engine",
        &["--autoscaling=fixed", "-I", "1", "-T", "1"],
        &[],
        false,
    );
    // The key file of the launched engines is gone with their controller.
    let security = s.path("site/lib/security");
    let left: Vec<_> = std::fs::read_dir(&security)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?} left in {}", security.display());
}

#[test]
fn mpirun_ranks_get_the_key_in_a_file_not_their_environment() {
    let Some(env_file) = infra_var("HS_MPIRUN_ENV", "Open MPI was not checked") else {
        return;
    };
    let s = Scratch::new();
    let nodefile = s.write("nodefile", "localhost slots=2\n");
    let exports: Vec<(String, String)> = std::fs::read_to_string(&env_file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect();
    let nodefile = nodefile.to_str().unwrap();
    assert_task_sees_no_secret(
        &s,
        "mpirun",
        &["--mpi", "--nodefile", nodefile],
        &exports,
        true,
    );
}

#[test]
fn srun_tasks_get_the_key_in_a_file_not_their_environment() {
    let _hold = hold_netns_hosts(false);
    let Some(conf) = infra_var("HS_SLURM_CONF", "Slurm was not started") else {
        return;
    };
    let s = Scratch::new();
    let port = free_ports().to_string();
    assert_task_sees_no_secret(
        &s,
        "srun",
        &[
            "--launcher",
            "srun --nodes=1 --ntasks=1",
            "-H",
            "10.77.0.1",
            "-p",
            &port,
        ],
        &[("SLURM_CONF".into(), conf)],
        true,
    );
}

#[test]
fn weak_keys_are_refused_unless_kept_on_purpose() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let out = run_with_input(
        s.hs(&["server", "-p", &port, "-k", "passwordpassword"]),
        "",
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    let refusal: Vec<&str> = err.lines().filter(|l| l.starts_with("hs: error")).collect();
    assert_eq!(refusal.len(), 1, "{err}");
    assert!(refusal[0].contains("hs key"), "{err}");
    assert!(
        !err.contains("passwordpassword"),
        "the key in a message: {err}"
    );

    // Kept on purpose (an existing HyperShell key): by flag, or by configuration, with a warning.
    for (flag, env) in [(Some("--weak-key"), None), (None, Some("true"))] {
        let mut argv = vec!["server", "-p", &port, "-k", "passwordpassword"];
        argv.extend(flag);
        let mut cmd = s.hs(&argv);
        if let Some(v) = env {
            cmd.env("HYPERSHELL_SERVER_WEAKKEY", v);
        }
        let out = run_with_input(cmd, "", Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(0), "{flag:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("easy to guess"), "{}", stderr(&out));
    }
}

#[test]
fn hs_key_makes_keys_that_pass_and_writes_them_privately() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["key"]), "", Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let key = stdout(&out).trim().to_string();
    assert_eq!(key.len(), 64, "{key}");
    let out = run_with_input(s.hs(&["key", "--check"]), &key, Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run_with_input(
        s.hs(&["key", "--check"]),
        "aaaabbbbccccdddd",
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    let file = s.path("k");
    let out = run_with_input(
        with_umask_022(s.hs(&["key", "-o", file.to_str().unwrap()])),
        "",
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "the key goes to the file only");
    assert_eq!(mode(&file), 0o600);

    // A server and a client both given the file: no key on either command line, no warning.
    let port = free_ports().to_string();
    let tasks = s.write("tasks", "echo served\n");
    let key_file = file.to_str().unwrap();
    let server = spawn_piped(s.hs(&[
        "server",
        tasks.to_str().unwrap(),
        "-p",
        &port,
        "--key-file",
        key_file,
    ]));
    let client = run_with_input(
        s.hs(&["client", "-p", &port, "--key-file", key_file, "-T", "2"]),
        "",
        Duration::from_secs(30),
    );
    let server = wait_output(server, Duration::from_secs(30));
    assert_eq!(stdout(&client), "served\n", "{}", stderr(&client));
    assert_eq!(server.status.code(), Some(0), "{}", stderr(&server));
    for log in [stderr(&server), stderr(&client)] {
        assert!(!log.contains("visible to every user"), "{log}");
    }

    // A key file others can read is refused; -k works, with one warning naming the safer ways.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run_with_input(
        s.hs(&["client", "-p", &port, "--key-file", key_file]),
        "",
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
    let out = run_with_input(
        s.hs(&["client", "-p", &port, "-k", &key, "--connect-timeout", "1"]),
        "",
        Duration::from_secs(10),
    );
    let warnings = stderr(&out).matches("visible to every user").count();
    assert_eq!(warnings, 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("--key-file"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&key), "{}", stderr(&out));
}

#[test]
fn database_output_and_logs_are_private_under_umask_022() {
    let s = Scratch::new();
    let out = run_with_input(
        with_umask_022(s.hs(&["cluster", "--capture", "-t", "echo {}; echo err >&2"])),
        "a\nb\n",
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lib = s.path("site/lib");
    assert_eq!(mode(&lib), 0o700);
    assert_eq!(mode(&lib.join("task")), 0o700);
    let mut files = vec![lib.join("main.db")];
    for entry in std::fs::read_dir(&lib).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("main.db") {
            files.push(entry.path());
        }
    }
    let captured: Vec<_> = std::fs::read_dir(lib.join("task"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(captured.len(), 4, "{captured:?}");
    files.extend(captured);
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }

    // A daemonized profile's controller.log, its log folder and the profile folder itself.
    let out = run_with_input(
        with_umask_022(s.hs(&["profile", "create", "p", "-n", "1"])),
        "",
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let profile = s.path("site/profile_p");
    let config = profile.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let port = free_ports();
    std::fs::write(
        &config,
        text.replacen("port = 0", &format!("port = {port}"), 1),
    )
    .unwrap();
    let out = run_with_input(
        with_umask_022(s.hs(&[
            "start",
            "--profile",
            "p",
            "--daemonize",
            "--startup-timeout",
            "20",
        ])),
        "",
        Duration::from_secs(30),
    );
    let stop = run_with_input(
        s.hs(&["stop", "--profile", "p"]),
        "",
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stop.status.code(), Some(0), "{}", stderr(&stop));
    assert_eq!(mode(&profile), 0o700);
    assert_eq!(mode(&profile.join("log")), 0o700);
    assert_eq!(mode(&profile.join("log/controller.log")), 0o600);
}

#[test]
fn host_lists_refuse_huge_ranges_and_names_ssh_would_take_for_options() {
    let s = Scratch::new();
    let nodefile = s.write("nodefile", "-oProxyCommand=touch${IFS}pwned\n");
    let huge = "--ssh=h[0-18446744073709551615]";
    let option = "--ssh=h1,-oProxyCommand=touch${IFS}pwned";
    let nodefile_arg = format!("--nodefile={}", nodefile.display());
    for (args, named) in [
        (vec!["cluster", huge], "100000"),
        (vec!["cluster", option], "-oProxyCommand"),
        (vec!["cluster", "--ssh", &nodefile_arg], "-oProxyCommand"),
    ] {
        let out = run_with_input(s.hs(&args), "", Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(named), "{args:?}: {err}");
    }
    assert!(!s.path("pwned").exists());
}
