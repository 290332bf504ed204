//! Command-line definitions (clap derive). Each subcommand's behaviour lives in `commands/`.

mod compat;
#[cfg(test)]
mod parity_tests;

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::config::key;

pub use compat::{CapacityArgs, ConfirmArgs, TlsArgs, size_bytes};

const EXIT_CODES: &str = "\
Exit status:
  0  the run completed; tasks that failed are counted on stderr and listed by hs list --failed
     (as HyperShell; give hs cluster/server --fail-exit to exit 1 when any task failed)
  1  an input line was rejected (all others ran); a task failed under --fail-exit, or a job of
     hs stream was not ok; or no arguments were given and the usage was printed
  2  bad arguments (unknown option, bad template, weak key, ...)
  3  bad configuration (a file that is not valid TOML, a value that cannot be used)
  4  interrupted (Ctrl-C, SIGTERM): running tasks were stopped
  5  runtime error (file not found, port in use, controller unreachable, ...)
  6  internal error (a bug: please report it)
  7  authentication failed (the key does not match the controller's)

Signals (hs client, server, cluster, start; docs/signals.md): SIGUSR1 drains: no new tasks, the
ones not started go back to the controller at once, running ones finish. SIGUSR2 also stops the
running tasks (-S escalation) and hands them back without counting an attempt. Both exit 0.

Configuration (hs config, docs/config.md), highest first: flags, HYPERSHELL_* variables,
./.hypershell/config.toml (or $HYPERSHELL_SITE/config.toml), ~/.hypershell/config.toml,
/etc/hypershell.toml, built-in defaults.

Environment:
  HYPERSHELL_SITE=DIR          keep hs files (database, connection files, captured output) under DIR
  HYPERSHELL_LOGGING_LEVEL=L   trace, debug, info (default), warning, error, critical
  HYPERSHELL_LOGGING_STYLE=S   default, or detailed (time and host on every line)
  HYPERSHELL_EXPORT_X=V        every task gets X=V in its environment (also [export] X = \"V\")
  HYPERSHELL_<SECTION>_<KEY>=V any configuration key, e.g. HYPERSHELL_SERVER_PORT=50001";

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
    disable_version_flag = true
)]
pub struct Cli {
    /// Print the version and exit (also `-V`).
    #[arg(short = 'v', short_alias = 'V', long, action = ArgAction::Version)]
    version: Option<bool>,
    /// Print how to cite hs and the work it builds on, and exit.
    #[arg(long, exclusive = true)]
    pub citation: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run tasks on a local cluster: a controller and its engine in one process (also: hsx).
    #[command(after_help = EXIT_CODES)]
    Cluster(Box<ClusterArgs>),
    /// Serve tasks to engines (hs client) on this and other hosts; failed lines go to stdout.
    #[command(visible_alias = "controller", after_help = EXIT_CODES)]
    Server(ServerArgs),
    /// Run an engine: connect to a server, take tasks, run them, report back.
    #[command(visible_alias = "engine", after_help = EXIT_CODES)]
    Client(ClientArgs),
    /// JSON jobs in (one per line on stdin), JSON results out (one per line on stdout).
    #[command(after_help = EXIT_CODES)]
    Stream(StreamArgs),
    /// Add tasks to the database (a running `hs server --forever` picks them up).
    #[command(after_help = EXIT_CODES)]
    Submit(SubmitArgs),
    /// Search tasks: `hs list -w 'exit_status != 0' args exit_status`.
    #[command(after_help = EXIT_CODES)]
    List(ListArgs),
    /// Change tasks: `hs update -w 'exit_status != 0' --revert`, `hs update ID tag:value`.
    #[command(after_help = EXIT_CODES)]
    Update(UpdateArgs),
    /// Show one task: `hs info ID`, `hs info ID -x exit_status`, `hs info ID --stdout`.
    #[command(after_help = EXIT_CODES, arg_required_else_help = true)]
    Info(InfoArgs),
    /// Wait until a task has finished.
    #[command(after_help = EXIT_CODES, arg_required_else_help = true)]
    Wait(WaitArgs),
    /// Submit one task, wait for it, print its output (needs a server with engines using --capture).
    #[command(after_help = EXIT_CODES, arg_required_else_help = true)]
    Run(RunTaskArgs),
    /// Create (or truncate, vacuum, back up, rotate) the database.
    #[command(after_help = EXIT_CODES)]
    Initdb(InitdbArgs),
    /// Show and change configuration files (see docs/config.md).
    #[command(after_help = EXIT_CODES)]
    Config(crate::config::command::ConfigArgs),
    /// Create, list and show profiles: folders that say how a cluster starts (docs/profiles.md).
    #[command(after_help = EXIT_CODES)]
    Profile(ProfileArgs),
    /// Start a profile's controller and engines: `hs start --profile=mezcal --daemonize`.
    #[command(after_help = EXIT_CODES)]
    Start(StartArgs),
    /// Stop a profile's cluster: its controller and every engine it started.
    #[command(after_help = EXIT_CODES)]
    Stop(StopArgs),
    /// Show a profile's engines (host, slots, busy, done, last heartbeat) and task counts.
    #[command(after_help = EXIT_CODES)]
    Status(StatusArgs),
    /// HyperShell's older task commands: `hs task submit|info|wait|run|search|update`.
    #[command(after_help = EXIT_CODES)]
    Task(TaskArgs),
    /// Print a shell completion script (scripts/install writes them for hs, hsx and hyper-shell).
    Completions(CompletionsArgs),
    /// Write the manual pages (hs.1, hsx.1, hyper-shell.1 and one per subcommand) into DIR.
    Manpages(ManpagesArgs),
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TaskArgs {
    /// The task table's column names, one per line.
    #[arg(long)]
    pub list_columns: bool,
    #[command(subcommand)]
    pub action: Option<TaskAction>,
}

/// `hs task ACTION` is `hs ACTION` (with `search` for `list`).
#[derive(Subcommand, Debug)]
pub enum TaskAction {
    /// Same as `hs submit`.
    Submit(SubmitArgs),
    /// Same as `hs info`.
    Info(InfoArgs),
    /// Same as `hs wait`.
    Wait(WaitArgs),
    /// Same as `hs run`.
    Run(RunTaskArgs),
    /// Same as `hs list`.
    #[command(visible_alias = "list")]
    Search(ListArgs),
    /// Same as `hs update`.
    Update(UpdateArgs),
}

impl TaskAction {
    /// The top-level command this legacy form stands for.
    pub fn into_command(self) -> Command {
        match self {
            TaskAction::Submit(a) => Command::Submit(SubmitArgs {
                print_id: true,
                ..a
            }),
            TaskAction::Info(a) => Command::Info(a),
            TaskAction::Wait(a) => Command::Wait(a),
            TaskAction::Run(a) => Command::Run(a),
            TaskAction::Search(a) => Command::List(a),
            TaskAction::Update(a) => Command::Update(a),
        }
    }
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL", value_enum)]
    pub shell: clap_complete::Shell,
    /// The name to complete: hs, or one of its links (hsx completes like `hs cluster`).
    #[arg(long, default_value = "hs", value_parser = ["hs", "hsx", "hyper-shell"])]
    pub name: String,
}

#[derive(Args, Debug)]
pub struct ManpagesArgs {
    /// Folder to write the pages into (created if missing), e.g. ~/.local/share/man/man1.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

impl Command {
    /// The profile the command runs for (its configuration applies to the command).
    pub fn profile(&self) -> Option<&str> {
        let target = match self {
            Command::Submit(a) => &a.target,
            Command::List(a) => &a.target,
            Command::Update(a) => &a.target,
            Command::Info(a) => &a.target,
            Command::Wait(a) => &a.target,
            Command::Run(a) => &a.target,
            Command::Client(a) => return a.profile.as_deref(),
            Command::Start(a) => return Some(&a.profile),
            Command::Stop(a) => return Some(&a.profile),
            Command::Status(a) => return Some(&a.profile),
            Command::Stream(a) => return a.profile.as_deref(),
            _ => return None,
        };
        target.profile.as_deref()
    }

    /// A client connection file given with `--file` to a command that works on tasks.
    pub fn client_file(&self) -> Option<&PathBuf> {
        match self {
            Command::Submit(a) => a.target.file.as_ref(),
            Command::List(a) => a.target.file.as_ref(),
            Command::Update(a) => a.target.file.as_ref(),
            Command::Info(a) => a.target.file.as_ref(),
            Command::Wait(a) => a.target.file.as_ref(),
            Command::Run(a) => a.target.file.as_ref(),
            _ => None,
        }
    }
}

/// Which cluster a task command works on: the configured database by default.
#[derive(Args, Debug, Clone, Default)]
pub struct TargetArgs {
    /// The cluster of this profile (its database; see `hs profile list`).
    #[arg(long, value_name = "NAME", conflicts_with = "file")]
    pub profile: Option<String>,
    /// The cluster of this client connection file (`security/hs-client.json` of a running
    /// profile, copied here): its database.
    #[arg(long = "file", value_name = "CLIENT_JSON")]
    pub file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ProfileArgs {
    #[command(subcommand)]
    pub action: ProfileAction,
}

#[derive(Subcommand, Debug)]
pub enum ProfileAction {
    /// Make `<site>/profile_NAME/` with config.toml, nodefile, security/ (0700) and log/.
    Create(ProfileCreateArgs),
    /// List the profiles of this site, and whether each is running.
    List,
    /// Show a profile: its folder, launcher, engines, hosts and state.
    Show {
        /// The profile's name (or folder).
        #[arg(value_name = "NAME")]
        name: String,
    },
}

#[derive(Args, Debug)]
pub struct ProfileCreateArgs {
    /// The profile's name: letters, digits, `.`, `_`, `-`.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// How engines start.
    #[arg(long, value_name = "LAUNCHER", value_parser = ["local", "ssh", "mpi", "slurm", "command"])]
    pub launcher: Option<String>,
    #[arg(help = format!(
        "Engines to start (local, mpi, slurm) [default: {}]",
        crate::profile::CREATE_ENGINES
    ))]
    #[arg(short = 'n', long = "engines", value_name = "N")]
    pub engines: Option<u32>,
    #[arg(help = format!(
        "Tasks each engine runs at once (0 = one per core) [default: {}]",
        key::ENGINES_SLOTS.default.shown()
    ))]
    #[arg(short = 'N', long = "num-threads", value_name = "NUM")]
    pub slots: Option<u32>,
    #[arg(help = format!(
        "Address the controller listens on [default: {}]",
        key::SERVER_BIND.default.shown()
    ))]
    #[arg(short = 'H', long, value_name = "ADDRESS")]
    pub bind: Option<String>,
    /// Hosts for the nodefile, as a host list: `h[1-3]`, `a01,a02`.
    #[arg(long, value_name = "HOSTLIST")]
    pub hosts: Option<String>,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// The profile to start (see `hs profile list`; a path with a `/` names a folder).
    #[arg(long, value_name = "NAME")]
    pub profile: String,
    /// Engines to start, instead of the profile's engines.count.
    #[arg(short = 'n', long = "engines", value_name = "N")]
    pub engines: Option<u32>,
    /// Start in the background and return once the engines have registered (or failed).
    #[arg(long)]
    pub daemonize: bool,
    /// With --daemonize: seconds to wait for the engines to register.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS", value_parser = positive_secs)]
    pub startup_timeout: f64,
    #[command(flatten)]
    pub heartbeat: HeartbeatArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// The profile whose cluster to stop.
    #[arg(long, value_name = "NAME")]
    pub profile: String,
    /// Let queued tasks finish first (default: stop now; unfinished tasks stay in the database
    /// and run at the next start).
    #[arg(long)]
    pub drain: bool,
    /// Seconds to wait for the cluster to stop before killing it.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS", value_parser = positive_secs)]
    pub timeout: f64,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The profile whose cluster to show.
    #[arg(long, value_name = "NAME")]
    pub profile: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// How much a controller logs (stderr): `-v` debug, `-d` trace.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct LogArgs {
    /// More log detail (debug level).
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Most log detail (trace level).
    #[arg(short = 'd', long)]
    pub debug: bool,
}

/// Task settings given on the command line (the same keys as `# HYPERSHELL:` directives).
#[derive(Args, Debug, Clone, Default)]
pub struct TaskSettingArgs {
    /// Tags: `key` or `key:value` (letters, digits and . _ + -).
    #[arg(short = 't', long = "tag", value_name = "TAG", num_args = 1..)]
    pub tags: Vec<String>,
    /// Task group (only the active group is scheduled; see docs).
    #[arg(short = 'g', long, value_name = "N")]
    pub group: Option<i64>,
    #[arg(help = key::TASK_CORES.help("Cores each task needs (0 = unset)"))]
    #[arg(short = 'c', long, value_name = "N")]
    pub cores: Option<i64>,
    #[arg(help = key::TASK_MEMORY.help("Memory each task needs, e.g. 8G, 512MB (0 = unset)"))]
    #[arg(short = 'm', long, value_name = "SIZE", value_parser = size_bytes)]
    pub memory: Option<i64>,
    #[arg(help = key::TASK_TIMEOUT.help("Walltime of each task in seconds (0 = unset)"))]
    #[arg(short = 'W', long = "timeout", value_name = "SECONDS")]
    pub timeout: Option<i64>,
}

#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// A command (its words joined), `-` for stdin, or an existing task file. Nothing = stdin.
    /// Options may come before or after; put a command with options of its own after `--`:
    /// `hs submit -t x -- ls -l`.
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    /// Read tasks from this file (`-` = stdin).
    #[arg(
        short = 'f',
        long = "task-file",
        value_name = "FILE",
        conflicts_with = "args"
    )]
    pub task_file: Option<PathBuf>,
    /// Tasks from JSON objects (an array, or one per line): keys fill `{key}` in --template and
    /// become tags; `args` is `{}`. A field missing from any object stops everything.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["args", "task_file"])]
    pub from_json: Option<PathBuf>,
    /// Submit-side template applied to each line before it is stored (see docs/templates.md).
    #[arg(long, value_name = "TEMPLATE", default_value = "{}")]
    pub template: String,
    #[command(flatten)]
    pub settings: TaskSettingArgs,
    #[arg(help = key::SUBMIT_BUNDLESIZE.help("Tasks per database transaction"))]
    #[arg(short = 'b', long, value_name = "NUM")]
    pub bundlesize: Option<usize>,
    /// Accepted for HyperShell: hs commits a bundle as soon as the input has no more lines
    /// ready, so nothing waits for this many seconds.
    #[arg(short = 'w', long, value_name = "SECONDS", value_parser = non_negative_secs)]
    pub bundlewait: Option<f64>,
    /// Create the database tables first.
    #[arg(long, conflicts_with = "queue")]
    pub initdb: bool,
    /// Send the tasks to a running controller (`hs server` on -H/-p) instead of the database:
    /// it stores and schedules them (in memory when it runs with --no-db).
    #[arg(short = 'q', long, conflicts_with_all = ["profile", "file"])]
    pub queue: bool,
    #[arg(help = key::SERVER_HOST.help("With -q: host of the controller"))]
    #[arg(short = 'H', long, value_name = "ADDR", requires = "queue")]
    pub host: Option<String>,
    #[arg(help = key::SERVER_PORT.help("With -q: the controller's port (its -p)"))]
    #[arg(short = 'p', long, value_name = "PORT", requires = "queue")]
    pub port: Option<u16>,
    /// With -q: the controller's key; without it a local controller's connection file is used
    /// [config: client.auth, else server.auth].
    #[arg(short = 'k', long = "auth", value_name = "KEY", requires = "queue")]
    pub auth: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the id of a single submitted task on stdout (`hs task submit`).
    #[arg(skip)]
    pub print_id: bool,
}

/// Which tasks a command applies to.
#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Conditions, ANDed: `FIELD OP VALUE` with OP one of == != < <= > >= ~ (regex).
    #[arg(short = 'w', long = "where", value_name = "COND", num_args = 1..)]
    pub conditions: Vec<String>,
    /// Tasks with these tags (`key` or `key:value`), ANDed.
    #[arg(short = 't', long = "with-tag", value_name = "TAG", num_args = 1..)]
    pub tags: Vec<String>,
    /// Only tasks of this group.
    #[arg(short = 'g', long, value_name = "N")]
    pub group: Option<i64>,
    /// Failed tasks (exit_status != 0).
    #[arg(short = 'F', long)]
    pub failed: bool,
    /// Tasks that succeeded.
    #[arg(short = 'S', long)]
    pub succeeded: bool,
    /// Tasks that finished (any status).
    #[arg(short = 'C', long, visible_alias = "finished")]
    pub completed: bool,
    /// Tasks not finished yet.
    #[arg(short = 'R', long)]
    pub remaining: bool,
    /// Tasks that are retries of others.
    #[arg(long)]
    pub retries: bool,
    /// Order by this field.
    #[arg(short = 's', long = "order-by", value_name = "FIELD")]
    pub order_by: Option<String>,
    /// Descending order (with --order-by; alone it changes nothing, as in HyperShell).
    #[arg(long)]
    pub desc: bool,
    /// At most this many tasks.
    #[arg(short = 'l', long, value_name = "N")]
    pub limit: Option<u64>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Fields to show (default: all, as one block per task).
    #[arg(value_name = "FIELD")]
    pub fields: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Only print how many tasks match.
    #[arg(short = 'c', long)]
    pub count: bool,
    /// Output format.
    #[arg(short = 'f', long, value_name = "FORMAT", value_parser = ["normal", "plain", "table", "csv", "json"])]
    pub format: Option<String>,
    /// Same as --format json.
    #[arg(long, conflicts_with_all = ["format", "csv"])]
    pub json: bool,
    /// Same as --format csv.
    #[arg(long, conflicts_with = "format")]
    pub csv: bool,
    /// Field separator for plain and csv.
    #[arg(short = 'd', long, value_name = "TEXT")]
    pub delimiter: Option<String>,
    /// List the field names and exit.
    #[arg(long = "fields")]
    pub fields_list: bool,
    /// List the distinct tag keys.
    #[arg(long)]
    pub tag_keys: bool,
    /// List the distinct values of one tag.
    #[arg(long, value_name = "KEY")]
    pub tag_values: Option<String>,
    /// Read the SQLite database alone, not the `main.N` partitions `hs initdb --rotate` made
    /// beside it.
    #[arg(short = 'i', long)]
    pub ignore_partitions: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Changes: `field=value` or `tagkey:value`; or, as in HyperShell, `ID FIELD VALUE`.
    #[arg(value_name = "ARG")]
    pub changes: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Cancel the tasks (they are never scheduled or retried).
    #[arg(long, conflicts_with_all = ["revert", "delete"])]
    pub cancel: bool,
    /// Reset the tasks so they run again.
    #[arg(long, conflicts_with = "delete")]
    pub revert: bool,
    /// Delete the tasks.
    #[arg(long)]
    pub delete: bool,
    /// Remove these tags.
    #[arg(long = "remove-tag", value_name = "KEY", num_args = 1..)]
    pub remove_tags: Vec<String>,
    /// Do not ask for confirmation.
    #[arg(short = 'f', long = "no-confirm", visible_alias = "yes")]
    pub no_confirm: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The task id.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Print only this field.
    #[arg(short = 'x', long = "extract", value_name = "FIELD", conflicts_with_all = ["stdout", "stderr"])]
    pub extract: Option<String>,
    /// Print the task's captured stdout.
    #[arg(long, conflicts_with = "stderr")]
    pub stdout: bool,
    /// Print the task's captured stderr.
    #[arg(long, conflicts_with = "perf")]
    pub stderr: bool,
    /// Print the task's resource samples (CSV, from engines run with --monitor).
    #[arg(long, conflicts_with_all = ["extract", "stdout"])]
    pub perf: bool,
    #[command(flatten)]
    pub format: InfoFormatArgs,
    /// Read the SQLite database alone, not the `main.N` partitions `hs initdb --rotate` made
    /// beside it.
    #[arg(short = 'i', long)]
    pub ignore_partitions: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// How `hs info` and `hs wait --info` print a task.
#[derive(Args, Debug, Clone, Default)]
pub struct InfoFormatArgs {
    /// Output format.
    #[arg(short = 'f', long, value_name = "FORMAT", value_parser = ["normal", "json", "yaml"])]
    pub format: Option<String>,
    /// Same as --format json.
    #[arg(long, conflicts_with_all = ["format", "yaml"])]
    pub json: bool,
    /// Same as --format yaml.
    #[arg(long, conflicts_with = "format")]
    pub yaml: bool,
}

impl InfoFormatArgs {
    /// The chosen format: `normal`, `json` or `yaml`.
    pub fn name(&self) -> &str {
        if self.json {
            "json"
        } else if self.yaml {
            "yaml"
        } else {
            self.format.as_deref().unwrap_or("normal")
        }
    }
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    /// The task id.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Seconds between checks.
    #[arg(short = 'n', long, default_value_t = 1.0, value_name = "SECONDS", value_parser = positive_secs)]
    pub interval: f64,
    /// Exit with the task's own exit status.
    #[arg(short = 'r', long = "return", conflicts_with_all = ["info", "status"])]
    pub return_status: bool,
    /// Then print the task, as `hs info` does.
    #[arg(short = 'i', long, conflicts_with = "status")]
    pub info: bool,
    /// Then print the task's exit status.
    #[arg(short = 's', long)]
    pub status: bool,
    #[command(flatten)]
    pub format: InfoFormatArgs,
    /// Give up after this many seconds (exit 5).
    #[arg(short = 'T', long, value_name = "SECONDS", value_parser = positive_secs)]
    pub timeout: Option<f64>,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Args, Debug)]
pub struct RunTaskArgs {
    /// The command; put it after `--` when it has options of its own: `hs run -- ls -l`.
    #[arg(value_name = "ARGS", required = true)]
    pub args: Vec<String>,
    /// Seconds between checks.
    #[arg(short = 'n', long, default_value_t = 0.5, value_name = "SECONDS", value_parser = positive_secs)]
    pub interval: f64,
    #[command(flatten)]
    pub settings: TaskSettingArgs,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Args, Debug)]
pub struct InitdbArgs {
    /// Drop and recreate the tables (deletes every task).
    #[arg(short = 't', long, conflicts_with_all = ["vacuum", "backup", "rotate"])]
    pub truncate: bool,
    /// Reclaim space.
    #[arg(short = 'v', long, conflicts_with_all = ["backup", "rotate"])]
    pub vacuum: bool,
    /// Copy the database to PATH (SQLite; PATH must not exist).
    #[arg(short = 'b', long, value_name = "PATH", conflicts_with = "rotate")]
    pub backup: Option<PathBuf>,
    /// Move the finished tasks into the next partition file `main.N` beside the database,
    /// tagged `part:N` (SQLite only; safe while a controller serves).
    #[arg(short = 'r', long)]
    pub rotate: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
}

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

#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// File with one command (or template argument) per line; stdin when absent or `-`.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub slots: SlotArgs,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub bundle: BundleArgs,

    /// Write the line of every failed task to this file (`-` = stdout).
    #[arg(short = 'f', long, alias = "failed", value_name = "PATH")]
    pub failures: Option<PathBuf>,

    #[command(flatten)]
    pub fail_exit: FailExitArgs,

    #[arg(help = key::CLIENT_TIMEOUT.help(
        "Stop after this many seconds with no task waiting or running (0 = never)"
    ))]
    #[arg(short = 'T', long = "timeout", value_name = "SECONDS", value_parser = positive_secs)]
    pub idle_timeout: Option<f64>,

    /// Keep running after the input ends and run what `hs submit` adds to the database (also
    /// tasks left from earlier runs); stop with Ctrl-C or SIGUSR1.
    #[arg(long, conflicts_with_all = ["restart", "no_db", "from_json"])]
    pub forever: bool,

    #[arg(help = key::TASK_CORES.help("Cores each task needs, stored with the task (0 = unset)"))]
    #[arg(short = 'c', long, value_name = "NUM")]
    pub cores: Option<i64>,

    #[arg(help = key::TASK_MEMORY.help(
        "Memory each task needs, e.g. 8G, stored with the task (0 = unset)"
    ))]
    #[arg(short = 'm', long, value_name = "SIZE", value_parser = size_bytes)]
    pub memory: Option<i64>,

    #[command(flatten)]
    pub capacity: CapacityArgs,

    #[command(flatten)]
    pub poll: PollArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub tls: TlsArgs,

    /// Tasks from JSON objects (an array, or one per line): keys fill `{key}` in -t and become
    /// tags; `args` is `{}`. A field missing from any object stops everything before it starts.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["file", "restart"])]
    pub from_json: Option<PathBuf>,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Also accept engines on localhost: PORT (engines), PORT+1 (heartbeats), PORT+2 (clients);
    /// a connection file for `hs client -p PORT` is written under the site directory.
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,

    #[command(flatten)]
    pub heartbeat: HeartbeatArgs,

    #[command(flatten)]
    pub launch: LaunchArgs,

    /// More log detail (debug level).
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Most log detail (trace level).
    #[arg(long)]
    pub debug: bool,
}

/// Engines outside this process: over ssh, with mpirun, with any launcher, or autoscaled.
#[derive(Args, Debug, Clone, Default)]
pub struct LaunchArgs {
    /// Run engines on these hosts over ssh, one session per host: a host list such as
    /// `h[1-3]`, `a[00-04].x,b[02,05].y`. Without a value: the hosts of `ssh.nodelist`
    /// (a list or a pattern) or of --nodefile.
    #[arg(long, value_name = "HOSTS", num_args = 0..=1, default_missing_value = "",
          conflicts_with_all = ["mpi", "launcher", "autoscaling"])]
    pub ssh: Option<String>,

    /// Run engines on the hosts of this named list in `[ssh.nodelist]`.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["mpi", "launcher", "autoscaling"])]
    pub ssh_group: Option<String>,

    #[arg(help = key::SSH_ARGS.help(
        "Options for every ssh connection, e.g. \"-F ~/.ssh/cluster -o ConnectTimeout=5\""
    ))]
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub ssh_args: Option<String>,

    /// With --ssh: send this process's HYPERSHELL_* variables to the engines.
    #[arg(short = 'E', long)]
    pub env: bool,

    /// hs on the engines' hosts [default: this hs's own path].
    #[arg(long, value_name = "PATH")]
    pub remote_exe: Option<String>,

    /// Run engines as the ranks of one mpirun (-N slots each); with --nodefile as its hostfile.
    #[arg(long, conflicts_with_all = ["launcher", "autoscaling"])]
    pub mpi: bool,

    /// Hosts file (`host [slots]` lines): the hostfile of --mpi, the hosts of a bare --ssh.
    #[arg(long, value_name = "PATH")]
    pub nodefile: Option<PathBuf>,

    /// Start engines with this command followed by the engine command line, e.g.
    /// 'srun --ntasks=3'; the command decides how many engines start.
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub launcher: Option<String>,

    /// Engines wait this many seconds before connecting; negative = a random wait up to
    /// |SECONDS| (spreads the registration of a large launch).
    #[arg(
        short = 'd',
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = delay_secs
    )]
    pub delay_start: Option<f64>,

    #[arg(help = key::SERVER_BIND.help(
        "Address the controller listens on for launched engines; they must be able to reach it"
    ))]
    #[arg(short = 'H', long, value_name = "ADDRESS")]
    pub bind: Option<String>,

    #[arg(help = key::AUTOSCALE_POLICY.help(&format!(
        "Start and add engines as the work needs them (local processes, or one run of \
         --launcher, else of the {} command prefix, each): fixed or dynamic; engines leave by -T",
        key::AUTOSCALE_LAUNCHER
    )))]
    #[arg(short = 'A', long, value_name = "POLICY", num_args = 0..=1, default_missing_value = "",
          value_parser = ["", "fixed", "dynamic"])]
    pub autoscaling: Option<String>,

    #[arg(help = key::AUTOSCALE_FACTOR.help(
        "Autoscaling: add an engine while the work left would take more than FACTOR average \
         task durations"
    ))]
    #[arg(short = 'F', long, value_name = "FACTOR", requires = "autoscaling")]
    pub factor: Option<f64>,

    #[arg(help = key::AUTOSCALE_PERIOD.help("Autoscaling: seconds between decisions"))]
    #[arg(short = 'P', long, value_name = "SECONDS", requires = "autoscaling",
          value_parser = positive_secs)]
    pub period: Option<f64>,

    #[arg(help = key::AUTOSCALE_SIZE_INIT.help("Autoscaling: engines at the start"))]
    #[arg(short = 'I', long, value_name = "N", requires = "autoscaling")]
    pub init_size: Option<u32>,

    #[arg(help = key::AUTOSCALE_SIZE_MIN.help("Autoscaling: fewest engines kept"))]
    #[arg(short = 'X', long, value_name = "N", requires = "autoscaling")]
    pub min_size: Option<u32>,

    #[arg(help = key::AUTOSCALE_SIZE_MAX.help("Autoscaling: most engines (dynamic)"))]
    #[arg(short = 'Y', long, value_name = "N", requires = "autoscaling")]
    pub max_size: Option<u32>,
}

/// Bundling of tasks and results.
#[derive(Args, Debug, Clone)]
pub struct BundleArgs {
    #[arg(help = format!(
        "Most tasks per bundle sent to an engine; 0 = as many as it has room for (1 per slot \
         for long tasks, up to 64 per slot for tasks of a few ms); an engine also sends its \
         results in bundles of this size (0 = half of what it holds) [default: {}, config: {} \
         for the controller, {} for the engine; used only when set]",
        key::SERVER_BUNDLESIZE.fallback().shown(),
        key::SERVER_BUNDLESIZE,
        key::CLIENT_BUNDLESIZE
    ))]
    #[arg(short = 'b', long, value_name = "NUM")]
    pub bundlesize: Option<usize>,

    #[arg(help = format!(
        "Seconds an engine may hold finished results to send them together (0 = send at once; \
         results go at once anyway when its queue runs dry or nothing else runs) [default: \
         0.05, config: {}; used only when set]",
        key::CLIENT_BUNDLEWAIT
    ))]
    #[arg(short = 'w', long, value_name = "SECONDS", value_parser = non_negative_secs)]
    pub bundlewait: Option<f64>,
}

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// File with one task per line; stdin when absent or `-` (not read with --forever or
    /// --restart and no FILE).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[arg(help = key::SERVER_BIND.help("Address to listen on. Anything but localhost needs a key (-k)"))]
    #[arg(short = 'H', long = "bind", value_name = "ADDRESS")]
    pub bind: Option<String>,

    #[arg(help = key::SERVER_PORT.help("Engine port; heartbeats use PORT+1 and clients PORT+2"))]
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Shared key (at least 16 characters). Without it a key is generated and written to a
    /// connection file (mode 0600) that local engines find by themselves
    /// [config: server.auth, env: HYPERSHELL_SERVER_AUTH].
    #[arg(short = 'k', long = "auth", alias = "authkey", value_name = "KEY")]
    pub auth: Option<String>,

    #[command(flatten)]
    pub bundle: BundleArgs,

    /// Write failed task lines here (`-` = stdout, the default).
    #[arg(
        short = 'f',
        long,
        alias = "output",
        value_name = "PATH",
        conflicts_with = "print"
    )]
    pub failures: Option<PathBuf>,

    /// Write failed task lines to stdout (what hs does without -f).
    #[arg(long)]
    pub print: bool,

    #[command(flatten)]
    pub fail_exit: FailExitArgs,

    /// Keep serving after the input ends (clients may submit more).
    #[arg(long, conflicts_with = "restart")]
    pub forever: bool,

    #[arg(help = key::TASK_CORES.help("Cores each task of FILE needs, stored with the task (0 = unset)"))]
    #[arg(short = 'c', long = "task-cores", value_name = "NUM")]
    pub cores: Option<i64>,

    #[arg(help = key::TASK_MEMORY.help(
        "Memory each task of FILE needs, e.g. 8G, stored with the task (0 = unset)"
    ))]
    #[arg(short = 'm', long = "task-memory", value_name = "SIZE", value_parser = size_bytes)]
    pub memory: Option<i64>,

    #[arg(help = key::TASK_TIMEOUT.help(
        "Walltime of each task of FILE in seconds, stored with the task (engines stop it then; \
         0 = unset)"
    ))]
    #[arg(short = 'W', long = "task-timeout", value_name = "SECONDS", value_parser = positive_secs)]
    pub task_timeout: Option<f64>,

    #[command(flatten)]
    pub poll: PollArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub tls: TlsArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub heartbeat: HeartbeatArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Args, Debug)]
pub struct ClientArgs {
    #[arg(help = key::SERVER_HOST.help("Host of the server"))]
    #[arg(short = 'H', long, value_name = "HOST")]
    pub host: Option<String>,

    #[arg(help = key::SERVER_PORT.help("The server's port (its -p)"))]
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,

    /// The server's key. Without it, the connection file of a local server on PORT is used
    /// [config: client.auth, else server.auth; env: HYPERSHELL_CLIENT_AUTH].
    #[arg(short = 'k', long = "auth", alias = "authkey", value_name = "KEY")]
    pub auth: Option<String>,

    /// Connection file to use (address, ports and key), e.g. one copied from the server's host;
    /// `-` reads it as one line from stdin, and the engine then stops when stdin ends (how
    /// launchers start engines without putting the key on a command line).
    #[arg(long = "file", value_name = "PATH", conflicts_with = "auth")]
    pub connection_file: Option<PathBuf>,

    /// Join the running cluster of this profile (its security/hs-engine.json).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["auth", "connection_file", "host", "port"])]
    pub profile: Option<String>,

    #[command(flatten)]
    pub slots: SlotArgs,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub bundle: BundleArgs,

    #[arg(help = key::CLIENT_TIMEOUT.help("Leave after this many seconds with nothing to do (0 = never)"))]
    #[arg(short = 'T', short_alias = 'x', long = "timeout", value_name = "SECONDS",
          value_parser = positive_secs)]
    pub idle_timeout: Option<f64>,

    #[command(flatten)]
    pub capacity: CapacityArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub tls: TlsArgs,

    /// Wait this many seconds before connecting; negative = a random wait up to |SECONDS|.
    #[arg(
        short = 'd',
        long = "delay-start",
        default_value_t = 0.0,
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = delay_secs
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

/// A number of seconds that `accept` allows and a `Duration` can hold: a larger one (`inf`,
/// `1e300`) would end the command with a panic where it becomes a `Duration`, not a usage error.
pub(crate) fn seconds(s: &str, accept: fn(f64) -> bool, expected: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if accept(v) && std::time::Duration::try_from_secs_f64(v.abs()).is_ok() => Ok(v),
        _ => Err(format!("expected {expected}, got {s:?}")),
    }
}

fn positive_secs(s: &str) -> Result<f64, String> {
    seconds(s, |v| v > 0.0, "a positive number of seconds")
}

fn non_negative_secs(s: &str) -> Result<f64, String> {
    seconds(s, |v| v >= 0.0, "a number of seconds (0 or more)")
}

/// `--delay-start`: any sign, since a negative value asks for a random wait up to its size.
fn delay_secs(s: &str) -> Result<f64, String> {
    seconds(
        s,
        |_| true,
        "a number of seconds (negative = a random wait up to |SECONDS|)",
    )
}

#[derive(Args, Debug)]
pub struct StreamArgs {
    #[command(flatten)]
    pub slots: SlotArgs,

    /// Run the jobs on a running controller (`hs server`, `hs start`) through its connection
    /// file (or a directory holding it) instead of a cluster inside this process; its engines'
    /// settings then apply, not -N, -t, -W, -S, -o, -e or --capture.
    #[arg(
        long = "file",
        value_name = "CONN.json",
        conflicts_with_all = [
            "num_threads", "template", "task_timeout", "signalwait", "executor", "capture", "output",
            "errors", "bundlesize", "bundlewait", "heartrate", "evict", "host_wait",
        ]
    )]
    pub connection_file: Option<PathBuf>,

    /// Run the jobs on the running cluster of this profile (its security/hs-client.json); as
    /// with --file, its engines' settings apply.
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with_all = [
            "connection_file", "num_threads", "template", "task_timeout", "signalwait", "executor", "capture",
            "output", "errors", "bundlesize", "bundlewait", "heartrate", "evict", "host_wait",
        ]
    )]
    pub profile: Option<String>,

    /// Write results in input order (default: as jobs finish).
    #[arg(long)]
    pub keep_order: bool,

    #[arg(help = key::SERVER_HOSTWAIT.help(
        "Seconds a job with a \"host\" waits for an engine on one of its hosts before it fails \
         without running (0: at once)"
    ))]
    #[arg(long = "host-wait", value_name = "SECONDS", value_parser = non_negative_secs)]
    pub host_wait: Option<f64>,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub bundle: BundleArgs,

    #[command(flatten)]
    pub heartbeat: HeartbeatArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_parsers_refuse_what_no_duration_holds() {
        for bad in ["inf", "-inf", "NaN", "1e300", "-1e300", "x", ""] {
            assert!(delay_secs(bad).is_err(), "{bad}");
            assert!(positive_secs(bad).is_err(), "{bad}");
            assert!(non_negative_secs(bad).is_err(), "{bad}");
        }
        assert_eq!(delay_secs("-3"), Ok(-3.0), "negative = a random wait");
        assert_eq!(delay_secs("0"), Ok(0.0));
        assert_eq!(delay_secs("2.5"), Ok(2.5));
        assert!(positive_secs("0").is_err());
        assert_eq!(non_negative_secs("0"), Ok(0.0));
        assert!(non_negative_secs("-1").is_err());
    }

    /// `--fail-exit` is hs's own: off unless given (HyperShell's exit 0), on `cluster` and
    /// `server` only.
    #[test]
    fn fail_exit_is_off_unless_given_and_only_on_controllers() {
        let fail_exit = |line: &str| match Cli::try_parse_from(line.split(' ')).map(|c| c.command) {
            Ok(Some(Command::Cluster(a))) => Some(a.fail_exit.fail_exit),
            Ok(Some(Command::Server(a))) => Some(a.fail_exit.fail_exit),
            _ => None,
        };
        assert_eq!(fail_exit("hs cluster tasks.in -N16"), Some(false));
        assert_eq!(
            fail_exit("hs cluster tasks.in -N16 --fail-exit"),
            Some(true)
        );
        assert_eq!(fail_exit("hs server tasks.in"), Some(false));
        assert_eq!(fail_exit("hs server --fail-exit tasks.in"), Some(true));
        assert!(Cli::try_parse_from(["hs", "client", "--fail-exit"]).is_err());
        assert!(Cli::try_parse_from(["hs", "stream", "--fail-exit"]).is_err());
    }
}
