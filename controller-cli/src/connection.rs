//! Connection files: what an engine needs to reach a controller, key included (mode 0600).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::exit::{Failure, Status};
use crate::site::Site;

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
    pub pid: u32,
}

impl ConnectionInfo {
    pub fn engine_endpoint(&self) -> String {
        format!("tcp://{}:{}", self.host, self.engine_port)
    }

    pub fn heartbeat_endpoint(&self) -> String {
        format!("tcp://{}:{}", self.host, self.heartbeat_port)
    }
}

/// Where a local server on `port` writes its connection file.
pub fn default_path(site: &Site, port: u16) -> PathBuf {
    site.lib
        .join("security")
        .join(format!("server-{port}.json"))
}

/// Write `info` to `path` with mode 0600 (through a temporary file and a rename, so a reader
/// never sees half a file and the key is never world-readable, even for an instant).
pub fn write(path: &Path, info: &ConnectionInfo) -> anyhow::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    let json = serde_json::to_vec_pretty(info)?;
    file.write_all(&json).and_then(|_| file.sync_all())?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Read a connection file, refusing one that others can read (the key would be exposed).
pub fn read(path: &Path) -> anyhow::Result<ConnectionInfo> {
    let meta = std::fs::metadata(path).map_err(|e| Failure {
        status: Status::Runtime,
        message: format!("cannot read connection file {}: {e}", path.display()),
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(Failure {
            status: Status::Usage,
            message: format!(
                "connection file {} is readable by others (mode {:o}): run `chmod 600 {}`",
                path.display(),
                meta.permissions().mode() & 0o777,
                path.display()
            ),
        }
        .into());
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Failure {
            status: Status::Usage,
            message: format!("{} is not an hs connection file: {e}", path.display()),
        }
        .into()
    })
}
