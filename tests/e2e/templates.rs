//! `{% %}` substitutions under the executor's rules: walltime, quoting that input cannot break
//! out of, and nothing left behind after an interrupt.

use std::process::Stdio;
use std::time::Duration;

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(60);

/// A hanging substitution with `-W 1` fails its task with a clear reason (a template error),
/// its group is stopped, and the slot goes on to the next task.
#[test]
fn a_hanging_substitution_fails_its_task_at_the_walltime_and_the_next_task_runs() {
    let s = Scratch::new();
    let marker = unique_seconds();
    let template = format!("echo {{% if [ '@' = hang ]; then sleep {marker}; fi; echo 'ok-@' %}}");
    let out = run_with_input(
        s.hs(&["cluster", "-N1", "-W", "1", "-S", "0.2", "-t", &template]),
        "hang\nnext\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim_end(), "ok-next");
    let err = stderr(&out);
    assert!(err.contains("template error"), "{err}");
    assert!(
        err.contains("did not finish within the walltime of 1.0s and was stopped"),
        "{err}"
    );
    assert_none_left(&marker, Duration::from_secs(3));
}

/// The quoting the docs recommend holds whatever the input line holds: the args reach the
/// command as data, never as shell code.
#[test]
fn no_input_line_breaks_out_of_the_quoting() {
    let s = Scratch::new();
    let lines = [
        "/data/x'; touch pwned; echo '",
        "/data/x\"; touch pwned; echo \"",
        "/data/$(touch pwned)",
        "/data/`touch pwned`",
    ];
    for template in [
        "echo {% basename '@' | wc -c %}",
        "echo {% basename \"@\" | wc -c %}",
        "echo {% echo @ | wc -c %}",
    ] {
        let input = lines.join("\n") + "\n";
        let out = run_with_input(s.hs(&["cluster", "-N1", "-t", template]), &input, LIMIT);
        assert_eq!(out.status.code(), Some(0), "{template}: {}", stderr(&out));
        assert_eq!(stdout(&out).lines().count(), lines.len(), "{template}");
        assert!(
            !s.path("pwned").exists(),
            "{template} ran code from an input line"
        );
    }
}

/// Ctrl-C (SIGINT to `hs cluster`) while a substitution runs stops it: no process of it is left.
#[test]
fn interrupt_during_a_substitution_leaves_nothing_behind() {
    let s = Scratch::new();
    let marker = unique_seconds();
    let template = format!("echo {{% sleep {marker} & sleep {marker}; wait %}}");
    let mut cmd = s.hs(&["cluster", "-N2", "-S", "0.5", "-t", &template]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"a\nb\n").expect("write");
    }
    assert!(
        wait_until(Duration::from_secs(10), || processes_with(&marker).len()
            >= 4),
        "substitutions did not start"
    );
    signal(child.id(), libc::SIGINT);
    let out = wait_output(child, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_none_left(&marker, Duration::from_secs(3));
}

/// A submit-side template's substitution is stopped too when `hs submit` is told to stop, and
/// `hs submit` then ends as interrupted (exit status 4, as every command).
#[test]
fn a_stopped_submit_leaves_no_substitution_behind() {
    let s = Scratch::new();
    let marker = unique_seconds();
    let template = format!("echo {{% sleep {marker} %}}");
    let mut cmd = s.hs(&["submit", "--initdb", "--template", &template]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"a\n").expect("write");
    }
    // The marker is in hs submit's own command line too: wait for a process of the substitution.
    let hs = child.id();
    assert!(
        wait_until(Duration::from_secs(10), || processes_with(&marker)
            .iter()
            .any(|&p| p != hs)),
        "the substitution did not start"
    );
    signal(hs, libc::SIGTERM);
    let out = wait_output(child, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    // Killed before hs submit ended; on a loaded machine the kernel may take a moment to end a
    // process it has already sent SIGKILL to.
    assert_none_left(&marker, Duration::from_secs(5));
}
