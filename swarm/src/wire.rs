//! Everything the swarm says and hears on the wire, in one place: the real hs/1 message structs
//! and the real signing code of `hs_protocol::protocol`, nothing re-implemented. When the
//! protocol's types change, this is the file to adapt.

use chrono::Utc;
use hs_protocol::protocol::{
    Ack, Body, Bye, GivenBack, Held, Opener, Ping, Pong, Register, Results, Sealer, ToEngine,
};
use hs_protocol::task::{Outcome, TaskResult};
use uuid::Uuid;

/// Signed frames ready for a DEALER (no routing identity).
pub type Frames = [Vec<u8>; 5];

/// A task as the swarm keeps it: enough to answer it.
pub struct Job {
    pub id: Uuid,
    pub lease: u64,
    /// The command line, returned as the result's `command` as a real engine does.
    pub args: String,
}

/// What the controller said on the engine's DEALER, decoded.
pub enum Direct {
    Welcome {
        nonce: u64,
    },
    Tasks {
        jobs: Vec<Job>,
        ack: Vec<Uuid>,
    },
    Ack(Vec<Uuid>),
    Cancel(usize),
    Drain,
    Reregister,
    /// Give back tasks not started: the swarm never holds any, so it answers with none.
    GiveBack,
}

/// One simulated engine's protocol state: its signer and its two verifiers (direct messages and
/// pings come from different senders, each with its own sequence).
pub struct Peer {
    sealer: Sealer,
    direct: Opener,
    pings: Opener,
}

impl Peer {
    pub fn new(key: &str, id: Uuid) -> Peer {
        Peer {
            sealer: Sealer::new(key.as_bytes(), id),
            direct: Opener::new(key.as_bytes()),
            pings: Opener::new(key.as_bytes()),
        }
    }

    pub fn register(&mut self, slots: u32, nonce: u64, host: &str) -> Frames {
        self.sealer.seal(&Register {
            engine_id: self.sealer.sender(),
            host: host.to_string(),
            pid: std::process::id(),
            slots,
            nonce,
            version: "hs-swarm".into(),
            running: Vec::new(),
            finished: Vec::new(),
            returned: Vec::new(),
        })
    }

    /// Results of `jobs`, all exited 0 just now.
    pub fn results(&mut self, jobs: &[Job]) -> Frames {
        let now = Utc::now();
        let results = jobs
            .iter()
            .map(|j| TaskResult {
                id: j.id,
                lease: j.lease,
                outcome: Outcome::Exited,
                exit_status: 0,
                signal: None,
                command: Some(j.args.clone()),
                start_time: Some(now),
                completion_time: now,
                outpath: None,
                errpath: None,
                error: None,
            })
            .collect();
        self.sealer.seal(&Results { results })
    }

    pub fn pong(&mut self) -> Frames {
        self.sealer.seal(&Pong {})
    }

    pub fn bye(&mut self) -> Frames {
        self.sealer.seal(&Bye::default())
    }

    pub fn given_back_nothing(&mut self) -> Frames {
        self.sealer.seal(&GivenBack::default())
    }

    /// Verify and decode a message from the DEALER; `Err` says why it was refused.
    pub fn open_direct(&mut self, frames: Vec<Vec<u8>>) -> Result<Direct, String> {
        let env = self.direct.open(frames).map_err(|e| e.to_string())?;
        let msg = env.decode::<ToEngine>().map_err(|e| e.to_string())?;
        Ok(decode(msg))
    }

    /// Whether a message from the SUB socket is a genuine ping.
    pub fn open_ping(&mut self, frames: Vec<Vec<u8>>) -> bool {
        self.pings
            .open(frames)
            .is_ok_and(|env| env.decode::<Ping>().is_ok())
    }

    /// What a buggy but authenticated peer may send, signed with this peer's key.
    pub fn junk(&mut self, what: Junk) -> Frames {
        match what {
            Junk::UnknownKind => self.sealer.seal_raw("frobnicate", b"{}".to_vec()),
            Junk::WrongShape => self
                .sealer
                .seal_raw(Results::KIND, br#"{"results":5}"#.to_vec()),
            Junk::NotJson => self.sealer.seal_raw(Register::KIND, b"[1,2".to_vec()),
            Junk::NeverLeased => self.results(&[Job {
                id: Uuid::new_v4(),
                lease: 1,
                args: String::new(),
            }]),
            Junk::AckForNothing => self.sealer.seal(&Ack {
                ids: vec![Uuid::new_v4()],
            }),
            Junk::GivenBackUnleased => self.sealer.seal(&GivenBack {
                returned: vec![Held {
                    id: Uuid::new_v4(),
                    lease: 1,
                }],
            }),
        }
    }
}

/// The kinds of bad input a hostile peer sends, in turn.
#[derive(Clone, Copy, Debug)]
pub enum Junk {
    UnknownKind,
    WrongShape,
    NotJson,
    NeverLeased,
    AckForNothing,
    /// Tasks "given back" that were never leased to it.
    GivenBackUnleased,
}

impl Junk {
    pub const ALL: [Junk; 6] = [
        Junk::UnknownKind,
        Junk::WrongShape,
        Junk::NotJson,
        Junk::NeverLeased,
        Junk::AckForNothing,
        Junk::GivenBackUnleased,
    ];
}

fn decode(msg: ToEngine) -> Direct {
    match msg {
        ToEngine::Welcome(w) => Direct::Welcome { nonce: w.nonce },
        ToEngine::Tasks(t) => Direct::Tasks {
            jobs: t
                .tasks
                .into_iter()
                .map(|l| Job {
                    id: l.task.id,
                    lease: l.lease,
                    args: l.task.args.clone(),
                })
                .collect(),
            ack: t.ack,
        },
        ToEngine::Ack(a) => Direct::Ack(a.ids),
        ToEngine::Cancel(c) => Direct::Cancel(c.ids.len()),
        ToEngine::Drain(_) => Direct::Drain,
        ToEngine::Reregister(_) => Direct::Reregister,
        ToEngine::GiveBack(_) => Direct::GiveBack,
    }
}
