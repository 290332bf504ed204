//! Profiles, IPython-parallel style: a folder `<site>/profile_<NAME>/` that says how a cluster
//! starts (`config.toml`: launcher, engines, bind address, database), on which hosts
//! (`nodefile`), and that holds what a running cluster writes (`security/`: connection files
//! and the cluster's state, mode 0700; `log/`). See docs/profiles.md.

pub mod launcher;
pub mod nodefile;
pub mod state;
mod template;

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::exit::Failure;
use crate::site::{Site, create_private_dir};

pub use template::{CREATE_ENGINES, CreateOptions};

#[derive(Clone, Debug)]
pub struct Profile {
    /// The name it was given by (or its folder, for a profile given as a path).
    pub name: String,
    pub dir: PathBuf,
}

impl Profile {
    /// The folder of profile `name`: `<site>/profile_<name>`, or `name` itself when it is a
    /// path (contains a `/`), so a profile kept in a project (`profiles/mezcal`) works too.
    pub fn path_for(site: &Site, name: &str) -> PathBuf {
        if name.contains('/') {
            std::env::current_dir()
                .map(|cwd| cwd.join(name))
                .unwrap_or_else(|_| PathBuf::from(name))
        } else {
            site.root.join(format!("profile_{name}"))
        }
    }

    /// An existing profile; a clear error naming where it was looked for when there is none.
    pub fn find(site: &Site, name: &str) -> anyhow::Result<Profile> {
        check_name(name)?;
        let dir = Profile::path_for(site, name);
        if !dir.join("config.toml").is_file() {
            let known = Profile::list(site)
                .iter()
                .map(|p| p.name.clone())
                .collect::<Vec<_>>();
            let hint = if known.is_empty() {
                String::new()
            } else {
                format!(" (existing profiles: {})", known.join(", "))
            };
            return Err(Failure::usage(format!(
                "no profile {name:?}: {} has no config.toml; create it with `hs profile create {name}`{hint}",
                dir.display()
            )));
        }
        Ok(Profile {
            name: name.to_string(),
            dir,
        })
    }

    /// Make a new profile folder with a commented config.toml, a nodefile, security/ and log/.
    pub fn create(site: &Site, name: &str, options: &CreateOptions) -> anyhow::Result<Profile> {
        check_name(name)?;
        let dir = Profile::path_for(site, name);
        if dir.join("config.toml").exists() {
            return Err(Failure::usage(format!(
                "profile {name:?} already exists in {}: change its config.toml, or remove the folder first",
                dir.display()
            )));
        }
        hs_engine::private::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let profile = Profile {
            name: name.to_string(),
            dir,
        };
        create_private_dir(&profile.security_dir())?;
        hs_engine::private::create_dir_all(&profile.log_dir())?;
        write_new(&profile.config_file(), &template::config(&profile, options))?;
        write_new(&profile.nodefile(), &template::nodefile(options))?;
        Ok(profile)
    }

    /// Every profile in the site, by name.
    pub fn list(site: &Site) -> Vec<Profile> {
        let Ok(entries) = std::fs::read_dir(&site.root) else {
            return Vec::new();
        };
        let mut profiles: Vec<Profile> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let file_name = e.file_name().into_string().ok()?;
                let name = file_name.strip_prefix("profile_")?.to_string();
                e.path().join("config.toml").is_file().then(|| Profile {
                    name,
                    dir: e.path(),
                })
            })
            .collect();
        profiles.sort_by(|a, b| a.name.cmp(&b.name));
        profiles
    }

    pub fn config_file(&self) -> PathBuf {
        self.dir.join("config.toml")
    }

    pub fn nodefile(&self) -> PathBuf {
        self.dir.join("nodefile")
    }

    pub fn security_dir(&self) -> PathBuf {
        self.dir.join("security")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// What engines need to join: address, ports, key.
    pub fn engine_file(&self) -> PathBuf {
        self.security_dir().join("hs-engine.json")
    }

    /// What clients (`hs submit`, `hs stream`, `hs status`) need: the same, plus the database.
    pub fn client_file(&self) -> PathBuf {
        self.security_dir().join("hs-client.json")
    }

    /// The running cluster's processes (see [`state::ClusterState`]).
    pub fn state_file(&self) -> PathBuf {
        self.security_dir().join("cluster.json")
    }

    /// Where the running cluster's launcher takes requests to add engines
    /// ([`crate::launch::control`]).
    pub fn control_socket(&self) -> PathBuf {
        self.security_dir().join("launcher.sock")
    }

    /// Remove what a running cluster writes (connection files, state, the launcher's socket):
    /// at its end, or when it died without doing so itself.
    pub fn remove_runtime_files(&self) {
        let files = [
            self.state_file(),
            self.engine_file(),
            self.client_file(),
            self.control_socket(),
        ];
        for path in files {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The log of a daemonized controller.
    pub fn controller_log(&self) -> PathBuf {
        self.log_dir().join("controller.log")
    }
}

/// Names become folder names: letters, digits, `.`, `_`, `-`; a path is taken as it is.
fn check_name(name: &str) -> anyhow::Result<()> {
    if name.contains('/') {
        return Ok(());
    }
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "{name:?} is not a profile name: use letters, digits, '.', '_' and '-' (or a path with a '/')"
        )))
    }
}

fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(dir: &Path) -> Site {
        Site {
            root: dir.to_path_buf(),
            lib: dir.join("lib"),
        }
    }

    #[test]
    fn create_find_list() {
        let tmp = tempfile::tempdir().unwrap();
        let site = site(tmp.path());
        assert!(Profile::find(&site, "mezcal").is_err());
        let p = Profile::create(&site, "mezcal", &CreateOptions::default()).unwrap();
        assert!(p.config_file().is_file() && p.nodefile().is_file() && p.log_dir().is_dir());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(p.security_dir())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(Profile::find(&site, "mezcal").unwrap().dir, p.dir);
        assert!(Profile::create(&site, "mezcal", &CreateOptions::default()).is_err());
        let names: Vec<String> = Profile::list(&site).into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["mezcal"]);
        let e = Profile::find(&site, "tequila").unwrap_err().to_string();
        assert!(
            e.contains("hs profile create tequila") && e.contains("mezcal"),
            "{e}"
        );
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in ["", ".hidden", "a b", "x;y"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name("gpu-2.a_b").is_ok());
    }
}
