//! # hs-broker: where tasks wait and who runs them
//!
//! The controller's half of hs: a ZeroMQ broker that keeps a queue of tasks, hands them to
//! engines in bundles no larger than each engine's free credit, holds a lease for every task it
//! hands out, pings engines over a PUB socket, evicts the ones that go silent (requeueing their
//! tasks without counting an attempt), and records results exactly once.
//!
//! Every controller in hs is set up with [`ControllerBuilder`]: it owns the ZeroMQ context, the
//! store, the broker, the input feed and any engines in the same process; it binds the sockets
//! (so a port in use is reported before anything starts), serves until the work is done or its
//! [`RunControl`] says stop, and ends cleanly, which lets tests and the in-process
//! `hs cluster` run it on a thread as well as through the binary.
//!
//! [`client`] is the other side of the controller's client socket: a library for programs
//! that submit jobs to a running controller and follow their results.

mod activity;
mod balance;
mod broker;
#[cfg(test)]
mod client_tests;
mod config;
mod control;
pub mod controller;
mod door;
pub mod feed;
mod held;
pub mod hosts;
mod ids;
mod outputs;
mod pinned;
mod prefetch;
mod queue;
pub mod reactor;
mod registry;
mod routed;
mod sessions;
mod sink;
mod sockets;
mod store_link;
mod uploads;
mod watch;
mod wire;

pub use hs_client as client;
pub use hs_protocol::connection;
pub use hs_store as store;

pub use broker::{Broker, ControllerSummary, RunError};
pub use config::{BindSet, ControllerConfig};
pub use control::RunControl;
pub use controller::{Controller, ControllerBuilder, ControllerError, RunSummary, Running};
pub use registry::EngineInfo;
pub use sink::ResultSink;
pub use uploads::UploadConfig;
