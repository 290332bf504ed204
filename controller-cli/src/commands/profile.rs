//! `hs profile create|list|show`.

use std::io::Write;

use crate::cli::{ProfileAction, ProfileArgs};
use crate::config::{Config, Context, Layers, key};
use crate::exit::{Failure, Status};
use crate::launch::hostlist;
use crate::profile::state::{self, ClusterState};
use crate::profile::{CreateOptions, Profile, launcher, nodefile};
use crate::site::Site;

pub fn run(args: ProfileArgs) -> anyhow::Result<Status> {
    let site = Site::from_env();
    let mut out = std::io::stdout().lock();
    match args.action {
        ProfileAction::Create(c) => {
            let hosts = match &c.hosts {
                Some(list) => hostlist::expand(list).map_err(|e| Failure::usage(e.to_string()))?,
                None => Vec::new(),
            };
            let options = CreateOptions {
                launcher: c.launcher,
                engines: c.engines,
                slots: c.slots,
                bind: c.bind,
                hosts,
                autoscale: c.autoscale,
                max_size: c.max_size,
            };
            let profile = Profile::create(&site, &c.name, &options)?;
            writeln!(out, "{}", profile.dir.display())?;
            eprintln!(
                "created profile {}: edit {} (and the nodefile), then `hs start --profile {}`",
                profile.name,
                profile.config_file().display(),
                profile.name
            );
        }
        ProfileAction::List => {
            let profiles = Profile::list(&site);
            if profiles.is_empty() {
                eprintln!(
                    "no profiles in {}: create one with `hs profile create NAME`",
                    site.root.display()
                );
            }
            for p in profiles {
                writeln!(
                    out,
                    "{:<20} {:<8} {}",
                    p.name,
                    state_word(&p),
                    p.dir.display()
                )?;
            }
        }
        ProfileAction::Show { name } => {
            let profile = Profile::find(&site, &name)?;
            let cfg =
                Config::load_with(Context::from_process().with_profile(profile.config_file()))
                    .map_err(Failure::from)?;
            let launcher = launcher::from_config(&cfg, &profile, None)?;
            let autoscale = super::cluster_launch::autoscale(
                &Default::default(),
                &cfg,
                launcher::autoscaled(&profile),
            )?;
            let slots = cfg.value(None::<u32>, key::ENGINES_SLOTS)?;
            let bind = cfg
                .option(None::<String>, key::SERVER_BIND, Layers::All)?
                .unwrap_or_default();
            writeln!(out, "profile   {}", profile.name)?;
            writeln!(out, "folder    {}", profile.dir.display())?;
            writeln!(out, "state     {}", state_word(&profile))?;
            writeln!(out, "launcher  {}", describe(&launcher))?;
            if let Some(a) = &autoscale {
                writeln!(
                    out,
                    "autoscale {}, {} engines at the start, {} to {}, a look every {}s (factor {})",
                    a.policy.name(),
                    a.init,
                    a.min,
                    a.max,
                    a.period.as_secs_f64(),
                    a.factor
                )?;
            }
            writeln!(out, "slots     {slots} per engine")?;
            writeln!(out, "bind      {bind}")?;
            if let Ok(nodes) = nodefile::read(&profile.nodefile()) {
                let hosts: Vec<String> = nodes
                    .iter()
                    .map(|n| match n.slots {
                        Some(s) => format!("{} ({s})", n.host),
                        None => n.host.clone(),
                    })
                    .collect();
                writeln!(out, "nodefile  {}", hosts.join(", "))?;
            }
        }
    }
    Ok(Status::Ok)
}

fn state_word(p: &Profile) -> &'static str {
    match state::read(&p.state_file()) {
        Some(s) if ClusterState::running(&s) => "running",
        _ => "stopped",
    }
}

fn describe(l: &crate::launch::Launcher) -> String {
    use crate::launch::Launcher::*;
    match l {
        Local { count } => format!("local, {count} engines"),
        Ssh {
            hosts, per_host, ..
        } => format!("ssh, {per_host} engine(s) on each of {} hosts", hosts.len()),
        Mpi { count, .. } => format!("mpi, mpirun -np {count}"),
        Command { argv } => format!("command: {} …", argv.join(" ")),
    }
}
