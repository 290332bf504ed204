//! # A Rust client for a running controller
//!
//! What Bakapara did with IPython's `Client` and `LoadBalancedView`, for `hs`: connect to a
//! controller with its connection file, submit jobs (a command line, plus optionally `cd`,
//! `out`, `err`, an environment, tags and a timeout), and get each job's result as soon as it
//! finishes, pushed by the controller rather than polled for.
//!
//! ```no_run
//! use std::time::Duration;
//! use hs_client::{Client, JobSpec, locate};
//!
//! // A file (`hs server` writes `<site>/lib/security/server-PORT.json`) or a profile directory.
//! let info = locate("server-50001.json")?;
//! let mut client = Client::connect(&info)?;
//! let jobs: Vec<JobSpec> = (1..=4)
//!     .map(|i| JobSpec::new(format!("wc -l a{i:02}.txt")).stdout(format!("b{i:02}.txt")))
//!     .collect();
//! let ids = client.submit(jobs)?;
//! while client.outstanding() > 0 {
//!     match client.recv_timeout(Duration::from_secs(1))? {
//!         Some(r) => println!("{} ended {} (exit {})", r.id, r.status(), r.exit_status),
//!         None => println!("{:?}", client.status()?),
//!     }
//! }
//! # let _ = ids;
//! # Ok::<(), hs_client::ClientError>(())
//! ```
//!
//! How it works, so that its guarantees are clear:
//! - every message is signed with the connection file's key and numbered, and every message
//!   from the controller is verified before it is believed (see `docs/protocol.md`);
//! - [`Client::submit`] returns once the controller has committed the jobs to its store;
//! - a watched job's result is pushed only after the controller has recorded it, so the
//!   store (`hs list`, `hs info`) always agrees with what a client was told, and a client that
//!   disconnects loses nothing but the push;
//! - a controller keeps at most 100,000 unfinished watched jobs per client: read results to
//!   make room;
//! - a controller that stops answering is noticed within [`ClientOptions::silence_limit`].

mod error;
mod job;
mod link;
mod locate;
mod session;

pub use error::ClientError;
pub use job::JobSpec;
pub use locate::locate;
pub use session::{Client, ClientOptions, Results};

pub use hs_protocol::connection::ConnectionInfo;
/// A job's final result (`status()` gives Bakapara's `ok`/`error`, plus `timeout`/`cancelled`).
pub use hs_protocol::protocol::FinishedTask as JobResult;
pub use hs_protocol::protocol::{
    CancelReply, EngineStatus, FailureStatus, StatusReply, StatusTotals,
};
pub use hs_protocol::task::{JobOptions, Outcome};
