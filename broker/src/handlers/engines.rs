//! Receiving and routing messages from engines.

use hs_engine::protocol::{Body, Bye, GivenBack, Leaving, Pong, Register, Reregister, Results};
use uuid::Uuid;

use crate::broker::{Broker, BrokerError};
use crate::sink::ResultSink;

impl Broker {
    pub(crate) fn receive_engines(&mut self, sink: &mut dyn ResultSink) -> Result<(), BrokerError> {
        // Bounded per turn so a flood from engines cannot starve the rest of the loop.
        for _ in 0..1024 {
            let mut frames = match self.sockets.engines.recv_multipart(zmq::DONTWAIT) {
                Ok(f) => f,
                Err(zmq::Error::EAGAIN) => return Ok(()),
                Err(source) => {
                    return Err(BrokerError::Zmq {
                        context: "receiving from engines".into(),
                        source,
                    });
                }
            };
            if frames.is_empty() {
                continue;
            }
            let identity = frames.remove(0);
            let envelope = match self.engine_opener.open(frames) {
                Ok(e) => e,
                Err(err) => {
                    self.rejected += 1;
                    // Only the kind of failure is logged, never the bytes of an unauthenticated message.
                    tracing::warn!("dropped a message on the engine socket: {err}");
                    continue;
                }
            };
            // An engine speaks only for itself: its routing identity is its signed sender id.
            if Uuid::from_slice(&identity).ok() != Some(envelope.sender) {
                self.rejected += 1;
                tracing::warn!("dropped a message whose sender does not match its connection");
                continue;
            }
            let engine = envelope.sender;
            let now = std::time::Instant::now();
            let known = match self.registry.get_mut(&engine) {
                Some(info) => {
                    info.last_heard = now;
                    true
                }
                None => false,
            };
            match envelope.kind.as_str() {
                Register::KIND => match envelope.parse::<Register>() {
                    Ok(r) => self.register(r, sink)?,
                    Err(e) => tracing::warn!("engine {engine}: {e}"),
                },
                _ if !known => {
                    // Evicted earlier, or this controller restarted: ask it to introduce itself.
                    self.send_to_engine(engine, &Reregister {});
                }
                Results::KIND => match envelope.parse::<Results>() {
                    Ok(r) => self.results(engine, r.results, sink)?,
                    Err(e) => tracing::warn!("engine {engine}: {e}"),
                },
                Leaving::KIND => match envelope.parse::<Leaving>() {
                    Ok(l) => self.leaving(engine, &l.returned)?,
                    Err(e) => tracing::warn!("engine {engine}: {e}"),
                },
                GivenBack::KIND => match envelope.parse::<GivenBack>() {
                    Ok(g) => self.given_back(engine, &g.returned)?,
                    Err(e) => tracing::warn!("engine {engine}: {e}"),
                },
                Bye::KIND => match envelope.parse::<Bye>() {
                    Ok(_) => self.bye(engine)?,
                    Err(e) => tracing::warn!("engine {engine}: {e}"),
                },
                Pong::KIND => {}
                other => tracing::debug!("engine {engine}: ignoring unexpected {other} message"),
            }
        }
        Ok(())
    }
}
