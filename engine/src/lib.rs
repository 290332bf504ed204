//! # hs-engine: what a task is and how it runs
//!
//! This crate owns everything an engine needs and nothing about where tasks wait:
//! - [`task`]: the task and result records that travel between controller and engines;
//! - [`template`]: expansion of `-t` templates (`{}`, `{/-}`, `{[1:3]}`, `{= x*2 =}` …) just before a task runs;
//! - [`protocol`]: the signed multipart wire format shared with the broker;
//! - [`executor`]: running one command with `bash -o pipefail` in its own process group;
//! - [`engine`]: the engine loop (register, take bundles, run them in slots, report, heartbeat, reconnect).
//!
//! The broker crate depends on this one; nothing here knows about task stores or the CLI.

pub mod engine;
pub mod executor;
pub mod protocol;
pub mod task;
pub mod template;
pub mod transport;
