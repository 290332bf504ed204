//! The `hs client` command line every launched engine runs. The key is never on it (command
//! lines are visible to every user of a host) nor in its environment (which every task it runs
//! would inherit): engines started locally or over ssh read the connection file from their
//! stdin (`--file -`), and engines started by mpirun, srun or another command, whose stdin only
//! one rank sees, read it from a 0600 file (`--key-file`).

use std::path::PathBuf;

/// How the engine learns where the controller is and its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connect {
    /// `--file -`: the connection file arrives as one line on stdin, and the end of stdin means
    /// the launcher is gone (the engine stops instead of lingering).
    Stdin,
    /// `-H HOST -p PORT --key-file FILE`.
    Address {
        host: String,
        port: u16,
        key_file: PathBuf,
    },
}

/// Options every launched engine gets.
#[derive(Clone, Debug)]
pub struct EngineArgs {
    /// hs on the engine's host.
    pub exe: String,
    /// Executor slots per engine (0 = its host's cores).
    pub slots: u32,
    /// `-t`, when not the default `{}`.
    pub template: Option<String>,
    pub task_timeout: Option<f64>,
    pub signalwait: Option<f64>,
    /// `--executor`, when the flag or a key set it (another host's configuration would not).
    pub executor: Option<String>,
    pub capture: bool,
    /// `--keep-daemons`.
    pub keep_daemons: bool,
    /// Idle seconds before an engine leaves (`-T`).
    pub idle_timeout: Option<f64>,
    /// `-d`: negative = a random wait up to |d|.
    pub delay_start: f64,
    /// `-C`, `-M`, `--gpus` as given; an engine given none offers its own host's.
    pub capacity: Vec<String>,
}

/// How long a launched engine that lost its controller keeps trying before it gives up (its
/// `--reconnect-limit`): launched engines belong to their controller and must not linger long
/// without it.
const RECONNECT_LIMIT_SECS: f64 = 60.0;

impl EngineArgs {
    /// The words after the program: `client --file - -N 4 …`.
    pub fn argv(&self, connect: &Connect) -> Vec<String> {
        let mut argv = vec!["client".to_string()];
        match connect {
            Connect::Stdin => argv.extend(["--file".into(), "-".into()]),
            Connect::Address {
                host,
                port,
                key_file,
            } => argv.extend([
                "-H".into(),
                host.clone(),
                "-p".into(),
                port.to_string(),
                "--key-file".into(),
                key_file.display().to_string(),
            ]),
        }
        argv.extend(["-N".into(), self.slots.to_string()]);
        if let Some(t) = &self.template {
            argv.extend(["-t".into(), t.clone()]);
        }
        let mut secs = |flag: &str, v: f64| argv.extend([flag.to_string(), v.to_string()]);
        if let Some(v) = self.task_timeout {
            secs("-W", v);
        }
        if let Some(v) = self.signalwait {
            secs("-S", v);
        }
        if let Some(v) = self.idle_timeout {
            secs("-T", v);
        }
        if self.delay_start != 0.0 {
            secs("--delay-start", self.delay_start);
        }
        secs("--reconnect-limit", RECONNECT_LIMIT_SECS);
        if let Some(executor) = &self.executor {
            argv.extend(["--executor".into(), executor.clone()]);
        }
        if self.capture {
            argv.push("--capture".into());
        }
        if self.keep_daemons {
            argv.push("--keep-daemons".into());
        }
        argv.extend(self.capacity.iter().cloned());
        argv
    }
}

/// This hs's own absolute path, the default program for engines on hosts that share the
/// filesystem (the usual HPC set-up); `engines.remote_exe`/`--remote-exe` says otherwise.
pub fn own_exe() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.into_os_string().into_string().ok())
        .map(|p| {
            p.strip_suffix(" (deleted)")
                .map(str::to_string)
                .unwrap_or(p)
        })
        .map(|p| match p.strip_suffix('x') {
            // hsx is hs cluster; engines need hs.
            Some(base) if base.ends_with("/hs") => base.to_string(),
            _ => p,
        })
        .unwrap_or_else(|| "hs".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_never_on_the_command_line() {
        let args = EngineArgs {
            exe: "hs".into(),
            slots: 4,
            template: Some("echo {}".into()),
            task_timeout: Some(2.5),
            signalwait: None,
            executor: None,
            capture: true,
            keep_daemons: false,
            idle_timeout: Some(10.0),
            delay_start: -3.0,
            capacity: Vec::new(),
        };
        let argv = args.argv(&Connect::Stdin);
        assert_eq!(
            argv,
            [
                "client",
                "--file",
                "-",
                "-N",
                "4",
                "-t",
                "echo {}",
                "-W",
                "2.5",
                "-T",
                "10",
                "--delay-start",
                "-3",
                "--reconnect-limit",
                "60",
                "--capture"
            ]
        );
        let argv = args.argv(&Connect::Address {
            host: "10.0.0.1".into(),
            port: 50001,
            key_file: "/site/lib/security/engine-x.key".into(),
        });
        assert_eq!(
            &argv[..7],
            [
                "client",
                "-H",
                "10.0.0.1",
                "-p",
                "50001",
                "--key-file",
                "/site/lib/security/engine-x.key"
            ]
        );
    }
}
