//! Argument groups several controller and engine commands share (slots, how tasks run, the
//! store, polling, the exit rule, heartbeats) and the parsers of durations.

use super::*;
use hs_engine::task::{MAX_SECONDS, seconds_in_range};

/// How many tasks an engine runs at once.
#[derive(Args, Debug, Clone)]
pub struct SlotArgs {
    /// Tasks to run at once (executor slots); 0 = one per CPU core.
    #[arg(
        short = 'N',
        long = "num-threads",
        visible_alias = "num-tasks",
        alias = "num-cores",
        default_value_t = 1,
        value_name = "NUM"
    )]
    pub num_threads: u32,
}

/// How an engine runs each task.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Command template; `{}` is the input line. See docs/templates.md for `{/}`, `{[1:3]}`,
    /// `{= x*2 =}` and the rest. Braces that are not patterns (`${HOME}`, awk's `{print}`) stay.
    #[arg(short = 't', long, default_value = "{}", value_name = "TEMPLATE")]
    pub template: String,

    #[arg(help = key::TASK_TIMEOUT.help(
        "Walltime per task in seconds; then SIGINT, SIGTERM, SIGKILL to its process group (0 = none)"
    ))]
    #[arg(short = 'W', long = "task-timeout", value_name = "SECONDS", value_parser = positive_secs)]
    pub task_timeout: Option<f64>,

    #[arg(help = key::TASK_SIGNALWAIT.help(
        "Seconds between SIGINT, SIGTERM and SIGKILL when stopping a task"
    ))]
    #[arg(short = 'S', long, value_name = "SECONDS", value_parser = non_negative_secs)]
    pub signalwait: Option<f64>,

    #[arg(help = key::TASK_EXECUTOR.help(
        "How tasks start: `warm` forks each from a pre-started bash per slot, `spawn` execs a \
         fresh bash per task"
    ))]
    #[arg(long, value_name = "warm|spawn", value_parser = ["warm", "spawn"])]
    pub executor: Option<String>,

    /// Keep what a task leaves running when it ends by itself (`cmd &`, daemons): by default it is
    /// killed with the task. Kept processes outlive the engine (docs/reliability.md).
    #[arg(long)]
    pub keep_daemons: bool,

    /// Write each task's stdout and stderr to <site>/lib/task/<id>.out and .err (an engine whose
    /// site is not its controller's then sends them to the controller's site).
    #[arg(long, conflicts_with_all = ["output", "errors"])]
    pub capture: bool,

    /// Send all task stdout to this file instead of stdout (whole lines, never interleaved).
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Send all task stderr to this file instead of stderr.
    #[arg(short = 'e', long = "errors", value_name = "PATH")]
    pub errors: Option<PathBuf>,
}

/// Where tasks are kept and how failures are retried.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Keep tasks in memory only: no history and no restart (the default store is the
    /// configured [database]: the SQLite file <site>/lib/main.db unless database.file,
    /// database.url, HYPERSHELL_DATABASE_URL or provider = "postgres" say otherwise).
    #[arg(long, conflicts_with_all = ["initdb", "restart", "max_retries"])]
    pub no_db: bool,

    /// Create the database tables first (needed once for PostgreSQL; SQLite does it by itself).
    #[arg(long)]
    pub initdb: bool,

    #[arg(help = format!(
        "Run a failed task again up to N more times (each retry is a new task row linked to the \
         last) [default: {}, config: {} - 1]",
        key::SERVER_ATTEMPTS.default.int().map_or(0, |n| n - 1),
        key::SERVER_ATTEMPTS
    ))]
    #[arg(short = 'r', long = "max-retries", value_name = "N")]
    pub max_retries: Option<u32>,

    #[arg(help = key::SERVER_EAGER.help("Run failed tasks that are due a retry before new ones"))]
    #[arg(long)]
    pub eager: bool,

    /// Read no input: run what the database has left (after a crash or an interruption), then stop.
    #[arg(long, conflicts_with = "file")]
    pub restart: bool,

    /// Seconds that tasks which were running when the previous controller stopped wait for their
    /// engines to report them before they run again.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = non_negative_secs)]
    pub restart_grace: f64,

    #[arg(help = key::SERVER_DBWAIT.help(
        "Seconds to wait for the database to answer again after it stops answering (engines \
         keep running, results are held) before giving up with exit status 5"
    ))]
    #[arg(long, value_name = "SECONDS", value_parser = non_negative_secs)]
    pub db_wait: Option<f64>,
}

/// How often a controller looks in the database for tasks other processes added.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct PollArgs {
    #[arg(help = key::SERVER_POLL.help(
        "Longest wait in seconds between looks into the database for new tasks while idle \
         (`--forever`, `hs submit` from elsewhere)"
    ))]
    #[arg(short = 'Q', long, value_name = "SECONDS", value_parser = positive_secs)]
    pub poll: Option<f64>,
}

/// What a controller's exit status says about the tasks it ran.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct FailExitArgs {
    /// Exit 1 when any task failed (without it 0, as HyperShell).
    #[arg(long)]
    pub fail_exit: bool,
}

/// Liveness checks between controller and engines.
#[derive(Args, Debug, Clone)]
pub struct HeartbeatArgs {
    #[arg(help = key::SERVER_HEARTRATE.help("Seconds between heartbeats"))]
    #[arg(long, value_name = "SECONDS", value_parser = positive_secs)]
    pub heartrate: Option<f64>,

    #[arg(help = key::SERVER_EVICT.help(
        "Seconds of silence after which an engine is evicted (its tasks run elsewhere) and after \
         which an engine considers its controller lost"
    ))]
    #[arg(long, value_name = "SECONDS", value_parser = positive_secs)]
    pub evict: Option<f64>,
}

/// A number of seconds that `accept` allows, at most [`MAX_SECONDS`] in size: a larger one
/// (`inf`, `1e19`) would overflow the clock where it is waited for, not be a usage error.
pub(crate) fn seconds(s: &str, accept: fn(f64) -> bool, expected: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if accept(v) && seconds_in_range(v) => Ok(v),
        _ => Err(format!(
            "expected {expected}, at most {MAX_SECONDS}, got {s:?}"
        )),
    }
}

pub(crate) fn positive_secs(s: &str) -> Result<f64, String> {
    seconds(s, |v| v > 0.0, "a positive number of seconds")
}

pub(crate) fn non_negative_secs(s: &str) -> Result<f64, String> {
    seconds(s, |v| v >= 0.0, "a number of seconds (0 or more)")
}

/// A task's own walltime (`hs submit -W`, stored as a whole number of seconds): 0 (unset) to
/// [`MAX_SECONDS`].
pub(crate) fn whole_secs(s: &str) -> Result<i64, String> {
    match s.parse::<i64>() {
        Ok(n) if (0..=MAX_SECONDS as i64).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a whole number of seconds from 0 to {MAX_SECONDS}, got {s:?}"
        )),
    }
}

/// `--delay-start`: any sign, since a negative value asks for a random wait up to its size.
pub(crate) fn delay_secs(s: &str) -> Result<f64, String> {
    seconds(
        s,
        |_| true,
        "a number of seconds (negative = a random wait up to |SECONDS|)",
    )
}
