//! The site: where hs keeps its files (connection files, captured task output, logs).
//!
//! `HYPERSHELL_SITE=DIR` puts everything under DIR (`DIR/lib`). Otherwise the user
//! site `~/.hypershell` is used, or the system site (`/var/lib/hypershell`) when running as root — the same rules as HyperShell.

use std::path::PathBuf;

use anyhow::Context;

#[derive(Clone, Debug)]
pub struct Site {
    /// The site folder itself: profiles live here as `profile_<NAME>/`.
    pub root: PathBuf,
    pub lib: PathBuf,
}

impl Site {
    pub fn from_env() -> Site {
        if let Some(dir) = std::env::var_os("HYPERSHELL_SITE").filter(|d| !d.is_empty()) {
            let dir = PathBuf::from(dir);
            return Site {
                lib: dir.join("lib"),
                root: dir,
            };
        }
        // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            return Site {
                root: PathBuf::from("/var/lib/hypershell"),
                lib: PathBuf::from("/var/lib/hypershell"),
            };
        }
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = home.join(".hypershell");
        Site {
            lib: dir.join("lib"),
            root: dir,
        }
    }

    /// Folder for connection files (mode 0700).
    pub fn security_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = self.lib.join("security");
        create_private_dir(&dir)?;
        Ok(dir)
    }

    /// Folder for captured task output.
    pub fn task_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = self.lib.join("task");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }
}

/// Create `dir` (and its parents) and make it private to its owner (0700).
pub fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", dir.display()))?;
    Ok(())
}
