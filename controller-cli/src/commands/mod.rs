//! One file per subcommand.

pub mod client;
pub mod cluster;
mod common;
mod controller;
pub mod info;
pub mod initdb;
pub mod list;
mod local;
pub mod run_task;
pub mod server;
mod store_args;
pub mod stream;
mod stream_remote;
pub mod submit;
mod task_id;
pub mod update;
pub mod wait;
