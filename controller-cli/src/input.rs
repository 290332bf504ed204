//! Reading task lines (a file or stdin) into the broker's feed.
//!
//! One line is one task. Blank lines and lines that are only a comment (`# …`) are skipped; any
//! other `#` is left for the shell. A line that is not UTF-8 is reported with its line number,
//! written as it is to the failures file, and skipped; every other line still runs.
//!
//! Lines are sent in bundles as large as what the input has ready: a bundle goes out as soon as
//! the reader would otherwise block, so a trickling source (`tail -f`) never waits on a timer
//! and a large file travels in large bundles.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use chrono::Utc;
use hs_broker::feed::FeedSender;
use hs_engine::task::Task;
use uuid::Uuid;

use crate::report::FailureLog;

/// Largest bundle sent to the broker at once.
const MAX_BUNDLE: usize = 4096;

/// Where tasks come from.
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    pub fn from_arg(file: Option<PathBuf>) -> Source {
        match file {
            Some(p) if p.as_os_str() != "-" => Source::File(p),
            _ => Source::Stdin,
        }
    }

    /// Open the source now, so a missing file is reported before anything starts.
    pub fn open(&self) -> anyhow::Result<Box<dyn Read + Send>> {
        match self {
            Source::Stdin => {
                if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                    tracing::info!("reading tasks from the terminal, one per line (Ctrl-D to end)");
                }
                Ok(Box::new(std::io::stdin()))
            }
            Source::File(p) => {
                let f = std::fs::File::open(p).map_err(|e| crate::exit::Failure {
                    status: crate::exit::Status::Runtime,
                    message: format!("cannot read task file {}: {e}", p.display()),
                })?;
                Ok(Box::new(f))
            }
        }
    }
}

/// What the reader saw.
#[derive(Debug, Default, Clone)]
pub struct InputReport {
    pub tasks: u64,
    pub rejected: u64,
    pub read_error: Option<String>,
}

/// Read `input` on its own thread and feed the broker until the input ends or `alive` clears.
pub fn spawn_reader(
    input: Box<dyn Read + Send>,
    feed: FeedSender,
    alive: Arc<AtomicBool>,
    failures: FailureLog,
    submit_host: String,
) -> JoinHandle<InputReport> {
    std::thread::Builder::new()
        .name("hs-input".into())
        .spawn(move || read_all(input, feed, &alive, &failures, &submit_host))
        .expect("spawning the input thread")
}

fn read_all(
    input: Box<dyn Read + Send>,
    mut feed: FeedSender,
    alive: &AtomicBool,
    failures: &FailureLog,
    submit_host: &str,
) -> InputReport {
    let mut report = InputReport::default();
    let mut reader = BufReader::with_capacity(256 * 1024, input);
    let is_alive = || alive.load(Ordering::SeqCst);
    let mut bundle: Vec<Task> = Vec::new();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::error!("reading tasks stopped at line {}: {e}", number + 1);
                report.read_error = Some(e.to_string());
                break;
            }
        }
        number += 1;
        match parse_line(&line) {
            Ok(None) => {}
            Ok(Some(args)) => {
                bundle.push(new_task(args, submit_host));
                report.tasks += 1;
            }
            Err(raw) => {
                report.rejected += 1;
                tracing::error!(
                    "line {number}: not valid UTF-8; skipped (written to the failures output)"
                );
                failures.write_line(raw);
            }
        }
        // Send when full, or when the next read would have to wait for more input.
        let ready =
            !bundle.is_empty() && (bundle.len() >= MAX_BUNDLE || reader.buffer().is_empty());
        if ready && feed.send(std::mem::take(&mut bundle), &is_alive).is_err() {
            return report;
        }
        if !is_alive() {
            return report;
        }
    }
    if !bundle.is_empty() && feed.send(bundle, &is_alive).is_err() {
        return report;
    }
    let _ = feed.finish(&is_alive);
    report
}

/// One input line: `Ok(None)` to skip, `Ok(Some(args))`, or `Err(raw)` when not UTF-8.
fn parse_line(raw: &[u8]) -> Result<Option<String>, &[u8]> {
    let trimmed = raw.strip_suffix(b"\n").unwrap_or(raw);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    let text = std::str::from_utf8(trimmed).map_err(|_| trimmed)?;
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    Ok(Some(text.to_string()))
}

fn new_task(args: String, submit_host: &str) -> Task {
    Task {
        id: Uuid::now_v7(),
        args,
        attempt: 1,
        group: 0,
        submit_time: Utc::now(),
        submit_host: Some(submit_host.to_string()),
        timeout: None,
        tag: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_trimmed_and_comments_skipped() {
        assert_eq!(
            parse_line(b"  echo hi \r\n"),
            Ok(Some("echo hi".to_string()))
        );
        assert_eq!(parse_line(b"\n"), Ok(None));
        assert_eq!(parse_line(b"# only a comment\n"), Ok(None));
        assert_eq!(
            parse_line(b"echo 'a#b' # trailing\n"),
            Ok(Some("echo 'a#b' # trailing".to_string()))
        );
    }

    #[test]
    fn non_utf8_is_returned_raw() {
        assert_eq!(parse_line(b"echo \xff\n"), Err(&b"echo \xff"[..]));
    }
}
