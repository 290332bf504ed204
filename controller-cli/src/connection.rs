//! Connection files on this host: where a local controller writes them, and reading one with
//! the error mapped to an exit status. The format lives in [`hs_broker::connection`].

use std::path::{Path, PathBuf};

pub use hs_broker::connection::{ConnectionFileError, ConnectionInfo, VERSION};

use crate::exit::{Failure, Status};
use crate::site::Site;

/// Where a local server on `port` writes its connection file.
pub fn default_path(site: &Site, port: u16) -> PathBuf {
    site.lib
        .join("security")
        .join(format!("server-{port}.json"))
}

/// Write `info` to `path` with mode 0600.
pub fn write(path: &Path, info: &ConnectionInfo) -> anyhow::Result<()> {
    hs_broker::connection::write(path, info).map_err(|e| Failure::runtime(e.to_string()))
}

/// Read a connection file: a missing file is a runtime error, an exposed or malformed one a
/// usage error (the user has to fix the file).
pub fn read(path: &Path) -> anyhow::Result<ConnectionInfo> {
    hs_broker::connection::read(path).map_err(|e| {
        let status = match e {
            ConnectionFileError::Unreadable { .. } | ConnectionFileError::Unwritable { .. } => {
                Status::Runtime
            }
            ConnectionFileError::Exposed { .. } | ConnectionFileError::Malformed { .. } => {
                Status::Usage
            }
        };
        Failure {
            status,
            message: e.to_string(),
        }
        .into()
    })
}
