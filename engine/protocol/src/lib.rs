//! # hs-protocol: what travels between hs processes
//!
//! The shared language of controllers, engines and clients, and nothing that runs a task or
//! keeps one:
//! - [`task`]: the task and result records that travel between controller and engines;
//! - [`protocol`]: hs/2, the handshake and the sealed multipart wire format, one enum of messages per direction,
//!   keys and counted refusals;
//! - [`connection`]: connection files, the address and key a peer needs to reach a controller;
//! - [`transport`]: the ZeroMQ polling and draining every loop shares;
//! - [`host`]: the host name a peer gives in its messages;
//! - [`private`]: files and folders only their owner can read (keys, logs, task output);
//! - [`resources`]: what a task asks for (cores, memory, GPUs) and what an engine offers.
//!
//! Templates, the executor, the engine loop and task stores live in crates that depend on this
//! one, so that a program which only talks to a controller (the client library) compiles none
//! of them.

pub mod bundle;
pub mod connection;
#[doc(hidden)]
pub mod fuzzing;
pub mod host;
pub mod private;
pub mod protocol;
pub mod resources;
pub mod task;
pub mod transport;
