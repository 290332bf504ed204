//! Asking the controller again every interval on a thread of its own, so the screen answers
//! keys at once even while a request waits for a controller that has gone quiet.

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use hs_broker::client::Client;

use super::snapshot::Snapshot;
use super::target::Dialed;

/// What one round of asking brought.
pub enum Update {
    Snapshot(Box<Snapshot>),
    /// The controller did not answer (or refused); the poller dials again next round.
    Failed(String),
}

/// Start asking `dialed` through `client` (already connected) every `interval`. The thread
/// ends once the receiver is dropped and its next update cannot be delivered.
pub fn spawn(dialed: Dialed, client: Client, interval: Duration) -> Receiver<Update> {
    let (tx, rx) = mpsc::channel();
    // A thread that cannot be started leaves the view on its first snapshot, which says how old
    // it is; nothing else depends on it.
    let _ = std::thread::Builder::new()
        .name("hs-top-poll".into())
        .spawn(move || run(&dialed, Some(client), interval, &tx));
    rx
}

fn run(dialed: &Dialed, mut client: Option<Client>, interval: Duration, tx: &Sender<Update>) {
    loop {
        std::thread::sleep(interval);
        let update = match ask(dialed, &mut client) {
            Ok(s) => Update::Snapshot(Box::new(s)),
            Err(e) => {
                // A client whose request went unanswered may get that answer late: start anew.
                client = None;
                Update::Failed(format!("{e:#}"))
            }
        };
        if tx.send(update).is_err() {
            return;
        }
    }
}

fn ask(dialed: &Dialed, client: &mut Option<Client>) -> anyhow::Result<Snapshot> {
    let c = match client {
        Some(c) => c,
        None => client.insert(dialed.connect()?),
    };
    Ok(Snapshot::new(Dialed::ask(c)?, dialed))
}
