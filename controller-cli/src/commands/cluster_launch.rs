//! What `hs cluster --ssh/--ssh-group/--mpi/--launcher/--autoscaling` launch: the launcher,
//! the autoscaling settings and the engine command line, from flags over configuration, and
//! where the controller listens for the engines it launches.

use std::sync::Arc;
use std::time::Duration;

use hs_broker::{BindSet, RunControl};
use uuid::Uuid;

use super::listen::{bind_address, choose_port, dial_address, tcp_binds};
use crate::cli::{AutoscaleArgs, ClusterArgs, LaunchArgs};
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
            one: None,
        },
        autoscale: autoscale(&args.launch.autoscale, cfg, false)?,
        bind: tcp_binds(&address, port),
    })
}

impl RemotePlan {
    /// Tasks an engine may hold beyond its `slots`: none when autoscaled (see
    /// [`PREFETCH`](crate::launch::autoscale::PREFETCH)). Launched engines register one after another: a small prefetch keeps the first one from
    /// taking a short queue all to itself.
    pub fn prefetch(&self, slots: u32) -> u32 {
        match self.autoscale {
            Some(_) => crate::launch::autoscale::PREFETCH,
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
            control: None,
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
    if let Some(command) = &args.launcher {
        return command_launcher(command, "--launcher").map(Some);
    }
    // Autoscaled engines start through `autoscale.launcher` when it is set (HyperShell's key),
    // else as local processes.
    if args.autoscale.autoscaling.is_some() {
        let launcher = autoscale_launcher(cfg)?.unwrap_or(Launcher::Local { count: 0 });
        return Ok(Some(launcher));
    }
    Ok(None)
}

/// `autoscale.launcher`, when set: the command prefix that starts each autoscaled engine.
pub fn autoscale_launcher(cfg: &Config) -> anyhow::Result<Option<Launcher>> {
    let Some(command) = cfg
        .option(None::<String>, key::AUTOSCALE_LAUNCHER, Layers::Set)?
        .filter(|c| !c.trim().is_empty())
    else {
        return Ok(None);
    };
    let what = format!(
        "{} ({})",
        key::AUTOSCALE_LAUNCHER,
        cfg.source(key::AUTOSCALE_LAUNCHER.name)
    );
    command_launcher(&command, &what).map(Some)
}

/// A launcher command given as one string (`what` names where it came from).
fn command_launcher(command: &str, what: &str) -> anyhow::Result<Launcher> {
    let argv = shell_words::split(command).map_err(|e| Failure::usage(format!("{what}: {e}")))?;
    if argv.is_empty() {
        return Err(Failure::usage(format!(
            "{what} needs a command, e.g. 'srun -n4'"
        )));
    }
    Ok(Launcher::Command { argv })
}

/// Autoscaling settings, flags over `autoscale.*`: when `-A` is given, or (`from_config`) when
/// the configuration alone asks for it (a profile's `[autoscale]`).
pub fn autoscale(
    args: &AutoscaleArgs,
    cfg: &Config,
    from_config: bool,
) -> anyhow::Result<Option<Settings>> {
    let flag = match &args.autoscaling {
        Some(p) => p.as_str(),
        None if from_config => "",
        None => return Ok(None),
    };
    // The flag's values are checked by its parser; a configured one is named when wrong.
    let configured = |k: &crate::config::KeyDef, what: &str| {
        Failure::usage(format!("{k} ({}): {what}", cfg.source(k.name)))
    };
    let policy: Policy = if flag.is_empty() {
        let name = cfg.value(None::<String>, key::AUTOSCALE_POLICY)?;
        name.parse().map_err(|_| {
            configured(
                key::AUTOSCALE_POLICY,
                &format!("{name:?} is not a policy: use fixed or dynamic"),
            )
        })?
    } else {
        flag.parse().map_err(Failure::usage)?
    };
    // The flag's parser refuses what no Duration holds; a configured value is checked here.
    let period = Duration::try_from_secs_f64(cfg.value(args.period, key::AUTOSCALE_PERIOD)?)
        .ok()
        .filter(|p| !p.is_zero())
        .ok_or_else(|| {
            configured(
                key::AUTOSCALE_PERIOD,
                "must be a positive number of seconds",
            )
        })?;
    let settings = Settings {
        policy,
        factor: cfg.value(args.factor, key::AUTOSCALE_FACTOR)?,
        period,
        init: cfg.value(args.init_size, key::AUTOSCALE_SIZE_INIT)?,
        min: cfg.value(args.min_size, key::AUTOSCALE_SIZE_MIN)?,
        max: cfg.value(args.max_size, key::AUTOSCALE_SIZE_MAX)?,
    };
    if !(settings.factor > 0.0 && settings.factor.is_finite()) {
        return Err(match args.factor {
            Some(_) => Failure::usage("--factor must be above 0"),
            None => configured(key::AUTOSCALE_FACTOR, "must be a number above 0"),
        });
    }
    if settings.min > settings.max && policy == Policy::Dynamic {
        return Err(Failure::usage(format!(
            "the autoscaling minimum size {} is above the maximum {} (--min-size/--max-size, \
             else {}/{})",
            settings.min,
            settings.max,
            key::AUTOSCALE_SIZE_MIN,
            key::AUTOSCALE_SIZE_MAX
        )));
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
