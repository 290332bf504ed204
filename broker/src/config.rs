//! Broker settings.

use std::time::Duration;

use hs_engine::protocol::Mode;
use uuid::Uuid;

/// Endpoints to bind, one list per socket (`tcp://127.0.0.1:50001`, `inproc://…`, `tcp://*:*`).
#[derive(Clone, Debug, Default)]
pub struct BindSet {
    pub engines: Vec<String>,
    pub heartbeat: Vec<String>,
    pub clients: Vec<String>,
}

impl BindSet {
    /// Whether a process other than this one can connect to some socket (an endpoint that is
    /// not `inproc://`).
    pub fn networked(&self) -> bool {
        [&self.engines, &self.heartbeat, &self.clients]
            .into_iter()
            .flatten()
            .any(|endpoint| !is_inproc(endpoint))
    }

    /// Whether an engine in another process can connect.
    pub fn engines_reachable(&self) -> bool {
        self.engines.iter().any(|endpoint| !is_inproc(endpoint))
    }
}

fn is_inproc(endpoint: &str) -> bool {
    endpoint.starts_with("inproc://")
}

#[derive(Clone, Debug)]
pub struct ControllerConfig {
    pub controller_id: Uuid,
    /// Shared key: every connection proves it in a handshake, and session keys come from it.
    pub key: String,
    /// Sealed (the default) or, with `--no-tls`, authenticated but not encrypted.
    pub mode: Mode,
    pub bind: BindSet,
    /// How often engines are pinged.
    pub heartrate: Duration,
    /// Silence after which an engine is evicted (and the engine gives up on the controller).
    pub evict: Duration,
    /// Most tasks in one bundle; 0 = up to the engine's free credit.
    pub bundlesize: usize,
    /// Tasks an engine may hold beyond its slots, so a slot never idles waiting for a round trip
    /// and credit can be granted in batches. `None` = follow how long its tasks take (see
    /// [`prefetch`](crate::prefetch)).
    pub prefetch: Option<u32>,
    /// Keep serving when the input is exhausted (new work may come from clients, or from other
    /// processes through the store). Implies `restart`: such a controller serves the store.
    pub forever: bool,
    /// How often an idle controller looks in the store for tasks other processes added (`-Q`).
    pub store_poll: Duration,
    /// Schedule every task in the store, those earlier runs left too (`--restart`): unfinished
    /// ones (tasks that were running when a controller stopped wait `restart_grace` for their
    /// engines first) and failures with retries left. Otherwise a run schedules only the tasks
    /// it was given (its input, its clients' submissions) and says what it leaves alone.
    pub restart: bool,
    /// After an abort, how long to wait for engines to report and leave.
    pub abort_grace: Duration,
    /// `-r`: a failed task runs again until it has run `max_retries + 1` times.
    pub max_retries: u32,
    /// `--eager`: failed tasks due a retry go before new ones.
    pub eager: bool,
    /// Commit all input to the store at once (a durable store), rather than reading only as fast
    /// as tasks are scheduled (the in-memory store, whose memory must stay flat).
    pub buffer_input: bool,
    /// After a restart, how long tasks that were running when the previous controller stopped
    /// wait for their engines to re-register and report, before they are run again.
    pub restart_grace: Duration,
    /// Look in the store, once a heartbeat, for tasks cancelled by other processes
    /// (`hs update --cancel`) among those waiting here or leased to engines, and stop them.
    pub watch_cancels: bool,
    /// Most unfinished watched tasks one client may have (more is refused until some finish):
    /// the controller remembers which client to tell for each.
    pub max_watched_per_client: usize,
    /// Log engines joining at info level (a server's operators want this; an in-process
    /// cluster's one engine is not news).
    pub announce_engines: bool,
    /// How long a task that names hosts waits, from when it is ready to schedule, while no
    /// connected engine is on one of them. Then it fails without running, so a misspelt or
    /// absent host never leaves a run waiting forever.
    pub affinity_wait: Duration,
    /// How long the store may stay unreachable (a PostgreSQL restart, a busy or failing SQLite
    /// file) before the run ends with an error. Meanwhile engines keep running what they hold,
    /// results are held unacknowledged, and nothing new is handed out or read.
    pub db_wait: Duration,
    /// The largest message an engine or client may send once its handshake is done
    /// (`server.maxmessage`). Before it, only handshake messages of a few dozen bytes are taken.
    pub max_message: usize,
    /// Submissions this run takes from the start: an input read again after a run that stopped
    /// part-way through it (its stored tasks are this run's, see `InputProgress`).
    pub resumed: Vec<Uuid>,
    /// Take engines' captured output into this folder (the site's `lib/task`), up to
    /// `server.maxoutput` per file. `None`: engines keep their files (a controller without a
    /// site, as in tests).
    pub uploads: Option<crate::uploads::UploadConfig>,
}

impl ControllerConfig {
    pub fn new(key: String, bind: BindSet) -> Self {
        ControllerConfig {
            controller_id: Uuid::new_v4(),
            key,
            mode: Mode::Sealed,
            bind,
            heartrate: Duration::from_secs(1),
            evict: Duration::from_secs(5),
            bundlesize: 0,
            prefetch: None,
            forever: false,
            store_poll: Duration::from_secs(1),
            restart: false,
            abort_grace: Duration::from_secs(0),
            announce_engines: true,
            watch_cancels: false,
            max_retries: 0,
            eager: false,
            buffer_input: false,
            restart_grace: Duration::from_secs(10),
            affinity_wait: Duration::from_secs(30),
            max_watched_per_client: crate::watch::MAX_WATCHED_PER_CLIENT,
            db_wait: Duration::from_secs(60),
            max_message: hs_engine::protocol::MAX_MESSAGE_BYTES,
            resumed: Vec::new(),
            uploads: None,
        }
    }
}
