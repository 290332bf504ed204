//! Running `{% %}` substitutions through an [`Executor`], under the rules tasks run by.
//!
//! A substitution is a command like any task's: its own process group, the walltime, the stop
//! signal (cancel, Ctrl-C, engine shutdown) with the SIGINT → SIGTERM → SIGKILL escalation, and
//! the engine's subreaper accounting. What differs: its output is captured (bounded, see
//! [`Capture`]) instead of relayed, and nothing of its group outlives it
//! ([`Leftover::Kill`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    Capture, Executor, Exit, Leftover, OutputTarget, RunSpec, StopReason, StopSignal, TaskVars,
};
use crate::template::{ARGS_VAR, CommandFailure, CommandRunner};

/// Most output a substitution may write to each of stdout and stderr. What it prints becomes
/// part of a command line, where a single argument cannot exceed 128 KiB on Linux anyway.
pub const OUTPUT_LIMIT: usize = 1 << 20;

/// Runs `{% %}` commands for one expansion.
pub struct Substitution<'a> {
    pub executor: &'a dyn Executor,
    /// The slot's stop signal (or the submitting process's): a cancel or shutdown stops the
    /// substitution as it would stop the task.
    pub stop: &'a StopSignal,
    /// When the walltime runs out (`None`: never). The task's walltime counts from the start of
    /// its expansion, so time spent in substitutions is time the task does not get.
    pub deadline: Option<Instant>,
    /// The walltime itself, for messages.
    pub walltime: Option<Duration>,
    /// Time between SIGINT, SIGTERM and SIGKILL when stopping.
    pub signalwait: Duration,
    /// Most bytes captured per stream.
    pub output_limit: usize,
}

impl Substitution<'_> {
    /// A substitution's time runs out at `walltime` from now; never, when that is beyond what
    /// the clock can hold.
    pub fn deadline_after(walltime: Option<Duration>) -> Option<Instant> {
        walltime.and_then(|w| Instant::now().checked_add(w))
    }
}

impl CommandRunner for Substitution<'_> {
    fn run(&self, script: &str, args: &str) -> Result<Vec<u8>, CommandFailure> {
        let timed_out = || CommandFailure::TimedOut(self.walltime.unwrap_or_default());
        let timeout = match self.deadline {
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Err(timed_out()),
            },
            None => None,
        };
        let stdout = Arc::new(Capture::new(self.output_limit));
        let stderr = Arc::new(Capture::new(self.output_limit));
        let env: TaskVars = [(ARGS_VAR, args)].into_iter().collect();
        let spec = RunSpec {
            command: script,
            cwd: None,
            env: &env,
            stdout: OutputTarget::Capture(stdout.clone()),
            stderr: OutputTarget::Capture(stderr.clone()),
            timeout,
            signalwait: self.signalwait,
            started: None,
            leftovers: Leftover::Kill,
        };
        let outcome = self.executor.run(&spec, self.stop);
        let (out, err) = (stdout.take(), stderr.take());
        if out.overflowed || err.overflowed {
            return Err(CommandFailure::OutputLimit {
                limit: self.output_limit,
            });
        }
        let first_line = || {
            String::from_utf8_lossy(&err.bytes)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("")
                .to_string()
        };
        match outcome.exit {
            Exit::Code(0) => Ok(out.bytes),
            Exit::Code(code) => Err(CommandFailure::Exited {
                code,
                stderr: first_line(),
            }),
            Exit::Signal(signal) => Err(CommandFailure::Killed {
                signal,
                stderr: first_line(),
            }),
            Exit::Stopped { reason, .. } => Err(match reason {
                StopReason::Timeout => timed_out(),
                StopReason::OutputLimit => CommandFailure::OutputLimit {
                    limit: self.output_limit,
                },
                StopReason::Cancel => CommandFailure::Stopped("the task was cancelled"),
                StopReason::Shutdown => CommandFailure::Stopped("hs is stopping"),
                StopReason::LeaseLost => CommandFailure::Stopped("the controller is lost"),
            }),
            Exit::SpawnFailed(reason) => Err(CommandFailure::Spawn(reason)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::SpawnExecutor;
    use crate::template::Template;

    fn expand_with(template: &str, args: &str, shell: &Substitution<'_>) -> Result<String, String> {
        Template::parse(template)
            .map_err(|e| e.to_string())?
            .expand(args, shell)
            .map_err(|e| e.to_string())
    }

    fn run(template: &str, args: &str) -> Result<String, String> {
        let executor = SpawnExecutor::with_env(&[]);
        let stop = StopSignal::new().expect("eventfd");
        let walltime = Some(Duration::from_secs(30));
        let shell = Substitution {
            executor: &executor,
            stop: &stop,
            deadline: Substitution::deadline_after(walltime),
            walltime,
            signalwait: Duration::from_millis(200),
            output_limit: 1024,
        };
        expand_with(template, args, &shell)
    }

    #[test]
    fn output_is_substituted_without_trailing_whitespace() {
        assert_eq!(run("x{% echo @ %}y", "a b"), Ok("xa by".into()));
        assert_eq!(run("{% printf '  x\\n\\n\\t' %}", ""), Ok("  x".into()));
        assert_eq!(run("{% basename @ .txt %}", "/d/f.txt"), Ok("f".into()));
    }

    #[test]
    fn command_patterns_run_in_bash() {
        assert_eq!(run("x{% echo @@ %}y", "ab"), Ok("xababy".into()));
        assert_eq!(
            run("{% awk '{print $2}' <<< '@' %}", "one two"),
            Ok("two".into())
        );
        assert_eq!(run("{% printf 'a\\n\\n' %}!", ""), Ok("a!".into()));
        assert_eq!(
            run("run {% echo nope >&2; exit 4 %}", ""),
            Err(
                "command `echo nope >&2; exit 4` from {% %} at column 5 exited with status 4: nope"
                    .into()
            )
        );
        let err = run("{% test -e @ %}", "/no/such/file").expect_err("no such file");
        assert!(
            err.starts_with("command `test -e @` from {% %} at column 1 exited with status 1"),
            "{err}"
        );
    }

    #[test]
    fn no_input_line_breaks_out_of_the_quoting() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("pwned");
        let line = format!("/data/x'; touch {}; echo '", marker.display());
        assert_eq!(run("{% basename '@' %}", &line), Ok("pwned; echo '".into()));
        for template in [
            "{% echo \"@\" %}",
            "{% echo @ %}",
            "{% echo $'@' %}",
            "{% echo \"$(echo '@')\" %}",
        ] {
            for line in [
                format!("x'; touch {}; echo '", marker.display()),
                format!("x\"; touch {}; echo \"", marker.display()),
                format!("$(touch {})", marker.display()),
                format!("`touch {}`", marker.display()),
                format!("a\ntouch {}", marker.display()),
            ] {
                run(template, &line).expect("runs");
                assert!(!marker.exists(), "{template} with {line:?} ran code");
            }
        }
    }

    #[test]
    fn quoted_at_is_one_literal_word_and_bare_at_is_split() {
        assert_eq!(run("{% printf '[%s]' '@' %}", "a  b"), Ok("[a  b]".into()));
        assert_eq!(
            run("{% printf '[%s]' \"@\" %}", "a  *"),
            Ok("[a  *]".into())
        );
        assert_eq!(run("{% printf '[%s]' @ %}", "a  b"), Ok("[a][b]".into()));
        assert_eq!(
            run("{% printf '[%s]' 'pre-@' %}", "it's"),
            Ok("[pre-it's]".into())
        );
        assert_eq!(run("{% echo me\\@host %}", "x"), Ok("me@host".into()));
    }

    #[test]
    fn failures_name_the_command_status_and_stderr() {
        assert_eq!(
            run("{% echo boom >&2; echo more >&2; exit 3 %}", ""),
            Err(
                "command `echo boom >&2; echo more >&2; exit 3` from {% %} at column 1 exited \
                 with status 3: boom"
                    .into()
            )
        );
        let err = run("{% false | cat %}", "").expect_err("pipefail is on");
        assert!(err.contains("exited with status 1"), "{err}");
        let err = run("{% kill -9 $$ %}", "").expect_err("killed");
        assert!(err.contains("was killed by signal 9"), "{err}");
    }

    #[test]
    fn output_over_the_limit_stops_the_command() {
        let err = run("{% yes %}", "").expect_err("too much");
        assert_eq!(
            err,
            "command `yes` from {% %} at column 1 wrote more than 1 KiB of output and was stopped"
        );
        let err = run("{% head -c 2000 /dev/zero >&2 %}", "").expect_err("stderr too");
        assert!(err.contains("more than 1 KiB"), "{err}");
        assert_eq!(
            run("{% head -c 1024 /dev/zero | tr '\\0' a %}", "").map(|s| s.len()),
            Ok(1024)
        );
    }

    #[test]
    fn the_walltime_stops_a_hanging_command_and_its_group() {
        let executor = SpawnExecutor::with_env(&[]);
        let stop = StopSignal::new().expect("eventfd");
        let walltime = Some(Duration::from_millis(300));
        let shell = Substitution {
            executor: &executor,
            stop: &stop,
            deadline: Substitution::deadline_after(walltime),
            walltime,
            signalwait: Duration::from_millis(100),
            output_limit: 1024,
        };
        let err = expand_with("{% sleep 100 %}", "", &shell).expect_err("hangs");
        assert_eq!(
            err,
            "command `sleep 100` from {% %} at column 1 did not finish within the walltime of \
             0.3s and was stopped"
        );
        // The deadline is shared: a second substitution of the same expansion has no time left.
        let err = expand_with("{% echo quick %}", "", &shell).expect_err("no time left");
        assert!(err.contains("walltime of 0.3s"), "{err}");
    }

    #[test]
    fn a_stop_reaches_the_command() {
        let executor = SpawnExecutor::with_env(&[]);
        let stop = Arc::new(StopSignal::new().expect("eventfd"));
        let shell = Substitution {
            executor: &executor,
            stop: &stop,
            deadline: None,
            walltime: None,
            signalwait: Duration::from_millis(100),
            output_limit: 1024,
        };
        let remote = stop.clone();
        let stopper = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            remote.trigger(StopReason::Cancel);
        });
        let err = expand_with("{% sleep 100 %}", "", &shell).expect_err("stopped");
        stopper.join().expect("thread");
        assert_eq!(
            err,
            "command `sleep 100` from {% %} at column 1 was stopped: the task was cancelled"
        );
    }

    #[test]
    fn nothing_of_the_group_is_left_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("pid");
        let template = format!(
            "{{% sleep 100 >/dev/null 2>&1 & echo $! > {}; echo done %}}",
            pidfile.display()
        );
        assert_eq!(run(&template, ""), Ok("done".into()));
        let pid: libc::pid_t = std::fs::read_to_string(&pidfile)
            .expect("pid written")
            .trim()
            .parse()
            .expect("a pid");
        // Killed and reaped, or at most a zombie waiting for init (this test process is not a
        // subreaper, so init inherits the orphan).
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                stat.rsplit(')')
                    .next()
                    .map(|rest| rest.trim().starts_with('Z'))
            })
            .is_some_and(|zombie| !zombie);
        assert!(
            !alive,
            "the background sleep {pid} outlived its substitution"
        );
    }
}
