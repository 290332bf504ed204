//! Starting engines somewhere else than in the controller's process: as local processes, over
//! ssh, with mpirun, or with any command that starts programs on a cluster (`srun …`). Used by
//! `hs cluster --ssh/--mpi/--launcher/--autoscaling` and by `hs start --profile`.

pub mod autoscale;
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
            } => {
                let mut argv = vec!["mpirun".to_string()];
                argv.extend(args.iter().cloned());
                argv.extend(["-np".into(), count.to_string()]);
                if let Some(h) = hostfile {
                    argv.extend(["--hostfile".into(), h.display().to_string()]);
                }
                self.launch_with_key(fleet, "mpirun".into(), argv)?;
            }
            Launcher::Command { argv } => {
                self.launch_with_key(fleet, argv.join(" "), argv.clone())?;
            }
        }
        Ok(())
    }

    /// Start one more engine (autoscaling): a local process, or one run of the command.
    pub fn launch_one(&self, fleet: &mut Fleet) -> anyhow::Result<()> {
        match &self.launcher {
            Launcher::Local { .. } => self.launch_local(fleet),
            Launcher::Command { argv } => self.launch_with_key(fleet, argv.join(" "), argv.clone()),
            other => anyhow::bail!(
                "the {} launcher cannot add engines one at a time",
                other.name()
            ),
        }
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
