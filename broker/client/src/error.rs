//! Everything that can go wrong between a client and a controller, each with what to do.

use std::path::PathBuf;
use std::time::Duration;

use uuid::Uuid;

use hs_protocol::connection::ConnectionFileError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection file could not be read, is readable by others, or is not one.
    #[error(transparent)]
    ConnectionFile(#[from] ConnectionFileError),

    /// [`locate`](super::locate) found no (or more than one) connection file at a path.
    #[error("{}: {reason}", path.display())]
    NotFound { path: PathBuf, reason: String },

    /// The file asks for a signature scheme this build does not speak.
    #[error("the connection file uses signature scheme {0:?}; this hs signs with hmac-sha256")]
    Scheme(String),

    /// Nothing accepted a connection at the controller's address in time.
    #[error(
        "no controller answers at {endpoint} (waited {waited:.1?}): it is not running there, or \
         a firewall is in the way"
    )]
    Unreachable { endpoint: String, waited: Duration },

    /// A connection was made but nothing verifiable came back. The controller never answers a
    /// message it cannot verify, so this almost always means the key differs.
    #[error(
        "the controller at {endpoint} accepted the connection but did not answer (waited \
         {waited:.1?}): the key in the connection file is probably not its key; use the file it \
         wrote when it started"
    )]
    Unanswered { endpoint: String, waited: Duration },

    /// The controller's handshake proved it holds another key.
    #[error(
        "authentication failed: the controller at {endpoint} uses a different key; use the key \
         (or the connection file) it was started with"
    )]
    AuthFailed { endpoint: String },

    /// One side runs with `--no-tls`, the other without.
    #[error("cannot talk to the controller at {endpoint}: {reason}")]
    ModeMismatch { endpoint: String, reason: String },

    /// The controller stopped answering after the connection was made.
    #[error("lost the controller at {endpoint}: no answer for {silent:.1?}")]
    Lost { endpoint: String, silent: Duration },

    /// Messages from the controller were lost on the way (their counters were skipped: its
    /// connection dropped, or this client read too slowly): results it pushed may never come.
    #[error(
        "{count} messages from the controller at {endpoint} were lost on the way (the connection \
         dropped, or results were not read fast enough): results of watched tasks may be among \
         them; the tasks themselves are in the controller's store (`hs list`)"
    )]
    MessagesLost { endpoint: String, count: u64 },

    /// Another controller (same key, new id) answers at the address: it was restarted.
    #[error(
        "another controller ({found}) answers at {endpoint}, not the one in the connection file \
         ({expected}): it was restarted; connect again with its new connection file"
    )]
    Replaced {
        endpoint: String,
        expected: Uuid,
        found: Uuid,
    },

    /// A job too large for a message; nothing of that submit was sent.
    #[error(
        "job {index} of the submit (from 0) is too large for a message: about {bytes} bytes as \
         JSON, where a task may have {limit} bytes of text (4 times that as JSON): nothing was \
         submitted"
    )]
    TooLarge {
        index: usize,
        bytes: usize,
        limit: usize,
    },

    /// The controller refused the request; the reason says why and what to do.
    #[error("the controller refused: {0}")]
    Refused(String),

    /// A verified message did not parse (a controller of another version?).
    #[error("the controller sent a malformed {kind} message: {reason}")]
    Malformed { kind: String, reason: String },

    #[error("ZeroMQ error while {context}: {source}")]
    Zmq {
        context: &'static str,
        source: zmq::Error,
    },
}

impl ClientError {
    /// Whether this is (almost surely) a key mismatch: retrying with the same file cannot help.
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            ClientError::Unanswered { .. }
                | ClientError::AuthFailed { .. }
                | ClientError::ModeMismatch { .. }
        )
    }

    /// Whether the controller went away (or was replaced) after answering at first.
    pub fn is_lost(&self) -> bool {
        matches!(
            self,
            ClientError::Lost { .. }
                | ClientError::Replaced { .. }
                | ClientError::MessagesLost { .. }
        )
    }
}

pub(crate) fn zmq_err(context: &'static str) -> impl FnOnce(zmq::Error) -> ClientError {
    move |source| ClientError::Zmq { context, source }
}
