//! Command-line definitions (clap derive). Each subcommand's behaviour lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXIT_CODES: &str = "\
Exit status:
  0  every task succeeded
  1  at least one task failed or an input line was rejected (all others ran)
  2  bad arguments (unknown option, bad template, weak key, ...)
  4  interrupted (Ctrl-C, SIGTERM): running tasks were stopped
  5  runtime error (file not found, port in use, controller unreachable, ...)
  6  internal error (a bug: please report it)
  7  authentication failed (the key does not match the controller's)

Environment:
  HYPERSHELL_SITE=DIR          keep hs files (connection files, captured output) under DIR
  HYPERSHELL_LOGGING_LEVEL=L   trace, debug, info (default), warning, error, critical
  HYPERSHELL_LOGGING_STYLE=S   default, or detailed (time and host on every line)
  HYPERSHELL_EXPORT_X=V        every task gets X=V in its environment";

#[derive(Parser, Debug)]
#[command(
    name = "hs",
    version,
    about = "Run very many shell commands in parallel, on one machine or many, and never lose one.",
    long_about = "Run very many shell commands in parallel, on one machine or many, and never lose one.\n\n\
                  Quick start:\n  seq 100 | hs cluster -N4 -t 'echo {}'\n\n\
                  A controller (hs server) hands tasks to engines (hs client) over signed ZeroMQ \
                  messages; hs cluster runs both in one process.",
    after_help = EXIT_CODES,
    arg_required_else_help = true,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run tasks on a local cluster: a controller and its engine in one process (also: hsx).
    #[command(after_help = EXIT_CODES)]
    Cluster(ClusterArgs),
    /// Serve tasks to engines (hs client) on this and other hosts; failed lines go to stdout.
    #[command(visible_alias = "controller", after_help = EXIT_CODES)]
    Server(ServerArgs),
    /// Run an engine: connect to a server, take tasks, run them, report back.
    #[command(visible_alias = "engine", after_help = EXIT_CODES)]
    Client(ClientArgs),
}

/// How an engine runs each task.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Command template; `{}` is the input line. See docs/templates.md for `{/}`, `{[1:3]}`,
    /// `{= x*2 =}` and the rest. Braces that are not patterns (`${HOME}`, awk's `{print}`) stay.
    #[arg(short = 't', long, default_value = "{}", value_name = "TEMPLATE")]
    pub template: String,

    /// Walltime per task in seconds; then SIGINT, SIGTERM, SIGKILL to its process group.
    #[arg(short = 'W', long = "task-timeout", value_name = "SECONDS", value_parser = positive_secs)]
    pub task_timeout: Option<f64>,

    /// Seconds between SIGINT, SIGTERM and SIGKILL when stopping a task.
    #[arg(short = 'S', long, default_value_t = 10.0, value_name = "SECONDS", value_parser = non_negative_secs)]
    pub signalwait: f64,

    /// Write each task's stdout and stderr to <site>/lib/task/<id>.out and .err.
    #[arg(long, conflicts_with_all = ["output", "errors"])]
    pub capture: bool,

    /// Send all task stdout to this file instead of stdout (whole lines, never interleaved).
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Send all task stderr to this file instead of stderr.
    #[arg(short = 'e', long = "errors", value_name = "PATH")]
    pub errors: Option<PathBuf>,
}

/// Liveness checks between controller and engines.
#[derive(Args, Debug, Clone)]
pub struct HeartbeatArgs {
    /// Seconds between heartbeats.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS", value_parser = positive_secs)]
    pub heartrate: f64,

    /// Seconds of silence after which an engine is evicted (its tasks run elsewhere) and after
    /// which an engine considers its controller lost.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS", value_parser = positive_secs)]
    pub evict: f64,
}

#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// File with one command (or template argument) per line; stdin when absent or `-`.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Tasks to run at once (executor slots); 0 = one per CPU core.
    #[arg(
        short = 'N',
        long = "num-threads",
        visible_alias = "num-tasks",
        default_value_t = 1,
        value_name = "NUM"
    )]
    pub num_threads: u32,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub bundle: BundleArgs,

    /// Write the line of every failed task to this file (`-` = stdout).
    #[arg(short = 'f', long, value_name = "PATH")]
    pub failures: Option<PathBuf>,

    /// Stop after this many seconds with no task waiting or running.
    #[arg(short = 'T', long = "timeout", value_name = "SECONDS", value_parser = positive_secs)]
    pub idle_timeout: Option<f64>,

    /// Keep the queue in memory only (the only store so far, hence also the default).
    #[arg(long)]
    pub no_db: bool,

    /// Also accept engines on localhost: PORT (engines), PORT+1 (heartbeats), PORT+2 (clients);
    /// a connection file for `hs client -p PORT` is written under the site directory.
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,

    #[command(flatten)]
    pub heartbeat: HeartbeatArgs,

    /// More log detail (debug level).
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Most log detail (trace level).
    #[arg(short = 'd', long)]
    pub debug: bool,
}

/// Bundling of tasks and results.
#[derive(Args, Debug, Clone)]
pub struct BundleArgs {
    /// Most tasks per bundle sent to an engine; 0 = as many as it has room for.
    #[arg(short = 'b', long, default_value_t = 0, value_name = "NUM")]
    pub bundlesize: usize,

    /// Seconds an engine may hold finished results to send them together (0 = send at once).
    #[arg(short = 'w', long, default_value_t = 0.0, value_name = "SECONDS", value_parser = non_negative_secs)]
    pub bundlewait: f64,
}

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// File with one task per line; stdin when absent or `-` (not read with --forever and no FILE).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Address to listen on. Anything but localhost needs -k.
    #[arg(
        short = 'H',
        long = "bind",
        default_value = "localhost",
        value_name = "ADDRESS"
    )]
    pub bind: String,

    /// Engine port; heartbeats use PORT+1 and clients PORT+2.
    #[arg(short = 'p', long, default_value_t = 50001, value_name = "PORT")]
    pub port: u16,

    /// Shared key (at least 16 characters). Without it a key is generated and written to a
    /// connection file (mode 0600) that local engines find by themselves.
    #[arg(
        short = 'k',
        long = "auth",
        value_name = "KEY",
        env = "HYPERSHELL_SERVER_AUTH",
        hide_env_values = true
    )]
    pub auth: Option<String>,

    #[command(flatten)]
    pub bundle: BundleArgs,

    /// Write failed task lines here (`-` = stdout, the default).
    #[arg(short = 'f', long, value_name = "PATH")]
    pub failures: Option<PathBuf>,

    /// Keep serving after the input ends (clients may submit more).
    #[arg(long)]
    pub forever: bool,

    /// Keep the queue in memory only (the only store so far, hence also the default).
    #[arg(long)]
    pub no_db: bool,

    #[command(flatten)]
    pub heartbeat: HeartbeatArgs,

    #[arg(short = 'v', long, help = "More log detail (debug level).")]
    pub verbose: bool,

    #[arg(short = 'd', long, help = "Most log detail (trace level).")]
    pub debug: bool,
}

#[derive(Args, Debug)]
pub struct ClientArgs {
    /// Host of the server.
    #[arg(short = 'H', long, default_value = "localhost", value_name = "HOST")]
    pub host: String,

    /// The server's port (its -p).
    #[arg(short = 'p', long, default_value_t = 50001, value_name = "PORT")]
    pub port: u16,

    /// The server's key. Without it, the connection file of a local server on PORT is used.
    #[arg(
        short = 'k',
        long = "auth",
        value_name = "KEY",
        env = "HYPERSHELL_CLIENT_AUTH",
        hide_env_values = true
    )]
    pub auth: Option<String>,

    /// Connection file to use (address, ports and key), e.g. one copied from the server's host.
    #[arg(long = "file", value_name = "PATH", conflicts_with = "auth")]
    pub connection_file: Option<PathBuf>,

    /// Tasks to run at once (executor slots); 0 = one per CPU core.
    #[arg(
        short = 'N',
        long = "num-threads",
        visible_alias = "num-tasks",
        default_value_t = 1,
        value_name = "NUM"
    )]
    pub num_threads: u32,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub bundle: BundleArgs,

    /// Leave after this many seconds with nothing to do.
    #[arg(short = 'T', long = "timeout", value_name = "SECONDS", value_parser = positive_secs)]
    pub idle_timeout: Option<f64>,

    /// Wait this many seconds before connecting; negative = a random wait up to |SECONDS|.
    #[arg(
        short = 'd',
        long = "delay-start",
        default_value_t = 0.0,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub delay_start: f64,

    /// Give up if no server answers within this many seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = positive_secs)]
    pub connect_timeout: f64,

    /// Give up after the server has been unreachable this long (running tasks finish first).
    #[arg(long, default_value_t = 600.0, value_name = "SECONDS", value_parser = positive_secs)]
    pub reconnect_limit: f64,

    #[arg(short = 'v', long, help = "More log detail (debug level).")]
    pub verbose: bool,

    #[arg(long, help = "Most log detail (trace level).")]
    pub debug: bool,
}

fn positive_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("expected a positive number of seconds, got {s:?}")),
    }
}

fn non_negative_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v >= 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!(
            "expected a number of seconds (0 or more), got {s:?}"
        )),
    }
}
