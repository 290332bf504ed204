//! The live view of a running controller: `hs status` (once, as text or JSON) and `hs top` /
//! `hs status --watch` (full-screen, updated until a key quits it).
//!
//! Everything comes from the controller's `status_reply` over its client socket, as any client
//! would ask: this module never opens the store, so it works the same for a profile, a
//! `hs server` and a `hs cluster -p`, on this host or another.
//!
//! - `target.rs`: which controller (`--profile`, `--file`, `-H`/`-p`) and how to dial it
//! - `snapshot.rs`: one reply with what follows from it (waiting, rate, ETA) and its JSON
//! - `poll.rs`: a thread that asks again every interval, so keys never wait for the network
//! - `view.rs`: drawing one snapshot (pure: any ratatui backend, tested on a test backend)
//! - `screen.rs`: the terminal itself, restored on every way out, and the key loop

mod poll;
mod screen;
mod snapshot;
mod target;
mod view;

pub use screen::watch;
pub use snapshot::{Snapshot, format_duration};
pub use target::{Dialed, resolve};
