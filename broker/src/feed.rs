//! The in-process path from an input reader (a file, stdin) to the broker's queue.
//!
//! The reader thread hands over bundles of new task rows: each bundle goes into a shared
//! queue, and a one-byte token over an inproc PUSH socket with a small high-water mark says it is
//! there (so the broker's poll wakes for it, and a reader ahead of the broker blocks). The rows
//! themselves are moved, never encoded: serialising them for the socket cost more than the
//! broker's whole handling of a task. The broker commits them to the store (it is the store's
//! only writer). With
//! the in-memory store the broker reads only while few tasks wait, so however long the input,
//! only a bounded number of tasks is in memory at once.
//!
//! The reader's socket is closed from the broker's side: when the broker's end is dropped (its
//! run is over) the reader's end is closed too, whatever the reader is doing. A reader blocked
//! in a read of its input (a terminal, a pipe that stays open) then holds no socket, so the
//! ZeroMQ context can be terminated without waiting for it (see [`crate::controller`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::store::{InputProgress, TaskRecord};

/// Bundles in flight between reader and broker before the reader blocks.
const FEED_HWM: i32 = 8;
/// How long one attempt to send waits while the broker is busy: the longest the broker's side
/// waits to close a reader's socket.
const SEND_WAIT_MS: i32 = 50;
/// What goes over the socket for each message handed over.
const TOKEN: &[u8] = b"+";

/// The reader's socket, shared with the broker's end so that it can close it.
struct Shared {
    /// Cleared first when the broker's end goes, so a sender blocked on a busy broker stops
    /// retrying and lets go of the lock.
    open: AtomicBool,
    /// `None` once closed.
    socket: Mutex<Option<zmq::Socket>>,
    /// Messages handed over, oldest first: one per token sent on the socket.
    queue: Mutex<VecDeque<FeedMessage>>,
}

impl Shared {
    fn socket(&self) -> MutexGuard<'_, Option<zmq::Socket>> {
        self.socket.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<FeedMessage>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The reader's end.
pub struct FeedSender {
    shared: Arc<Shared>,
}

/// The broker's end. Dropping it closes the reader's end as well.
pub struct FeedReceiver {
    pub(crate) socket: zmq::Socket,
    sender: Arc<Shared>,
}

/// The broker has gone (its run is over); the reader should stop.
#[derive(Debug, thiserror::Error)]
#[error("the controller stopped accepting tasks")]
pub struct FeedClosed;

/// A connected pair on `ctx` (the broker's ZeroMQ context).
pub fn channel(ctx: &zmq::Context) -> Result<(FeedSender, FeedReceiver), zmq::Error> {
    let endpoint = format!("inproc://hs-feed-{}", uuid::Uuid::new_v4());
    let pull = ctx.socket(zmq::PULL)?;
    pull.set_rcvhwm(FEED_HWM)?;
    pull.bind(&endpoint)?;
    let push = ctx.socket(zmq::PUSH)?;
    push.set_sndhwm(FEED_HWM)?;
    // The end of the input is queued last: closing after it must not drop it.
    push.set_linger(-1)?;
    // A blocked send wakes up now and then, so that the broker's side can close the socket.
    push.set_sndtimeo(SEND_WAIT_MS)?;
    push.connect(&endpoint)?;
    let shared = Arc::new(Shared {
        open: AtomicBool::new(true),
        socket: Mutex::new(Some(push)),
        queue: Mutex::new(VecDeque::new()),
    });
    Ok((
        FeedSender {
            shared: shared.clone(),
        },
        FeedReceiver {
            socket: pull,
            sender: shared,
        },
    ))
}

/// One message on the feed.
pub(crate) enum FeedMessage {
    /// New tasks, and how far the input was read once they are stored (an input that can be
    /// finished after a failure: see `InputProgress`).
    Tasks(Vec<TaskRecord>, Option<InputProgress>),
    /// The input is exhausted.
    End,
}

impl FeedSender {
    /// Send a bundle, waiting while the broker is busy; fails once the broker's end is gone.
    pub fn send(&mut self, tasks: Vec<TaskRecord>) -> Result<(), FeedClosed> {
        self.send_message(FeedMessage::Tasks(tasks, None))
    }

    /// Send a bundle read from an input, with how far the input is read once it is stored.
    pub fn send_read(
        &mut self,
        tasks: Vec<TaskRecord>,
        progress: InputProgress,
    ) -> Result<(), FeedClosed> {
        self.send_message(FeedMessage::Tasks(tasks, Some(progress)))
    }

    /// Say the input is exhausted.
    pub fn finish(mut self) -> Result<(), FeedClosed> {
        self.send_message(FeedMessage::End)
    }

    /// The broker still takes tasks.
    pub fn is_open(&self) -> bool {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Queue `msg`, then send its token, waiting while the broker is busy. The token is what
    /// the broker counts: a message whose token was never sent is never taken (and is dropped
    /// with the feed).
    fn send_message(&mut self, msg: FeedMessage) -> Result<(), FeedClosed> {
        if !self.is_open() {
            return Err(FeedClosed);
        }
        self.shared.queue().push_back(msg);
        loop {
            if !self.is_open() {
                return Err(FeedClosed);
            }
            // Held for one attempt only, so the broker's side can close the socket in between.
            let socket = self.shared.socket();
            match socket.as_ref().ok_or(FeedClosed)?.send(TOKEN, 0) {
                Ok(()) => return Ok(()),
                Err(zmq::Error::EAGAIN) => continue,
                Err(_) => return Err(FeedClosed),
            }
        }
    }
}

impl FeedReceiver {
    /// The next message, if its token has arrived. Tokens and messages are in the same order,
    /// one each, and the message is queued before its token is sent.
    pub(crate) fn try_recv(&self) -> Option<FeedMessage> {
        self.socket.recv_bytes(zmq::DONTWAIT).ok()?;
        self.sender.queue().pop_front()
    }
}

impl Drop for FeedReceiver {
    fn drop(&mut self) {
        self.sender.open.store(false, Ordering::SeqCst);
        if let Some(push) = self.sender.socket().take() {
            // Nobody reads what it still holds.
            let _ = push.set_linger(0);
        }
    }
}

/// Runs `produce` on a thread of its own, handing the bundles it makes to `feed` (`produce`
/// stops when its `send` returns false: the broker's end is gone). Then, if the broker still
/// listens, tells it the input is over. `produce` returns its report (what it read, what it
/// refused, a read error), which [`Feeder::report`] hands over once the run is over.
pub fn spawn<R, F>(feed: FeedSender, produce: F) -> std::io::Result<Feeder<R>>
where
    R: Send + 'static,
    F: FnOnce(&mut dyn FnMut(Vec<TaskRecord>) -> bool) -> R + Send + 'static,
{
    spawn_read(feed, move |send| produce(&mut |bundle| send(bundle, None)))
}

/// [`spawn`] for a producer that says, with each bundle, how far its input is read once the
/// bundle is stored (see [`FeedSender::send_read`]).
pub fn spawn_read<R, F>(feed: FeedSender, produce: F) -> std::io::Result<Feeder<R>>
where
    R: Send + 'static,
    F: FnOnce(&mut dyn FnMut(Vec<TaskRecord>, Option<InputProgress>) -> bool) -> R + Send + 'static,
{
    let ended = Arc::new(AtomicBool::new(false));
    let past_input = ended.clone();
    let thread = std::thread::Builder::new()
        .name("hs-input".into())
        .spawn(move || {
            let mut feed = feed;
            let report = produce(&mut |bundle, progress| {
                match progress {
                    Some(p) => feed.send_read(bundle, p),
                    None => feed.send(bundle),
                }
                .is_ok()
            });
            past_input.store(true, Ordering::SeqCst);
            if feed.is_open() {
                let _ = feed.finish();
            }
            report
        })?;
    Ok(Feeder { thread, ended })
}

/// The input thread of a run.
pub struct Feeder<R> {
    thread: JoinHandle<R>,
    /// It is past its input (end, read error, or told to stop): it has returned or is about to.
    ended: Arc<AtomicBool>,
}

impl<R> Feeder<R> {
    /// Its report, once the broker has returned. If it is past its input it is waited for, so
    /// a rejected line or a read error is not missed. Otherwise — an interrupt, or a run that
    /// ended before its input did (its engine left idle, a client asked it to drain) — it may
    /// be blocked on a terminal or pipe, and its report is taken only if it has finished.
    pub fn report(self, interrupted: bool) -> Option<R> {
        let past_input = !interrupted && self.ended.load(Ordering::SeqCst);
        (past_input || self.thread.is_finished())
            .then(|| self.thread.join().ok())
            .flatten()
    }
}
