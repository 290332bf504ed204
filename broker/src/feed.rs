//! The in-process path from an input reader (a file, stdin) to the broker's queue.
//!
//! The reader thread sends bundles of new task rows over an inproc PUSH socket with a small
//! high-water mark; the broker commits them to the store (it is the store's only writer). With
//! the in-memory store the broker reads only while few tasks wait, so however long the input,
//! only a bounded number of tasks is in memory at once.

use crate::store::TaskRecord;

/// Bundles in flight between reader and broker before the reader blocks.
const FEED_HWM: i32 = 8;

/// The reader's end.
pub struct FeedSender {
    socket: zmq::Socket,
}

/// The broker's end.
pub struct FeedReceiver {
    pub(crate) socket: zmq::Socket,
}

/// The broker has gone (aborted or failed); the reader should stop.
#[derive(Debug, thiserror::Error)]
#[error("the controller stopped accepting tasks")]
pub struct FeedClosed;

/// A connected pair. Both ends must come from the broker's ZeroMQ context.
pub fn channel(ctx: &zmq::Context) -> Result<(FeedSender, FeedReceiver), zmq::Error> {
    let endpoint = format!("inproc://hs-feed-{}", uuid::Uuid::new_v4());
    let pull = ctx.socket(zmq::PULL)?;
    pull.set_rcvhwm(FEED_HWM)?;
    pull.bind(&endpoint)?;
    let push = ctx.socket(zmq::PUSH)?;
    push.set_sndhwm(FEED_HWM)?;
    push.set_linger(-1)?;
    // A blocked send wakes up now and then, so a reader can notice the broker is gone.
    push.set_sndtimeo(200)?;
    push.connect(&endpoint)?;
    Ok((FeedSender { socket: push }, FeedReceiver { socket: pull }))
}

/// One message on the feed.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) enum FeedMessage {
    Tasks(Vec<TaskRecord>),
    /// The input is exhausted.
    End,
}

impl FeedSender {
    /// Send a bundle, waiting while the broker is busy. `alive` is polled while blocked; when it
    /// returns false the send gives up.
    pub fn send(
        &mut self,
        tasks: Vec<TaskRecord>,
        alive: &dyn Fn() -> bool,
    ) -> Result<(), FeedClosed> {
        self.send_message(&FeedMessage::Tasks(tasks), alive)
    }

    /// Say the input is exhausted.
    pub fn finish(mut self, alive: &dyn Fn() -> bool) -> Result<(), FeedClosed> {
        self.send_message(&FeedMessage::End, alive)
    }

    fn send_message(
        &mut self,
        msg: &FeedMessage,
        alive: &dyn Fn() -> bool,
    ) -> Result<(), FeedClosed> {
        let bytes = serde_json::to_vec(msg).expect("tasks serialise");
        loop {
            match self.socket.send(&bytes, 0) {
                Ok(()) => return Ok(()),
                Err(zmq::Error::EAGAIN) if alive() => continue,
                Err(_) => return Err(FeedClosed),
            }
        }
    }
}

impl FeedReceiver {
    pub(crate) fn try_recv(&self) -> Option<FeedMessage> {
        let bytes = self.socket.recv_bytes(zmq::DONTWAIT).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}
