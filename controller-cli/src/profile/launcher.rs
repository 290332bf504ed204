//! The launcher a profile's configuration describes (`[engines]`, `[ssh]`, the nodefile).

use crate::config::{Config, Layers};
use crate::exit::Failure;
use crate::launch::Launcher;

use super::{Profile, nodefile};

/// `engines.launcher` and the keys it uses; `count` overrides `engines.count` (`hs start -n`).
pub fn from_config(
    cfg: &Config,
    profile: &Profile,
    count: Option<u32>,
) -> anyhow::Result<Launcher> {
    let kind = cfg
        .option(None::<String>, "engines.launcher", Layers::All)?
        .unwrap_or_else(|| "local".into());
    let count = match count {
        Some(n) => n,
        None => cfg
            .option(None::<u32>, "engines.count", Layers::All)?
            .unwrap_or(1),
    };
    let words = |key: &str| -> anyhow::Result<Vec<String>> {
        let text = cfg
            .option(None::<String>, key, Layers::All)?
            .unwrap_or_default();
        shell_words::split(&text)
            .map_err(|e| Failure::usage(format!("{key} ({}): {e}", cfg.source(key))))
    };
    let nodefile = profile.nodefile();
    Ok(match kind.as_str() {
        "local" => Launcher::Local { count },
        "ssh" => {
            let nodes = nodefile::read(&nodefile).map_err(Failure::from)?;
            Launcher::Ssh {
                hosts: nodes.into_iter().map(|n| n.host).collect(),
                per_host: cfg
                    .option(None::<u32>, "engines.per_host", Layers::All)?
                    .unwrap_or(1)
                    .max(1),
                args: crate::launch::ssh_options(None, cfg)?,
                forward_env: cfg
                    .option(None::<bool>, "engines.env", Layers::All)?
                    .unwrap_or(false),
            }
        }
        "mpi" => {
            if nodefile.exists() {
                // Checked here so a bad line is reported by hs, with its number.
                nodefile::read(&nodefile).map_err(Failure::from)?;
            }
            Launcher::Mpi {
                count,
                hostfile: nodefile.exists().then_some(nodefile),
                args: words("engines.mpi_args")?,
            }
        }
        "slurm" => {
            let mut argv = words("engines.command")?;
            if argv.is_empty() {
                argv.push("srun".into());
            }
            if !argv.iter().any(|w| w.starts_with("--ntasks") || w == "-n") {
                argv.push(format!("--ntasks={count}"));
            }
            Launcher::Command { argv }
        }
        "command" => {
            let argv = words("engines.command")?;
            if argv.is_empty() {
                return Err(Failure::usage(format!(
                    "engines.launcher = \"command\" needs engines.command (the program that starts \
                     engines, e.g. \"srun -n4\") in {}",
                    profile.config_file().display()
                )));
            }
            Launcher::Command { argv }
        }
        other => {
            return Err(Failure::usage(format!(
                "engines.launcher = {other:?} ({}): use local, ssh, mpi, slurm or command",
                cfg.source("engines.launcher")
            )));
        }
    })
}
