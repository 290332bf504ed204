//! One file per subcommand.

pub mod about;
pub mod client;
pub mod cluster;
mod cluster_launch;
pub(crate) mod common;
mod controller;
pub mod info;
pub mod initdb;
pub mod list;
mod listen;
pub mod profile;
pub mod run_task;
mod running;
pub mod server;
mod setup;
pub mod start;
mod start_daemon;
pub mod status;
pub mod stop;
mod store_args;
pub mod stream;
mod stream_remote;
pub mod submit;
mod submit_queue;
mod task_id;
pub mod update;
pub mod wait;
