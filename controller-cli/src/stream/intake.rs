//! The reading side of a stream to a running controller: a thread reads and parses input lines
//! and hands them over in bundles through a channel of two bundles, so input is read only as
//! fast as the stream takes it (and the stream takes it only while few jobs are in flight).

use std::io::Read;
use std::sync::mpsc::{Receiver, sync_channel};

use super::job::{self, Entry};
use crate::input::feed_lines;

/// One non-blank input line: its place among them (from 0), its line number (from 1) and
/// what it says.
pub struct Line {
    pub index: u64,
    pub number: u64,
    pub entry: Entry,
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
            let mut index = 0u64;
            let mut on_line = |number: u64, raw: &[u8]| {
                let entry = job::read_line(raw)?;
                index += 1;
                Some(Line {
                    index: index - 1,
                    number,
                    entry,
                })
            };
            let (_, error) = feed_lines(input, &mut on_line, &mut |lines| {
                tx.send(Feed::Lines(lines)).is_ok()
            });
            let _ = tx.send(Feed::End(error));
        })?;
    Ok(rx)
}
