//! # hs-engine: how a task runs
//!
//! This crate owns running tasks and nothing about where tasks wait:
//! - [`executor`]: running one command with `bash -o pipefail` in its own process group;
//! - [`engine`]: the engine loop (register, take bundles, run them in slots, report, heartbeat, reconnect);
//! - `monitor`: `--monitor`'s sampler of running tasks' cores and memory.
//!
//! What a task is and how it travels (the task model, hs/1, ZeroMQ helpers) is `hs-protocol`,
//! and the `-t` language is `hs-template`; both are re-exported here under their old paths
//! ([`task`], [`protocol`], [`transport`], [`template`]) so that code written against
//! `hs_engine::…` keeps compiling. The executor implements the template's `CommandRunner`
//! (`executor::Substitution`) so that `{% %}` commands run under the task's rules.
//!
//! The broker crate depends on this one to host engines in-process; nothing here knows about
//! task stores or the CLI.

pub mod engine;
pub mod executor;
mod monitor;

pub use hs_protocol::{bundle, private, protocol, resources, task, transport};
pub use hs_template as template;
