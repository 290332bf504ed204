//! The engine: registers with a controller, takes bundles of leased tasks, runs them in executor
//! slots and reports the results, which it keeps until the controller acknowledges them.
//!
//! One thread runs the loop in [`run`] and owns every ZeroMQ socket (they are not thread-safe);
//! each executor slot has its own thread that blocks in the executor and reports back over an
//! inproc socket, so the loop stays responsive to heartbeats however long tasks run. When the
//! controller goes silent the engine keeps running its tasks and keeps their results, but starts
//! nothing more from its queue (those tasks may have been given to another engine meanwhile): it
//! registers again (with backoff) reporting what it runs and giving the queue back, so the
//! controller can reconcile.

mod board;
mod config;
mod control;
mod env;
mod env_value;
mod give_back;
pub mod host_resources;
mod lease_clock;
mod link;
mod pace;
mod run_loop;
mod slot;
mod uploads;

pub use config::{Endpoints, EngineConfig, OutputConfig};
pub use control::{EngineControl, StopMode, wait_to_start};
pub use env::short_hostname;
pub use run_loop::{EngineError, EngineSummary, run, run_with_executor};
pub use uploads::UPLOAD_WINDOW;
