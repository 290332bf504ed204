//! The site: where hs keeps its files (connection files, captured task output, logs).
//!
//! `HYPERSHELL_SITE=DIR` puts everything under DIR (`DIR/lib`). Otherwise the user
//! site `~/.hypershell` is used, or the system site (`/var/lib/hypershell`) when running as root — the same rules as HyperShell.

use std::path::PathBuf;

use anyhow::Context as _;
use hs_engine::private;

use crate::config::{Context, SYSTEM_LIB};

#[derive(Clone, Debug)]
pub struct Site {
    /// The site folder itself: profiles live here as `profile_<NAME>/`.
    pub root: PathBuf,
    pub lib: PathBuf,
}

impl Site {
    /// The site of this process.
    pub fn from_env() -> Site {
        Site::from_context(&Context::from_process())
    }

    /// The site of the machine `ctx` describes. The configuration's default database
    /// (`Context::default_lib`) comes from here too, so both always agree: a relative
    /// `HYPERSHELL_SITE` is taken from the working directory, and without a usable HOME the
    /// user site is `.hypershell` there.
    pub fn from_context(ctx: &Context) -> Site {
        if let Some(dir) = ctx.site_dir() {
            return Site {
                lib: dir.join("lib"),
                root: dir,
            };
        }
        if ctx.is_root() {
            return Site {
                root: PathBuf::from(SYSTEM_LIB),
                lib: PathBuf::from(SYSTEM_LIB),
            };
        }
        let dir = ctx
            .home()
            .unwrap_or_else(|| ctx.cwd().to_path_buf())
            .join(".hypershell");
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

    /// Folder for captured task output (created 0700 with any missing parent).
    pub fn task_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = self.lib.join("task");
        private::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }
}

/// Create `dir` (and its parents) and make it private to its owner (0700).
pub fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    private::restrict_dir(dir).with_context(|| format!("cannot create {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(vars: &[(&str, &str)], root: bool) -> (Site, PathBuf) {
        let vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ctx = Context::new(vars, PathBuf::from("/work"), root);
        (Site::from_context(&ctx), ctx.default_lib())
    }

    #[test]
    fn one_rule_for_the_site_and_the_default_database() {
        type Case<'a> = (&'a [(&'a str, &'a str)], bool, &'a str, &'a str);
        let cases: [Case; 5] = [
            (
                &[("HYPERSHELL_SITE", "s"), ("HOME", "/h")],
                false,
                "/work/s",
                "/work/s/lib",
            ),
            (&[("HYPERSHELL_SITE", "/abs")], true, "/abs", "/abs/lib"),
            (&[("HOME", "/h")], true, SYSTEM_LIB, SYSTEM_LIB),
            (
                &[("HOME", "/h")],
                false,
                "/h/.hypershell",
                "/h/.hypershell/lib",
            ),
            (
                &[("HOME", ""), ("HYPERSHELL_SITE", "")],
                false,
                "/work/.hypershell",
                "/work/.hypershell/lib",
            ),
        ];
        for (vars, root, dir, lib) in cases {
            let (s, default_lib) = site(vars, root);
            assert_eq!(
                (s.root.to_str(), s.lib.to_str()),
                (Some(dir), Some(lib)),
                "{vars:?}"
            );
            assert_eq!(default_lib, s.lib, "{vars:?}");
        }
    }
}
