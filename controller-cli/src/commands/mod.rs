//! One file per subcommand.

pub mod client;
pub mod cluster;
mod common;
pub mod server;
