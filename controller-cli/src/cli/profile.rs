//! The IPython-dialect commands' arguments (`hs profile`, `hs start`, `hs stop`, `hs status`,
//! `hs top`, `hs log`) and the cluster a task command works on.

use super::*;

/// Which cluster a task command works on: the configured database by default.
#[derive(Args, Debug, Clone, Default)]
pub struct TargetArgs {
    /// The cluster of this profile (its database; see `hs profile list`).
    #[arg(long, value_name = "NAME", conflicts_with = "file")]
    pub profile: Option<String>,
    /// The cluster of this client connection file (`security/hs-client.json` of a running
    /// profile, copied here): its database.
    #[arg(long = "file", value_name = "CLIENT_JSON")]
    pub file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ProfileArgs {
    #[command(subcommand)]
    pub action: ProfileAction,
}

#[derive(Subcommand, Debug)]
pub enum ProfileAction {
    /// Make `<site>/profile_NAME/` with config.toml, nodefile, security/ (0700) and log/.
    Create(ProfileCreateArgs),
    /// List the profiles of this site, and whether each is running.
    List,
    /// Show a profile: its folder, launcher, engines, hosts and state.
    Show {
        /// The profile's name (or folder).
        #[arg(value_name = "NAME")]
        name: String,
    },
}

#[derive(Args, Debug)]
pub struct ProfileCreateArgs {
    /// The profile's name: letters, digits, `.`, `_`, `-`.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// How engines start.
    #[arg(long, value_name = "LAUNCHER", value_parser = ["local", "ssh", "mpi", "slurm", "command"])]
    pub launcher: Option<String>,
    #[arg(help = format!(
        "Engines to start (local, mpi, slurm) [default: {}]",
        crate::profile::CREATE_ENGINES
    ))]
    #[arg(short = 'n', long = "engines", value_name = "N")]
    pub engines: Option<u32>,
    #[arg(help = format!(
        "Tasks each engine runs at once (0 = one per core) [default: {}]",
        key::ENGINES_SLOTS.default.shown()
    ))]
    #[arg(short = 'N', long = "num-threads", value_name = "NUM")]
    pub slots: Option<u32>,
    #[arg(help = format!(
        "Address the controller listens on [default: {}]",
        key::SERVER_BIND.default.shown()
    ))]
    #[arg(short = 'H', long, value_name = "ADDRESS")]
    pub bind: Option<String>,
    /// Hosts for the nodefile, as a host list: `h[1-3]`, `a01,a02`.
    #[arg(long, value_name = "HOSTLIST")]
    pub hosts: Option<String>,
    /// Start engines as the work needs them, with this policy: writes an `[autoscale]` section
    /// (without it the section is written commented out).
    #[arg(long, value_name = "POLICY", value_parser = ["fixed", "dynamic"])]
    pub autoscale: Option<String>,
    /// With --autoscale: the most engines (autoscale.size.max).
    #[arg(long, value_name = "N", requires = "autoscale")]
    pub max_size: Option<u32>,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// The profile to start (see `hs profile list`; a path with a `/` names a folder).
    #[arg(long, value_name = "NAME")]
    pub profile: String,
    /// Engines to start, instead of the profile's engines.count (autoscaled: instead of its
    /// autoscale.size.init).
    #[arg(short = 'n', long = "engines", value_name = "N")]
    pub engines: Option<u32>,
    /// Start in the background and return once the engines have registered (or failed).
    #[arg(long)]
    pub daemonize: bool,
    /// Add N engines to the profile's running cluster, started by its launcher (one local
    /// process, ssh session, `mpirun -np 1` or command run each); `hs stop` stops them too.
    /// Returns once they have registered (or after --startup-timeout).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = engine_count,
          conflicts_with_all = ["daemonize", "engines", "autoscaling", "remove"])]
    pub add: Option<u32>,
    /// Have the N engines the profile's launcher started last leave: each drains (takes no
    /// new task, hands back those not started, finishes those running). Returns once they
    /// have ended (or after --startup-timeout).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = engine_count,
          conflicts_with_all = ["daemonize", "engines", "autoscaling"])]
    pub remove: Option<u32>,
    /// With --daemonize or --add: seconds to wait for the engines to register; with --remove,
    /// for them to end.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS", value_parser = positive_secs)]
    pub startup_timeout: f64,
    #[command(flatten)]
    pub autoscale: AutoscaleArgs,
    #[command(flatten)]
    pub heartbeat: HeartbeatArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// `--add N`, `--remove N`, `hs engine -n N`: a whole number of engines, 1 or more.
pub(super) fn engine_count(s: &str) -> Result<u32, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if n >= 1 => u32::try_from(n).map_err(|_| format!("{n} engines are too many")),
        Ok(n) => Err(format!("{n}: the number of engines must be 1 or more")),
        Err(_) => Err(format!("{s:?} is not a number of engines")),
    }
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// The profile whose cluster to stop.
    #[arg(long, value_name = "NAME")]
    pub profile: String,
    /// Let queued tasks finish first (default: stop now; unfinished tasks stay in the database
    /// and run at the next start).
    #[arg(long)]
    pub drain: bool,
    /// Seconds to wait for the cluster to stop before killing it.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS", value_parser = positive_secs)]
    pub timeout: f64,
}

/// Which running controller `hs status` and `hs top` ask: a profile's, the one a connection
/// file names, or the one at `-H`/`-p` (by default the local `hs server` on the configured port,
/// found through the connection file it wrote).
#[derive(Args, Debug, Clone, Default)]
pub struct LiveTarget {
    /// The running cluster of this profile (`hs start --profile NAME`).
    #[arg(long, value_name = "NAME",
          conflicts_with_all = ["file", "host", "port", "auth", "key_file"])]
    pub profile: Option<String>,
    /// The controller this connection file names (or the folder holding it): what `hs server`
    /// and `hs cluster -p` write under the site's lib/security/, or a profile's
    /// security/hs-client.json copied elsewhere.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["host", "port", "auth", "key_file"])]
    pub file: Option<PathBuf>,
    #[arg(help = key::SERVER_HOST.help("Host of the controller"))]
    #[arg(short = 'H', long, value_name = "ADDR")]
    pub host: Option<String>,
    #[arg(help = key::SERVER_PORT.help("The controller's port (its -p)"))]
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,
    /// The controller's key; without it a local controller's connection file is used. Every
    /// user of this host sees -k in `ps`: prefer --key-file or client.auth in a config file
    /// [config: client.auth, else server.auth].
    #[arg(short = 'k', long = "auth", value_name = "KEY")]
    pub auth: Option<String>,
    /// Read the controller's key from this file (mode 0600, as `hs key -o FILE` writes).
    #[arg(long, value_name = "PATH", conflicts_with = "auth")]
    pub key_file: Option<PathBuf>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: LiveTarget,
    /// Print JSON instead of a table.
    #[arg(long, conflicts_with = "watch")]
    pub json: bool,
    /// Keep the view on screen and up to date, full-screen: the same as `hs top`.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// With --watch: seconds between updates.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = positive_secs,
          requires = "watch")]
    pub interval: f64,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    #[command(flatten)]
    pub target: LiveTarget,
    /// Print the snapshot once as JSON (as `hs status --json`) and exit: for scripts, and for
    /// outputs that are not a terminal.
    #[arg(long)]
    pub json: bool,
    /// Seconds between updates.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0, value_parser = positive_secs)]
    pub interval: f64,
}

/// How much a controller logs (stderr): `-v` debug, `-d` trace.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct LogArgs {
    /// More log detail (debug level).
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Most log detail (trace level).
    #[arg(short = 'd', long)]
    pub debug: bool,
}
