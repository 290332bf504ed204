//! JSON-lines job streams (Bakapara's format): one job object per input line, one result line
//! per job on stdout.

pub mod emit;
mod intake;
pub mod job;
pub mod remote;
pub mod result;
