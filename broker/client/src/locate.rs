//! Finding a connection file: a path may name the file itself, or a directory that holds it
//! (a profile directory, its `security/` folder, or a site's `lib/security/`).

use std::path::{Path, PathBuf};

use super::ClientError;
use hs_protocol::connection::{self, ConnectionInfo};

/// Read the connection file at `path`, or find it in the directory `path`.
///
/// In a directory, hs looks in `security/` when there is one (else in the directory itself)
/// for `*.json` files: one named for clients (`*client*.json`) wins; otherwise there must be
/// exactly one, so a directory of several servers' files needs the file named. The file must be
/// private (mode 0600): its key lets anyone run commands on the engines.
///
/// ```no_run
/// let info = hs_client::locate("/home/me/.hs/profile_mezcal")?;
/// println!("controller at {}", info.client_endpoint());
/// # Ok::<(), hs_client::ClientError>(())
/// ```
pub fn locate(path: impl AsRef<Path>) -> Result<ConnectionInfo, ClientError> {
    let path = path.as_ref();
    if !path.is_dir() {
        return Ok(connection::read(path)?);
    }
    let file = find_in(path)?;
    Ok(connection::read(&file)?)
}

fn find_in(dir: &Path) -> Result<PathBuf, ClientError> {
    let security = dir.join("security");
    let dir = if security.is_dir() {
        security
    } else {
        dir.to_path_buf()
    };
    let not_found = |reason: String| ClientError::NotFound {
        path: dir.clone(),
        reason,
    };
    let entries = std::fs::read_dir(&dir).map_err(|e| not_found(format!("cannot list: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let clients: Vec<&PathBuf> = files
        .iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains("client"))
        })
        .collect();
    match (clients.as_slice(), files.as_slice()) {
        ([one], _) => Ok((*one).clone()),
        ([], [one]) => Ok(one.clone()),
        ([], []) => Err(not_found("no connection file (*.json) here".into())),
        _ => Err(not_found(format!(
            "several connection files here ({}): name one",
            files
                .iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ConnectionInfo {
        ConnectionInfo {
            version: connection::VERSION,
            controller_id: uuid::Uuid::new_v4(),
            host: "127.0.0.1".into(),
            engine_port: 1,
            heartbeat_port: 2,
            client_port: 3,
            key: "k".repeat(64),
            signature_scheme: hs_protocol::connection::SIGNATURE_SCHEME.into(),
            no_tls: false,
            pid: 1,
            profile: None,
            database: None,
        }
    }

    #[test]
    fn a_file_a_directory_or_its_security_folder() {
        let dir = tempfile::tempdir().unwrap();
        let info = sample();
        let security = dir.path().join("security");
        std::fs::create_dir(&security).unwrap();
        connection::write(&security.join("server-50001.json"), &info).unwrap();
        assert_eq!(locate(security.join("server-50001.json")).unwrap(), info);
        assert_eq!(locate(&security).unwrap(), info);
        assert_eq!(locate(dir.path()).unwrap(), info);
        // Two files: ambiguous, unless one is the client's.
        connection::write(&security.join("engine.json"), &sample()).unwrap();
        let e = locate(dir.path()).unwrap_err().to_string();
        assert!(e.contains("several connection files"), "{e}");
        connection::write(&security.join("client.json"), &info).unwrap();
        assert_eq!(locate(dir.path()).unwrap(), info);
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            locate(empty.path()),
            Err(ClientError::NotFound { .. })
        ));
    }
}
