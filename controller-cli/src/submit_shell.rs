//! `{% %}` commands of a submit-side template (`hs submit --template`, `--from-json`), run in
//! this process before anything is stored.
//!
//! They run through the engine's executor, as on an engine: own process group, bounded output,
//! nothing of the group left when one ends. There is no task walltime on this side, so each
//! command gets [`SUBMIT_WALLTIME`]. A Ctrl-C, SIGTERM or SIGHUP while one runs stops its group
//! (SIGINT → SIGTERM → SIGKILL) before `hs` ends as interrupted (exit status 4): the command's
//! own process group does not get the terminal's Ctrl-C, so without this it would outlive `hs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hs_engine::executor::{OUTPUT_LIMIT, SpawnExecutor, StopReason, StopSignal, Substitution};
use hs_engine::template::{CommandFailure, CommandRunner, Template};

use crate::signals::relay::{self, Watched};

/// Longest a submit-side `{% %}` command may run.
pub const SUBMIT_WALLTIME: Duration = Duration::from_secs(60);

/// Time between SIGINT, SIGTERM and SIGKILL when one is stopped.
const SIGNALWAIT: Duration = Duration::from_secs(1);

/// Runs the `{% %}` commands of submit-side expansions.
pub struct SubmitShell {
    executor: SpawnExecutor,
    stop: Arc<StopSignal>,
    /// Present while the template has commands: they must not outlive an interrupt.
    guard: Option<InterruptGuard>,
}

impl SubmitShell {
    /// A runner for `template`'s commands; signal handling is set up only if it has any.
    pub fn new(template: &Template) -> anyhow::Result<Self> {
        let stop = Arc::new(StopSignal::new()?);
        let guard = match template.has_commands() {
            true => Some(InterruptGuard::install(stop.clone())?),
            false => None,
        };
        Ok(SubmitShell {
            executor: SpawnExecutor::with_env(&[]),
            stop,
            guard,
        })
    }
}

impl CommandRunner for SubmitShell {
    fn run(&self, script: &str, args: &str) -> Result<Vec<u8>, CommandFailure> {
        let shell = Substitution {
            executor: &self.executor,
            stop: &self.stop,
            deadline: Substitution::deadline_after(Some(SUBMIT_WALLTIME)),
            walltime: Some(SUBMIT_WALLTIME),
            signalwait: SIGNALWAIT,
            output_limit: OUTPUT_LIMIT,
        };
        match &self.guard {
            Some(guard) => guard.around(|| shell.run(script, args)),
            None => shell.run(script, args),
        }
    }
}

/// The signals that end `hs` and must first stop a running command.
const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Catches [`SIGNALS`] while installed (through [`crate::signals::relay`]; one inherited as
/// ignored, as under `nohup`, stays ignored). A signal caught while a command runs stops it and
/// then ends `hs` with the interrupted status (4); one caught between commands ends it at once.
struct InterruptGuard {
    watched: Vec<Watched>,
    state: Arc<Mutex<GuardState>>,
}

#[derive(Default)]
struct GuardState {
    /// A command is running.
    running: bool,
    /// A signal arrived while it ran.
    caught: bool,
}

impl InterruptGuard {
    fn install(stop: Arc<StopSignal>) -> anyhow::Result<Self> {
        let state = Arc::new(Mutex::new(GuardState::default()));
        let mut watched = Vec::new();
        for signal in SIGNALS {
            let (state, stop) = (state.clone(), stop.clone());
            let react = move |_| {
                let mut state = lock(&state);
                if state.running {
                    tracing::warn!("interrupted: stopping the {{% %}} command that is running");
                    state.caught = true;
                    stop.trigger(StopReason::Shutdown);
                } else {
                    end_interrupted();
                }
            };
            if let Some(w) = relay::watch(signal, true, react)? {
                watched.push(w);
            }
        }
        Ok(InterruptGuard { watched, state })
    }

    /// Runs one command with the guard watching it.
    fn around<T>(&self, run: impl FnOnce() -> T) -> T {
        lock(&self.state).running = true;
        let result = run();
        let mut state = lock(&self.state);
        state.running = false;
        if state.caught {
            // The command is stopped and its group gone.
            end_interrupted();
        }
        result
    }
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        for w in &self.watched {
            w.restore();
        }
    }
}

fn lock(state: &Mutex<GuardState>) -> std::sync::MutexGuard<'_, GuardState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ends `hs` with the status of an interrupted command (README: exit status 4).
fn end_interrupted() -> ! {
    tracing::warn!("interrupted: nothing was stored");
    std::process::exit(crate::exit::Status::Interrupted as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_run_bounded_and_without_commands_nothing_is_installed() {
        let plain = Template::parse("echo {}").expect("parses");
        let shell = SubmitShell::new(&plain).expect("runner");
        assert!(shell.guard.is_none());
        let with = Template::parse("echo {% echo '@' %}").expect("parses");
        let shell = SubmitShell::new(&with).expect("runner");
        assert!(shell.guard.is_some());
        assert_eq!(with.expand("a'b", &shell).expect("expands"), "echo a'b");
        drop(shell);
    }
}
