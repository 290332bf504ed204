//! Starting engines somewhere else than in the controller's process: as local processes, over
//! ssh, with mpirun, or with any command that starts programs on a cluster (`srun …`). Used by
//! `hs cluster --ssh/--mpi/--launcher/--autoscaling` and by `hs start --profile`.

pub mod autoscale;
pub mod control;
mod engine_args;
mod fleet;
pub mod hostlist;
mod ssh;
mod supervise;

use std::path::PathBuf;

use hs_broker::connection::ConnectionInfo;

pub use engine_args::{Connect, EngineArgs, own_exe};
pub use fleet::{Exited, Fleet};
pub use ssh::options as ssh_options;
pub use supervise::{Supervisor, SupervisorConfig};

/// How engines are started.
#[derive(Clone, Debug, PartialEq)]
pub enum Launcher {
    /// `count` `hs client` processes on this host.
    Local { count: u32 },
    /// `per_host` engines on each host, each through its own ssh session.
    Ssh {
        hosts: Vec<String>,
        per_host: u32,
        args: Vec<String>,
        /// `-E/--env`: send this process's `HYPERSHELL_*` variables along.
        forward_env: bool,
    },
    /// One `mpirun -np count` whose ranks are engines.
    Mpi {
        count: u32,
        hostfile: Option<std::path::PathBuf>,
        args: Vec<String>,
    },
    /// One run of `argv` followed by the engine command (`srun -n3`, a site's own wrapper);
    /// the command decides how many engines start.
    Command { argv: Vec<String> },
}

impl Launcher {
    pub fn name(&self) -> &'static str {
        match self {
            Launcher::Local { .. } => "local",
            Launcher::Ssh { .. } => "ssh",
            Launcher::Mpi { .. } => "mpi",
            Launcher::Command { .. } => "command",
        }
    }

    /// Whether it starts engines by ssh on hosts other than this one, which a controller
    /// listening on localhost only cannot serve.
    pub fn reaches_other_hosts(&self) -> bool {
        matches!(self, Launcher::Ssh { hosts, .. }
            if hosts.iter().any(|h| h != "localhost" && h != "127.0.0.1"))
    }

    /// Engines this launcher is known to start (`None`: the command decides).
    pub fn expected_engines(&self) -> Option<u64> {
        match self {
            Launcher::Local { count } | Launcher::Mpi { count, .. } => Some(u64::from(*count)),
            Launcher::Ssh {
                hosts, per_host, ..
            } => Some(hosts.len() as u64 * u64::from(*per_host)),
            Launcher::Command { .. } => None,
        }
    }
}

/// Everything needed to start engines for one controller.
#[derive(Clone, Debug)]
pub struct LaunchSpec {
    pub launcher: Launcher,
    pub engine: EngineArgs,
    /// Where engines dial and the key (`host` is the address they can reach).
    pub info: ConnectionInfo,
    /// A private (0700) folder, on a filesystem the engines' hosts share for mpirun and
    /// commands like srun (the site's or the profile's `security/`): engines those start get
    /// the key in a 0600 file there, since only the first rank would see a pipe.
    pub key_dir: PathBuf,
    /// How one more engine starts (autoscaling, `hs start --add`) when not as `launcher` would:
    /// a profile's slurm launcher asks srun for one task, `autoscale.launcher` replaces it.
    pub one: Option<Launcher>,
}

impl LaunchSpec {
    /// Start every engine the launcher describes.
    pub fn launch_all(&self, fleet: &mut Fleet) -> anyhow::Result<()> {
        match &self.launcher {
            Launcher::Local { count } => {
                for _ in 0..*count {
                    self.launch_local(fleet)?;
                }
            }
            Launcher::Ssh {
                hosts,
                per_host,
                args,
                forward_env,
            } => {
                for host in hosts {
                    for _ in 0..*per_host {
                        self.launch_ssh(fleet, host, args, *forward_env)?;
                    }
                }
            }
            Launcher::Mpi {
                count,
                hostfile,
                args,
            } => self.launch_mpi(fleet, *count, hostfile.as_deref(), args)?,
            Launcher::Command { argv } => {
                self.launch_with_key(fleet, argv.join(" "), argv.clone())?;
            }
        }
        Ok(())
    }

    /// Start one more engine (autoscaling, `hs start --add`): a local process, an ssh session
    /// to the host with the fewest running, an `mpirun -np 1`, or one run of the command.
    pub fn launch_one(&self, fleet: &mut Fleet) -> anyhow::Result<()> {
        match self.one.as_ref().unwrap_or(&self.launcher) {
            Launcher::Local { .. } => self.launch_local(fleet),
            Launcher::Ssh {
                hosts,
                args,
                forward_env,
                ..
            } => {
                // Ssh members are labelled with their host.
                let host = least_busy(hosts, |h| fleet.running_labelled(h))
                    .ok_or_else(|| anyhow::anyhow!("the ssh launcher has no hosts"))?;
                self.launch_ssh(fleet, host, args, *forward_env)
            }
            Launcher::Mpi { hostfile, args, .. } => {
                self.launch_mpi(fleet, 1, hostfile.as_deref(), args)
            }
            Launcher::Command { argv } => self.launch_with_key(fleet, argv.join(" "), argv.clone()),
        }
    }

    /// `mpirun [args] -np COUNT [--hostfile FILE] hs client …`.
    fn launch_mpi(
        &self,
        fleet: &mut Fleet,
        count: u32,
        hostfile: Option<&std::path::Path>,
        args: &[String],
    ) -> anyhow::Result<()> {
        let mut argv = vec!["mpirun".to_string()];
        argv.extend(args.iter().cloned());
        argv.extend(["-np".into(), count.to_string()]);
        if let Some(h) = hostfile {
            argv.extend(["--hostfile".into(), h.display().to_string()]);
        }
        self.launch_with_key(fleet, "mpirun".into(), argv)
    }

    fn stdin_line(&self) -> String {
        serde_json::to_string(&self.info).expect("connection info serialises")
    }

    fn launch_local(&self, fleet: &mut Fleet) -> anyhow::Result<()> {
        let mut argv = vec![self.engine.exe.clone()];
        argv.extend(self.engine.argv(&Connect::Stdin));
        let label = format!("engine {}", fleet.launched() + 1);
        fleet.spawn(label, &argv, &[], Some(&self.stdin_line()))?;
        Ok(())
    }

    fn launch_ssh(
        &self,
        fleet: &mut Fleet,
        host: &str,
        args: &[String],
        forward_env: bool,
    ) -> anyhow::Result<()> {
        let mut remote = vec![self.engine.exe.clone()];
        remote.extend(self.engine.argv(&Connect::Stdin));
        let exports = if forward_env {
            ssh::exports()
        } else {
            Vec::new()
        };
        let argv = ssh::command(host, args, &exports, &remote);
        fleet.spawn(host.to_string(), &argv, &[], Some(&self.stdin_line()))?;
        Ok(())
    }

    /// `prefix… hs client -H HOST -p PORT --key-file FILE …`: the key in a 0600 file, never
    /// in the environment (every task an engine runs would inherit it) nor on a command line.
    fn launch_with_key(
        &self,
        fleet: &mut Fleet,
        label: String,
        mut argv: Vec<String>,
    ) -> anyhow::Result<()> {
        let key_file = self.key_file();
        // Written again for each launch (the same key): an autoscaled launch long after the
        // first finds it even if someone removed it.
        hs_engine::private::write_private(&key_file, format!("{}\n", self.info.key).as_bytes())
            .map_err(|e| {
                anyhow::anyhow!("cannot write the key file {}: {e}", key_file.display())
            })?;
        argv.push(self.engine.exe.clone());
        argv.extend(self.engine.argv(&Connect::Address {
            host: self.info.host.clone(),
            port: self.info.engine_port,
            key_file,
        }));
        fleet.spawn(label, &argv, &[], None)?;
        Ok(())
    }

    /// The key file of [`launch_with_key`](Self::launch_with_key): one per controller.
    fn key_file(&self) -> PathBuf {
        self.key_dir
            .join(format!("engine-{}.key", self.info.controller_id))
    }

    /// Remove the key file once no more engines will be launched (nothing if none was needed).
    pub fn remove_key_file(&self) {
        let _ = std::fs::remove_file(self.key_file());
    }
}

/// The host running the fewest of our processes; ties go to the first in the list (the
/// nodefile's order), so added engines spread evenly.
fn least_busy(hosts: &[String], running: impl Fn(&str) -> usize) -> Option<&str> {
    hosts.iter().map(String::as_str).min_by_key(|h| running(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_more_ssh_engine_goes_to_the_host_running_fewest_first_in_order() {
        let hosts: Vec<String> = ["h1", "h2", "h3"].map(String::from).to_vec();
        let counts = |h1, h2, h3| {
            move |h: &str| {
                [("h1", h1), ("h2", h2), ("h3", h3)]
                    .iter()
                    .find(|(name, _)| *name == h)
                    .map_or(0, |(_, n)| *n)
            }
        };
        assert_eq!(least_busy(&hosts, counts(1, 1, 1)), Some("h1"));
        assert_eq!(least_busy(&hosts, counts(2, 1, 1)), Some("h2"));
        assert_eq!(least_busy(&hosts, counts(2, 2, 0)), Some("h3"));
        assert_eq!(least_busy(&[], counts(0, 0, 0)), None);
    }
}
