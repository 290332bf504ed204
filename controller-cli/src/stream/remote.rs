//! `hs stream --file CONN.json`: the same JSON lines in and out as a local stream, but the jobs
//! run on a running controller's engines.
//!
//! Jobs are submitted watched, in bundles, and never more than [`MAX_IN_FLIGHT`] are waiting
//! for results, so input is read only as fast as results come back and memory stays flat
//! however long the stream. Results are written as the controller pushes them (each after it
//! has recorded it). Every non-blank input line gets exactly one output line: its result, why
//! it could not run, `cancelled` after an interrupt, or an error saying the controller went
//! away before answering.

use std::collections::HashMap;
use std::io::Read;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use hs_broker::client::{Client, ClientError, JobResult};
use uuid::Uuid;

use super::emit::{Emitter, Pending};
use super::intake::{self, Feed, Line};
use super::result;

/// Most jobs submitted and not answered yet.
const MAX_IN_FLIGHT: usize = 4096;
/// After an interrupt, how long cancelled jobs may take to report (their engines stop them with
/// SIGINT, SIGTERM and SIGKILL, `-S` apart, before they answer).
const CANCEL_GRACE: Duration = Duration::from_secs(60);
/// The longest a turn waits for results before looking at the input and the interrupt flag.
const TURN: Duration = Duration::from_millis(20);

/// How a stream ended.
pub enum End {
    /// Input exhausted and every job answered.
    Done,
    /// Interrupted: unfinished jobs were cancelled and answered `cancelled`.
    Interrupted,
    /// The controller went away (or another took its place); `unanswered` jobs were answered
    /// with an error saying so.
    Lost { error: ClientError, unanswered: u64 },
}

pub struct Report {
    pub end: End,
    /// Result lines written, and how many of them were not `ok`.
    pub written: u64,
    pub not_ok: u64,
    pub read_error: Option<String>,
}

struct Stream<'a> {
    client: &'a mut Client,
    emitter: Emitter,
    pending: HashMap<Uuid, Pending>,
    feed: Receiver<Feed>,
    /// Jobs of a submit that failed: the controller may or may not have them.
    unsent: Vec<Pending>,
    input_open: bool,
    read_error: Option<String>,
}

/// Stream `input`'s jobs through `client` until the input ends and every job is answered, the
/// user interrupts, or the controller goes away.
pub fn run(
    client: &mut Client,
    input: Box<dyn Read + Send>,
    keep_order: bool,
) -> std::io::Result<Report> {
    let mut stream = Stream {
        client,
        emitter: Emitter::new(keep_order),
        pending: HashMap::new(),
        feed: intake::spawn(input)?,
        unsent: Vec::new(),
        input_open: true,
        read_error: None,
    };
    let end = match stream.flow() {
        Ok(()) if crate::signals::interrupted() => {
            stream.cancel_all();
            End::Interrupted
        }
        Ok(()) => End::Done,
        Err(error) => {
            let unanswered = stream.answer_rest(
                "error",
                "the controller went away before answering: the job may still run there \
                 (see `hs info MSG_ID` on its host)",
            );
            End::Lost { error, unanswered }
        }
    };
    stream.emitter.finish();
    Ok(Report {
        end,
        written: stream.emitter.written,
        not_ok: stream.emitter.not_ok,
        read_error: stream.read_error,
    })
}

impl Stream<'_> {
    /// Submit and answer until done or interrupted.
    fn flow(&mut self) -> Result<(), ClientError> {
        loop {
            if crate::signals::interrupted() {
                return Ok(());
            }
            let took = self.take_input()?;
            if !self.input_open && self.pending.is_empty() {
                return Ok(());
            }
            let wait = if took { Duration::ZERO } else { TURN };
            if let Some(r) = self.client.recv_timeout(wait)? {
                self.answer(r);
                // Take everything already here before looking at the input again.
                while let Some(r) = self.client.recv_timeout(Duration::ZERO)? {
                    self.answer(r);
                }
            }
        }
    }

    /// Take input bundles while there is room in flight; true if any was taken.
    fn take_input(&mut self) -> Result<bool, ClientError> {
        let mut took = false;
        while self.input_open && self.pending.len() < MAX_IN_FLIGHT {
            match self.feed.try_recv() {
                Ok(Feed::Lines(lines)) => {
                    took = true;
                    self.submit(lines)?;
                }
                Ok(Feed::End(error)) => {
                    self.input_open = false;
                    self.read_error = error;
                }
                Err(TryRecvError::Disconnected) => self.input_open = false,
                Err(TryRecvError::Empty) => break,
            }
        }
        Ok(took)
    }

    fn submit(&mut self, lines: Vec<Line>) -> Result<(), ClientError> {
        let mut specs = Vec::with_capacity(lines.len());
        let mut sent: Vec<Pending> = Vec::with_capacity(lines.len());
        for line in lines {
            if let Some((job, index, number)) = line.into_job(&mut self.emitter) {
                let (spec, object) = job.into_spec();
                specs.push(spec);
                sent.push(Pending::new(index, number, object));
            }
        }
        if specs.is_empty() {
            return Ok(());
        }
        match self.client.submit(specs) {
            Ok(ids) => {
                self.pending.extend(ids.into_iter().zip(sent));
                Ok(())
            }
            Err(ClientError::Refused(why)) => {
                let why = format!("the controller refused the job: {why}");
                for entry in sent {
                    let r = result::not_run("error", &why, None);
                    self.emitter.emit(entry, r);
                }
                Ok(())
            }
            Err(e) => {
                // Not known to have been taken: answered with the jobs in flight.
                self.unsent = sent;
                Err(e)
            }
        }
    }

    fn answer(&mut self, r: JobResult) {
        if let Some(entry) = self.pending.remove(&r.id) {
            self.emitter.emit(entry, result::of(&r));
        }
    }

    /// After an interrupt: cancel every job in flight, write the results that come back in the
    /// grace period, and answer the rest (and lines read but not sent) `cancelled`.
    fn cancel_all(&mut self) {
        let ids: Vec<Uuid> = self.pending.keys().copied().collect();
        let mut reachable = true;
        if !ids.is_empty() {
            match self.client.cancel(&ids) {
                Ok(reply) => tracing::info!(
                    "cancelled {} waiting jobs; {} running jobs are being stopped",
                    reply.cancelled,
                    reply.stopping
                ),
                Err(e) => {
                    tracing::warn!("could not cancel the jobs in flight: {e}");
                    reachable = false;
                }
            }
        }
        let deadline = Instant::now() + CANCEL_GRACE;
        while reachable && !self.pending.is_empty() && Instant::now() < deadline {
            match self.client.recv_timeout(Duration::from_millis(200)) {
                Ok(Some(r)) => self.answer(r),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!("stopped waiting for cancelled jobs: {e}");
                    reachable = false;
                }
            }
        }
        self.answer_rest("cancelled", result::INTERRUPTED);
    }

    /// Answer every job in flight and every line read but not sent with `status`; returns how
    /// many.
    fn answer_rest(&mut self, status: &str, why: &str) -> u64 {
        let left = self
            .pending
            .drain()
            .map(|(id, p)| (Some(id), p))
            .chain(self.unsent.drain(..).map(|p| (None, p)));
        let mut n = self.emitter.answer_left(left, status, why);
        while let Ok(Feed::Lines(lines)) = self.feed.try_recv() {
            for line in lines {
                if let Some((job, index, number)) = line.into_job(&mut self.emitter) {
                    n += 1;
                    let r = result::not_run(status, why, None);
                    self.emitter
                        .emit(Pending::new(index, number, job.object), r);
                }
            }
        }
        n
    }
}
