//! The launcher a profile's configuration describes (`[engines]`, `[ssh]`, the nodefile).

use crate::config::{Config, KeyDef, Layers, key};
use crate::exit::Failure;
use crate::launch::Launcher;

use super::{Profile, nodefile};

/// `engines.launcher` and the keys it uses; `count` overrides `engines.count` (`hs start -n`).
pub fn from_config(
    cfg: &Config,
    profile: &Profile,
    count: Option<u32>,
) -> anyhow::Result<Launcher> {
    let kind = cfg.value(None::<String>, key::ENGINES_LAUNCHER)?;
    let count = match count {
        Some(n) => n,
        None => cfg.value(None::<u32>, key::ENGINES_COUNT)?,
    };
    let words = |key: &KeyDef| -> anyhow::Result<Vec<String>> {
        let text = cfg
            .option(None::<String>, key, Layers::All)?
            .unwrap_or_default();
        shell_words::split(&text)
            .map_err(|e| Failure::usage(format!("{key} ({}): {e}", cfg.source(key.name))))
    };
    let nodefile = profile.nodefile();
    Ok(match kind.as_str() {
        "local" => Launcher::Local { count },
        "ssh" => Launcher::Ssh {
            hosts: nodefile::hosts(&nodefile).map_err(Failure::from)?,
            per_host: cfg.value(None::<u32>, key::ENGINES_PER_HOST)?.max(1),
            args: crate::launch::ssh_options(None, cfg)?,
            forward_env: cfg.value(None::<bool>, key::ENGINES_ENV)?,
        },
        "mpi" => {
            let hostfile = nodefile.exists().then_some(nodefile);
            if let Some(path) = &hostfile {
                // Checked here so a bad line is reported by hs, with its number.
                nodefile::read(path).map_err(Failure::from)?;
            }
            Launcher::Mpi {
                count,
                hostfile,
                args: words(key::ENGINES_MPI_ARGS)?,
            }
        }
        "slurm" => {
            let mut argv = words(key::ENGINES_COMMAND)?;
            if argv.is_empty() {
                argv.push("srun".into());
            }
            if !names_task_count(&argv) {
                argv.push(format!("--ntasks={count}"));
            }
            Launcher::Command { argv }
        }
        "command" => {
            let argv = words(key::ENGINES_COMMAND)?;
            if argv.is_empty() {
                return Err(Failure::usage(format!(
                    "{} = \"command\" needs {} (the program that starts engines, e.g. \
                     \"srun -n4\") in {}",
                    key::ENGINES_LAUNCHER,
                    key::ENGINES_COMMAND,
                    profile.config_file().display()
                )));
            }
            Launcher::Command { argv }
        }
        other => {
            return Err(Failure::usage(format!(
                "{} = {other:?} ({}): use local, ssh, mpi, slurm or command",
                key::ENGINES_LAUNCHER,
                cfg.source(key::ENGINES_LAUNCHER.name)
            )));
        }
    })
}

/// Whether the profile's own config.toml has an `[autoscale]` section: a profile autoscales
/// when its file says so (or `hs start -A`), not because a user's file or a variable sets the
/// default policy of `hs cluster -A`. (A file that does not parse was already reported when the
/// configuration was loaded.)
pub fn autoscaled(profile: &Profile) -> bool {
    std::fs::read_to_string(profile.config_file())
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .is_some_and(|table| table.contains_key("autoscale"))
}

/// Whether srun words already say how many tasks to start: `-n N`, `-nN`, `--ntasks=N`,
/// `--ntasks N`.
fn names_task_count(words: &[String]) -> bool {
    words.iter().any(|w| {
        w == "-n"
            || w.starts_with("--ntasks")
            || w.strip_prefix("-n")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_autoscale_section_of_the_profiles_own_file_turns_autoscaling_on() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile {
            name: "p".into(),
            dir: dir.path().to_path_buf(),
        };
        let with = |text: &str| {
            std::fs::write(profile.config_file(), text).unwrap();
            autoscaled(&profile)
        };
        assert!(!with(
            "[engines]\ncount = 2\n# [autoscale]\n# policy = \"dynamic\"\n"
        ));
        assert!(with("[engines]\ncount = 2\n[autoscale]\nsize.max = 3\n"));
        assert!(with("autoscale.policy = \"fixed\"\n"));
        assert!(!with("[autoscale\n"), "not TOML");
    }

    #[test]
    fn a_task_count_in_any_srun_spelling_is_kept() {
        let said = |text: &str| names_task_count(&shell_words::split(text).unwrap());
        for text in [
            "srun -n 4",
            "srun -n4",
            "srun --ntasks=4",
            "srun --ntasks 4",
        ] {
            assert!(said(text), "{text}");
        }
        for text in ["srun", "srun -N2", "srun --nodes=2 -c4", "srun --no-kill"] {
            assert!(!said(text), "{text}");
        }
    }
}
