//! `hs cluster` (`hsx`) arguments and the launchers that start its engines elsewhere.

use super::*;

#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// File with one command (or template argument) per line; stdin when absent or `-`.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub slots: SlotArgs,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub bundle: BundleArgs,

    /// Write the line of every failed task to this file (`-` = stdout).
    #[arg(short = 'f', long, alias = "failed", value_name = "PATH")]
    pub failures: Option<PathBuf>,

    #[command(flatten)]
    pub fail_exit: FailExitArgs,

    #[arg(help = key::CLIENT_TIMEOUT.help(
        "Stop after this many seconds with no task waiting or running (0 = never)"
    ))]
    #[arg(short = 'T', long = "timeout", value_name = "SECONDS", value_parser = positive_secs)]
    pub idle_timeout: Option<f64>,

    /// Keep running after the input ends and run what `hs submit` adds to the database (also
    /// tasks left from earlier runs); stop with Ctrl-C or SIGUSR1.
    #[arg(long, conflicts_with_all = ["restart", "no_db", "from_json"])]
    pub forever: bool,

    #[arg(help = key::TASK_CORES.help("Cores each task needs, stored with the task (0 = unset)"))]
    #[arg(short = 'c', long, value_name = "NUM")]
    pub cores: Option<i64>,

    #[arg(help = key::TASK_MEMORY.help(
        "Memory each task needs, e.g. 8G, stored with the task (0 = unset)"
    ))]
    #[arg(short = 'm', long, value_name = "SIZE", value_parser = size_bytes)]
    pub memory: Option<i64>,

    #[arg(help = key::TASK_GPUS.help("GPUs each task needs, kept with the task (0 = none)"))]
    #[arg(long, value_name = "N")]
    pub gpus: Option<u32>,

    #[command(flatten)]
    pub capacity: CapacityArgs,

    #[command(flatten)]
    pub poll: PollArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub tls: TlsArgs,

    /// Tasks from JSON objects (an array, or one per line): keys fill `{key}` in -t and become
    /// tags; `args` is `{}`. A field missing from any object stops everything before it starts.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["file", "restart"])]
    pub from_json: Option<PathBuf>,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Also accept engines on localhost: PORT (engines), PORT+1 (heartbeats), PORT+2 (clients);
    /// a connection file for `hs client -p PORT` is written under the site directory.
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,

    #[command(flatten)]
    pub heartbeat: HeartbeatArgs,

    #[command(flatten)]
    pub launch: LaunchArgs,

    /// More log detail (debug level).
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Most log detail (trace level).
    #[arg(long)]
    pub debug: bool,
}

/// Engines outside this process: over ssh, with mpirun, with any launcher, or autoscaled.
#[derive(Args, Debug, Clone, Default)]
pub struct LaunchArgs {
    /// Run engines on these hosts over ssh, one session per host: a host list such as
    /// `h[1-3]`, `a[00-04].x,b[02,05].y`. Without a value: the hosts of `ssh.nodelist`
    /// (a list or a pattern) or of --nodefile.
    #[arg(long, value_name = "HOSTS", num_args = 0..=1, default_missing_value = "",
          conflicts_with_all = ["mpi", "launcher", "autoscaling"])]
    pub ssh: Option<String>,

    /// Run engines on the hosts of this named list in `[ssh.nodelist]`.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["mpi", "launcher", "autoscaling"])]
    pub ssh_group: Option<String>,

    #[arg(help = key::SSH_ARGS.help(
        "Options for every ssh connection, e.g. \"-F ~/.ssh/cluster -o ConnectTimeout=5\""
    ))]
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub ssh_args: Option<String>,

    /// With --ssh: send this process's HYPERSHELL_* variables to the engines.
    #[arg(short = 'E', long)]
    pub env: bool,

    /// hs on the engines' hosts [default: this hs's own path].
    #[arg(long, value_name = "PATH")]
    pub remote_exe: Option<String>,

    /// Run engines as the ranks of one mpirun (-N slots each); with --nodefile as its hostfile.
    #[arg(long, conflicts_with_all = ["launcher", "autoscaling"])]
    pub mpi: bool,

    /// Hosts file (`host [slots]` lines): the hostfile of --mpi, the hosts of a bare --ssh.
    #[arg(long, value_name = "PATH")]
    pub nodefile: Option<PathBuf>,

    /// Start engines with this command followed by the engine command line, e.g.
    /// 'srun --ntasks=3'; the command decides how many engines start.
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub launcher: Option<String>,

    /// Engines wait this many seconds before connecting; negative = a random wait up to
    /// |SECONDS| (spreads the registration of a large launch).
    #[arg(
        short = 'd',
        long,
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = delay_secs
    )]
    pub delay_start: Option<f64>,

    #[arg(help = key::SERVER_BIND.help(
        "Address the controller listens on for launched engines; they must be able to reach it"
    ))]
    #[arg(short = 'H', long, value_name = "ADDRESS")]
    pub bind: Option<String>,

    #[command(flatten)]
    pub autoscale: AutoscaleArgs,
}

/// Autoscaling flags (`hs cluster -A`, `hs start --profile`): flags over `autoscale.*`.
#[derive(Args, Debug, Clone, Default)]
pub struct AutoscaleArgs {
    #[arg(help = key::AUTOSCALE_POLICY.help(&format!(
        "Start and add engines as the work needs them, one at a time (a local process, or one \
         run of --launcher or of the {} command prefix; a profile's own launcher): fixed or \
         dynamic; engines leave by their idle timeout (-T, a profile's {})",
        key::AUTOSCALE_LAUNCHER,
        key::ENGINES_TIMEOUT
    )))]
    #[arg(short = 'A', long, value_name = "POLICY", num_args = 0..=1, default_missing_value = "",
          value_parser = ["", "fixed", "dynamic"])]
    pub autoscaling: Option<String>,

    #[arg(help = key::AUTOSCALE_FACTOR.help(
        "Autoscaling: add an engine while the work left would take more than FACTOR average \
         task durations"
    ))]
    #[arg(short = 'F', long, value_name = "FACTOR", requires = "autoscaling")]
    pub factor: Option<f64>,

    #[arg(help = key::AUTOSCALE_PERIOD.help("Autoscaling: seconds between decisions"))]
    #[arg(short = 'P', long, value_name = "SECONDS", requires = "autoscaling",
          value_parser = positive_secs)]
    pub period: Option<f64>,

    #[arg(help = key::AUTOSCALE_SIZE_INIT.help("Autoscaling: engines at the start"))]
    #[arg(short = 'I', long, value_name = "N", requires = "autoscaling")]
    pub init_size: Option<u32>,

    #[arg(help = key::AUTOSCALE_SIZE_MIN.help("Autoscaling: fewest engines kept"))]
    #[arg(short = 'X', long, value_name = "N", requires = "autoscaling")]
    pub min_size: Option<u32>,

    #[arg(help = key::AUTOSCALE_SIZE_MAX.help("Autoscaling: most engines (dynamic)"))]
    #[arg(short = 'Y', long, value_name = "N", requires = "autoscaling")]
    pub max_size: Option<u32>,
}
