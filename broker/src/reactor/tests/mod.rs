//! The core driven directly: decoded messages in, effects out, a memory store, no sockets.
//! Each test reads as a conversation with the controller.

mod engines;
mod fairness;
mod input;
mod links;
mod outage;
mod resources;
mod rig;
mod status;
mod tasks;
mod uploads;
