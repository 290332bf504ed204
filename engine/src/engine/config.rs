//! What an engine needs to know to run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::executor::{ExecutorChoice, LineSink};
use crate::template::Template;

/// Where the controller listens. The engine connects a DEALER to `engines` and a SUB to
/// `heartbeat`; both are ZeroMQ endpoints (`tcp://host:port` or `inproc://name`).
#[derive(Clone, Debug)]
pub struct Endpoints {
    pub engines: String,
    pub heartbeat: String,
}

/// Where task output goes.
#[derive(Clone)]
pub struct OutputConfig {
    /// Shared sinks for relayed stdout/stderr lines (the engine's own streams, or `-o`/`-e` files).
    pub stdout: Arc<LineSink>,
    pub stderr: Arc<LineSink>,
    /// With `--capture`: write each task's output to `<dir>/<task id>.out` and `.err` instead.
    pub capture_dir: Option<PathBuf>,
}

#[derive(Clone)]
pub struct EngineConfig {
    pub engine_id: Uuid,
    pub endpoints: Endpoints,
    /// Shared key: proved in each connection's handshake, and the source of its session keys.
    pub key: String,
    /// Sealed (the default) or, with `--no-tls`, authenticated but not encrypted; must be the
    /// controller's.
    pub mode: crate::protocol::Mode,
    /// Executor slots (tasks run at once).
    pub slots: u32,
    pub template: Template,
    pub output: OutputConfig,
    /// `-W`: walltime for every task (the task's own timeout applies too; the smaller wins).
    pub task_timeout: Option<Duration>,
    /// `-S`: time between SIGINT, SIGTERM and SIGKILL when stopping a task.
    pub signalwait: Duration,
    /// `-T`: leave after this long with nothing to do.
    pub idle_timeout: Option<Duration>,
    /// How long to wait for the first welcome before reporting the controller unreachable.
    pub connect_timeout: Duration,
    /// How long to keep trying to reach a controller that went silent before giving up.
    pub reconnect_limit: Duration,
    /// `-b`: results sent together once this many are ready; 0 = once as many are ready as the
    /// engine still holds, half of what the controller lets it hold (1 = each at once).
    pub result_bundle: usize,
    /// `-w`: longest a finished result waits for its bundle to fill (default
    /// [`RESULT_LINGER`](super::run_loop::RESULT_LINGER)).
    pub result_wait: Duration,
    /// Host name reported to the controller and exported as `TASK_CLIENT_HOST`.
    pub host: String,
    /// Variables every task gets (from `HYPERSHELL_EXPORT_X=v`, exported as `X=v`).
    pub export_env: Vec<(String, String)>,
    /// The site's `lib/task` folder, where `TASK_OUTPATH`, `TASK_ERRPATH` and `TASK_CSVPATH`
    /// point as in HyperShell (whether or not output is captured there); `None` (an engine
    /// embedded without a site) makes them `null` unless the task has its own files.
    pub task_dir: Option<PathBuf>,
    /// How tasks are started (`--executor`, `task.executor`).
    pub executor: ExecutorChoice,
    /// `--keep-daemons`: what a task leaves running when it ends by itself stays (and outlives
    /// the engine) instead of being killed with the task.
    pub keep_daemons: bool,
    /// Cores, memory and GPUs its tasks may use together (`-C`, `-M`, `--gpus`), declared to
    /// the controller, which leases only what fits, and checked again before each start.
    /// Not limited, with no GPUs, unless the caller says (the command line fills in the host's).
    pub resources: crate::resources::Resources,
    /// `--monitor`: sample each running task's cores and memory about once a second, into
    /// `task_dir/<id>.csv` and the peaks of its result (see `crate::monitor`).
    pub monitor: bool,
    /// `-R`: start at most this many tasks per second (see `Board::pace`); `None`: no limit.
    pub ratelimit: Option<f64>,
}

impl EngineConfig {
    /// Defaults for an engine of `slots` slots; callers override what their flags set.
    pub fn new(endpoints: Endpoints, key: String, slots: u32, output: OutputConfig) -> Self {
        EngineConfig {
            engine_id: Uuid::new_v4(),
            endpoints,
            key,
            mode: crate::protocol::Mode::Sealed,
            slots: slots.max(1),
            template: Template::parse("{}").expect("the identity template parses"),
            output,
            task_timeout: None,
            signalwait: Duration::from_secs(10),
            idle_timeout: None,
            connect_timeout: Duration::from_secs(10),
            reconnect_limit: Duration::from_secs(120),
            result_bundle: 0,
            result_wait: super::run_loop::RESULT_LINGER,
            host: crate::engine::env::short_hostname(),
            export_env: crate::engine::env::exported_from_environment(),
            task_dir: None,
            executor: ExecutorChoice::default(),
            keep_daemons: false,
            resources: crate::resources::Resources::default(),
            monitor: false,
            ratelimit: None,
        }
    }
}
