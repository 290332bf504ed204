//! HyperShell 2.8.2 options that hs accepts with HyperShell's meaning (or the nearest honest
//! one, said in a warning): run through the real binary, end to end.

use std::time::Duration;

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(60);

fn ok(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
    stdout(out)
}

/// `hs submit -q` sends tasks to a running controller's client socket; the controller stores and
/// schedules them, tags included, and its engine runs them.
#[test]
fn submit_q_reaches_a_live_controller() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let server = spawn_piped(s.hs(&["server", "--forever", "-p", &port]));
    s.wait_for_server(&port);
    let out = run_with_input(
        s.hs(&["submit", "-q", "-p", &port, "-t", "via:queue"]),
        "echo one\necho two\n",
        LIMIT,
    );
    ok(&out);
    let client = run_with_input(s.hs(&["client", "-p", &port, "-T", "1"]), "", LIMIT);
    let mut lines: Vec<String> = ok(&client).lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(lines, ["one", "two"]);
    signal(server.id(), libc::SIGINT);
    let _ = wait_output(server, LIMIT);
    let listed = run_with_input(s.hs(&["list", "--count", "-t", "via:queue"]), "", LIMIT);
    assert_eq!(ok(&listed).trim(), "2");
}

/// `-q -H` names another host: a local controller's connection file on the same port is not
/// its key, so without `-k` it is a usage error, never a submission to the local controller.
#[test]
fn submit_q_to_another_host_needs_its_key() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let server = spawn_piped(s.hs(&["server", "--forever", "-p", &port]));
    s.wait_for_server(&port);
    let out = run_with_input(
        s.hs(&["submit", "-q", "-H", "elsewhere", "-p", &port, "echo", "x"]),
        "",
        LIMIT,
    );
    signal(server.id(), libc::SIGINT);
    let _ = wait_output(server, LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no key for the controller at elsewhere"),
        "{}",
        stderr(&out)
    );
    let listed = run_with_input(s.hs(&["list", "--count"]), "", LIMIT);
    assert_eq!(ok(&listed).trim(), "0");
}

/// A wrong key on `-q` is an authentication failure (7), and nothing is stored.
#[test]
fn submit_q_with_a_wrong_key_exits_7() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let server = spawn_piped(s.hs(&["server", "--forever", "-p", &port]));
    s.wait_for_server(&port);
    let out = run_with_input(
        s.hs(&[
            "submit",
            "-q",
            "-p",
            &port,
            "-k",
            "0123456789abcdefXXXX",
            "echo",
            "x",
        ]),
        "",
        LIMIT,
    );
    signal(server.id(), libc::SIGINT);
    let _ = wait_output(server, LIMIT);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
}

/// `hs cluster --forever` keeps running after its input and runs what `hs submit` adds.
#[test]
fn cluster_forever_runs_later_submissions() {
    let s = Scratch::new();
    let cluster = spawn_piped(s.hs(&["cluster", "--forever", "-Q", "0.2", "/dev/null"]));
    let db = s.path("site/lib/main.db");
    assert!(wait_until(Duration::from_secs(10), || db.exists()));
    ok(&run_with_input(
        s.hs(&["submit", "echo", "later"]),
        "",
        LIMIT,
    ));
    let done = wait_until(Duration::from_secs(20), || {
        let out = run_with_input(s.hs(&["list", "--count", "--completed"]), "", LIMIT);
        stdout(&out).trim() == "1"
    });
    signal(cluster.id(), libc::SIGINT);
    let out = wait_output(cluster, LIMIT);
    assert!(done, "the submitted task did not run: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "later");
}

/// `-c`, `-m`, `-W` of `hs cluster` are stored with every task of its input; the engine-side
/// capacity options are accepted and said to be inert; TLS files are named as unused.
#[test]
fn cluster_task_requirements_are_stored() {
    let s = Scratch::new();
    let out = run_with_input(
        s.hs(&[
            "cluster",
            "-c",
            "2",
            "-m",
            "1G",
            "-W",
            "30",
            "-C",
            "4",
            "-M",
            "8G",
            "-R",
            "5",
            "--monitor",
            "--no-confirm",
            "--tls-cert",
            "x.crt",
        ]),
        "true\n",
        LIMIT,
    );
    ok(&out);
    let err = stderr(&out);
    assert!(
        !err.contains("not applied"),
        "-R and --monitor are applied: {err}"
    );
    assert!(err.contains("--tls-cert not used"), "{err}");
    let listed = run_with_input(s.hs(&["list", "cores", "memory", "timeout"]), "", LIMIT);
    assert_eq!(ok(&listed), "2\t1073741824\t30\n");
}

/// HyperShell's own help example works (`-w` no longer swallows the field names), and the
/// task commands print what HyperShell's print.
#[test]
fn list_info_wait_and_task_commands() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster"]), "true\nexit 3\n", LIMIT);
    assert_eq!(out.status.code(), Some(0));
    let listed = run_with_input(
        s.hs(&["list", "-w", "exit_status != 0", "args", "exit_status"]),
        "",
        LIMIT,
    );
    assert_eq!(ok(&listed), "exit 3\t3\n");
    let id = ok(&run_with_input(
        s.hs(&["list", "id", "-w", "args == true"]),
        "",
        LIMIT,
    ));
    let id = id.trim();
    assert_eq!(
        ok(&run_with_input(s.hs(&["wait", id, "-s"]), "", LIMIT)),
        "0\n"
    );
    let yaml = ok(&run_with_input(s.hs(&["info", id, "--yaml"]), "", LIMIT));
    assert!(yaml.contains("\nexit_status: 0\n"), "{yaml}");
    let perf = run_with_input(s.hs(&["info", id, "--perf"]), "", LIMIT);
    assert_eq!(perf.status.code(), Some(5));
    assert!(stderr(&perf).contains("--monitor"), "{}", stderr(&perf));
    let submitted = ok(&run_with_input(
        s.hs(&["task", "submit", "-t", "a:1", "--", "echo", "-n", "hi"]),
        "",
        LIMIT,
    ));
    let args = ok(&run_with_input(
        s.hs(&["task", "search", "args", "-t", "a:1"]),
        "",
        LIMIT,
    ));
    assert_eq!(args, "echo -n hi\n");
    assert_eq!(submitted.trim().len(), 36, "a task id: {submitted}");
    let columns = ok(&run_with_input(
        s.hs(&["task", "--list-columns"]),
        "",
        LIMIT,
    ));
    assert_eq!(columns.lines().next(), Some("id"));
}

/// `hs -v`, `--citation`, `hyper-shell` and `hsx` as names of the one binary, completions and
/// manual pages generated from the parser.
#[test]
fn names_versions_completions_and_pages() {
    let s = Scratch::new();
    assert!(ok(&run_with_input(s.hs(&["-v"]), "", LIMIT)).starts_with("hs "));
    assert!(
        ok(&run_with_input(s.hs(&["--citation"]), "", LIMIT)).contains("10.1145/3491418.3535138")
    );
    let mut legacy = std::process::Command::new(hyper_shell_bin());
    legacy
        .args(["cluster", "--no-db", "-t", "echo {}"])
        .env("HYPERSHELL_SITE", s.path("site"));
    assert_eq!(ok(&run_with_input(legacy, "x\n", LIMIT)), "x\n");
    let bash = ok(&run_with_input(s.hs(&["completions", "bash"]), "", LIMIT));
    assert!(bash.contains("complete -F _hs"), "{bash}");
    let zsh = ok(&run_with_input(
        s.hs(&["completions", "zsh", "--name", "hsx"]),
        "",
        LIMIT,
    ));
    assert!(zsh.starts_with("#compdef hsx"), "{zsh}");
    ok(&run_with_input(s.hs(&["manpages", "man"]), "", LIMIT));
    for page in [
        "hs.1",
        "hsx.1",
        "hyper-shell.1",
        "hs-cluster.1",
        "hs-task-submit.1",
    ] {
        let text = std::fs::read_to_string(s.path("man").join(page)).unwrap_or_default();
        assert!(text.contains(".TH"), "{page} is a manual page");
    }
}

/// Options after positionals are options; unknown ones are usage errors with the closest
/// spelling, and nothing is stored.
#[test]
fn unknown_options_store_nothing() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["submit", "--bogus", "echo", "hi"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2));
    let out = run_with_input(s.hs(&["cluster", "--no-confrim"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--no-confirm"), "{}", stderr(&out));
    let file = s.write("tasks.in", "echo 1\necho 2\n");
    let file = file.to_str().unwrap();
    ok(&run_with_input(
        s.hs(&[
            "submit",
            file,
            "--tag",
            "prod",
            "site:b",
            "--template",
            "{} x",
        ]),
        "",
        LIMIT,
    ));
    let listed = run_with_input(s.hs(&["list", "args", "-t", "prod", "site:b"]), "", LIMIT);
    assert_eq!(ok(&listed), "echo 1 x\necho 2 x\n");
}

/// Mistakes around the commands about hs itself and the polling option: each a one-line error
/// with its exit status; completions and pages need no configuration, so a broken file does not
/// stop them.
#[test]
fn about_commands_and_poll_mistakes() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["task"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("needs an action"), "{}", stderr(&out));
    let out = run_with_input(s.hs(&["completions", "tcsh"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    s.write("plain-file", "x");
    let out = run_with_input(s.hs(&["manpages", "plain-file/man1"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot create"), "{}", stderr(&out));
    let out = run_with_input(s.hs(&["cluster", "--forever", "-Q", "0"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    std::fs::create_dir_all(s.path("site")).unwrap();
    s.write("site/config.toml", "this is [not toml\n");
    ok(&run_with_input(s.hs(&["completions", "bash"]), "", LIMIT));
    let out = run_with_input(s.hs(&["list"]), "", LIMIT);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a broken file still stops the rest"
    );

    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster", "-Q", "5"]), "true\n", LIMIT);
    ok(&out);
    assert!(
        stderr(&out).contains("-Q/--poll changes nothing without --forever"),
        "{}",
        stderr(&out)
    );
}
