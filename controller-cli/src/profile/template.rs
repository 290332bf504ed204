//! The files `hs profile create` writes: a config.toml that documents every key it sets, and a
//! nodefile.

use super::Profile;
use crate::config::key;

/// Engines a new profile starts when `hs profile create` is not told (`engines.count`'s own
/// default is 1).
pub const CREATE_ENGINES: u32 = 2;

/// Choices given to `hs profile create`; everything else gets a commented default.
#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    /// `local`, `ssh`, `mpi`, `slurm` or `command`.
    pub launcher: Option<String>,
    /// Engines to start (local, mpi, slurm, command).
    pub engines: Option<u32>,
    /// Tasks each engine runs at once.
    pub slots: Option<u32>,
    pub bind: Option<String>,
    /// Hosts for the nodefile (an expanded host list).
    pub hosts: Vec<String>,
    /// An autoscaling policy: writes `[autoscale]` (else it is written commented out).
    pub autoscale: Option<String>,
    /// `autoscale.size.max`.
    pub max_size: Option<u32>,
}

/// Idle seconds after which a new dynamically autoscaled profile's engines leave: without it
/// such a cluster only grows.
const AUTOSCALED_TIMEOUT: u32 = 60;

pub fn config(profile: &Profile, o: &CreateOptions) -> String {
    let shown = |k: &crate::config::KeyDef| k.default.shown();
    let launcher = o
        .launcher
        .clone()
        .unwrap_or_else(|| shown(key::ENGINES_LAUNCHER));
    let bind = o.bind.clone().unwrap_or_else(|| shown(key::SERVER_BIND));
    format!(
        r#"# hs profile {name:?}: `hs start --profile={name}` starts a controller and its engines as
# set here; `hs stop --profile={name}` stops them. Any hs configuration key may be set here
# too (docs/config.md); this file counts above the user's and below HYPERSHELL_* variables.

[server]
# Address the controller listens on. Engines on other hosts need an address they can reach
# (e.g. "0.0.0.0", or this host's address on the cluster network).
bind = "{bind}"
# Engine port (heartbeats use port+1, clients port+2); 0 = the first free ports from 50001.
port = 0

[engines]
# How engines start: "local" (processes on this host), "ssh" (the nodefile's hosts),
# "mpi" (mpirun with the nodefile as hostfile), "slurm" (srun), or "command" (engines.command).
launcher = "{launcher}"
# Engines to start with local, mpi, slurm and command (ssh: per_host on each nodefile host).
count = {count}
per_host = {per_host}
# Tasks each engine runs at once (0 = one per core of its host).
slots = {slots}
# launcher = "command": the program that starts engines; hs appends the engine command line.
# command = "srun --nodes=3 --ntasks=3"
# Extra options for mpirun, and hs on remote hosts (default: this hs's own path).
# mpi_args = ""
# remote_exe = "/opt/hs/bin/hs"
# Seconds engines wait before connecting (negative = a random wait up to |n|), and seconds an
# idle engine waits before leaving (0 = never).
delay_start = {delay_start}
timeout = {timeout}
# Each task's output in files of its own, sent to this site from engines on other hosts
# (`hs info ID --stdout`), and each task's cores and memory sampled (`hs info ID --perf`).
# capture = false
# monitor = false

[ssh]
# Options for every ssh connection, e.g. "-o ConnectTimeout=5".
# args = ""
# The ssh client configuration file (ssh -F), when not ssh's own default.
# config = ""

[database]
# Tasks of this profile, kept between starts. Or url = "postgres://user@host/db".
file = "{db}"
{autoscale}"#,
        name = profile.name,
        count = o.engines.unwrap_or(CREATE_ENGINES),
        slots = o
            .slots
            .map_or_else(|| shown(key::ENGINES_SLOTS), |n| n.to_string()),
        per_host = shown(key::ENGINES_PER_HOST),
        delay_start = shown(key::ENGINES_DELAY_START),
        timeout = match o.autoscale.as_deref() {
            Some("dynamic") => AUTOSCALED_TIMEOUT.to_string(),
            _ => shown(key::ENGINES_TIMEOUT),
        },
        db = profile.dir.join("main.db").display(),
        autoscale = autoscale(o),
    )
}

/// The `[autoscale]` section: active with a policy, else commented out. Either way each key is
/// explained, with HyperShell's defaults.
fn autoscale(o: &CreateOptions) -> String {
    let shown = |k: &crate::config::KeyDef| k.default.shown();
    // Commented out unless a policy was given.
    let on = if o.autoscale.is_some() { "" } else { "# " };
    let policy = o.autoscale.clone().unwrap_or_else(|| "dynamic".to_string());
    let max = o
        .max_size
        .map_or_else(|| shown(key::AUTOSCALE_SIZE_MAX), |n| n.to_string());
    format!(
        r#"
# Autoscaling: with this section `hs start` starts size.init engines (not engines.count), then
# adds one at a time with the launcher as the work needs them; engines leave after
# engines.timeout idle seconds (0 = never, so set it). `hs start -n N` sets the initial size.
# policy "fixed": keep size.min engines, and start one when none runs and work waits;
# "dynamic": also add one while the work left would take more than factor x the average task
# duration, up to size.max. One decision every period seconds.
{on}[autoscale]
{on}policy = "{policy}"
{on}factor = {factor}
{on}period = {period}
{on}size.init = {init}
{on}size.min = {min}
{on}size.max = {max}
# The command prefix that starts each autoscaled engine (default: the engines.launcher).
# launcher = "srun --ntasks=1"
"#,
        factor = shown(key::AUTOSCALE_FACTOR),
        period = shown(key::AUTOSCALE_PERIOD),
        init = shown(key::AUTOSCALE_SIZE_INIT),
        min = shown(key::AUTOSCALE_SIZE_MIN),
    )
}

pub fn nodefile(o: &CreateOptions) -> String {
    let mut text = String::from(
        "# Hosts for the ssh and mpi launchers: `host [slots]` per line (`host slots=N` as in an\n\
         # MPI hostfile works too). Lines starting with # are comments.\n",
    );
    if o.hosts.is_empty() {
        text.push_str("localhost\n");
    }
    for h in &o.hosts {
        text.push_str(h);
        text.push('\n');
    }
    text
}
