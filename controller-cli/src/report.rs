//! What the controller does with each final result: count it, log failures, write the failed
//! task's line to the failures output (the sieve), and advance the progress bar.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use hs_broker::{EngineInfo, ResultSink};
use hs_engine::task::{Outcome, Task, TaskResult};

/// Where failed task lines go: a file, stdout (`hs server`'s default), or nowhere.
#[derive(Clone)]
pub struct FailureLog(Option<Arc<Mutex<Box<dyn Write + Send>>>>);

impl FailureLog {
    pub fn none() -> Self {
        FailureLog(None)
    }

    pub fn stdout() -> Self {
        FailureLog(Some(Arc::new(Mutex::new(Box::new(std::io::stdout())))))
    }

    /// `-` means stdout; anything else is a file, created or truncated now.
    pub fn path(path: &Path) -> anyhow::Result<Self> {
        if path.as_os_str() == "-" {
            return Ok(Self::stdout());
        }
        let f = File::create(path)
            .with_context(|| format!("cannot write failures file {}", path.display()))?;
        Ok(FailureLog(Some(Arc::new(Mutex::new(Box::new(f))))))
    }

    /// Write one line (raw bytes; a newline is added) and flush, so the sieve is current even if
    /// the controller dies.
    pub fn write_line(&self, line: &[u8]) {
        let Some(w) = &self.0 else { return };
        let mut w = w.lock().unwrap_or_else(|p| p.into_inner());
        let ok = w
            .write_all(line)
            .and_then(|_| w.write_all(b"\n"))
            .and_then(|_| w.flush());
        if let Err(e) = ok {
            tracing::debug!("cannot write to the failures output: {e}");
        }
    }
}

/// One-line description of a failed result.
pub fn describe(result: &TaskResult) -> String {
    let detail = |d: &Option<String>| d.clone().unwrap_or_default();
    match result.outcome {
        Outcome::Exited => format!("exit status {}", result.exit_status),
        Outcome::Signaled => format!(
            "killed by signal {}",
            result.signal.unwrap_or(-result.exit_status)
        ),
        Outcome::TimedOut => format!(
            "{} (stopped with signal {})",
            detail(&result.error),
            result.signal.map_or("-".to_string(), |s| s.to_string())
        ),
        Outcome::Cancelled => "cancelled".to_string(),
        Outcome::TemplateError => format!("template error: {}", detail(&result.error)),
        Outcome::SpawnError => format!("could not start: {}", detail(&result.error)),
        Outcome::OutputError => format!("output lost: {}", detail(&result.error)),
        Outcome::NoHost => format!("not run: {}", detail(&result.error)),
    }
}

pub struct Report {
    failures: FailureLog,
    bar: Option<&'static indicatif::ProgressBar>,
    pub succeeded: u64,
    pub failed: u64,
    /// Failed tasks whose output could not be written: the run's exit status says so.
    pub output_lost: u64,
}

impl Report {
    pub fn new(failures: FailureLog, bar: Option<&'static indicatif::ProgressBar>) -> Self {
        Report {
            failures,
            bar,
            succeeded: 0,
            failed: 0,
            output_lost: 0,
        }
    }
}

impl Report {
    /// Count a final result; a failure is logged and sieved. `host`: the engine's, if it ran.
    fn record(&mut self, task: &Task, result: &TaskResult, host: Option<&str>) {
        if let Some(bar) = self.bar {
            bar.inc(1);
        }
        if result.succeeded() {
            self.succeeded += 1;
            return;
        }
        self.failed += 1;
        if result.outcome == Outcome::OutputError {
            self.output_lost += 1;
        }
        tracing::warn!(
            "task {} failed {} ({}): {}",
            task.id,
            host.map_or("before reaching an engine".to_string(), |h| format!(
                "on {h}"
            )),
            describe(result),
            task.args
        );
        self.failures.write_line(task.args.as_bytes());
    }
}

impl ResultSink for Report {
    fn task_finished(&mut self, task: &Task, result: &TaskResult, engine: &EngineInfo) {
        self.record(task, result, Some(&engine.host));
    }

    fn task_failed_to_start(&mut self, task: &Task, result: &TaskResult) {
        self.record(task, result, None);
    }

    fn tasks_submitted(&mut self, count: u64) {
        if let Some(bar) = self.bar {
            bar.inc_length(count);
        }
    }
}
