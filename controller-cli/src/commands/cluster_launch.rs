//! What `hs cluster --ssh/--ssh-group/--mpi/--launcher/--autoscaling` launch: the launcher,
//! the autoscaling settings and the engine command line, from flags over configuration, and
//! where the controller listens for the engines it launches.

use std::sync::Arc;
use std::time::Duration;

use hs_broker::{BindSet, RunControl};
use uuid::Uuid;

use super::listen::{bind_address, choose_port, dial_address, tcp_binds};
use crate::cli::{ClusterArgs, LaunchArgs};
use crate::config::{Config, Layers, key};
use crate::connection::ConnectionInfo;
use crate::exit::Failure;
use crate::launch::autoscale::{Policy, Settings};
use crate::launch::{
    EngineArgs, LaunchSpec, Launcher, Supervisor, SupervisorConfig, hostlist, own_exe,
};
use crate::profile::nodefile;

/// Engines launched outside this process: what to start, and where the controller listens for
/// them and for clients, the launch supervisor among them.
pub struct RemotePlan {
    spec: LaunchSpec,
    autoscale: Option<Settings>,
    pub bind: BindSet,
}

/// Listen on TCP (`-H`, `-p`, else the first free ports from 50001) for the engines `launcher`
/// starts with `slots` slots each (`templated`: tasks come expanded, from `--from-json`).
pub fn plan(
    args: &ClusterArgs,
    cfg: &Config,
    launcher: Launcher,
    key: &str,
    templated: bool,
    slots: u32,
) -> anyhow::Result<RemotePlan> {
    let host = cfg.value(args.launch.bind.clone(), key::SERVER_BIND)?;
    let (address, loopback) = bind_address(&host)?;
    if loopback && launcher.reaches_other_hosts() {
        tracing::warn!(
            "the controller listens on localhost only: engines on other hosts cannot reach it; \
             pass -H with an address they can reach"
        );
    }
    let port = choose_port(&address, args.port)?;
    // The broker's id is filled in once it is bound.
    let info = ConnectionInfo {
        no_tls: args.tls.no_tls,
        ..ConnectionInfo::for_this_process(Uuid::nil(), dial_address(&address, loopback), port, key)
    };
    tracing::info!(
        "controller on {host}:{port}; starting engines with the {} launcher",
        launcher.name()
    );
    Ok(RemotePlan {
        spec: LaunchSpec {
            launcher,
            engine: engine_args(args, slots, cfg, templated)?,
            info,
            key_dir: crate::site::Site::from_env().security_dir()?,
        },
        autoscale: autoscale(&args.launch, cfg)?,
        bind: tcp_binds(&address, port),
    })
}

impl RemotePlan {
    /// Tasks an engine may hold beyond its `slots`. An engine added by the autoscaler can only
    /// help with tasks still queued at the controller: engines hold no more than they run.
    /// Launched engines register one after another: a small prefetch keeps the first one from
    /// taking a short queue all to itself.
    pub fn prefetch(&self, slots: u32) -> u32 {
        match self.autoscale {
            Some(_) => 0,
            None => slots.max(1),
        }
    }

    /// Launch the engines of the controller `controller_id`; once it ends they get
    /// `stop_grace` to leave before they are killed.
    pub fn start(
        mut self,
        controller_id: Uuid,
        stop_grace: Duration,
        control: Arc<RunControl>,
    ) -> anyhow::Result<Supervisor> {
        self.spec.info.controller_id = controller_id;
        let config = SupervisorConfig {
            spec: self.spec,
            autoscale: self.autoscale,
            end_with_engines: true,
            stop_grace,
        };
        Ok(Supervisor::start(config, control)?)
    }
}

/// The launcher the flags ask for (`None`: the engine runs inside this process).
pub fn launcher(args: &LaunchArgs, cfg: &Config) -> anyhow::Result<Option<Launcher>> {
    let ssh_args = crate::launch::ssh_options(args.ssh_args.as_deref(), cfg)?;
    let ssh = |hosts: Vec<String>| Launcher::Ssh {
        hosts,
        per_host: 1,
        args: ssh_args.clone(),
        forward_env: args.env,
    };
    if let Some(group) = &args.ssh_group {
        return Ok(Some(ssh(nodelist(cfg, Some(group))?)));
    }
    if let Some(list) = &args.ssh {
        let hosts = if !list.is_empty() {
            hostlist::expand(list).map_err(|e| Failure::usage(e.to_string()))?
        } else if let Some(path) = &args.nodefile {
            nodefile::hosts(path).map_err(Failure::from)?
        } else {
            nodelist(cfg, None)?
        };
        return Ok(Some(ssh(hosts)));
    }
    if args.mpi {
        let count = match &args.nodefile {
            Some(path) => nodefile::read(path)
                .map_err(Failure::from)?
                .iter()
                .map(|n| n.slots.unwrap_or(1))
                .sum(),
            None => 1,
        };
        return Ok(Some(Launcher::Mpi {
            count,
            hostfile: args.nodefile.clone(),
            args: Vec::new(),
        }));
    }
    // Autoscaled engines start through `autoscale.launcher` when it is set (HyperShell's key),
    // else as local processes.
    let command = match (&args.launcher, args.autoscaling.is_some()) {
        (Some(command), _) => Some((command.clone(), "--launcher".to_string())),
        (None, true) => cfg
            .option(None::<String>, key::AUTOSCALE_LAUNCHER, Layers::Set)?
            .filter(|c| !c.trim().is_empty())
            .map(|c| {
                (
                    c,
                    format!(
                        "{} ({})",
                        key::AUTOSCALE_LAUNCHER,
                        cfg.source(key::AUTOSCALE_LAUNCHER.name)
                    ),
                )
            }),
        (None, false) => None,
    };
    if let Some((command, what)) = command {
        let argv =
            shell_words::split(&command).map_err(|e| Failure::usage(format!("{what}: {e}")))?;
        if argv.is_empty() {
            return Err(Failure::usage(format!(
                "{what} needs a command, e.g. 'srun -n4'"
            )));
        }
        return Ok(Some(Launcher::Command { argv }));
    }
    if args.autoscaling.is_some() {
        return Ok(Some(Launcher::Local { count: 0 }));
    }
    Ok(None)
}

/// Autoscaling settings: flags over `autoscale.*`.
pub fn autoscale(args: &LaunchArgs, cfg: &Config) -> anyhow::Result<Option<Settings>> {
    let Some(policy) = &args.autoscaling else {
        return Ok(None);
    };
    let policy = if policy.is_empty() {
        cfg.value(None::<String>, key::AUTOSCALE_POLICY)?
    } else {
        policy.clone()
    };
    let policy: Policy = policy.parse().map_err(Failure::usage)?;
    let period = cfg.value(args.period, key::AUTOSCALE_PERIOD)?;
    if !(period > 0.0 && period.is_finite()) {
        return Err(Failure::usage(
            "--period must be a positive number of seconds",
        ));
    }
    let settings = Settings {
        policy,
        factor: cfg.value(args.factor, key::AUTOSCALE_FACTOR)?,
        period: Duration::from_secs_f64(period),
        init: cfg.value(args.init_size, key::AUTOSCALE_SIZE_INIT)?,
        min: cfg.value(args.min_size, key::AUTOSCALE_SIZE_MIN)?,
        max: cfg.value(args.max_size, key::AUTOSCALE_SIZE_MAX)?,
    };
    if settings.factor <= 0.0 {
        return Err(Failure::usage("--factor must be above 0"));
    }
    if settings.min > settings.max && policy == Policy::Dynamic {
        return Err(Failure::usage("--min-size is above --max-size"));
    }
    Ok(Some(settings))
}

/// The command line of every launched engine.
pub fn engine_args(
    args: &ClusterArgs,
    slots: u32,
    cfg: &Config,
    templated: bool,
) -> anyhow::Result<EngineArgs> {
    if args.run.output.is_some() || args.run.errors.is_some() {
        return Err(Failure::usage(
            "-o/-e work only when the engine runs inside hs cluster; with launched engines use --capture",
        ));
    }
    use super::common::positive;
    Ok(EngineArgs {
        exe: args.launch.remote_exe.clone().unwrap_or_else(own_exe),
        slots,
        template: (!templated && args.run.template != "{}").then(|| args.run.template.clone()),
        task_timeout: positive(cfg.option(
            args.run.task_timeout,
            key::TASK_TIMEOUT,
            Layers::All,
        )?),
        // Engines on other hosts do not see this host's configuration: a set key goes along.
        signalwait: cfg.option(args.run.signalwait, key::TASK_SIGNALWAIT, Layers::Set)?,
        executor: cfg.option(args.run.executor.clone(), key::TASK_EXECUTOR, Layers::Set)?,
        capture: args.run.capture,
        keep_daemons: args.run.keep_daemons,
        idle_timeout: positive(cfg.option(args.idle_timeout, key::CLIENT_TIMEOUT, Layers::All)?),
        delay_start: args.launch.delay_start.unwrap_or(0.0),
        capacity: capacity_argv(
            &args.capacity,
            super::common::ratelimit(&args.capacity, cfg)?,
        ),
    })
}

/// `-C`, `-M`, `--client-gpus`, `-R` (`rate`, the flag or this host's `client.ratelimit`)
/// and `--monitor` for each launched engine (as `hs client` takes them).
fn capacity_argv(capacity: &crate::cli::CapacityArgs, rate: Option<f64>) -> Vec<String> {
    let mut argv = Vec::new();
    if let Some(cores) = capacity.client_cores {
        argv.extend(["-C".to_string(), cores.to_string()]);
    }
    if let Some(memory) = capacity.client_memory {
        argv.extend(["-M".to_string(), memory.to_string()]);
    }
    match capacity.client_gpus.as_ref().map(|g| g.0.as_slice()) {
        None => {}
        Some([]) => argv.extend(["--gpus".to_string(), "0".to_string()]),
        // A list, even of one: a lone number would be read as a count.
        Some(gpus) => argv.extend(["--gpus".to_string(), format!("{},", gpus.join(","))]),
    }
    if let Some(rate) = rate {
        argv.extend(["-R".to_string(), rate.to_string()]);
    }
    if capacity.monitor {
        argv.push("--monitor".to_string());
    }
    argv
}

/// Hosts from `[ssh.nodelist]`: the named group, or (no name) the list itself when it is a
/// flat list or a pattern.
fn nodelist(cfg: &Config, group: Option<&str>) -> anyhow::Result<Vec<String>> {
    use serde_json::Value;
    let key = match group {
        Some(g) => format!("{}.{g}", key::SSH_NODELIST),
        None => key::SSH_NODELIST.name.to_string(),
    };
    let missing = || {
        Failure::usage(match group {
            Some(g) => format!(
                "no host list {g:?} in [ssh.nodelist]: add `{g} = [\"host1\", \"host2\"]` or a pattern like \"a[00-31]\" to your configuration"
            ),
            None => "--ssh without hosts needs ssh.nodelist (a list or a pattern) in the configuration, or --nodefile".into(),
        })
    };
    let value = cfg.get(&key).map_err(Failure::from)?.ok_or_else(missing)?;
    let list = match value {
        Value::String(pattern) => pattern,
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(Failure::usage(format!(
                    "{key}: {other:?} is not a host name"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?
            .join(","),
        _ => return Err(missing()),
    };
    hostlist::expand(&list).map_err(|e| Failure::usage(format!("{key}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{CapacityArgs, GpuList};

    #[test]
    fn launched_engines_get_the_capacity_rate_and_monitor_of_the_cluster() {
        assert!(capacity_argv(&CapacityArgs::default(), None).is_empty());
        let capacity = CapacityArgs {
            client_cores: Some(8),
            client_gpus: Some(GpuList(vec!["0".into()])),
            ratelimit: Some(2.5),
            monitor: true,
            ..CapacityArgs::default()
        };
        assert_eq!(
            capacity_argv(&capacity, Some(2.5)),
            ["-C", "8", "--gpus", "0,", "-R", "2.5", "--monitor"]
        );
    }
}
