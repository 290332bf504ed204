//! Finishing an input that a failed run stored only part of.
//!
//! Every input read into a durable store is one submission (its tasks' `submit_id`), and each
//! bundle of it is stored together with how far the input was read (`InputProgress`: lines,
//! and a SHA-256 of those lines) in one transaction. When the store fails part-way (a full
//! disk, a database that never came back), that record stays. Running the same command again
//! finds it: if the input's first lines hash the same, the run takes that submission over (its
//! stored tasks are the run's, those already done are not run again) and stores only the lines
//! after them; if not, the input is a new one. A run that ends on purpose before its input does
//! (Ctrl-C, a stop signal) drops the record, so the same command then reads everything again,
//! as HyperShell does.
//!
//! To compare, the first lines are read before anything starts and kept in memory until the
//! reader reads them again (for their directives): as many lines as the earlier run stored.

use std::io::{BufRead, BufReader, Cursor, Read};

use hs_broker::ControllerBuilder;
use hs_broker::store::{InputProgress, TaskStore};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::input::Source;

/// How an input is tracked as it is read: its submission, what it is, and the lines an earlier
/// run stored already (read again for their directives, not submitted again).
#[derive(Clone, Debug)]
pub struct Tracking {
    pub submission: Uuid,
    pub source: String,
    pub skip: u64,
}

/// The running fingerprint of the lines read so far.
#[derive(Clone, Default)]
pub struct LineDigest(Sha256);

impl LineDigest {
    /// Add one line as read (its newline included).
    pub fn add(&mut self, line: &[u8]) {
        self.0.update(line);
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0.clone().finalize())
    }
}

impl Tracking {
    /// The record to store with the bundle that ends at line `lines`.
    pub fn progress(&self, lines: u64, digest: &LineDigest) -> InputProgress {
        InputProgress {
            submission: self.submission,
            source: self.source.clone(),
            lines,
            digest: digest.hex(),
        }
    }
}

/// How a source is named in the store: a file by its absolute path, stdin as such.
fn source_name(source: &Source) -> String {
    match source {
        Source::Stdin => "standard input".into(),
        Source::File(p) => std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string(),
    }
}

/// Decide how `input` (opened from `source`) is read: as the rest of an earlier run's
/// submission when the store holds one of this source whose lines match, else as a new
/// submission `fresh`. Returns the input to read (from its first line either way) and its
/// tracking.
pub fn prepare(
    store: &mut dyn TaskStore,
    source: &Source,
    input: Box<dyn Read + Send>,
    fresh: Uuid,
) -> anyhow::Result<(Box<dyn Read + Send>, Tracking)> {
    let name = source_name(source);
    let mut tracking = Tracking {
        submission: fresh,
        source: name.clone(),
        skip: 0,
    };
    let earlier: Vec<InputProgress> = match store.unfinished_inputs() {
        Ok(all) => all.into_iter().filter(|p| p.source == name).collect(),
        Err(e) => {
            tracing::warn!("cannot look for an earlier run of this input: {e}");
            Vec::new()
        }
    };
    let Some(most) = earlier.iter().map(|p| p.lines).max() else {
        return Ok((input, tracking));
    };
    // Read as many lines as the longest candidate stored, fingerprinting as it goes.
    let mut reader = BufReader::new(input);
    let mut head = Vec::new();
    let mut digest = LineDigest::default();
    let mut matched = None;
    let mut read = 0u64;
    let mut line = Vec::new();
    while read < most {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        read += 1;
        digest.add(&line);
        head.extend_from_slice(&line);
        let hex = digest.hex();
        if let Some(p) = earlier.iter().find(|p| p.lines == read && p.digest == hex) {
            matched = Some(p.clone());
        }
    }
    let input: Box<dyn Read + Send> = Box::new(Cursor::new(head).chain(reader));
    match matched {
        Some(p) => {
            tracing::info!(
                "{name}: an earlier run stored its first {} lines (submission {}) before it \
                 failed: those are skipped, and this run finishes that submission",
                p.lines,
                p.submission
            );
            tracking.submission = p.submission;
            tracking.skip = p.lines;
        }
        None => tracing::info!(
            "{name}: an earlier run stopped part-way through an input read from here, but this \
             input's lines differ: it is read as a new submission"
        ),
    }
    Ok((input, tracking))
}

/// A controller's input, tracked when its store outlives the run (`durable`): the builder's
/// store is asked for an earlier run of it, whose submission the run then takes over (see
/// [`prepare`]). The submitter's id must become the tracking's submission.
pub fn track(
    builder: &mut ControllerBuilder,
    durable: bool,
    source: &Source,
    input: Box<dyn Read + Send>,
) -> anyhow::Result<(Box<dyn Read + Send>, Option<Tracking>)> {
    let Some(store) = builder.store_mut().filter(|_| durable) else {
        return Ok((input, None));
    };
    let (input, tracking) = prepare(store, source, input, Uuid::new_v4())?;
    if tracking.skip > 0 {
        builder.config().resumed.push(tracking.submission);
    }
    Ok((input, Some(tracking)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hs_broker::store::{SqliteStore, TaskRecord};

    fn progress_of(source: &str, text: &[u8], lines: u64, submission: Uuid) -> InputProgress {
        let mut d = LineDigest::default();
        for l in text.split_inclusive(|b| *b == b'\n').take(lines as usize) {
            d.add(l);
        }
        Tracking {
            submission,
            source: source.into(),
            skip: 0,
        }
        .progress(lines, &d)
    }

    fn read_all(mut r: Box<dyn Read + Send>) -> Vec<u8> {
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn the_same_input_resumes_its_submission_and_another_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        store.initialize().unwrap();
        let text = b"echo 1\n# HYPERSHELL: group:2\necho 2\necho 3\n".to_vec();
        let earlier = Uuid::new_v4();
        let row = TaskRecord::new("echo 1".into(), earlier, None);
        let stored = progress_of("standard input", &text, 2, earlier);
        store.submit_lines(&[row], &stored).unwrap();

        let fresh = Uuid::new_v4();
        let (input, t) = prepare(
            &mut store,
            &Source::Stdin,
            Box::new(Cursor::new(text.clone())),
            fresh,
        )
        .unwrap();
        assert_eq!((t.submission, t.skip), (earlier, 2));
        assert_eq!(
            read_all(input),
            text,
            "every line is read again, from the first"
        );

        let other = b"echo 1\necho 9\necho 3\n".to_vec();
        let (input, t) = prepare(
            &mut store,
            &Source::Stdin,
            Box::new(Cursor::new(other.clone())),
            fresh,
        )
        .unwrap();
        assert_eq!(
            (t.submission, t.skip),
            (fresh, 0),
            "different lines: a new input"
        );
        assert_eq!(read_all(input), other, "nothing of it is lost");

        store.input_done(&earlier).unwrap();
        assert!(store.unfinished_inputs().unwrap().is_empty());
    }
}
