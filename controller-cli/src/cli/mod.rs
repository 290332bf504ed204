//! Command-line definitions (clap derive). Each subcommand's behaviour lives in `commands/`.

mod cluster;
mod compat;
mod deferred;
#[cfg(test)]
mod parity_tests;
mod profile;
mod server;
mod shared;
mod tasks;

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::config::key;

pub use cluster::*;
pub use compat::{CapacityArgs, ConfirmArgs, GpuList, TlsArgs, size_bytes};
pub use deferred::{Deferred, whole_command};
pub use profile::*;
pub use server::*;
pub use shared::*;
pub use tasks::*;

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

const TOP_HELP: &str = "\
What it shows, updated every --interval seconds:
  Tasks     waiting (in the controller, or given to it and still in the store), running, done,
            failed; how many finished in the last minute (the rate) and the time left at that
            rate (ETA)
  Engines   how many, their slots and how many are busy; one row per engine, busiest first
            (host, slots, busy, done, seconds since it was last heard): the busiest 50
  Failures  the most recent failed tasks: when, exit status, host, command line

Which controller:
  hs top --profile mezcal       a profile's running cluster (hs start --profile mezcal)
  hs top                        the local hs server on the configured port (server.port)
  hs top -p 50001               the local hs server or hs cluster -p 50001
  hs top -H node7 -p 50001 --key-file ~/.hs/key    a controller on another host
  hs top --file lib/security/server-50001.json     the controller a connection file names

Keys: q, Esc or Ctrl-C quit (the terminal is restored). Works in 80x24 and over ssh.
For scripts: hs top --json (the same snapshot once, as hs status --json).

Exit status: 0 quit, 2 bad arguments or not a terminal (use --json), 5 the controller cannot be
reached at the start, 7 wrong key, 11 the profile is not running.";

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
    Cluster(Deferred<Box<ClusterArgs>>),
    /// Serve tasks to engines (hs client) on this and other hosts; failed lines go to stdout.
    #[command(visible_alias = "controller", after_help = EXIT_CODES)]
    Server(Deferred<ServerArgs>),
    /// Run an engine: connect to a server, take tasks, run them, report back.
    #[command(visible_alias = "engine", after_help = EXIT_CODES)]
    Client(Deferred<ClientArgs>),
    /// JSON jobs in (one per line on stdin), JSON results out (one per line on stdout).
    #[command(after_help = EXIT_CODES)]
    Stream(Deferred<StreamArgs>),
    /// Add tasks to the database (a running `hs server --forever` picks them up).
    #[command(after_help = EXIT_CODES)]
    Submit(Deferred<SubmitArgs>),
    /// Search tasks: `hs list -w 'exit_status != 0' args exit_status`.
    #[command(after_help = EXIT_CODES)]
    List(Deferred<ListArgs>),
    /// Change tasks: `hs update -w 'exit_status != 0' --revert`, `hs update ID tag:value`.
    #[command(after_help = EXIT_CODES)]
    Update(Deferred<UpdateArgs>),
    /// Show one task: `hs info ID`, `hs info ID -x exit_status`, `hs info ID --stdout`.
    #[command(after_help = EXIT_CODES, arg_required_else_help = true)]
    Info(Deferred<InfoArgs>),
    /// Wait until a task has finished.
    #[command(after_help = EXIT_CODES, arg_required_else_help = true)]
    Wait(Deferred<WaitArgs>),
    /// Submit one task, wait for it, print its output (needs a server with engines using --capture).
    #[command(after_help = EXIT_CODES, arg_required_else_help = true)]
    Run(Deferred<RunTaskArgs>),
    /// Create (or truncate, vacuum, back up, rotate) the database.
    #[command(after_help = EXIT_CODES)]
    Initdb(Deferred<InitdbArgs>),
    /// Show and change configuration files (see docs/config.md).
    #[command(after_help = EXIT_CODES)]
    Config(Deferred<crate::config::command::ConfigArgs>),
    /// Make a shared key for hs server and its engines (printed, or written to a private file
    /// or your config), or check one: `hs key -o ~/.hypershell/key`.
    #[command(after_help = EXIT_CODES)]
    Key(Deferred<KeyArgs>),
    /// Create, list and show profiles: folders that say how a cluster starts (docs/profiles.md).
    #[command(after_help = EXIT_CODES)]
    Profile(Deferred<ProfileArgs>),
    /// Start a profile's controller and engines: `hs start --profile=mezcal --daemonize`.
    #[command(after_help = EXIT_CODES)]
    Start(Deferred<StartArgs>),
    /// Stop a profile's cluster: its controller and every engine it started.
    #[command(after_help = EXIT_CODES)]
    Stop(Deferred<StopArgs>),
    /// Show a running controller's engines (host, slots, busy, done, last heartbeat), task
    /// counts, rate and recent failures, once: `hs status --profile P`, `hs status -p PORT`.
    #[command(after_help = EXIT_CODES)]
    Status(Deferred<StatusArgs>),
    /// A live, full-screen view of a running controller (also `hs status --watch`); q quits.
    #[command(after_help = TOP_HELP)]
    Top(Deferred<TopArgs>),
    /// HyperShell's older task commands: `hs task submit|info|wait|run|search|update`.
    #[command(after_help = EXIT_CODES)]
    Task(Deferred<TaskArgs>),
    /// Print a shell completion script (scripts/install writes them for hs, hsx and hyper-shell).
    Completions(Deferred<CompletionsArgs>),
    /// Write the manual pages (hs.1, hsx.1, hyper-shell.1 and one per subcommand) into DIR.
    Manpages(Deferred<ManpagesArgs>),
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
            TaskAction::Submit(a) => Command::Submit(
                SubmitArgs {
                    print_id: true,
                    ..a
                }
                .into(),
            ),
            TaskAction::Info(a) => Command::Info(a.into()),
            TaskAction::Wait(a) => Command::Wait(a.into()),
            TaskAction::Run(a) => Command::Run(a.into()),
            TaskAction::Search(a) => Command::List(a.into()),
            TaskAction::Update(a) => Command::Update(a.into()),
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
            Command::Status(a) => return a.target.profile.as_deref(),
            Command::Top(a) => return a.target.profile.as_deref(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_parsers_refuse_what_no_duration_holds() {
        for bad in [
            "inf",
            "-inf",
            "NaN",
            "1e300",
            "-1e300",
            "1e19",
            "-1e19",
            "1000000001",
            "x",
            "",
        ] {
            assert!(delay_secs(bad).is_err(), "{bad}");
            assert!(positive_secs(bad).is_err(), "{bad}");
            assert!(non_negative_secs(bad).is_err(), "{bad}");
        }
        assert_eq!(delay_secs("-3"), Ok(-3.0), "negative = a random wait");
        assert_eq!(delay_secs("0"), Ok(0.0));
        assert_eq!(delay_secs("2.5"), Ok(2.5));
        assert_eq!(positive_secs("1e9"), Ok(1e9), "the limit itself is allowed");
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
