//! Routing a decoded engine message to its handler.

use std::time::Instant;

use hs_engine::protocol::{FromEngine, Reregister};
use uuid::Uuid;

use super::Core;
use crate::broker::RunError;
use crate::sink::ResultSink;

impl Core {
    /// One message from `engine`, which has proved it is that engine (its signature and its
    /// connection agree). Any message is a sign of life.
    pub fn on_engine(
        &mut self,
        engine: Uuid,
        msg: FromEngine,
        now: Instant,
        sink: &mut dyn ResultSink,
    ) -> Result<(), RunError> {
        let known = match self.registry.get_mut(&engine) {
            Some(info) => {
                info.last_heard = now;
                info.unreachable = false;
                true
            }
            None => false,
        };
        match msg {
            FromEngine::Register(r) => self.register(r, now, sink)?,
            _ if !known => {
                // Evicted earlier, or this controller restarted: ask it to introduce itself.
                self.tell_engine(engine, Reregister {});
            }
            FromEngine::Results(r) => self.results(engine, r.results, sink)?,
            FromEngine::Leaving(l) => self.leaving(engine, &l.returned)?,
            FromEngine::GivenBack(g) => self.given_back(engine, &g.returned)?,
            FromEngine::Bye(_) => self.bye(engine)?,
            FromEngine::Pong(_) => {}
            FromEngine::OutputOpen(o) => self.output_open(engine, o),
            FromEngine::OutputData(d) => self.output_data(engine, d),
        }
        Ok(())
    }
}
