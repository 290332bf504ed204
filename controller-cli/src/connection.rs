//! Connection files on this host: where a local controller writes them, and reading one with
//! the error mapped to an exit status. The format lives in [`hs_broker::connection`].

use std::path::{Path, PathBuf};

use hs_broker::client::{Client, ClientError, ClientOptions};
pub use hs_broker::connection::{ConnectionFileError, ConnectionInfo};

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
        Failure {
            status: file_status(&e),
            message: e.to_string(),
        }
        .into()
    })
}

fn file_status(e: &ConnectionFileError) -> Status {
    match e {
        ConnectionFileError::Unreadable { .. } | ConnectionFileError::Unwritable { .. } => {
            Status::Runtime
        }
        ConnectionFileError::Exposed { .. } | ConnectionFileError::Malformed { .. } => {
            Status::Usage
        }
    }
}

/// The exit status a client error deserves: a key the controller does not answer to is an
/// authentication failure (7), a file that must be fixed follows [`read`], a signature scheme
/// hs does not speak is a usage error (2), the rest runtime errors (5).
pub fn client_error(e: ClientError) -> anyhow::Error {
    let status = match &e {
        e if e.is_auth_failure() => Status::AuthFailed,
        ClientError::ConnectionFile(f) => file_status(f),
        ClientError::Scheme(_) => Status::Usage,
        _ => Status::Runtime,
    };
    Failure {
        status,
        message: e.to_string(),
    }
    .into()
}

/// A client of the controller `info` names, each request waiting at most `timeout` (connecting
/// too: a controller that does not answer is reported rather than waited for).
pub fn connect(info: &ConnectionInfo, timeout: std::time::Duration) -> anyhow::Result<Client> {
    let opts = ClientOptions {
        connect_timeout: timeout,
        request_timeout: timeout,
        ..Default::default()
    };
    Client::connect_with(info, opts).map_err(client_error)
}
