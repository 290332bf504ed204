//! The semantics suite: every case runs through both executors and must give the same stdout,
//! stderr and exit. Values that differ from one process to the next by nature (pids, RANDOM)
//! are checked as relations inside the task ("`$$` is my pid"), so the printed text is
//! comparable. Plus the warm executor's own promises: a dead slot shell is replaced without
//! losing or repeating a task, tasks it cannot run identically go the fresh-exec way.

use super::*;
use crate::executor::relay::tests::SharedVec;
use crate::executor::{Exit, Leftover, OutputTarget, StopReason, TaskVars};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

/// What a run printed and how it ended.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    stdout: String,
    stderr: String,
    exit: Exit,
}

struct Case<'a> {
    command: &'a str,
    cwd: Option<&'a Path>,
    env: &'a TaskVars,
    timeout: Option<Duration>,
}

impl<'a> Case<'a> {
    fn new(command: &'a str, env: &'a TaskVars) -> Self {
        Case {
            command,
            cwd: None,
            env,
            timeout: None,
        }
    }
}

fn see(executor: &dyn Executor, case: &Case<'_>) -> Seen {
    sys::default_sigint();
    let (out, err) = (SharedVec::default(), SharedVec::default());
    let spec = RunSpec {
        command: case.command,
        cwd: case.cwd,
        env: case.env,
        stdout: OutputTarget::Relay(out.sink()),
        stderr: OutputTarget::Relay(err.sink()),
        timeout: case.timeout,
        signalwait: Duration::from_millis(200),
        started: None,
        leftovers: Leftover::Linger,
    };
    let stop = StopSignal::new().expect("eventfd");
    let exit = executor.run(&spec, &stop).exit;
    Seen {
        stdout: out.text(),
        stderr: err.text(),
        exit,
    }
}

/// One warm and one fresh-exec executor for the whole suite, as an engine has (the slot shell
/// of the warm one is long started by the time most cases run, which is what matters).
fn executors() -> &'static (WarmExecutor, SpawnExecutor) {
    static BOTH: OnceLock<(WarmExecutor, SpawnExecutor)> = OnceLock::new();
    BOTH.get_or_init(|| {
        (
            WarmExecutor::start(&[]).expect("this machine's bash can be a slot shell"),
            SpawnExecutor::with_env(&[]),
        )
    })
}

/// The task variables an engine sets, plus the test process's pid (the engine of these tasks).
fn task_vars() -> TaskVars {
    let mut vars: TaskVars = [("TASK_ID", "c0ffee"), ("TASK_ARGS", "a b")]
        .into_iter()
        .collect();
    vars.set_display("HS_TEST_ENGINE", std::process::id());
    vars
}

fn same(case: &Case<'_>) -> Seen {
    let (warm, spawn) = executors();
    let fresh = see(spawn, case);
    let warmed = see(warm, case);
    let shown: String = case.command.chars().take(200).collect();
    assert_eq!(warmed, fresh, "warm vs fresh for {shown:?}");
    fresh
}

fn same_for(command: &str) -> Seen {
    let env = task_vars();
    same(&Case::new(command, &env))
}

#[test]
fn process_identity() {
    let seen = same_for(
        "[ $$ = $BASHPID ] && echo '$$ is my pid'; \
         [ $PPID = $HS_TEST_ENGINE ] && echo 'PPID is the engine'; \
         [ $(cut -d' ' -f4 /proc/$$/stat) = $PPID ] && echo 'my parent is the engine'; \
         [ $(cut -d' ' -f5 /proc/$$/stat) = $$ ] && echo 'I lead my group'; \
         echo \"subshell=$BASH_SUBSHELL shlvl=$SHLVL 0=$0\"; (echo \"inner=$BASH_SUBSHELL\")",
    );
    assert_eq!(seen.exit, Exit::Code(0));
    assert_eq!(seen.stdout.lines().count(), 6, "{}", seen.stdout);
}

#[test]
fn shell_state_is_a_new_bash_s() {
    for command in [
        "echo \"$BASH_EXECUTION_STRING\"",
        "echo \"$-\"; set -o; shopt -p; trap -p; declare -F; alias; echo \"[$_]\"",
        "compgen -v",
        "env | LC_ALL=C sort",
        "declare -p | grep -vE '^declare -[-a-zA-Z]* (BASHPID|RANDOM|SRANDOM|EPOCHREALTIME|EPOCHSECONDS|HS_TEST_ENGINE)='",
        "declare -p PIPESTATUS; echo \"$? $LINENO [$BASH_COMMAND]\"",
        "ulimit -a; umask; pwd; echo \"$PWD $OLDPWD\"",
        "type hs_warm; enable -a | grep -c hs_warm",
        "cat /proc/$$/comm",
        "echo $SECONDS",
        "echo \"$TASK_ID\"; declare -p TASK_ID TASK_ARGS",
    ] {
        same_for(command);
    }
}

#[test]
fn working_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = task_vars();
    let mut case = Case::new("pwd; pwd -P; echo \"$PWD\"; cd ..; echo \"$OLDPWD\"", &env);
    case.cwd = Some(dir.path());
    same(&case);
    let missing = dir.path().join("missing");
    case.cwd = Some(&missing);
    let seen = same(&case);
    assert!(matches!(seen.exit, Exit::SpawnFailed(ref m) if m.contains("does not exist")));
}

#[test]
fn every_exit_code() {
    for code in 0..=256 {
        let seen = same_for(&format!("exit {code}"));
        assert_eq!(seen.exit, Exit::Code(code % 256));
    }
}

#[test]
fn signals_and_traps() {
    for command in [
        "kill $$",
        "kill -9 $$",
        "kill -INT $$",
        "kill -HUP $$; echo after",
        "trap 'echo bye' EXIT; exit 4",
        "trap 'echo term' TERM; kill $$; echo after",
        "trap 'echo bye' EXIT; kill $$",
        "sleep 5 & kill -9 $!; wait $! 2>/dev/null; echo $?",
    ] {
        same_for(command);
    }
}

#[test]
fn bash_control_flow() {
    for command in [
        "exec echo replaced; echo not",
        "set -e; false; echo unreachable",
        "false | true",
        "true | false; echo ${PIPESTATUS[@]}",
        "echo (",
        "if",
        "return 3",
        "exit",
        "(exit 7) & wait $!; echo $?",
        "f() { echo in f; return 5; }; f; echo $?",
        "cat <<EOF\nline $((1 + 1))\n  indented\nEOF",
        "cat <(echo from a process substitution)",
        "read x; echo \"[$x] $?\"",
        "exec >&-; echo lost; echo \"$?\" >&2",
        "printf '\\x01\\x02\\x7f\\x80\\xfe\\xff' | od -An -tx1",
        "printf '%s' $'\\xff\\xfe' | od -An -tx1; a=$'\\xe9t\\xe9'; echo ${#a}",
        "sleep 0.2 & echo started",
        "echo $'tab\\there'; echo -n no newline",
    ] {
        same_for(command);
    }
}

#[test]
fn long_commands() {
    // Up to the kernel's limit for one exec argument (128 KiB), both run it.
    let command = format!(
        ": '{}'; echo ${{#BASH_EXECUTION_STRING}}",
        "x".repeat(120 << 10)
    );
    let seen = same_for(&command);
    assert_eq!(seen.stdout, format!("{}\n", command.len()));
}

#[test]
fn timeout_stops_the_group_the_same_way() {
    let env = task_vars();
    for command in ["sleep 5", "sleep 5; echo after", "trap '' INT; sleep 5"] {
        let mut case = Case::new(command, &env);
        case.timeout = Some(Duration::from_millis(100));
        let seen = same(&case);
        assert!(
            matches!(
                seen.exit,
                Exit::Stopped {
                    reason: StopReason::Timeout,
                    ..
                }
            ),
            "{seen:?}"
        );
    }
}

#[test]
fn special_variables_take_the_fresh_exec_path() {
    let env: TaskVars = [("PATH", "/nowhere:/usr/bin:/bin"), ("LC_ALL", "C")]
        .into_iter()
        .collect();
    same(&Case::new("echo $PATH; command -v ls", &env));
}

/// What ps and `pgrep -f` see: a forked task writes its command line over its slot shell's
/// (padded with NULs; only a command longer than 16 KiB is cut).
#[test]
fn the_command_line_in_proc() {
    same_for("tr '\\0' ' ' < /proc/$$/cmdline | sed 's/ *$//'; echo; echo $# \"$*\"");
}

/// A command longer than one exec argument may be (128 KiB) cannot start a fresh bash at all;
/// a warm slot shell receives it over its socket and runs it.
#[test]
fn a_megabyte_command_runs_warm_only() {
    let (warm, spawn) = executors();
    let env = task_vars();
    let command = format!(
        ": '{}'; echo ${{#BASH_EXECUTION_STRING}}",
        "x".repeat(1 << 20)
    );
    let case = Case::new(&command, &env);
    let fresh = see(spawn, &case);
    assert!(
        matches!(fresh.exit, Exit::SpawnFailed(ref m) if m.contains("Argument list too long")),
        "{:?}",
        fresh.exit
    );
    let warmed = see(warm, &case);
    assert_eq!(warmed.stdout, format!("{}\n", command.len()));
    assert_eq!(warmed.exit, Exit::Code(0));
}

#[test]
fn two_tasks_never_draw_the_same_random_numbers() {
    let (warm, _) = executors();
    let env = task_vars();
    let case = Case::new("echo $RANDOM $RANDOM $RANDOM $RANDOM", &env);
    let first = see(warm, &case).stdout;
    let second = see(warm, &case).stdout;
    assert_ne!(first, second);
}

#[test]
fn seconds_count_from_the_task_s_start() {
    let warm = WarmExecutor::start(&[]).expect("slot shell");
    std::thread::sleep(Duration::from_millis(1100));
    let env = task_vars();
    assert_eq!(see(&warm, &Case::new("echo $SECONDS", &env)).stdout, "0\n");
}

#[test]
fn a_dead_slot_shell_is_replaced_without_losing_or_repeating_a_task() {
    let warm = WarmExecutor::start(&[]).expect("slot shell");
    let [slot] = warm.shell_pids()[..] else {
        panic!("one idle slot shell");
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("runs");
    let env = task_vars();
    // The task kills its own slot shell and still finishes normally.
    let command = format!("kill -9 {slot}; echo ran >> {}; echo done", log.display());
    let seen = see(&warm, &Case::new(&command, &env));
    assert_eq!((seen.stdout.as_str(), seen.exit), ("done\n", Exit::Code(0)));
    // The next one finds the shell gone, and runs once in a new one.
    let command = format!("echo ran >> {}; echo next", log.display());
    let seen = see(&warm, &Case::new(&command, &env));
    assert_eq!((seen.stdout.as_str(), seen.exit), ("next\n", Exit::Code(0)));
    assert_eq!(std::fs::read_to_string(&log).expect("log"), "ran\nran\n");
    let now = warm.shell_pids();
    assert_eq!(now.len(), 1);
    assert_ne!(now[0], slot);
}
