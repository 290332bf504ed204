//! End-to-end tests: the real `hs` binaries, real bash, real sockets, real network namespaces.
//!
//! One test binary (faster to link); one module per area.

mod cutter;
mod helpers;

mod affinity;
mod any_size;
mod bad_input;
mod client_api;
mod cluster;
mod config;
mod durable;
mod edges;
mod eviction;
mod executor;
mod fairness;
mod hostile;
mod hypershell_cli;
mod lan;
mod launch;
mod leftovers;
mod live;
mod monitor;
mod ownership;
mod partitions;
mod profile_scaling;
mod profiles;
mod reconnect;
mod regressions;
mod remote_output;
mod renewal;
mod resources;
mod secrets;
mod security;
mod seeds;
mod server_client;
mod signals;
mod store;
mod store_faults;
mod stream;
mod stream_remote;
mod swarm;
mod task_env;
mod templates;
mod tty;
