//! Behaviour tests for [`SpawnExecutor`]: real bash processes, real signals, kept fast.

use super::*;
use crate::executor::TaskVars;
use crate::executor::relay::tests::SharedVec;
use crate::executor::subreaper::tests::dies_within;
use crate::executor::watch::Watch;
use crate::executor::{Leftover, LineSink, StopReason};
use crate::executor::{subreaper, sys};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A spec relaying both streams to `out`. Also makes sure tasks do not inherit an ignored
/// SIGINT from how the test binary was started (see [`sys::default_sigint`]).
fn spec<'a>(command: &'a str, out: &SharedVec) -> RunSpec<'a> {
    sys::default_sigint();
    RunSpec {
        command,
        cwd: None,
        env: TaskVars::none(),
        stdout: OutputTarget::Relay(out.sink()),
        stderr: OutputTarget::Relay(out.sink()),
        timeout: None,
        started: None,
        leftovers: Leftover::Linger,
        signalwait: Duration::from_millis(200),
    }
}

fn run(spec: &RunSpec<'_>) -> RunOutcome {
    let stop = StopSignal::new().expect("eventfd");
    SpawnExecutor::with_env(&[]).run(spec, &stop)
}

fn run_code(command: &str) -> Exit {
    run(&spec(command, &SharedVec::default())).exit
}

#[test]
fn exit_codes_and_pipefail() {
    assert_eq!(run_code("true"), Exit::Code(0));
    assert_eq!(run_code("exit 3"), Exit::Code(3));
    assert_eq!(run_code("false | true"), Exit::Code(1), "pipefail is on");
    assert_eq!(run_code("true | true"), Exit::Code(0));
}

#[test]
fn death_by_foreign_signal() {
    assert_eq!(run_code("kill -TERM $$"), Exit::Signal(libc::SIGTERM));
}

#[test]
fn timestamps_are_ordered() {
    let out = run(&spec("sleep 0.05", &SharedVec::default()));
    let started = out.started.expect("started");
    let took = out.finished.duration_since(started).expect("ordered");
    assert!(took >= Duration::from_millis(50), "{took:?}");
}

#[test]
fn cwd_applies_to_the_task_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = std::env::current_dir().expect("cwd");
    let out = SharedVec::default();
    let mut s = spec("pwd -P", &out);
    s.cwd = Some(dir.path());
    assert_eq!(run(&s).exit, Exit::Code(0));
    let expected = dir.path().canonicalize().expect("canonical");
    assert_eq!(out.text(), format!("{}\n", expected.display()));
    assert_eq!(std::env::current_dir().expect("cwd"), before);
}

#[test]
fn env_is_added_for_the_task() {
    let out = SharedVec::default();
    let env: TaskVars = [("HS_TEST_VAR", "hello world")].into_iter().collect();
    let mut s = spec("echo \"$HS_TEST_VAR\"; echo \"${HOME:+home}\"", &out);
    s.env = &env;
    assert_eq!(run(&s).exit, Exit::Code(0));
    assert_eq!(
        out.text(),
        "hello world\nhome\n",
        "added to, not replacing, the env"
    );
}

#[test]
fn task_variables_override_inherited_ones() {
    let out = SharedVec::default();
    let env: TaskVars = [("HOME", "/task-home")].into_iter().collect();
    let mut s = spec("echo \"$HOME\"", &out);
    s.env = &env;
    assert_eq!(run(&s).exit, Exit::Code(0));
    assert_eq!(out.text(), "/task-home\n");
}

#[test]
fn invalid_variable_names_fail_the_task_with_a_reason() {
    let env: TaskVars = [("A=B", "x")].into_iter().collect();
    let mut s = spec("true", &SharedVec::default());
    s.env = &env;
    let out = run(&s);
    assert_eq!(out.started, None);
    assert_eq!(
        out.exit,
        Exit::SpawnFailed("invalid environment variable name \"A=B\"".into())
    );
}

/// What `s` writes to stdout, started each way: by the executor (its own clone), and through
/// the std `Command` fallback (glibc before 2.25) driven directly.
fn stdout_both_ways(s: &RunSpec<'_>) -> [String; 2] {
    let dir = tempfile::tempdir().expect("tempdir");
    let own = dir.path().join("own.txt");
    let to_file = RunSpec {
        command: s.command,
        cwd: s.cwd,
        env: s.env,
        stdout: OutputTarget::File(own.clone()),
        stderr: OutputTarget::Null,
        timeout: None,
        signalwait: s.signalwait,
        started: None,
        leftovers: Leftover::Linger,
    };
    assert_eq!(run(&to_file).exit, Exit::Code(0));
    let fallback = dir.path().join("std.txt");
    let stdout = Output::File(create_output(&fallback, "stdout").expect("create"));
    let inherited = Inherited::capture(&[]);
    let null = dev_null().expect("/dev/null");
    let pid = spawn_with_std(s, &inherited, null, [stdout.child_fd(null), null], None)
        .expect("spawned")
        .pid;
    drop(stdout);
    assert_eq!(sys::wait_exit(pid).expect("wait").code(), Some(0));
    [own, fallback].map(|path| std::fs::read_to_string(path).expect("read"))
}

/// Working directory, environment and the task's own process group, together, either way.
#[test]
fn directory_environment_and_group_apply_either_way() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env: TaskVars = [("HS_TEST_VAR", "set")].into_iter().collect();
    let mut s = spec(
        "pwd -P; echo \"$HS_TEST_VAR\"; [ \"$(cut -d\" \" -f5 /proc/$$/stat)\" -eq $$ ] && echo leader",
        &SharedVec::default(),
    );
    s.cwd = Some(dir.path());
    s.env = &env;
    let expected = dir.path().canonicalize().expect("canonical");
    let expected = format!("{}\nset\nleader\n", expected.display());
    assert_eq!(stdout_both_ways(&s), [expected.clone(), expected]);
}

/// The engine raises its own open-file limit (every slot keeps pipes open); its tasks get the
/// limit it was started with, either way.
#[test]
fn tasks_get_the_open_file_limit_the_engine_started_with() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write live locals; lowering the soft limit and
    // raising it back only changes this test process's headroom for a moment.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    let started = libc::rlimit {
        rlim_cur: limit.rlim_max.min(512),
        rlim_max: limit.rlim_max,
    };
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &started) };
    crate::executor::prepare_engine_process();
    let mut now = started;
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut now) };
    assert_eq!(
        now.rlim_cur, limit.rlim_max,
        "the engine's own limit is raised"
    );
    let expected = format!("{}\n", started.rlim_cur);
    let s = spec("ulimit -n", &SharedVec::default());
    assert_eq!(stdout_both_ways(&s), [expected.clone(), expected]);
}

/// Rust ignores SIGPIPE and a slot thread may block signals; a task starts with neither: a
/// pipeline's writer dies of SIGPIPE as in a shell, and nothing is blocked.
#[test]
fn tasks_start_with_default_sigpipe_and_no_blocked_signals() {
    // SAFETY: a signal set on the stack, changed and then applied to this test thread only.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    let out = SharedVec::default();
    let s = spec(
        "yes | head -1 >/dev/null; echo \"pipe=${PIPESTATUS[0]}\"; grep SigBlk /proc/$$/status",
        &out,
    );
    assert_eq!(run(&s).exit, Exit::Code(0));
    assert_eq!(out.text(), "pipe=141\nSigBlk:\t0000000000000000\n");
}

#[test]
fn partial_last_line_is_flushed_with_its_newline() {
    let out = SharedVec::default();
    assert_eq!(run(&spec("printf 'a\\nb'", &out)).exit, Exit::Code(0));
    assert_eq!(out.text(), "a\nb\n");
}

#[test]
fn concurrent_tasks_never_cut_lines() {
    let out = SharedVec::default();
    let sink = out.sink();
    let threads: Vec<_> = ["A", "B"]
        .into_iter()
        .map(|tag| {
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || {
                let command = format!(
                    "for i in $(seq 1 1500); do printf '{tag}%05d%0700d\\n' $i 0; done; \
                     printf '{tag}-tail'"
                );
                let s = RunSpec {
                    command: &command,
                    cwd: None,
                    env: TaskVars::none(),
                    stdout: OutputTarget::Relay(Arc::clone(&sink)),
                    stderr: OutputTarget::Null,
                    timeout: None,
                    started: None,
                    leftovers: Leftover::Linger,
                    signalwait: Duration::from_millis(200),
                };
                run(&s).exit
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().expect("thread"), Exit::Code(0));
    }
    let text = out.text();
    let zeros = "0".repeat(700);
    let (mut a, mut b) = (0, 0);
    let mut tails = 0;
    // Each task's unterminated tail is written as is, so it may prefix the other's next line.
    for line in text.split('\n') {
        let mut rest = line;
        while let Some(r) = rest
            .strip_prefix("A-tail")
            .or_else(|| rest.strip_prefix("B-tail"))
        {
            tails += 1;
            rest = r;
        }
        if rest.is_empty() {
            continue;
        }
        let (tag, body) = rest.split_at(1);
        let (num, pad) = body.split_at(5);
        assert_eq!(pad, zeros, "line cut or interleaved: {line:.40}…");
        let n: usize = num.parse().expect("number");
        match tag {
            "A" => {
                a += 1;
                assert_eq!(n, a, "A lines in order");
            }
            "B" => {
                b += 1;
                assert_eq!(n, b, "B lines in order");
            }
            _ => panic!("unexpected line {line:.40}"),
        }
    }
    assert_eq!((a, b, tails), (1500, 1500, 2));
    // Each batch handed to the writer is whole lines (or a task's final unterminated line).
    for batch in out.batches() {
        assert!(
            batch.ends_with('\n') || batch == "A-tail" || batch == "B-tail",
            "batch ends mid-line: …{}",
            &batch[batch.len().saturating_sub(40)..]
        );
    }
}

#[test]
fn file_targets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (o, e, both) = (
        dir.path().join("o"),
        dir.path().join("e"),
        dir.path().join("both"),
    );
    std::fs::write(&o, "old content that must be truncated\n").expect("write");
    let mut s = spec("echo out; echo err >&2", &SharedVec::default());
    s.stdout = OutputTarget::File(o.clone());
    s.stderr = OutputTarget::File(e.clone());
    assert_eq!(run(&s).exit, Exit::Code(0));
    assert_eq!(std::fs::read_to_string(&o).expect("o"), "out\n");
    assert_eq!(std::fs::read_to_string(&e).expect("e"), "err\n");

    s.stdout = OutputTarget::File(both.clone());
    s.stderr = OutputTarget::File(both.clone());
    assert_eq!(run(&s).exit, Exit::Code(0));
    assert_eq!(std::fs::read_to_string(&both).expect("both"), "out\nerr\n");

    s.stdout = OutputTarget::File(dir.path().join("missing/dir/o"));
    match run(&s) {
        RunOutcome {
            started: None,
            exit: Exit::SpawnFailed(msg),
            ..
        } => assert!(
            msg.contains("stdout file") && msg.contains("missing/dir/o"),
            "{msg}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn null_streams_and_stdin() {
    let mut s = spec("echo out; echo err >&2", &SharedVec::default());
    s.stdout = OutputTarget::Null;
    s.stderr = OutputTarget::Null;
    assert_eq!(
        run(&s).exit,
        Exit::Code(0),
        "writes to a null target succeed"
    );
    let out = SharedVec::default();
    let s = spec("read -r line; echo \"read=$? line=$line\"", &out);
    assert_eq!(run(&s).exit, Exit::Code(0));
    assert_eq!(out.text(), "read=1 line=\n", "stdin is /dev/null");
}

/// A task that could not start leaves its pipes to the next one, as one that ran does.
#[test]
fn a_failed_start_keeps_its_pipes() {
    let executor = SpawnExecutor::with_env(&[]);
    let stop = StopSignal::new().expect("eventfd");
    let mut s = spec("true", &SharedVec::default());
    s.cwd = Some(Path::new("/no/such/dir"));
    assert!(matches!(executor.run(&s, &stop).exit, Exit::SpawnFailed(_)));
    assert_eq!(executor.pipes.idle_count(), 2);
}

#[test]
fn missing_cwd_is_a_spawn_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    let mut s = spec("true", &SharedVec::default());
    s.cwd = Some(&missing);
    let out = run(&s);
    assert_eq!(out.started, None);
    assert_eq!(
        out.exit,
        Exit::SpawnFailed(format!(
            "working directory {} does not exist",
            missing.display()
        ))
    );
}

#[test]
fn timeout_interrupts_with_sigint() {
    let out = SharedVec::default();
    let mut s = spec("echo started; sleep 30", &out);
    s.timeout = Some(Duration::from_millis(200));
    let t0 = Instant::now();
    let exit = run(&s).exit;
    let took = t0.elapsed();
    assert_eq!(
        exit,
        Exit::Stopped {
            reason: StopReason::Timeout,
            signal: Some(libc::SIGINT),
            code: None
        }
    );
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(1),
        "{took:?}"
    );
    assert_eq!(out.text(), "started\n", "output is relayed until the stop");
}

/// Run `command` with a 50 ms walltime and 150 ms between signals; how it ended and how long
/// that took.
fn run_out_of_time(command: &str) -> (Exit, Duration) {
    let mut s = spec(command, &SharedVec::default());
    s.timeout = Some(Duration::from_millis(50));
    s.signalwait = Duration::from_millis(150);
    let t0 = Instant::now();
    let exit = run(&s).exit;
    (exit, t0.elapsed())
}

#[test]
fn sigterm_follows_an_ignored_sigint() {
    let (exit, took) = run_out_of_time("trap '' INT; sleep 30");
    assert_eq!(
        exit,
        Exit::Stopped {
            reason: StopReason::Timeout,
            signal: Some(libc::SIGTERM),
            code: None
        }
    );
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(1),
        "{took:?}"
    );
}

#[test]
fn stubborn_task_is_killed_after_two_signalwaits() {
    let (exit, took) = run_out_of_time("trap '' INT TERM; sleep 30");
    assert_eq!(
        exit,
        Exit::Stopped {
            reason: StopReason::Timeout,
            signal: Some(libc::SIGKILL),
            code: None
        }
    );
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(2),
        "{took:?}"
    );
}

#[test]
fn stopped_task_may_exit_with_a_code() {
    let mut s = spec("trap 'exit 7' INT; sleep 30 & wait", &SharedVec::default());
    s.timeout = Some(Duration::from_millis(100));
    assert_eq!(
        run(&s).exit,
        Exit::Stopped {
            reason: StopReason::Timeout,
            signal: Some(libc::SIGINT),
            code: Some(7)
        }
    );
}

#[test]
fn stopped_task_exiting_zero_is_still_stopped_by_the_signal_it_answered() {
    let mut s = spec(
        "trap 'exit 0' INT TERM; sleep 30 & wait",
        &SharedVec::default(),
    );
    s.timeout = Some(Duration::from_millis(100));
    assert_eq!(
        run(&s).exit,
        Exit::Stopped {
            reason: StopReason::Timeout,
            signal: Some(libc::SIGINT),
            code: Some(0)
        }
    );
}

#[test]
fn walltime_and_signalwait_beyond_the_clock_saturate() {
    let mut s = spec("echo ok", &SharedVec::default());
    s.timeout = Some(Duration::MAX);
    s.signalwait = Duration::MAX;
    assert_eq!(run(&s).exit, Exit::Code(0));
}

#[test]
fn background_children_die_with_a_stopped_task() {
    subreaper::become_child_subreaper().expect("prctl");
    let out = SharedVec::default();
    // Background jobs of a non-interactive bash ignore SIGINT: only the final SIGKILL of the
    // group gets this one.
    let mut s = spec("sleep 30 & echo $!; sleep 30", &out);
    s.timeout = Some(Duration::from_millis(200));
    let t0 = Instant::now();
    let exit = run(&s).exit;
    assert!(
        matches!(
            exit,
            Exit::Stopped {
                reason: StopReason::Timeout,
                ..
            }
        ),
        "{exit:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(1));
    let pid: libc::pid_t = out.text().trim().parse().expect("pid");
    assert!(
        dies_within(pid, Duration::from_millis(500)),
        "grandchild {pid} survived"
    );
}

#[test]
fn background_children_of_a_finished_task_are_left_alone() {
    let out = SharedVec::default();
    let t0 = Instant::now();
    let exit = run(&spec("sleep 30 >/dev/null 2>&1 & echo $$ $!", &out)).exit;
    assert_eq!(exit, Exit::Code(0));
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "must not wait for the background job"
    );
    let text = out.text();
    let (pgid, pid) = text.trim().split_once(' ').expect("two pids");
    let pid: libc::pid_t = pid.parse().expect("pid");
    assert!(
        !dies_within(pid, Duration::from_millis(50)),
        "only stops kill the group"
    );
    subreaper::signal_group(pgid.parse().expect("pgid"), libc::SIGKILL);
    assert!(dies_within(pid, Duration::from_millis(500)));
}

#[test]
fn orphans_of_finished_tasks_are_reaped() {
    subreaper::become_child_subreaper().expect("prctl");
    let executor = SpawnExecutor::with_env(&[]);
    let stop = StopSignal::new().expect("eventfd");
    // The subshell exits at once, so its sleep is reparented to us and dies (a zombie) before
    // bash exits: the run itself must reap it.
    let out = SharedVec::default();
    let s = spec("( sleep 0.05 >/dev/null 2>&1 & echo $! ); sleep 0.2", &out);
    assert_eq!(executor.run(&s, &stop).exit, Exit::Code(0));
    let pid: libc::pid_t = out.text().trim().parse().expect("pid");
    assert!(!proc_exists(pid), "dead orphan {pid} left as a zombie");

    // Still alive when bash exits: remembered, and reaped by a later run once dead.
    let out = SharedVec::default();
    let s = spec("sleep 0.1 >/dev/null 2>&1 & echo $!", &out);
    assert_eq!(executor.run(&s, &stop).exit, Exit::Code(0));
    let pid: libc::pid_t = out.text().trim().parse().expect("pid");
    assert!(proc_exists(pid));
    assert!(dies_within(pid, Duration::from_secs(2)));
    assert_eq!(
        executor
            .run(&spec("true", &SharedVec::default()), &stop)
            .exit,
        Exit::Code(0)
    );
    assert!(!proc_exists(pid), "orphan {pid} left as a zombie");
}

fn proc_exists(pid: libc::pid_t) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn output_held_open_by_a_grandchild_does_not_block() {
    let out = SharedVec::default();
    let t0 = Instant::now();
    let exit = run(&spec("echo mine; (sleep 0.5; echo late) &", &out)).exit;
    assert_eq!(exit, Exit::Code(0));
    assert!(
        t0.elapsed() < Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(out.text(), "mine\n");
}

/// One executor for several runs in a row, so that its kept pipes are reused.
fn runner() -> impl Fn(&RunSpec<'_>) -> Exit {
    let executor = SpawnExecutor::with_env(&[]);
    let stop = StopSignal::new().expect("eventfd");
    move |spec| executor.run(spec, &stop).exit
}

/// Relay pipes are kept from task to task, but not one a finished task's background process
/// still holds: its late output must not land in the next task's.
#[test]
fn a_later_task_never_relays_an_earlier_tasks_background_output() {
    let run = runner();
    let first = SharedVec::default();
    assert_eq!(
        run(&spec("echo one; (sleep 0.3; echo late) &", &first)),
        Exit::Code(0)
    );
    let second = SharedVec::default();
    for _ in 0..3 {
        assert_eq!(run(&spec("sleep 0.15; echo two", &second)), Exit::Code(0));
    }
    // "late" may reach the first task's relay only if this machine stalls for 0.3 s before
    // its drain; it must never reach a later task's.
    assert!(first.text().starts_with("one\n"), "{:?}", first.text());
    assert_eq!(second.text(), "two\ntwo\ntwo\n");
}

#[test]
fn kept_pipes_carry_each_tasks_output_whole() {
    let run = runner();
    for i in 0..20 {
        let out = SharedVec::default();
        let command = format!("seq {i}; printf tail; echo err >&2");
        assert_eq!(run(&spec(&command, &out)), Exit::Code(0));
        let lines: String = (1..=i).map(|n| format!("{n}\n")).collect();
        let text = out.text();
        assert!(
            text == format!("{lines}tail\nerr\n") || text == format!("{lines}err\ntail\n"),
            "task {i}: {text:?}"
        );
    }
}

/// On a kernel without pollable pidfds (before 5.3) the slot polls the child at an interval and
/// learns of its end from the pipes' hang-up: the output is all there, and no pipe is kept.
#[test]
fn without_a_pidfd_output_is_whole_and_no_pipe_is_kept() {
    let executor = SpawnExecutor::with_env(&[]);
    let stop = StopSignal::new().expect("eventfd");
    let out = SharedVec::default();
    let s = spec("echo a; sleep 0.05; echo b >&2", &out);
    let (stdout, stderr) = output_stdio(&s, &executor.pipes).expect("pipes");
    let null = dev_null().expect("/dev/null");
    let child = executor
        .spawn(&s, stdout.child_fd(null), stderr.child_fd(null))
        .expect("spawned");
    let child = Started {
        pid: child.pid,
        pidfd: None,
        exited: None,
    };
    let pipes = [stdout.into_pipe(), stderr.into_pipe()];
    let exit = Watch::new(child, pipes, &s, &stop).run(&executor.leftovers, &executor.pipes);
    assert_eq!(exit, (Exit::Code(0), None));
    assert_eq!(out.text(), "a\nb\n");
    assert_eq!(executor.pipes.idle_count(), 0, "no pipe kept");
    // With its pidfd, the same task leaves both pipes to be kept.
    assert_eq!(executor.run(&s, &stop).exit, Exit::Code(0));
    assert_eq!(executor.pipes.idle_count(), 2, "both pipes kept");
}

#[test]
fn stop_from_another_thread_cancels() {
    let stop = Arc::new(StopSignal::new().expect("eventfd"));
    let remote = Arc::clone(&stop);
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        remote.trigger(StopReason::Cancel);
    });
    let t0 = Instant::now();
    let exit = SpawnExecutor::with_env(&[])
        .run(&spec("sleep 30", &SharedVec::default()), &stop)
        .exit;
    canceller.join().expect("thread");
    assert_eq!(
        exit,
        Exit::Stopped {
            reason: StopReason::Cancel,
            signal: Some(libc::SIGINT),
            code: None
        }
    );
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn stop_triggered_while_idle_applies_to_the_next_run_until_reset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("ran");
    let command = format!("touch {}", marker.display());
    let stop = StopSignal::new().expect("eventfd");
    let executor = SpawnExecutor::with_env(&[]);
    stop.trigger(StopReason::Shutdown);
    let out = executor.run(&spec(&command, &SharedVec::default()), &stop);
    assert_eq!(out.started, None);
    assert_eq!(
        out.exit,
        Exit::Stopped {
            reason: StopReason::Shutdown,
            signal: None,
            code: None
        }
    );
    assert!(!marker.exists(), "a stopped slot must not start the task");
    stop.reset();
    let out = executor.run(&spec(&command, &SharedVec::default()), &stop);
    assert_eq!(out.exit, Exit::Code(0));
    assert!(marker.exists());
}

/// `started` runs once bash runs, with its pid, and never for a task that could not start.
#[test]
fn started_is_called_once_for_a_started_task_only() {
    let calls = std::cell::Cell::new(0);
    let count = |pid: libc::pid_t| {
        assert!(pid > 0 && pid != std::process::id() as libc::pid_t, "{pid}");
        calls.set(calls.get() + 1)
    };
    let out = SharedVec::default();
    let mut ran = spec("true", &out);
    ran.started = Some(&count);
    assert_eq!(run(&ran).exit, Exit::Code(0));
    assert_eq!(calls.get(), 1);

    let mut no_dir = spec("true", &out);
    no_dir.cwd = Some(std::path::Path::new("/no/such/dir"));
    no_dir.started = Some(&count);
    assert!(matches!(run(&no_dir).exit, Exit::SpawnFailed(_)));
    let bad_name: TaskVars = [("A=B", "x")].into_iter().collect();
    let mut bad_env = spec("true", &out);
    bad_env.env = &bad_name;
    bad_env.started = Some(&count);
    assert!(matches!(run(&bad_env).exit, Exit::SpawnFailed(_)));
    assert_eq!(calls.get(), 1, "not for tasks that never started");
}

/// A writer that holds its first write until it is let go, as a full pipe to a reader that has
/// stopped reading does.
struct HeldWriter(std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>>);

impl std::io::Write for HeldWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(held) = self.0.lock().unwrap().take() {
            let _ = held.recv();
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a task that writes "out" and ends 0.2 s later, while its slot is held in the write of
/// "out" until 0.1 s after that end (as by a reader that stopped reading); `then` runs at that
/// moment, before the write is let go.
fn ended_while_held(
    timeout: Option<Duration>,
    stop: Arc<StopSignal>,
    then: impl FnOnce() + Send + 'static,
) -> Exit {
    let dir = tempfile::tempdir().expect("tempdir");
    let ended = dir.path().join("ended");
    let command = format!("echo out; sleep 0.2; touch {}", ended.display());
    let (release, held) = std::sync::mpsc::channel();
    let sink = Arc::new(LineSink::from_writer(Box::new(HeldWriter(
        std::sync::Mutex::new(Some(held)),
    ))));
    let mut s = spec(&command, &SharedVec::default());
    s.stdout = OutputTarget::Relay(sink);
    s.timeout = timeout;
    let watcher = std::thread::spawn(move || {
        let waited = Instant::now();
        while !ended.exists() && waited.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        // The task's bash has exited by now; its slot is still held in the write of "out".
        std::thread::sleep(Duration::from_millis(100));
        then();
        release.send(()).expect("writer waiting");
    });
    let exit = SpawnExecutor::with_env(&[]).run(&s, &stop).exit;
    watcher.join().expect("thread");
    exit
}

/// A task that ended by itself while its slot was still writing its output, and was then asked
/// to stop with the other running tasks, is recorded with its own exit: it was not running any
/// more. Recorded as stopped, it was run again.
#[test]
fn a_task_that_ended_before_the_stop_keeps_its_own_exit() {
    let stop = Arc::new(StopSignal::new().expect("eventfd"));
    let remote = Arc::clone(&stop);
    let exit = ended_while_held(None, stop, move || remote.trigger(StopReason::Shutdown));
    assert_eq!(exit, Exit::Code(0));
}

/// The same for its time limit, passed while the slot was held after the task had ended.
#[test]
fn a_task_that_ended_within_its_time_limit_is_not_timed_out_by_a_slow_write() {
    let stop = Arc::new(StopSignal::new().expect("eventfd"));
    let exit = ended_while_held(Some(Duration::from_millis(250)), stop, || {});
    assert_eq!(exit, Exit::Code(0));
}
