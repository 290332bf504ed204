//! Asking a running controller about itself over its client socket: status and drain, as
//! `hs status`, `hs stop` and the launch supervisor do. Every reply is verified with the key.

use std::time::Duration;

use hs_engine::protocol::{
    Body, DrainRequest, Drained, Opener, Refused, Sealer, Status, StatusRequest,
};

use crate::exit::{Failure, Status as ExitStatus};

pub struct ControlClient {
    socket: zmq::Socket,
    sealer: Sealer,
    opener: Opener,
    endpoint: String,
}

impl ControlClient {
    pub fn connect(ctx: &zmq::Context, endpoint: &str, key: &str) -> anyhow::Result<ControlClient> {
        let socket = ctx.socket(zmq::DEALER)?;
        socket.set_linger(0)?;
        socket.set_maxmsgsize(hs_engine::protocol::MAX_FRAME_BYTES as i64)?;
        socket.connect(endpoint)?;
        Ok(ControlClient {
            socket,
            sealer: Sealer::new(key.as_bytes(), uuid::Uuid::new_v4()),
            opener: Opener::new(key.as_bytes()),
            endpoint: endpoint.to_string(),
        })
    }

    pub fn status(&mut self, timeout: Duration) -> anyhow::Result<Status> {
        self.request(&StatusRequest {}, timeout)
    }

    /// Ask the controller to take no new work, finish what is queued, and stop.
    pub fn drain(&mut self, timeout: Duration) -> anyhow::Result<()> {
        self.request::<_, Drained>(&DrainRequest {}, timeout)
            .map(|_| ())
    }

    fn request<Q: Body, A: Body>(&mut self, q: &Q, timeout: Duration) -> anyhow::Result<A> {
        self.socket
            .send_multipart(self.sealer.seal(q), zmq::DONTWAIT)?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if self.socket.poll(zmq::POLLIN, left.as_millis() as i64)? == 0 {
                return Err(Failure {
                    status: ExitStatus::Runtime,
                    message: format!(
                        "the controller at {} did not answer within {:.0}s (is it running? is the key right?)",
                        self.endpoint,
                        timeout.as_secs_f64()
                    ),
                }
                .into());
            }
            let frames = self.socket.recv_multipart(0)?;
            let envelope = match self.opener.open(frames) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!("dropped a reply that failed verification: {e}");
                    continue;
                }
            };
            if envelope.kind == Refused::KIND {
                let reason = envelope.parse::<Refused>()?.reason;
                return Err(Failure::runtime(format!(
                    "the controller refused: {reason}"
                )));
            }
            return Ok(envelope.parse::<A>()?);
        }
    }
}
