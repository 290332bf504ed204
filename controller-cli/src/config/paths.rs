//! The process surroundings that decide which files are read and what computed defaults are:
//! environment, home, working directory, whether we run as root. Captured once in a `Context`
//! so that tests can describe a machine without touching the real process environment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::source::Level;

/// The system-wide file (Linux/POSIX location; hs does not target macOS or Windows).
pub const SYSTEM_FILE: &str = "/etc/hypershell.toml";
/// The system site's library folder, the default site when running as root.
pub const SYSTEM_LIB: &str = "/var/lib/hypershell";

#[derive(Clone, Debug)]
pub struct Context {
    vars: BTreeMap<String, String>,
    cwd: PathBuf,
    root: bool,
    /// The configuration file of the profile the command runs for, if any.
    profile_file: Option<PathBuf>,
}

impl Context {
    /// A snapshot of this process. Variables whose name or value is not UTF-8 are left out:
    /// no configuration key could use them.
    pub fn from_process() -> Context {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
        let root = unsafe { libc::geteuid() } == 0;
        Context::new(vars, cwd, root)
    }

    pub fn new(vars: BTreeMap<String, String>, cwd: PathBuf, root: bool) -> Context {
        Context {
            vars,
            cwd,
            root,
            profile_file: None,
        }
    }

    /// The same machine with one more environment variable (a value a connection file
    /// supplies, such as the cluster's database, counts like one the user exported).
    pub fn with_var(mut self, name: &str, value: String) -> Context {
        self.vars.insert(name.to_string(), value);
        self
    }

    /// The same machine, for a command that runs for a profile whose configuration is `file`.
    pub fn with_profile(mut self, file: PathBuf) -> Context {
        self.profile_file = Some(file);
        self
    }

    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Whether the command runs as root (the system site is then the default one).
    pub fn is_root(&self) -> bool {
        self.root
    }

    /// `$HOME`, when set and not empty.
    pub fn home(&self) -> Option<PathBuf> {
        self.var("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
    }

    /// `$HYPERSHELL_SITE` as an absolute path, when set and not empty.
    pub fn site_dir(&self) -> Option<PathBuf> {
        self.var("HYPERSHELL_SITE")
            .filter(|d| !d.is_empty())
            .map(|d| self.absolute(Path::new(d)))
    }

    /// `HYPERSHELL_CONFIG_FILE`: `None` when unset; `Some(None)` when empty (environment only);
    /// `Some(Some(path))` to read only that file.
    pub fn config_file_override(&self) -> Option<Option<PathBuf>> {
        let v = self.var("HYPERSHELL_CONFIG_FILE")?;
        Some((!v.is_empty()).then(|| self.absolute(Path::new(v))))
    }

    /// The file of one level. The local site is `./.hypershell`, or `$HYPERSHELL_SITE` when set
    /// (HyperShell: "SITE replaces the local site"). `None` when it cannot be located (no HOME).
    pub fn file_path(&self, level: Level) -> Option<PathBuf> {
        match level {
            Level::System => Some(PathBuf::from(SYSTEM_FILE)),
            Level::User => Some(self.home()?.join(".hypershell").join("config.toml")),
            Level::Local => Some(match self.site_dir() {
                Some(site) => site.join("config.toml"),
                None => self.cwd.join(".hypershell").join("config.toml"),
            }),
            Level::ConfigFile => self.config_file_override().flatten(),
            Level::Profile => self.profile_file.clone(),
        }
    }

    /// The default site's library folder (database, task output, connection files), by the
    /// one rule of [`Site::from_context`](crate::site::Site::from_context), so the default
    /// database lies where the connection files and task output do.
    pub fn default_lib(&self) -> PathBuf {
        crate::site::Site::from_context(self).lib
    }

    /// `p` relative to the working directory, and `~/…` relative to HOME.
    pub fn absolute(&self, p: &Path) -> PathBuf {
        if let Ok(rest) = p.strip_prefix("~")
            && let Some(home) = self.home()
        {
            return home.join(rest);
        }
        self.cwd.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(vars: &[(&str, &str)], root: bool) -> Context {
        let vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Context::new(vars, PathBuf::from("/work"), root)
    }

    #[test]
    fn site_replaces_the_local_site() {
        let c = ctx(&[("HOME", "/h"), ("HYPERSHELL_SITE", "s")], false);
        assert_eq!(
            c.file_path(Level::Local),
            Some(PathBuf::from("/work/s/config.toml"))
        );
        assert_eq!(c.default_lib(), PathBuf::from("/work/s/lib"));
        let c = ctx(&[("HOME", "/h")], false);
        assert_eq!(
            c.file_path(Level::Local),
            Some(PathBuf::from("/work/.hypershell/config.toml"))
        );
        assert_eq!(
            c.file_path(Level::User),
            Some(PathBuf::from("/h/.hypershell/config.toml"))
        );
        assert_eq!(c.default_lib(), PathBuf::from("/h/.hypershell/lib"));
        assert_eq!(
            ctx(&[("HOME", "/h")], true).default_lib(),
            PathBuf::from(SYSTEM_LIB)
        );
    }

    #[test]
    fn config_file_override() {
        assert_eq!(ctx(&[], false).config_file_override(), None);
        assert_eq!(
            ctx(&[("HYPERSHELL_CONFIG_FILE", "")], false).config_file_override(),
            Some(None)
        );
        assert_eq!(
            ctx(&[("HYPERSHELL_CONFIG_FILE", "/x.toml")], false).config_file_override(),
            Some(Some(PathBuf::from("/x.toml")))
        );
    }
}
