//! What the engine says and hears: sealed sends, its connection's handshake, the controller's direct messages (tasks, acks,
//! cancels, drains, give-back requests) and its heartbeat pings, and refusals of what cannot be
//! read.

use super::*;

impl Engine {
    /// Send a sealed message; false if it could not be queued (no session yet, or no live
    /// connection).
    pub(super) fn send<M: Message>(&mut self, body: &M) -> bool {
        let Some(frames) = self.peer.seal(body) else {
            return false;
        };
        let sent = self.dealer.send_multipart(frames, zmq::DONTWAIT).is_ok();
        if sent {
            self.link.sent(Instant::now());
        }
        sent
    }

    /// What the controller said on this engine's connection: its handshake's challenge, or a
    /// message of the session. Anything that does not open is dropped and counted; only a
    /// handshake that proves the keys or the modes differ ends the engine.
    pub(super) fn receive_direct(&mut self) -> Result<(), EngineError> {
        let messages = crate::transport::recv_waiting(&self.dealer, RECV_BATCH)
            .map_err(zmq_err("receiving from the controller"))?;
        for frames in messages {
            match self.peer.receive(frames) {
                Ok(Incoming::Opened(proof)) => {
                    self.hello_sent = None;
                    let _ = self.dealer.send_multipart(proof, zmq::DONTWAIT);
                    self.opened();
                }
                Ok(Incoming::Message(env)) => match env.decode::<ToEngine>() {
                    Ok(msg) => self.handle_direct(msg),
                    Err(e) => self.refuse(e),
                },
                Ok(Incoming::Failed { proof, why }) => {
                    // Sent so the controller logs why; then this handshake is over.
                    self.hello_sent = None;
                    let _ = self.dealer.send_multipart(proof, zmq::DONTWAIT);
                    self.handshake_failed(why)?;
                }
                Err(e) => self.refuse(e),
            }
        }
        Ok(())
    }

    /// The handshake is done: take the run's heartbeats from now on, and register at once.
    fn opened(&mut self) {
        let Some(session) = self.peer.session() else {
            return;
        };
        let epoch = session.epoch;
        if self.pings.as_ref().map(PingOpener::epoch) != Some(epoch) {
            self.pings = Some(PingOpener::new(
                self.cfg.key.as_bytes(),
                self.cfg.mode,
                epoch,
            ));
        }
        if let Link::Registering { .. } = self.link {
            self.send_register();
        }
    }

    /// A handshake failed on proof, or a door was shut: a different key, a different `--no-tls`,
    /// a controller without a door. Before the first registration that cannot change by
    /// retrying; after one, the controller may have been replaced by a wrongly configured one,
    /// and the engine keeps trying until its reconnect limit, as for any lost controller.
    pub(super) fn handshake_failed(&mut self, why: FrameError) -> Result<(), EngineError> {
        let endpoint = self.cfg.endpoints.engines.clone();
        let first = matches!(
            self.link,
            Link::Registering {
                ever_registered: false,
                ..
            }
        );
        match why {
            FrameError::WrongKey if first => Err(EngineError::AuthFailed { endpoint }),
            FrameError::ModeMismatch { .. } | FrameError::NoDoor | FrameError::ClockSkew
                if first =>
            {
                Err(EngineError::ModeMismatch { endpoint, why })
            }
            why => {
                self.refuse(why);
                Ok(())
            }
        }
    }

    pub(super) fn handle_direct(&mut self, msg: ToEngine) {
        let now = Instant::now();
        match msg {
            ToEngine::Welcome(w) => {
                if let Link::Registering {
                    nonce,
                    ever_registered,
                    ..
                } = &self.link
                    && *nonce == w.nonce
                {
                    let again = if *ever_registered { "again " } else { "" };
                    let line = format!(
                        "registered {again}with controller {} at {} ({} slots)",
                        w.controller_id, self.cfg.endpoints.engines, self.cfg.slots
                    );
                    // An in-process engine (hs cluster) joining is not news to anyone.
                    if self.cfg.endpoints.engines.starts_with("inproc://") {
                        tracing::debug!("{line}");
                    } else {
                        tracing::info!("{line}");
                    }
                    let server = ControllerFacts {
                        id: w.controller_id,
                        host: w.controller_host.map(Arc::from),
                    };
                    self.board.with(|b| b.server = Some(server));
                    let evict_after = Duration::from_millis(w.evict_ms.max(w.heartrate_ms * 2));
                    self.link = Link::Registered {
                        controller_id: w.controller_id,
                        last_heard: now,
                        last_sent: now,
                        evict_after,
                        start_within: crate::engine::link::start_within(
                            Duration::from_millis(w.heartrate_ms),
                            evict_after,
                        ),
                    };
                    // A new registration is a fresh start on the controller's side.
                    self.told_leaving = false;
                    self.upload_to(w.controller_id, w.output);
                    self.welcomed();
                }
            }
            ToEngine::Tasks(t) => {
                self.link.heard(now);
                self.accept(t.tasks);
                self.acknowledged(t.ack);
            }
            ToEngine::Ack(a) => {
                self.link.heard(now);
                self.acknowledged(a.ids);
            }
            ToEngine::Cancel(c) => {
                self.link.heard(now);
                self.cancel(&c.ids);
            }
            ToEngine::GiveBack(g) => {
                self.link.heard(now);
                self.answer_give_back(g.most as usize);
            }
            ToEngine::Drain(d) => {
                self.link.heard(now);
                if d.stop {
                    if !self.aborting {
                        tracing::info!("the controller is stopping: stopping running tasks");
                    }
                    self.abort();
                } else if d.release {
                    if !self.releasing {
                        tracing::info!("the controller stopped scheduling: draining");
                    }
                    self.release();
                } else if !self.draining {
                    tracing::debug!("controller asked to drain");
                }
                self.draining = true;
            }
            ToEngine::OutputAck(a) => {
                self.link.heard(now);
                self.uploads.acked(&a);
            }
            ToEngine::OutputRefused(r) => {
                self.link.heard(now);
                self.uploads.refused(&r);
            }
            ToEngine::Reregister(_) => {
                if self.link.is_registered() {
                    tracing::info!(
                        "controller does not know this engine any more: registering again"
                    );
                    self.lose_link(now);
                }
            }
        }
    }

    pub(super) fn receive_pings(&mut self) -> Result<(), EngineError> {
        let messages = crate::transport::recv_waiting(&self.sub, RECV_BATCH)
            .map_err(zmq_err("receiving heartbeats"))?;
        for frames in messages {
            // Before a handshake names the run, no heartbeat can be checked: they are ignored.
            let Some(pings) = &mut self.pings else {
                continue;
            };
            match pings.open(frames).and_then(|env| env.parse::<Ping>()) {
                Ok(ping) => self.pinged(ping),
                Err(FrameError::OtherRun) if self.link.is_registered() => {
                    // Unauthenticated, so only a cue: a new handshake finds out who is there,
                    // and succeeds only with a controller that holds the key.
                    tracing::warn!(
                        "another controller run publishes heartbeats at this address: \
                         registering again"
                    );
                    self.pings = None;
                    self.lose_link(Instant::now());
                }
                Err(e) => self.refuse(e),
            }
        }
        Ok(())
    }

    pub(super) fn pinged(&mut self, ping: Ping) {
        let now = Instant::now();
        match &self.link {
            Link::Registered { controller_id, .. } if *controller_id == ping.controller_id => {
                self.link.heard(now);
                self.send(&Pong {});
            }
            Link::Registered { .. } => {
                tracing::warn!(
                    "a new controller ({}) answers at this address: registering with it",
                    ping.controller_id
                );
                self.lose_link(now);
            }
            Link::Registering { .. } => {}
        }
    }

    /// A message was refused: counted, logged at most once a minute, and dropped. Never fatal:
    /// whoever can reach this engine's sockets cannot stop it with bad input.
    pub(super) fn refuse(&mut self, err: FrameError) {
        self.refusals.refuse(b"", &err, Instant::now());
    }

    /// Cancel tasks this engine holds: queued ones are answered at once, running ones are
    /// stopped (their slot reports them cancelled when the group is gone).
    pub(super) fn cancel(&mut self, ids: &[Uuid]) {
        let dropped = self.board.with(|b| {
            let mut dropped = Vec::new();
            b.queue.retain(|job| {
                let hit = ids.contains(&job.task.id);
                if hit {
                    dropped.push(cancelled_before_start(job));
                }
                !hit
            });
            dropped
        });
        let running = self.slots.as_ref().map_or(0, |slots| {
            slots.stop_running(|id| ids.contains(id), StopReason::Cancel)
        });
        if !dropped.is_empty() || running > 0 {
            tracing::info!(
                "cancelling {} queued and {running} running tasks",
                dropped.len()
            );
        }
        self.summary.done += dropped.len() as u64;
        self.summary.failed += dropped.len() as u64;
        self.unsent.extend(dropped);
    }

    /// The controller has recorded these results: forget them.
    pub(super) fn acknowledged(&mut self, ids: Vec<Uuid>) {
        for id in ids {
            if let Some(result) = self.unacked.remove(&id) {
                self.upload_files(&result);
            }
        }
    }
}
