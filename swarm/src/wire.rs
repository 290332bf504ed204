//! Everything the swarm says and hears on the wire, in one place: the real hs/2 message structs,
//! handshake and sealing code of `hs_protocol::protocol`, nothing re-implemented. When the
//! protocol's types change, this is the file to adapt.

use chrono::Utc;
use hs_protocol::protocol::{
    Ack, Body, Bye, GivenBack, Held, Incoming, Message, Mode, PeerLink, Ping, PingOpener, Pong,
    Register, Results, Role, ToEngine,
};
use hs_protocol::task::{Outcome, TaskResult};
use uuid::Uuid;

/// Sealed frames ready for a DEALER (no routing identity).
pub type Frames = Vec<Vec<u8>>;

/// A task as the swarm keeps it: enough to answer it.
pub struct Job {
    pub id: Uuid,
    pub lease: u64,
    /// The command line, returned as the result's `command` as a real engine does.
    pub args: String,
}

/// What the controller said on the engine's DEALER, decoded.
pub enum Direct {
    /// The handshake is done: send this proof, then register.
    Opened(Frames),
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

/// One simulated engine's protocol state: its connection's handshake and session, and the
/// opener of the controller run's heartbeats.
pub struct Peer {
    link: PeerLink,
    key: String,
    id: Uuid,
    pings: Option<PingOpener>,
}

impl Peer {
    pub fn new(key: &str, id: Uuid) -> Peer {
        Peer {
            link: PeerLink::new(key.as_bytes(), Role::Engine, Mode::Sealed, id),
            key: key.to_string(),
            id,
            pings: None,
        }
    }

    pub fn is_open(&self) -> bool {
        self.link.is_open()
    }

    /// Start a handshake (again).
    pub fn hello(&mut self) -> Frames {
        self.link.hello()
    }

    /// Forget the session (the hello could not be sent).
    pub fn reset(&mut self) {
        self.link.reset();
    }

    /// Seal a message; nothing leaves before the handshake is done.
    fn seal<M: Message>(&mut self, msg: &M) -> Frames {
        self.link.seal(msg).unwrap_or_default()
    }

    pub fn register(&mut self, slots: u32, nonce: u64, host: &str) -> Frames {
        let id = self.id;
        self.seal(&Register {
            engine_id: id,
            host: host.to_string(),
            pid: std::process::id(),
            slots,
            nonce,
            version: "hs-swarm".into(),
            running: Vec::new(),
            finished: Vec::new(),
            returned: Vec::new(),
            resources: None,
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
                upload: false,
                usage: None,
            })
            .collect();
        self.seal(&Results { results })
    }

    pub fn pong(&mut self) -> Frames {
        self.seal(&Pong {})
    }

    pub fn bye(&mut self) -> Frames {
        self.seal(&Bye::default())
    }

    pub fn given_back_nothing(&mut self) -> Frames {
        self.seal(&GivenBack::default())
    }

    /// Open and decode a message from the DEALER (or take the handshake's challenge); `Err`
    /// says why it was refused.
    pub fn open_direct(&mut self, frames: Frames) -> Result<Direct, String> {
        match self.link.receive(frames).map_err(|e| e.to_string())? {
            Incoming::Opened(proof) => {
                let epoch = self.link.session().map(|s| s.epoch).unwrap_or_default();
                self.pings = Some(PingOpener::new(self.key.as_bytes(), Mode::Sealed, epoch));
                Ok(Direct::Opened(proof))
            }
            Incoming::Message(env) => {
                let msg = env.decode::<ToEngine>().map_err(|e| e.to_string())?;
                Ok(decode(msg))
            }
            Incoming::Failed { why, .. } => Err(why.to_string()),
        }
    }

    /// Whether a message from the SUB socket is a genuine ping.
    pub fn open_ping(&mut self, frames: Frames) -> bool {
        let Some(pings) = &mut self.pings else {
            return false;
        };
        pings
            .open(frames)
            .and_then(|env| env.decode::<Ping>())
            .is_ok()
    }

    /// What a buggy but authenticated peer may send, signed with this peer's key.
    pub fn junk(&mut self, what: Junk) -> Frames {
        match what {
            Junk::UnknownKind => self.raw("frobnicate", b"{}"),
            Junk::WrongShape => self.raw(Results::KIND, br#"{"results":5}"#),
            Junk::NotJson => self.raw(Register::KIND, b"[1,2"),
            Junk::NeverLeased => self.results(&[Job {
                id: Uuid::new_v4(),
                lease: 1,
                args: String::new(),
            }]),
            Junk::AckForNothing => self.seal(&Ack {
                ids: vec![Uuid::new_v4()],
            }),
            Junk::GivenBackUnleased => self.seal(&GivenBack {
                returned: vec![Held {
                    id: Uuid::new_v4(),
                    lease: 1,
                }],
            }),
        }
    }
}

impl Peer {
    fn raw(&mut self, kind: &str, body: &[u8]) -> Frames {
        self.link.seal_raw(kind, body).unwrap_or_default()
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
        // A swarm engine opens no uploads (it captures nothing): nothing to acknowledge.
        ToEngine::OutputAck(_) | ToEngine::OutputRefused(_) => Direct::Ack(Vec::new()),
    }
}
