//! Creating and binding the controller's three sockets.

use hs_engine::protocol::MAX_FRAME_BYTES;
use hs_engine::protocol::door::Door;

use crate::broker::RunError;
use crate::door::{DoorHandle, DoorKeeper};

pub struct Sockets {
    /// Engines connect DEALERs here.
    pub engines: zmq::Socket,
    /// Pings to every engine.
    pub heartbeat: zmq::Socket,
    /// Clients (submit, status, drain).
    pub clients: zmq::Socket,
    /// What each socket is actually bound to (ephemeral ports resolved).
    pub bound: crate::config::BindSet,
    /// The sockets' door keeper (see `door.rs`), stopped after them: dropped last. None where
    /// every endpoint is `inproc://`, which has no ZMTP handshake and so no door to keep.
    pub door: Option<DoorHandle>,
}

fn opt(what: &str) -> impl FnOnce(zmq::Error) -> RunError {
    RunError::zmq(format!("setting {what}"))
}

/// Connections the kernel holds for a listening socket until it is accepted. libzmq's default
/// of 100 overflows when a thousand engines start at once (each has two connections): the
/// dropped connection attempts are retried by TCP only after 1 s, then 3 s, and registration
/// of a large cluster took several such rounds. The kernel caps it at `net.core.somaxconn`.
const BACKLOG: i32 = 4096;

/// Messages libzmq queues per connection before it stops reading that connection (TCP then
/// pushes back on the sender). Together with [`MAX_FRAME_BYTES`] this bounds what one peer, with
/// or without a session, holds in the controller's memory before the broker reads it: 64
/// messages of 16 KiB frames, 1 MiB (a peer with a session may send messages of several frames,
/// up to `server.maxmessage`). Genuine peers send bundles, a few messages in flight each.
const RCVHWM: i32 = 64;

/// The largest frame a heartbeat subscriber may send (see [`Sockets::bind`]).
const HEARTBEAT_MAXMSGSIZE: i64 = 1024;

fn router(ctx: &zmq::Context) -> Result<zmq::Socket, RunError> {
    let s = ctx
        .socket(zmq::ROUTER)
        .map_err(RunError::zmq("creating a ROUTER"))?;
    // Sending to a peer that is gone must fail (EHOSTUNREACH), not vanish silently.
    s.set_router_mandatory(true)
        .map_err(opt("ROUTER_MANDATORY"))?;
    // A second connection claiming a routing id in use is refused, never handed the route:
    // routing ids are random per socket and a session is bound to one (sessions.rs); only the
    // socket's own next connection, once the last one is gone, takes the route up again.
    s.set_router_handover(false)
        .map_err(opt("ROUTER_HANDOVER"))?;
    // libzmq drops peers that send larger frames before buffering them.
    s.set_maxmsgsize(MAX_FRAME_BYTES as i64)
        .map_err(opt("MAXMSGSIZE"))?;
    s.set_sndhwm(10_000).map_err(opt("SNDHWM"))?;
    s.set_rcvhwm(RCVHWM).map_err(opt("RCVHWM"))?;
    s.set_linger(1000).map_err(opt("LINGER"))?;
    s.set_backlog(BACKLOG).map_err(opt("BACKLOG"))?;
    Ok(s)
}

fn bind_all(socket: &zmq::Socket, endpoints: &[String]) -> Result<Vec<String>, RunError> {
    let mut bound = Vec::new();
    for ep in endpoints {
        socket.bind(ep).map_err(|source| match source {
            zmq::Error::EADDRINUSE => RunError::AddressInUse {
                endpoint: ep.clone(),
            },
            zmq::Error::EADDRNOTAVAIL | zmq::Error::ENODEV => RunError::AddressUnavailable {
                endpoint: ep.clone(),
            },
            source => RunError::zmq(format!("binding {ep}"))(source),
        })?;
        let last = socket
            .get_last_endpoint()
            .ok()
            .and_then(|r| r.ok())
            .unwrap_or_else(|| ep.clone());
        bound.push(last);
    }
    Ok(bound)
}

impl Sockets {
    /// Create the sockets, lock each behind its door (opened by proof of `key`), and bind them.
    pub fn bind(
        ctx: &zmq::Context,
        bind: &crate::config::BindSet,
        key: &[u8],
    ) -> Result<Sockets, RunError> {
        let keeper = bind
            .networked()
            .then(|| DoorKeeper::open(ctx, key))
            .transpose()?;
        let engines = router(ctx)?;
        let clients = router(ctx)?;
        let heartbeat = ctx
            .socket(zmq::PUB)
            .map_err(RunError::zmq("creating the PUB socket"))?;
        heartbeat.set_linger(0).map_err(opt("LINGER"))?;
        heartbeat.set_sndhwm(100).map_err(opt("SNDHWM"))?;
        heartbeat.set_backlog(BACKLOG).map_err(opt("BACKLOG"))?;
        // Subscribers send only subscriptions (an engine's is empty), and a connection's PLAIN
        // hello is under 200 bytes: nothing larger is read from the heartbeat port.
        heartbeat
            .set_maxmsgsize(HEARTBEAT_MAXMSGSIZE)
            .map_err(opt("MAXMSGSIZE"))?;
        let door = match keeper {
            Some(mut keeper) => {
                keeper.guard(ctx, &engines, Door::Engines)?;
                keeper.guard(ctx, &clients, Door::Clients)?;
                keeper.guard(ctx, &heartbeat, Door::Heartbeat)?;
                Some(keeper.start(ctx)?)
            }
            None => None,
        };
        let bound = crate::config::BindSet {
            engines: bind_all(&engines, &bind.engines)?,
            heartbeat: bind_all(&heartbeat, &bind.heartbeat)?,
            clients: bind_all(&clients, &bind.clients)?,
        };
        Ok(Sockets {
            engines,
            heartbeat,
            clients,
            bound,
            door,
        })
    }
}
