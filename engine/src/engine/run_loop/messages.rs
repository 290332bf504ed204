//! What the engine says and hears: signed sends, the controller's direct messages (tasks, acks,
//! cancels, drains, give-back requests) and its heartbeat pings, and refusals of what cannot be
//! read.

use super::*;

impl Engine {
    /// Send a signed message; false if it could not be queued (no live connection).
    pub(super) fn send<M: Message>(&mut self, body: &M) -> bool {
        let frames = self.sealer.seal(body);
        let sent = self.dealer.send_multipart(frames, zmq::DONTWAIT).is_ok();
        if sent {
            self.link.sent(Instant::now());
        }
        sent
    }

    pub(super) fn receive_direct(&mut self) -> Result<(), EngineError> {
        let messages = crate::transport::recv_waiting(&self.dealer, RECV_BATCH)
            .map_err(zmq_err("receiving from the controller"))?;
        for frames in messages {
            let opened = self.opener_direct.open(frames);
            match opened.and_then(|env| Ok((env.sender, env.decode::<ToEngine>()?))) {
                Ok((_, msg)) => self.handle_direct(msg),
                Err(e) => self.refuse(e)?,
            }
        }
        Ok(())
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
                    let server = Server {
                        id: w.controller_id,
                        host: w.controller_host.map(Arc::from),
                    };
                    self.board.with(|b| b.server = Some(server));
                    self.link = Link::Registered {
                        controller_id: w.controller_id,
                        last_heard: now,
                        last_sent: now,
                        evict_after: Duration::from_millis(w.evict_ms.max(w.heartrate_ms * 2)),
                    };
                    // A new registration is a fresh start on the controller's side.
                    self.told_leaving = false;
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
            let opened = self.opener_pings.open(frames);
            match opened.and_then(|env| env.parse::<Ping>()) {
                Ok(ping) => self.pinged(ping),
                Err(e) => self.refuse(e)?,
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

    /// A message was refused. Before the first registration a bad signature can only mean a
    /// key mismatch, which retrying cannot fix; anything else is counted and logged (at most
    /// once a minute) and dropped.
    pub(super) fn refuse(&mut self, err: FrameError) -> Result<(), EngineError> {
        match (&err, &self.link) {
            (
                FrameError::BadSignature,
                Link::Registering {
                    ever_registered: false,
                    ..
                },
            ) => Err(EngineError::AuthFailed {
                endpoint: self.cfg.endpoints.engines.clone(),
            }),
            _ => {
                self.refusals.refuse(b"", &err, Instant::now());
                Ok(())
            }
        }
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
            self.unacked.remove(&id);
        }
    }
}
