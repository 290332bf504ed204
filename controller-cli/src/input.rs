//! Reading task lines (a file or stdin) into the broker's feed.
//!
//! One line is one task. Blank lines and lines that are only a comment (`# …`) are skipped; any
//! other `#` is left for the shell, except a `# HYPERSHELL: …` directive (see `directives`). A
//! line that is not UTF-8, or whose directive is malformed, is reported with its line number,
//! written as it is to the failures output, and skipped; every other line still runs.
//!
//! Lines are sent in bundles as large as what the input has ready: a bundle goes out as soon as
//! the reader would otherwise block, so a trickling source (`tail -f`) never waits on a timer
//! and a large file travels in large bundles.

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use hs_broker::Controller;
use hs_broker::store::{InputProgress, TaskRecord};
use hs_engine::bundle::MAX_TASK_BYTES;
use uuid::Uuid;

use crate::directives::{self, Directives};
use crate::report::FailureLog;
use crate::resume::{LineDigest, Tracking};

/// Largest bundle sent to the broker at once. The feed holds a few bundles in flight, so this
/// sets how far input is read ahead of scheduling: with 4,096, `hs stream` held about 65,000
/// jobs (and their JSON objects) in memory and peaked at 148 MB over a million jobs; with 512 it
/// peaks at 35 MB, as low over a million jobs as over a hundred thousand, and runs no slower
/// (a SQLite store commits 512-row transactions as fast).
pub const MAX_BUNDLE: usize = 512;

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
                let f = std::fs::File::open(p).map_err(|e| {
                    crate::exit::Failure::runtime(format!(
                        "cannot read task file {}: {e}",
                        p.display()
                    ))
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

/// Who submits: one id per process (HyperShell's `submit_id`) and the host it runs on, plus the
/// settings the command line gives every task (`-g`, `-c`, `-m`, `-W`, `-t`).
#[derive(Clone, Debug)]
pub struct Submitter {
    pub id: Uuid,
    pub host: String,
    pub defaults: Directives,
}

impl Submitter {
    pub fn new(host: String) -> Self {
        Submitter {
            id: Uuid::new_v4(),
            host,
            defaults: Directives::default(),
        }
    }

    /// A task row for `args`. Like HyperShell's, every task carries the tag `part:0` (the
    /// database partition it lives in, until `hs initdb --rotate` moves it to `part:N`).
    pub fn task(&self, args: String, settings: Directives) -> TaskRecord {
        let mut row = TaskRecord::new(args, self.id, Some(self.host.clone()));
        settings.apply(&mut row);
        if !row.tag.contains_key("part") {
            row.tag.insert("part".into(), 0.into());
        }
        row
    }
}

/// The input thread of a run; its report is taken once the controller has returned.
pub type Feeder = hs_broker::feed::Feeder<InputReport>;

/// Read `input` on its own thread and feed `controller` until the input ends or the
/// controller's run does; a `tracking` input is stored with how far it was read (see
/// `resume`).
pub fn spawn_reader(
    controller: &mut Controller,
    input: Box<dyn Read + Send>,
    failures: FailureLog,
    submitter: Submitter,
    tracking: Option<Tracking>,
) -> anyhow::Result<Feeder> {
    Ok(controller.spawn_input_read(move |send| {
        read_input(
            input,
            &failures,
            &submitter,
            tracking.as_ref(),
            MAX_BUNDLE,
            send,
        )
    })?)
}

/// Feed rows made in advance (`--from-json`) to `controller` on their own thread.
pub fn spawn_rows(controller: &mut Controller, rows: Vec<TaskRecord>) -> anyhow::Result<Feeder> {
    Ok(controller.spawn_input(move |send| {
        let report = InputReport {
            tasks: rows.len() as u64,
            ..InputReport::default()
        };
        let mut rows = rows;
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(MAX_BUNDLE));
            if !send(std::mem::replace(&mut rows, rest)) {
                break;
            }
        }
        report
    })?)
}

/// Read every line of `input`, handing bundles of at most `bundle` task rows to `send` (which
/// returns false to stop early). For an input that is `tracking`ed, each bundle comes with how
/// far the input is read, and the lines an earlier run stored (`tracking.skip`) are read for
/// their directives but make no tasks. Used by the controller's reader thread and by
/// `hs submit`.
pub fn read_input(
    input: Box<dyn Read + Send>,
    failures: &FailureLog,
    submitter: &Submitter,
    tracking: Option<&Tracking>,
    bundle: usize,
    send: &mut dyn FnMut(Vec<TaskRecord>, Option<InputProgress>) -> bool,
) -> InputReport {
    // Settings from directive lines of their own, for every line that follows.
    let mut global = submitter.defaults.clone();
    let mut report = InputReport::default();
    let skip = tracking.map_or(0, |t| t.skip);
    let digest = RefCell::new(LineDigest::default());
    let lines = Cell::new(0u64);
    let mut on_line = |number: u64, line: &[u8]| {
        if tracking.is_some() {
            digest.borrow_mut().add(line);
            lines.set(number);
        }
        match parse_line(line) {
            Line::Skip => None,
            Line::Directive(d) => {
                global = global.merged(&d);
                None
            }
            // Stored by the run whose submission this one finishes (reported then, if bad).
            Line::Task(..) | Line::Bad(..) if number <= skip => None,
            Line::Task(args, inline) => {
                let settings = match &inline {
                    Some(d) => global.merged(d),
                    None => global.clone(),
                };
                Some(submitter.task(args, settings))
            }
            Line::Bad(raw, why) => {
                tracing::error!("line {number}: {why}; skipped (written to the failures output)");
                failures.write_line(raw);
                report.rejected += 1;
                None
            }
        }
    };
    let mut send_bundle = |rows: Vec<TaskRecord>| {
        let progress = tracking.map(|t| t.progress(lines.get(), &digest.borrow()));
        send(rows, progress)
    };
    let (tasks, error) = feed_bundles(input, bundle, &mut on_line, &mut send_bundle);
    report.tasks = tasks;
    report.read_error = error;
    report
}

/// The reading loop itself: every line of `input` goes to `on_line` (with its 1-based number),
/// and the task rows (or other items) it makes go to `send` in bundles as large as the input has ready (see the
/// module docs). Returns how many rows were made, and the read error that stopped it, if any.
pub fn feed_lines<T>(
    input: Box<dyn Read + Send>,
    on_line: &mut dyn FnMut(u64, &[u8]) -> Option<T>,
    send: &mut dyn FnMut(Vec<T>) -> bool,
) -> (u64, Option<String>) {
    feed_bundles(input, MAX_BUNDLE, on_line, send)
}

/// [`feed_lines`] with bundles of at most `max` items.
fn feed_bundles<T>(
    input: Box<dyn Read + Send>,
    max: usize,
    on_line: &mut dyn FnMut(u64, &[u8]) -> Option<T>,
    send: &mut dyn FnMut(Vec<T>) -> bool,
) -> (u64, Option<String>) {
    let max = max.max(1);
    let mut reader = BufReader::with_capacity(256 * 1024, input);
    let mut bundle: Vec<T> = Vec::new();
    let mut line = Vec::new();
    let (mut number, mut made) = (0u64, 0u64);
    let mut error = None;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // What was read before it still runs (the lines of a bundle not sent yet too).
                tracing::error!("reading stopped at line {}: {e}", number + 1);
                error = Some(e.to_string());
                break;
            }
        }
        number += 1;
        if let Some(row) = on_line(number, &line) {
            bundle.push(row);
            made += 1;
        }
        // Send when full, or when the next read would have to wait for more input.
        let ready = !bundle.is_empty() && (bundle.len() >= max || reader.buffer().is_empty());
        if ready && !send(std::mem::take(&mut bundle)) {
            return (made, None);
        }
    }
    if !bundle.is_empty() {
        send(bundle);
    }
    (made, error)
}

/// What one input line is.
#[derive(Debug, PartialEq)]
enum Line<'a> {
    Skip,
    /// A `# HYPERSHELL: …` line of its own: settings for the lines that follow.
    Directive(Directives),
    Task(String, Option<Directives>),
    /// Unusable: the raw bytes and why.
    Bad(&'a [u8], String),
}

fn parse_line(raw: &[u8]) -> Line<'_> {
    let trimmed = raw.strip_suffix(b"\n").unwrap_or(raw);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    if trimmed.len() > MAX_TASK_BYTES {
        return Line::Bad(
            trimmed,
            format!("longer than the {MAX_TASK_BYTES} bytes a task may have"),
        );
    }
    let Ok(text) = std::str::from_utf8(trimmed) else {
        return Line::Bad(trimmed, "not valid UTF-8".into());
    };
    let text = text.trim();
    if text.is_empty() {
        return Line::Skip;
    }
    match directives::split(text) {
        Err(e) => Line::Bad(trimmed, e.to_string()),
        Ok(("", Some(d))) => Line::Directive(d),
        Ok((command, _)) if command.is_empty() || command.starts_with('#') => Line::Skip,
        Ok((command, d)) => Line::Task(command.to_string(), d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(line: &[u8]) -> Option<String> {
        match parse_line(line) {
            Line::Task(args, _) => Some(args),
            _ => None,
        }
    }

    #[test]
    fn lines_are_trimmed_and_comments_skipped() {
        assert_eq!(task(b"  echo hi \r\n"), Some("echo hi".to_string()));
        assert_eq!(parse_line(b"\n"), Line::Skip);
        assert_eq!(parse_line(b"# only a comment\n"), Line::Skip);
        assert_eq!(
            task(b"echo 'a#b' # trailing\n"),
            Some("echo 'a#b' # trailing".to_string())
        );
    }

    #[test]
    fn directives_are_taken_off_the_command() {
        match parse_line(b"echo hi # HYPERSHELL: site:a\n") {
            Line::Task(args, Some(d)) => {
                assert_eq!(args, "echo hi");
                assert!(d.tags.contains_key("site"));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(parse_line(b"# HYPERSHELL: group:3\n"), Line::Directive(d) if d.group == Some(3))
        );
    }

    #[test]
    fn unusable_lines_are_returned_raw() {
        assert!(matches!(parse_line(b"echo \xff\n"), Line::Bad(raw, _) if raw == b"echo \xff"));
        assert!(matches!(
            parse_line(b"true # HYPERSHELL: bad/tag\n"),
            Line::Bad(..)
        ));
    }

    /// Yields `first` in one read, then fails.
    struct FailsAfter(Option<&'static [u8]>);

    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.take() {
                Some(data) => {
                    buf[..data.len()].copy_from_slice(data);
                    Ok(data.len())
                }
                None => Err(std::io::Error::other("device gone")),
            }
        }
    }

    #[test]
    fn lines_read_before_a_read_error_are_all_sent() {
        let mut sent = Vec::new();
        let (made, error) = feed_lines(
            Box::new(FailsAfter(Some(b"a\nb\npart"))),
            &mut |number, _| Some(number),
            &mut |bundle| {
                sent.extend(bundle);
                true
            },
        );
        assert_eq!((made, sent), (2, vec![1, 2]));
        assert_eq!(error.as_deref(), Some("device gone"));
    }
}
