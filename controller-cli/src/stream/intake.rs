//! The reading side of a stream to a running controller: a thread reads and parses input lines
//! and hands them over in bundles through a channel of two bundles, so input is read only as
//! fast as the stream takes it (and the stream takes it only while few jobs are in flight).

use std::io::Read;
use std::sync::mpsc::{Receiver, sync_channel};

use super::emit::{Emitter, Pending};
use super::job::{self, Entry, Job};
use crate::input::feed_lines;

/// One non-blank input line: its place among them (from 0), its line number (from 1) and
/// what it says.
pub struct Line {
    pub index: u64,
    pub number: u64,
    pub entry: Entry,
}

impl Line {
    /// The job on this line, with its place (`index`, `number`) for the answer; a line that
    /// cannot run is answered through `emitter` at once instead.
    pub fn into_job(self, emitter: &mut Emitter) -> Option<(Job, u64, u64)> {
        match self.entry {
            Entry::Answered(echo, r) => {
                emitter.emit(Pending::new(self.index, self.number, echo), r);
                None
            }
            Entry::Job(job) => Some((job, self.index, self.number)),
        }
    }
}

/// Reads raw input lines (with their numbers) into [`Line`]s, counting the non-blank ones;
/// `None` for a blank line.
pub fn numbered_lines() -> impl FnMut(u64, &[u8]) -> Option<Line> {
    let mut index = 0u64;
    move |number, raw| {
        let entry = job::read_line(raw)?;
        index += 1;
        Some(Line {
            index: index - 1,
            number,
            entry,
        })
    }
}

pub enum Feed {
    Lines(Vec<Line>),
    /// The input ended (with the read error that ended it, if one did).
    End(Option<String>),
}

/// Start reading `input`. The thread is never joined: it may be blocked reading a terminal
/// when the stream ends, and it stops by itself once the receiver is gone.
pub fn spawn(input: Box<dyn Read + Send>) -> std::io::Result<Receiver<Feed>> {
    let (tx, rx) = sync_channel(2);
    std::thread::Builder::new()
        .name("hs-input".into())
        .spawn(move || {
            let mut on_line = numbered_lines();
            let (_, error) = feed_lines(input, &mut on_line, &mut |lines| {
                tx.send(Feed::Lines(lines)).is_ok()
            });
            let _ = tx.send(Feed::End(error));
        })?;
    Ok(rx)
}
