//! hs-swarm: thousands of simulated engines against a real `hs server`, measured.
//!
//! The driver starts the controller (`hs server - --no-db` on 127.0.0.1) and a few worker
//! processes of this same binary, each holding a share of the engines (a DEALER and a SUB
//! each, in one ZeroMQ context per process). Engines speak the real hs/1 protocol through
//! `hs_protocol::protocol` (see `wire.rs`): they register, answer pings, and answer every task at
//! once with exit status 0. Once all are registered the driver feeds the task lines; the run
//! ends when the controller, its work done, has drained the engines and exited. It prints one
//! table row per swarm size. Everything stays on 127.0.0.1 and every wait is bounded.

mod controller;
mod ctx;
mod drive;
mod engine;
mod epoll;
mod report;
mod wire;
mod worker;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "hs-swarm",
    about = "Measure a real hs controller against N simulated engines"
)]
struct Cli {
    #[command(subcommand)]
    worker: Option<Role>,
    #[command(flatten)]
    drive: drive::DriveArgs,
}

#[derive(Subcommand, Debug)]
enum Role {
    /// (internal) Run a share of the engines and report on stdout.
    #[command(hide = true)]
    Worker(worker::WorkerArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.worker {
        Some(Role::Worker(args)) => worker::run(args).map(|()| true),
        None => drive::run(&cli.drive),
    };
    match outcome {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("hs-swarm: a run did not complete soundly (see the table)");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("hs-swarm: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
