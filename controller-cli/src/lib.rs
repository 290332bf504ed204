//! The `hs` and `hsx` commands: argument parsing, site directories, connection files, logging,
//! input reading and result reporting. The work itself happens in `hs-broker` and `hs-engine`.

mod cli;
mod commands;
mod config;
mod connection;
mod database;
mod directives;
mod exit;
mod from_json;
#[doc(hidden)]
pub mod fuzzing;
mod input;
mod key_file;
mod launch;
mod live;
mod logging;
mod output;
mod profile;
mod progress;
mod query;
mod report;
mod resume;
mod signals;
mod site;
mod stream;
mod submit_shell;
mod target;
mod unrecorded;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

pub use exit::Status;

/// The program name a link to hs was started under: `hsx` is `hs cluster`, `hyper-shell` (the
/// name HyperShell's guides use) is `hs`. One binary serves all three names.
pub fn main_from_env() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let called = args
        .first()
        .map(|a| {
            std::path::Path::new(a)
                .file_name()
                .unwrap_or(a.as_os_str())
                .to_os_string()
        })
        .unwrap_or_default();
    if called == "hsx" {
        args.insert(1, "cluster".into());
        args[0] = "hs".into();
    } else if called == "hyper-shell" {
        args[0] = "hyper-shell".into();
    } else {
        args[0] = "hs".into();
    }
    main_with(args)
}

/// Parse `args` (program name first) and run the command; never panics out to the caller.
pub fn main_with(args: Vec<OsString>) -> ExitCode {
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Status::Ok.into()
                }
                // `hs`, `hs info` with nothing after them: the usage, exit 1, as HyperShell.
                clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    Status::TasksFailed.into()
                }
                _ => Status::Usage.into(),
            };
        }
    };
    let outcome = std::panic::catch_unwind(|| dispatch(cli));
    match outcome {
        Ok(Ok(status)) => status.into(),
        Ok(Err(err)) if exit::is_broken_pipe(&err) => Status::Ok.into(),
        Ok(Err(err)) => {
            progress::finish();
            eprintln!("hs: error: {err:#}");
            exit::status_of(&err).into()
        }
        Err(_) => {
            eprintln!(
                "hs: internal error (a bug in hs): please report it with the command you ran"
            );
            Status::Internal.into()
        }
    }
}

fn dispatch(cli: cli::Cli) -> anyhow::Result<Status> {
    use cli::Command;
    if cli.citation {
        print!("{}", commands::about::CITATION);
        return Ok(Status::Ok);
    }
    // Commands about hs itself need no configuration: a broken file must not stop them.
    let cli = match cli.command {
        Some(Command::Task(a)) => match a.into_inner() {
            cli::TaskArgs {
                action: Some(action),
                ..
            } => action.into_command(),
            a => return commands::about::task_without_action(&a),
        },
        Some(Command::Completions(a)) => return commands::about::completions(&a),
        Some(Command::Manpages(a)) => return commands::about::manpages(&a),
        Some(command) => command,
        // `arg_required_else_help` prints the usage before this.
        None => return Err(exit::Failure::usage("a command is needed: see hs --help")),
    };
    let (component, verbose, debug) = match &cli {
        Command::Cluster(a) => ("cluster", a.verbose, a.debug),
        Command::Server(a) => ("server", a.log.verbose, a.log.debug),
        Command::Client(a) => ("client", a.verbose, a.debug),
        Command::Submit(_) => ("submit", false, false),
        Command::Stream(a) => ("stream", a.log.verbose, a.log.debug),
        Command::Start(a) => ("controller", a.log.verbose, a.log.debug),
        Command::Config(_) => ("config", false, false),
        _ => ("main", false, false),
    };
    // Loaded once, before the logger: the configuration decides the log level and style.
    // `hs config` reads the files itself and must work with a broken file or a bad logging
    // key, since it is how they get shown and fixed: it falls back to what works.
    let is_config = matches!(cli, Command::Config(_));
    let ctx = target::config_context(&cli)?;
    let cfg = match config::Config::load_with(ctx) {
        Ok(cfg) => cfg,
        Err(_) if is_config => config::Config::without_files(config::Context::from_process()),
        Err(e) => return Err(exit::Failure::from(e).into()),
    };
    match logging::init(component, verbose, debug, &cfg) {
        Ok(()) => {}
        Err(_) if is_config => {
            let defaults = config::Config::defaults_only(config::Context::from_process());
            logging::init(component, verbose, debug, &defaults)?;
        }
        Err(e) => return Err(e.into()),
    }
    if !is_config {
        // `hs config` loads again and reports on its own.
        cfg.log_notes();
    }
    match cli {
        Command::Cluster(a) => commands::cluster::run(*a.into_inner(), &cfg),
        Command::Server(a) => commands::server::run(a.into_inner(), &cfg),
        Command::Client(a) => commands::client::run(a.into_inner(), &cfg),
        Command::Stream(a) => commands::stream::run(a.into_inner(), &cfg),
        Command::Submit(a) => commands::submit::run(a.into_inner(), &cfg),
        Command::Initdb(a) => commands::initdb::run(a.into_inner(), &cfg),
        Command::Config(a) => config::command::run(a.into_inner()),
        Command::List(a) => commands::list::run(a.into_inner(), &cfg),
        Command::Update(a) => commands::update::run(a.into_inner(), &cfg),
        Command::Info(a) => commands::info::run(a.into_inner(), &cfg),
        Command::Wait(a) => commands::wait::run(a.into_inner(), &cfg),
        Command::Run(a) => commands::run_task::run(a.into_inner(), &cfg),
        Command::Profile(a) => commands::profile::run(a.into_inner()),
        Command::Key(a) => commands::key::run(&a),
        Command::Start(a) => commands::start::run(a.into_inner(), &cfg),
        Command::Stop(a) => commands::stop::run(a.into_inner()),
        Command::Status(a) => commands::status::run(a.into_inner(), &cfg),
        Command::Top(a) => commands::top::run(a.into_inner(), &cfg),
        Command::Task(_) | Command::Completions(_) | Command::Manpages(_) => Err(exit::Failure {
            status: Status::Internal,
            message: "answered before the configuration is loaded".into(),
        }
        .into()),
    }
}
