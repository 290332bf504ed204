//! The launcher a profile's configuration describes (`[engines]`, `[ssh]`, the nodefile).

use crate::config::{Config, KeyDef, Layers, Level, Source, key};
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

/// Whether the profile's own config.toml sets an `autoscale.*` key: a profile autoscales when
/// its file says so (or `hs start -A`), not because a user's file sets the default policy of
/// `hs cluster -A`.
pub fn autoscaled(cfg: &Config) -> bool {
    [
        key::AUTOSCALE_POLICY,
        key::AUTOSCALE_FACTOR,
        key::AUTOSCALE_PERIOD,
        key::AUTOSCALE_LAUNCHER,
        key::AUTOSCALE_SIZE_INIT,
        key::AUTOSCALE_SIZE_MIN,
        key::AUTOSCALE_SIZE_MAX,
    ]
    .iter()
    .any(|k| {
        matches!(
            cfg.source(k.name),
            Source::File {
                level: Level::Profile,
                ..
            }
        )
    })
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
