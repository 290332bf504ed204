//! Line-safe relaying of task output to a shared destination.
//!
//! Many tasks run at once and their output ends up in one place (the engine's stdout or a `-o`
//! file). Each task writes into its own pipe; the slot thread reading that pipe keeps the bytes of
//! an unfinished line in a [`StreamRelay`] and hands only complete lines to the shared
//! [`LineSink`], which writes each batch with a single `write_all` under a mutex. So no task's line
//! up to [`MAX_PARTIAL_LINE`] is ever cut into by another's, and the only copy is the partial line
//! carried between reads. A task's last line gets the newline it lacks, so it never runs into the
//! next task's output. A write that fails is the task's failure: its relay remembers why.

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::capture::Capture;
use super::pipes::RelayPipe;
use std::fs::File;

/// A line longer than this (8 MiB) is written in pieces of this size: a stream that never prints
/// a newline (progress bars, binary data) must not grow the engine's memory without bound. Each
/// piece is written whole, but another task's lines may come between two pieces.
pub const MAX_PARTIAL_LINE: usize = 8 << 20;

/// Why output a task wrote did not reach its destination.
pub(crate) type Lost = String;

/// A shared destination for whole lines of task output.
///
/// Writes are serialised by a mutex, one `write_all` (plus `flush`) per batch of complete lines.
/// If the destination goes away (`EPIPE`, e.g. `hs … | head`), the sink turns silent: further
/// output is discarded, the hook given to [`when_closed`](Self::when_closed) runs once (the
/// command stops, as other Unix tools do), and nothing panics. Other write errors (disk full, …)
/// are logged once as a warning and writing is retried with the next batch. Either way the write
/// reports the loss, which fails the task that wrote it.
pub struct LineSink {
    state: Mutex<SinkState>,
}

type ClosedHook = Box<dyn FnOnce() + Send>;

struct SinkState {
    writer: Box<dyn Write + Send>,
    /// Set after a broken pipe: everything is discarded from then on.
    silent: bool,
    /// Set after the first other error was logged, so a full disk does not flood the log.
    warned: bool,
    /// What to do when the destination's reader goes away.
    on_closed: Option<ClosedHook>,
}

impl LineSink {
    /// The engine's standard output (shares std's lock, so it never interleaves with `println!`).
    pub fn stdout() -> Self {
        Self::from_writer(Box::new(io::stdout()))
    }

    /// The engine's standard error.
    pub fn stderr() -> Self {
        Self::from_writer(Box::new(io::stderr()))
    }

    /// A file opened for appending (created if missing), e.g. `-o FILE`.
    pub fn file(path: impl AsRef<Path>) -> io::Result<Self> {
        let file = OpenOptions::new().append(true).create(true).open(path)?;
        Ok(Self::from_writer(Box::new(file)))
    }

    /// Any writer; mostly for tests. It is flushed after every batch.
    pub fn from_writer(writer: Box<dyn Write + Send>) -> Self {
        Self {
            state: Mutex::new(SinkState {
                writer,
                silent: false,
                warned: false,
                on_closed: None,
            }),
        }
    }

    /// Run `react` (once) when the destination's reader goes away (`EPIPE`).
    pub fn when_closed(&self, react: impl FnOnce() + Send + 'static) {
        self.lock().on_closed = Some(Box::new(react));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SinkState> {
        // A writer that panicked mid-write leaves at worst a cut line; keep relaying.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `bytes` (normally whole lines) in one go, atomically with respect to other writers
    /// of this sink; says why when they did not all reach the destination.
    pub(crate) fn write_lines(&self, bytes: &[u8]) -> Result<(), Lost> {
        if bytes.is_empty() {
            return Ok(());
        }
        let mut state = self.lock();
        if state.silent {
            return Err(CLOSED.into());
        }
        let result = state
            .writer
            .write_all(bytes)
            .and_then(|()| state.writer.flush());
        let Err(e) = result else {
            return Ok(());
        };
        if e.kind() == io::ErrorKind::BrokenPipe {
            state.silent = true;
            let hook = state.on_closed.take();
            drop(state);
            tracing::debug!("output destination closed (broken pipe); discarding task output");
            if let Some(hook) = hook {
                hook();
            }
            return Err(CLOSED.into());
        }
        if !state.warned {
            state.warned = true;
            tracing::warn!(error = %e, "cannot write task output; the tasks that wrote it fail");
        }
        Err(format!("its output could not be written ({e})"))
    }

    /// True once the destination reported a broken pipe.
    #[cfg(test)]
    pub(crate) fn is_silent(&self) -> bool {
        self.lock().silent
    }
}

/// Why the output of a task written after its reader went away is lost.
const CLOSED: &str = "its output could not be written (the reader of the output went away)";

impl fmt::Debug for LineSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineSink").finish_non_exhaustive()
    }
}

/// What a relay's pipe held after a [`StreamRelay::pump`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pipe {
    /// Everything written so far was read.
    Empty,
    /// The read limit was reached first: there may be more.
    More,
    /// No writer is left (or reading failed): the relay is over.
    Closed,
}

/// One task stream being relayed: its pipe (read without blocking, so reading never waits for a
/// writer that is still alive), where it goes, and the bytes of the line not yet finished.
pub(crate) struct StreamRelay {
    source: Source,
    sink: Destination,
    partial: Vec<u8>,
    /// A piece of a line too long to hold was written without its end: the line is open.
    open_line: bool,
    /// The first reason output was lost.
    lost: Option<Lost>,
}

/// Where a relayed stream goes.
pub(crate) enum Destination {
    /// Whole lines to a shared sink.
    Lines(Arc<LineSink>),
    /// Everything, as it comes, into a bounded capture (no lines to keep whole: one reader).
    Capture(Arc<Capture>),
}

/// What a relay reads.
enum Source {
    /// A whole pipe, which may be kept for a later task.
    Kept(RelayPipe),
    /// The read end alone: the pipe hangs up when the task's writers are gone.
    ReadEnd(File),
}

impl StreamRelay {
    /// Relays `pipe`; with `keep_open`, the engine holds its write end so the pipe never hangs
    /// up and may be kept (see pipes.rs), else only the read end stays.
    pub(crate) fn new(pipe: RelayPipe, sink: Destination, keep_open: bool) -> Self {
        let source = match keep_open {
            true => Source::Kept(pipe),
            false => Source::ReadEnd(pipe.into_read_end()),
        };
        Self {
            source,
            sink,
            partial: Vec::new(),
            open_line: false,
            lost: None,
        }
    }

    fn reader(&mut self) -> &mut File {
        match &mut self.source {
            Source::Kept(pipe) => pipe.reader(),
            Source::ReadEnd(file) => file,
        }
    }

    /// The pipe's descriptor, for poll(2).
    pub(crate) fn raw_fd(&self) -> RawFd {
        match &self.source {
            Source::Kept(pipe) => pipe.raw_fd(),
            Source::ReadEnd(file) => file.as_raw_fd(),
        }
    }

    /// Reads what the pipe has, at most `max_reads` chunks of `buf.len()` bytes (so a chatty task
    /// cannot keep the slot from noticing a stop), and relays the complete lines.
    pub(crate) fn pump(&mut self, buf: &mut [u8], max_reads: usize) -> Pipe {
        for _ in 0..max_reads {
            match self.reader().read(buf) {
                Ok(0) => return Pipe::Closed,
                Ok(n) => self.accept(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Pipe::Empty,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(error = %e, "reading task output failed; closing the relay");
                    return Pipe::Closed;
                }
            }
        }
        Pipe::More
    }

    /// Whether this relay captures and its capture went over its limit.
    pub(crate) fn overflowed(&self) -> bool {
        match &self.sink {
            Destination::Capture(capture) => capture.overflowed(),
            Destination::Lines(_) => false,
        }
    }

    /// Ends the relay: the unfinished last line is written with the newline it lacks. Returns
    /// the whole pipe, to be kept for a later task or dropped, if the engine held it, and why
    /// output was lost, if it was.
    pub(crate) fn finish(mut self) -> (Option<RelayPipe>, Option<Lost>) {
        if let Destination::Lines(sink) = &self.sink
            && (self.open_line || !self.partial.is_empty())
        {
            self.partial.push(b'\n');
            let written = sink.write_lines(&self.partial);
            self.note(written);
        }
        let pipe = match self.source {
            Source::Kept(pipe) => Some(pipe),
            Source::ReadEnd(_) => None,
        };
        (pipe, self.lost)
    }

    /// Keeps the first reason output was lost.
    fn note(&mut self, written: Result<(), Lost>) {
        if let Err(why) = written {
            self.lost.get_or_insert(why);
        }
    }

    /// Relays the complete lines of `chunk` (with any carried-over start) and keeps the rest.
    fn accept(&mut self, chunk: &[u8]) {
        let sink = match &self.sink {
            Destination::Lines(sink) => Arc::clone(sink),
            Destination::Capture(capture) => {
                // Past the limit the rest is dropped; the executor stops the command.
                capture.push(chunk);
                return;
            }
        };
        match chunk.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                let (lines, rest) = chunk.split_at(last + 1);
                let written = if self.partial.is_empty() {
                    sink.write_lines(lines)
                } else {
                    self.partial.extend_from_slice(lines);
                    let written = sink.write_lines(&self.partial);
                    self.partial.clear();
                    written
                };
                self.note(written);
                self.open_line = false;
                self.partial.extend_from_slice(rest);
            }
            None => self.partial.extend_from_slice(chunk),
        }
        if self.partial.len() >= MAX_PARTIAL_LINE {
            let written = sink.write_lines(&self.partial);
            self.note(written);
            self.open_line = true;
            self.partial.clear();
            // A long line's buffer is not kept for the short lines that usually follow.
            self.partial.shrink_to(64 * 1024);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A writer into a shared Vec that accepts at most 7 bytes per `write` call, so any batch that
    /// is not written under one lock would interleave with another task's. It also records where
    /// each flush happened: the sink flushes once per batch, so batches can be checked too.
    #[derive(Clone, Default)]
    pub(crate) struct SharedVec {
        bytes: Arc<Mutex<Vec<u8>>>,
        flushes: Arc<Mutex<Vec<usize>>>,
    }

    impl SharedVec {
        pub(crate) fn sink(&self) -> Arc<LineSink> {
            Arc::new(LineSink::from_writer(Box::new(self.clone())))
        }

        pub(crate) fn text(&self) -> String {
            String::from_utf8(self.bytes.lock().expect("lock").clone()).expect("utf8")
        }

        /// The text of each batch, in order.
        pub(crate) fn batches(&self) -> Vec<String> {
            let text = self.text();
            let mut start = 0;
            let mut out = Vec::new();
            for &end in self.flushes.lock().expect("lock").iter() {
                out.push(text[start..end].to_string());
                start = end;
            }
            out
        }
    }

    impl Write for SharedVec {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(7);
            self.bytes
                .lock()
                .expect("lock")
                .extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            let len = self.bytes.lock().expect("lock").len();
            self.flushes.lock().expect("lock").push(len);
            Ok(())
        }
    }

    struct BrokenPipe(Arc<Mutex<usize>>);

    impl Write for BrokenPipe {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            *self.0.lock().expect("lock") += 1;
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn relay_over_pipe(sink: Arc<LineSink>, keep_open: bool) -> (StreamRelay, File) {
        let pipe = RelayPipe::new().expect("pipe");
        let writer = File::from(pipe.child_end().try_clone_to_owned().expect("dup"));
        (
            StreamRelay::new(pipe, Destination::Lines(sink), keep_open),
            writer,
        )
    }

    #[test]
    fn only_complete_lines_pass_until_finish() {
        let out = SharedVec::default();
        let (mut relay, mut writer) = relay_over_pipe(out.sink(), true);
        let mut buf = [0u8; 4];
        writer.write_all(b"one\ntw").expect("write");
        assert_eq!(relay.pump(&mut buf, 100), Pipe::Empty);
        assert_eq!(out.text(), "one\n");
        writer.write_all(b"o\nthr").expect("write");
        assert_eq!(
            relay.pump(&mut buf, 1),
            Pipe::More,
            "the read limit came first"
        );
        assert_eq!(relay.pump(&mut buf, 100), Pipe::Empty);
        assert_eq!(out.text(), "one\ntwo\n");
        drop(writer);
        assert_eq!(
            relay.pump(&mut buf, 100),
            Pipe::Empty,
            "the kept write end stays open"
        );
        assert_eq!(out.text(), "one\ntwo\n");
        assert_eq!(relay.finish().1, None);
        assert_eq!(
            out.text(),
            "one\ntwo\nthr\n",
            "the missing newline is added"
        );
    }

    #[test]
    fn endless_line_is_bounded() {
        let out = SharedVec::default();
        let (mut relay, mut writer) = relay_over_pipe(out.sink(), true);
        let chunk = vec![b'x'; 64 * 1024];
        let mut buf = vec![0u8; 64 * 1024];
        for _ in 0..(MAX_PARTIAL_LINE / chunk.len() + 1) {
            writer.write_all(&chunk).expect("write");
            relay.pump(&mut buf, 100);
        }
        assert!(relay.partial.len() < MAX_PARTIAL_LINE);
        assert!(out.text().len() >= MAX_PARTIAL_LINE);
        relay.finish();
        assert!(out.text().ends_with("x\n"), "an open long line is ended");
    }

    #[test]
    fn a_long_line_ending_at_a_piece_boundary_gets_its_newline() {
        let out = SharedVec::default();
        let (mut relay, mut writer) = relay_over_pipe(out.sink(), true);
        let mut buf = vec![0u8; 64 * 1024];
        for _ in 0..MAX_PARTIAL_LINE / buf.len() {
            writer.write_all(&buf.clone()).expect("write");
            relay.pump(&mut buf, 100);
        }
        assert!(relay.partial.is_empty() && relay.open_line);
        relay.finish();
        assert_eq!(out.text().len(), MAX_PARTIAL_LINE + 1);
        assert!(out.text().ends_with('\n'));
    }

    struct DiskFull;

    impl Write for DiskFull {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(libc::ENOSPC))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_is_the_relays_loss() {
        let sink = Arc::new(LineSink::from_writer(Box::new(DiskFull)));
        let (mut relay, mut writer) = relay_over_pipe(sink, true);
        writer.write_all(b"one\n").expect("write");
        relay.pump(&mut [0u8; 16], 100);
        let (_, lost) = relay.finish();
        assert!(
            lost.is_some_and(|why| why.contains("No space left on device")),
            "the loss is reported with its cause"
        );
    }

    #[test]
    fn broken_pipe_silences_the_sink() {
        let calls = Arc::new(Mutex::new(0));
        let sink = LineSink::from_writer(Box::new(BrokenPipe(Arc::clone(&calls))));
        let closed = Arc::new(Mutex::new(0));
        let seen = Arc::clone(&closed);
        sink.when_closed(move || *seen.lock().expect("lock") += 1);
        assert!(sink.write_lines(b"a\n").is_err());
        assert!(sink.is_silent());
        assert!(
            sink.write_lines(b"b\n").is_err(),
            "discarded output is lost"
        );
        assert!(sink.write_lines(b"c\n").is_err());
        assert_eq!(*closed.lock().expect("lock"), 1, "the hook runs once");
        assert_eq!(
            *calls.lock().expect("lock"),
            1,
            "no write after a broken pipe"
        );
    }

    #[test]
    fn file_sink_appends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "before\n").expect("write");
        let sink = LineSink::file(&path).expect("open");
        sink.write_lines(b"after\n").expect("written");
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "before\nafter\n"
        );
    }

    #[test]
    fn a_relay_without_the_write_end_hangs_up_and_gives_no_pipe_to_keep() {
        let out = SharedVec::default();
        let (mut relay, mut writer) = relay_over_pipe(out.sink(), false);
        writer.write_all(b"last").expect("write");
        drop(writer);
        let mut buf = [0u8; 16];
        assert_eq!(relay.pump(&mut buf, 100), Pipe::Closed, "hung up");
        assert!(relay.finish().0.is_none(), "not kept");
        assert_eq!(out.text(), "last\n");
    }
}
