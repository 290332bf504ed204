//! One controller in a process, set up in one place: its ZeroMQ context, its store, the broker,
//! the input feed and the engines it hosts itself. `hs cluster`, `hs server`, `hs start`,
//! `hs stream` and the tests all build theirs with [`ControllerBuilder`].
//!
//! The builder takes the broker's settings, the store (in-memory unless given one) and, when
//! engines are to run in this process, hands out their inproc endpoints.
//! [`ControllerBuilder::bind`] binds every socket, so a port in use is an error before anything
//! starts, and returns the [`Controller`]. Its id and bound ports can then go into connection
//! files, the input is attached ([`Controller::spawn_input`], or [`Controller::feed`] for a
//! caller that sends tasks itself), in-process engines are added, and [`Controller::run`] (or
//! [`Controller::spawn`] for a thread) serves until the work is done or it is told to stop.
//!
//! # Ending the ZeroMQ context
//! `zmq_ctx_term` runs when the last handle on a context goes (every socket holds one). It
//! returns once every socket of the context is closed and each has sent what it still queued or
//! its linger has passed. The commands used to leak a handle (`mem::forget`) so that it never
//! ran: an input reader blocked in a read of stdin held the feed's socket, and a termination
//! waiting for it would not return. With the leak, the broker's last messages (the acks it
//! sends as it stops) went out only if the I/O thread got to them before the process exited.
//!
//! Here nothing the controller made outlives its run: the reader's socket belongs to the feed,
//! whose broker end closes it when the broker returns (a reader still blocked in a read finds
//! it closed when it wakes, and holds no socket meanwhile); the in-process engines are joined,
//! and they close their own sockets; the broker's sockets are dropped; the context goes last.
//! Termination then waits only for messages still queued, each socket's linger bounding it: the
//! broker's last acknowledgements and replies to engines and clients (ROUTER: 1 s at most, and
//! only for a peer that is connected but not reading), an engine's farewell (DEALER: 2 s).
//! Usually nothing is queued and it is immediate: a one-task `hs cluster` starts and ends as
//! fast as with the leak. Sockets a caller makes on
//! [`Controller::context`] keep the context alive until they close; that is the caller's to end.

mod local;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hs_engine::engine::{
    Endpoints, EngineConfig, EngineControl, EngineError, EngineSummary, StopMode,
};
use uuid::Uuid;

use crate::broker::{Broker, ControllerSummary, RunError};
use crate::config::{BindSet, ControllerConfig};
use crate::control::RunControl;
use crate::feed::{self, FeedReceiver, FeedSender, Feeder};
use crate::sink::ResultSink;
use crate::store::{InputProgress, MemoryStore, TaskRecord, TaskStore};

use local::LocalEngines;

/// Why a controller could not be set up or did not end well.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the engine thread panicked")]
    EnginePanicked,
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    #[error("cannot open the input feed: {0}")]
    Feed(zmq::Error),
    #[error("a controller takes one input feed")]
    SecondFeed,
}

/// How a run ended: the broker's summary and, for each in-process engine, its own.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub broker: ControllerSummary,
    pub engines: Vec<EngineSummary>,
}

/// The settings of a controller not bound yet.
pub struct ControllerBuilder {
    cfg: ControllerConfig,
    store: Option<Box<dyn TaskStore>>,
    control: Arc<RunControl>,
    local: Option<Endpoints>,
}

impl ControllerBuilder {
    /// A controller with these broker settings, the in-memory store, and a control of its own.
    pub fn new(cfg: ControllerConfig) -> Self {
        ControllerBuilder {
            cfg,
            store: None,
            control: Arc::new(RunControl::new()),
            local: None,
        }
    }

    /// The broker's settings, to adjust before binding.
    pub fn config(&mut self) -> &mut ControllerConfig {
        &mut self.cfg
    }

    /// Keep tasks in `store` (opened and claimed by the caller).
    pub fn store(mut self, store: Box<dyn TaskStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Stop it through `control` (one the caller made early, e.g. for signal handlers
    /// installed before anything else).
    pub fn control(mut self, control: Arc<RunControl>) -> Self {
        self.control = control;
        self
    }

    /// The store given with [`store`](Self::store), to read before the run (an input to
    /// resume, see `InputProgress`).
    pub fn store_mut(&mut self) -> Option<&mut (dyn TaskStore + 'static)> {
        self.store.as_deref_mut()
    }

    /// The endpoints for engines in this process ([`Controller::add_engine`]); the broker binds
    /// them besides its configured endpoints. The same ones on every call.
    pub fn local_endpoints(&mut self) -> Endpoints {
        self.local.get_or_insert_with(local::endpoints).clone()
    }

    /// Bind the sockets (a port in use, a bad address are reported here, before anything
    /// runs).
    pub fn bind(self) -> Result<Controller, RunError> {
        let ControllerBuilder {
            mut cfg,
            store,
            control,
            local,
        } = self;
        if let Some(endpoints) = &local {
            local::bind(&mut cfg.bind, endpoints);
        }
        if !cfg.bind.engines_reachable() {
            // Only an engine in another process uploads its captured output, and none can
            // reach this one: no folder or mark for uploads (made and removed for nothing,
            // they were most of what a one-task `hs cluster` did with files).
            cfg.uploads = None;
        }
        let ctx = zmq::Context::new();
        let store = store.unwrap_or_else(|| Box::new(MemoryStore::new()));
        let broker = Broker::bind(cfg, &ctx, store)?;
        Ok(Controller {
            broker,
            feed: None,
            engines: LocalEngines::default(),
            control,
            ctx,
        })
    }
}

/// A bound controller, ready to run. Dropped without running, it closes what it opened (its
/// fields go in order: the broker's sockets, the feed, the context).
pub struct Controller {
    broker: Broker,
    feed: Option<FeedReceiver>,
    engines: LocalEngines,
    control: Arc<RunControl>,
    /// Last, so that it goes after every socket the controller made (see the module docs).
    ctx: zmq::Context,
}

impl Controller {
    pub fn controller_id(&self) -> Uuid {
        self.broker.controller_id()
    }

    /// The endpoints actually bound (ephemeral ports resolved).
    pub fn bound(&self) -> &BindSet {
        self.broker.bound()
    }

    /// Stops the run from outside (signals, tests, a launch supervisor).
    pub fn control(&self) -> &Arc<RunControl> {
        &self.control
    }

    /// The controller's ZeroMQ context, for inproc peers of its sockets.
    pub fn context(&self) -> &zmq::Context {
        &self.ctx
    }

    /// The input's end of a feed into the broker, for a caller that sends tasks itself. A run
    /// takes one feed; without one, work comes only from clients and the store.
    pub fn feed(&mut self) -> Result<FeedSender, ControllerError> {
        if self.feed.is_some() {
            return Err(ControllerError::SecondFeed);
        }
        let (tx, rx) = feed::channel(&self.ctx).map_err(ControllerError::Feed)?;
        self.feed = Some(rx);
        Ok(tx)
    }

    /// Feed the broker from `produce`, run on a thread of its own (see [`feed::spawn`]): it
    /// hands bundles of task rows to its `send`, which returns false once the broker takes no
    /// more, and returns its report.
    pub fn spawn_input<R, F>(&mut self, produce: F) -> Result<Feeder<R>, ControllerError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn FnMut(Vec<TaskRecord>) -> bool) -> R + Send + 'static,
    {
        let tx = self.feed()?;
        feed::spawn(tx, produce).map_err(ControllerError::Thread)
    }

    /// [`spawn_input`](Self::spawn_input) for an input that can be finished after a failure:
    /// each bundle comes with how far the input is read once it is stored (`InputProgress`),
    /// which the store records in the same transaction.
    pub fn spawn_input_read<R, F>(&mut self, produce: F) -> Result<Feeder<R>, ControllerError>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn FnMut(Vec<TaskRecord>, Option<InputProgress>) -> bool) -> R
            + Send
            + 'static,
    {
        let tx = self.feed()?;
        feed::spawn_read(tx, produce).map_err(ControllerError::Thread)
    }

    /// An engine to run in this process, on the endpoints of
    /// [`ControllerBuilder::local_endpoints`], from when the broker starts (after `delay`).
    /// Returns its control, for signal handlers and tests.
    pub fn add_engine(&mut self, config: EngineConfig, delay: Duration) -> Arc<EngineControl> {
        self.engines.add(config, delay)
    }

    /// Serve until the work is done or the control says stop; then join the in-process engines
    /// and close everything (see the module docs). A broker error is reported before an
    /// engine's.
    pub fn run(mut self, sink: &mut dyn ResultSink) -> Result<RunSummary, ControllerError> {
        let started = self.engines.start(&self.ctx, &self.control);
        if started.is_err() {
            // The engines that did start are stopped and seen off like at any abort.
            self.control.abort();
        }
        let outcome = self.broker.run(self.feed.take(), sink, &self.control);
        let engines = self.engines.join(match outcome {
            Ok(_) => StopMode::Drain,
            Err(_) => StopMode::Abort,
        });
        // Every socket is closed here, the context last (see the module docs).
        drop(self);
        started?;
        Ok(RunSummary {
            broker: outcome?,
            engines: engines?,
        })
    }

    /// [`run`](Self::run) on a thread of its own, reporting to `sink`.
    pub fn spawn<S>(self, mut sink: S) -> std::io::Result<Running<S>>
    where
        S: ResultSink + Send + 'static,
    {
        let control = self.control.clone();
        let thread = std::thread::Builder::new()
            .name("hs-controller".into())
            .spawn(move || (self.run(&mut sink), sink))?;
        Ok(Running { control, thread })
    }
}

/// A controller running on its own thread.
pub struct Running<S> {
    control: Arc<RunControl>,
    thread: JoinHandle<(Result<RunSummary, ControllerError>, S)>,
}

impl<S> Running<S> {
    pub fn control(&self) -> &Arc<RunControl> {
        &self.control
    }

    /// Wait for the run to end: how it ended, and the sink.
    pub fn wait(self) -> (Result<RunSummary, ControllerError>, S) {
        match self.thread.join() {
            Ok(ended) => ended,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}
