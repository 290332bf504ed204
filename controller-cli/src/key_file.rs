//! Where a key given to a command comes from, kept off command lines.
//!
//! A command line is visible to every user of a host (`ps`, `/proc/PID/cmdline`), so `-k KEY`
//! (HyperShell's way, still accepted) is the fallback: it works, with one warning naming the
//! safer ways. A key file (`--key-file PATH`, `hs key -o PATH` writes one) holds the key alone
//! on its first line and, like a connection file, must be readable by its owner only.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::config::{KeyDef, env};
use crate::exit::Failure;

/// The key `-k` or `--key-file` gives (`None`: neither). A `-k` given empty is refused; a `-k`
/// that is used gets [`warn_command_line`] from the caller, once it is accepted (a refused key
/// gets one line: the refusal).
pub fn from_flags(auth: Option<&str>, key_file: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(path) = key_file {
        return read(path).map(Some);
    }
    match auth {
        Some("") => Err(Failure::usage("-k needs the controller's key")),
        other => Ok(other.map(str::to_string)),
    }
}

/// The one warning for a key given with `-k`, naming the safer ways (`config` is the key a
/// configuration file would hold instead: `server.auth`, `client.auth`).
pub fn warn_command_line(config: &KeyDef) {
    tracing::warn!(
        "the key given with -k is visible to every user of this host (ps): keep it in a file \
         (`hs key -o FILE`, then --key-file FILE), in {config} in a config file, or in {}",
        env::var_for(config.name)
    );
}

/// Read the key in `path`: its first line, without surrounding blanks. A file others can read
/// (its key is already exposed) or that holds no key is refused (exit 2).
pub fn read(path: &Path) -> anyhow::Result<String> {
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|e| Failure::runtime(format!("cannot read key file {shown}: {e}")))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Failure::usage(format!(
            "key file {shown} is readable by others (mode {mode:o}): run `chmod 600 {shown}`"
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::runtime(format!("cannot read key file {shown}: {e}")))?;
    let key = text.lines().next().unwrap_or("").trim();
    if key.is_empty() {
        return Err(Failure::usage(format!("key file {shown} holds no key")));
    }
    Ok(key.to_string())
}

/// Write `key` to a new file `path` (mode 0600). An existing file is not replaced: it may hold
/// the key a running cluster uses.
pub fn write_new(path: &Path, key: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let shown = path.display();
    let mut file = hs_engine::private::open_options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Failure::usage(format!(
                "{shown} already exists: remove it first, or choose another path"
            )),
            _ => Failure::runtime(format!("cannot create key file {shown}: {e}")),
        })?;
    writeln!(file, "{key}")
        .map_err(|e| Failure::runtime(format!("cannot write key file {shown}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(e: &anyhow::Error) -> crate::exit::Status {
        e.downcast_ref::<Failure>().expect("a Failure").status
    }

    #[test]
    fn a_written_key_reads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        write_new(&path, "k3J9-xQ2m_Lp8wZr").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read(&path).unwrap(), "k3J9-xQ2m_Lp8wZr");
        assert_eq!(
            from_flags(None, Some(&path)).unwrap(),
            Some("k3J9-xQ2m_Lp8wZr".into())
        );
        let again = write_new(&path, "other").unwrap_err();
        assert_eq!(status(&again), crate::exit::Status::Usage);
    }

    #[test]
    fn exposed_or_empty_key_files_are_refused_without_quoting_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "s3cr3t-s3cr3t-s3cr3t\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read(&path).unwrap_err();
        assert_eq!(status(&e), crate::exit::Status::Usage);
        assert!(e.to_string().contains("chmod 600"), "{e}");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        std::fs::write(&path, "\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(
            read(&path)
                .unwrap_err()
                .to_string()
                .contains("holds no key")
        );
        assert!(from_flags(Some(""), None).is_err());
        assert_eq!(from_flags(None, None).unwrap(), None);
        assert_eq!(from_flags(Some("k"), None).unwrap(), Some("k".into()));
    }
}
