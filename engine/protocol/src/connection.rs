//! Connection files: what an engine or a client needs to reach a controller, key included.
//!
//! A controller writes them with mode 0600 (through a temporary file and a rename, so a reader
//! never sees half a file and the key is never readable by others, even for an instant); a
//! reader refuses a file that others could read, because its key would already be exposed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Format version written by this build.
pub const VERSION: u32 = 1;

/// How this build signs messages (the only scheme it accepts).
pub const SIGNATURE_SCHEME: &str = "hmac-sha256";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConnectionInfo {
    /// Format version of this file.
    pub version: u32,
    pub controller_id: Uuid,
    /// Address engines and clients dial.
    pub host: String,
    pub engine_port: u16,
    pub heartbeat_port: u16,
    pub client_port: u16,
    pub key: String,
    pub signature_scheme: String,
    /// The controller runs with `--no-tls`: peers must too (the handshake refuses a mismatch).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_tls: bool,
    /// The controller's process id on `host`.
    pub pid: u32,
    /// The profile the controller serves, when it was started with `hs start --profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Where the controller keeps its tasks (a database URL, or a SQLite file on `host`), so
    /// `hs list`/`hs update` can search them; absent for an in-memory store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

impl ConnectionInfo {
    /// The file a controller in this process writes: engines on `port`, heartbeats on
    /// `port + 1`, clients on `port + 2` (the trio every hs controller binds), so the layout
    /// and this build's version, scheme and pid are stated once.
    ///
    /// Panics if `port + 2` is no port: the controller chose `port` with room for its trio.
    pub fn for_this_process(
        controller_id: Uuid,
        host: impl Into<String>,
        port: u16,
        key: impl Into<String>,
    ) -> Self {
        let client_port = port
            .checked_add(2)
            .expect("the controller's port leaves room for PORT+1 and PORT+2");
        ConnectionInfo {
            version: VERSION,
            controller_id,
            host: host.into(),
            engine_port: port,
            heartbeat_port: port + 1,
            client_port,
            key: key.into(),
            signature_scheme: SIGNATURE_SCHEME.into(),
            no_tls: false,
            pid: std::process::id(),
            profile: None,
            database: None,
        }
    }

    /// The mode peers of this controller must use.
    pub fn mode(&self) -> crate::protocol::Mode {
        crate::protocol::Mode::from_no_tls(self.no_tls)
    }

    pub fn engine_endpoint(&self) -> String {
        format!("tcp://{}:{}", self.host, self.engine_port)
    }

    pub fn heartbeat_endpoint(&self) -> String {
        format!("tcp://{}:{}", self.host, self.heartbeat_port)
    }

    pub fn client_endpoint(&self) -> String {
        format!("tcp://{}:{}", self.host, self.client_port)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionFileError {
    #[error("cannot read connection file {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "connection file {} is readable by others (mode {mode:o}): run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("{} is not an hs connection file: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error("cannot write connection file {}: {source}", path.display())]
    Unwritable {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Write `info` to `path` with mode 0600.
pub fn write(path: &Path, info: &ConnectionInfo) -> Result<(), ConnectionFileError> {
    let json = serde_json::to_vec_pretty(info).expect("connection info serialises");
    write_private(path, &json).map_err(|source| ConnectionFileError::Unwritable {
        path: path.to_path_buf(),
        source,
    })
}

pub use crate::private::write_private;

/// Read a connection file, refusing one that others can read.
pub fn read(path: &Path) -> Result<ConnectionInfo, ConnectionFileError> {
    let meta = std::fs::metadata(path).map_err(|source| ConnectionFileError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(ConnectionFileError::Exposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    let bytes = std::fs::read(path).map_err(|source| ConnectionFileError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let info: ConnectionInfo =
        serde_json::from_slice(&bytes).map_err(|e| ConnectionFileError::Malformed {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if info.version > VERSION {
        return Err(ConnectionFileError::Malformed {
            path: path.to_path_buf(),
            reason: format!(
                "format version {} is newer than this hs understands ({VERSION}): upgrade hs",
                info.version
            ),
        });
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ConnectionInfo {
        ConnectionInfo {
            version: VERSION,
            controller_id: Uuid::new_v4(),
            host: "127.0.0.1".into(),
            engine_port: 50001,
            heartbeat_port: 50002,
            client_port: 50003,
            key: "k".repeat(64),
            signature_scheme: SIGNATURE_SCHEME.into(),
            no_tls: false,
            pid: 1,
            profile: Some("mezcal".into()),
            database: None,
        }
    }

    #[test]
    fn for_this_process_is_the_port_trio() {
        let info = ConnectionInfo::for_this_process(Uuid::nil(), "h", 50001, "k");
        assert_eq!(
            (info.engine_port, info.heartbeat_port, info.client_port),
            (50001, 50002, 50003)
        );
        assert_eq!(info.signature_scheme, SIGNATURE_SCHEME);
        assert_eq!(info.pid, std::process::id());
        assert_eq!(info.version, VERSION);
    }

    #[test]
    fn round_trip_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let info = sample();
        write(&path, &info).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read(&path).unwrap(), info);
    }

    #[test]
    fn refuses_exposed_and_malformed_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        write(&path, &sample()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            read(&path),
            Err(ConnectionFileError::Exposed { mode: 0o644, .. })
        ));
        std::fs::write(&path, b"{}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            read(&path),
            Err(ConnectionFileError::Malformed { .. })
        ));
        assert!(matches!(
            read(&dir.path().join("none.json")),
            Err(ConnectionFileError::Unreadable { .. })
        ));
    }
}
