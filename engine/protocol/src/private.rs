//! Files and folders only their owner can use: hs keeps keys, task output, logs and task
//! databases, and none of them is anyone else's business. Files are created 0600 and folders
//! 0700 whatever the umask (a umask only takes bits away, so asking for these at creation is
//! enough, and there is no moment of a wider mode to race against).

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of every file hs creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every folder hs creates.
pub const DIR_MODE: u32 = 0o700;

/// Open options that create a file with mode 0600 (an existing file keeps its mode); the
/// caller adds `write`, `append`, `create`…
pub fn open_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(FILE_MODE);
    options
}

/// Create (truncating) `path` for writing, mode 0600 when new.
pub fn create(path: &Path) -> std::io::Result<std::fs::File> {
    open_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

/// Open `path` for appending, creating it with mode 0600 when missing.
pub fn append(path: &Path) -> std::io::Result<std::fs::File> {
    open_options().append(true).create(true).open(path)
}

/// Create `dir` and any missing parents, each new one with mode 0700 (folders that exist keep
/// theirs: a user's own `~/data` is not hs's to change).
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Create `dir` like [`create_dir_all`] and make it 0700 even if it existed: for folders that
/// are hs's own and hold keys.
pub fn restrict_dir(dir: &Path) -> std::io::Result<()> {
    create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
}

/// Write `bytes` to `path` readable by its owner only (0600), through a temporary file and a
/// rename: a reader sees the old file or the whole new one, and never a moment of wider mode.
/// Anything that holds a key or a process's identity is written this way.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut file = open_options().write(true).create_new(true).open(&tmp)?;
    file.write_all(bytes).and_then(|_| file.sync_all())?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_folders_are_private_whatever_the_umask() {
        // SAFETY: umask only changes this process's file creation mask.
        let old = unsafe { libc::umask(0o022) };
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_dir_all(&nested).unwrap();
        let file = nested.join("f");
        create(&file).unwrap();
        let log = nested.join("log");
        append(&log).unwrap();
        let written = nested.join("w");
        write_private(&written, b"x").unwrap();
        unsafe { libc::umask(old) };
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        for f in [&file, &log, &written] {
            assert_eq!(mode(f), 0o600, "{}", f.display());
        }
    }

    #[test]
    fn restrict_dir_tightens_an_existing_folder() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("sec");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        restrict_dir(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
    }
}
