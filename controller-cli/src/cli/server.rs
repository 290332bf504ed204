//! Arguments of the controller and engine processes of their own: `hs server`, `hs client`,
//! `hs stream`, and the bundling options they share.

use super::*;

/// Bundling of tasks and results.
#[derive(Args, Debug, Clone)]
pub struct BundleArgs {
    #[arg(help = format!(
        "Most tasks per bundle sent to an engine; 0 = as many as it has room for (1 per slot \
         for long tasks, up to 64 per slot for tasks of a few ms); an engine also sends its \
         results in bundles of this size (0 = half of what it holds) [default: {}, config: {} \
         for the controller, {} for the engine; used only when set]",
        key::SERVER_BUNDLESIZE.fallback().shown(),
        key::SERVER_BUNDLESIZE,
        key::CLIENT_BUNDLESIZE
    ))]
    #[arg(short = 'b', long, value_name = "NUM")]
    pub bundlesize: Option<usize>,

    #[arg(help = format!(
        "Seconds an engine may hold finished results to send them together (0 = send at once; \
         results go at once anyway when its queue runs dry or nothing else runs) [default: \
         0.05, config: {}; used only when set]",
        key::CLIENT_BUNDLEWAIT
    ))]
    #[arg(short = 'w', long, value_name = "SECONDS", value_parser = non_negative_secs)]
    pub bundlewait: Option<f64>,
}

#[derive(Args, Debug)]
pub struct ServerArgs {
    /// File with one task per line; stdin when absent or `-` (not read with --forever or
    /// --restart and no FILE).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[arg(help = key::SERVER_BIND.help("Address to listen on. Anything but localhost needs a key (-k)"))]
    #[arg(short = 'H', long = "bind", value_name = "ADDRESS")]
    pub bind: Option<String>,

    #[arg(help = key::SERVER_PORT.help("Engine port; heartbeats use PORT+1 and clients PORT+2"))]
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Shared key (16+ characters, hard to guess: `hs key` makes one). Without it a key is
    /// generated and written to a connection file (mode 0600) that local engines find by
    /// themselves. Every user of this host sees -k in `ps`: prefer --key-file, server.auth in a
    /// config file, or HYPERSHELL_SERVER_AUTH [config: server.auth].
    #[arg(short = 'k', long = "auth", alias = "authkey", value_name = "KEY")]
    pub auth: Option<String>,

    /// Read the shared key from this file (its first line; mode 0600, as `hs key -o FILE` writes
    /// it): the key stays off the command line.
    #[arg(long, value_name = "PATH", conflicts_with = "auth")]
    pub key_file: Option<PathBuf>,

    /// Accept a key that is long enough but easy to guess (repeats, runs, one kind of
    /// character), for keys already in use [config: server.weakkey].
    #[arg(long)]
    pub weak_key: bool,

    #[command(flatten)]
    pub bundle: BundleArgs,

    /// Write failed task lines here (`-` = stdout, the default).
    #[arg(
        short = 'f',
        long,
        alias = "output",
        value_name = "PATH",
        conflicts_with = "print"
    )]
    pub failures: Option<PathBuf>,

    /// Write failed task lines to stdout (what hs does without -f).
    #[arg(long)]
    pub print: bool,

    #[command(flatten)]
    pub fail_exit: FailExitArgs,

    /// Keep serving after the input ends (clients may submit more).
    #[arg(long, conflicts_with = "restart")]
    pub forever: bool,

    #[arg(help = key::TASK_CORES.help("Cores each task of FILE needs, stored with the task (0 = unset)"))]
    #[arg(short = 'c', long = "task-cores", value_name = "NUM")]
    pub cores: Option<i64>,

    #[arg(help = key::TASK_MEMORY.help(
        "Memory each task of FILE needs, e.g. 8G, stored with the task (0 = unset)"
    ))]
    #[arg(short = 'm', long = "task-memory", value_name = "SIZE", value_parser = size_bytes)]
    pub memory: Option<i64>,

    #[arg(help = key::TASK_GPUS.help("GPUs each task of FILE needs, kept with the task (0 = none)"))]
    #[arg(long = "task-gpus", value_name = "N")]
    pub gpus: Option<u32>,

    #[arg(help = key::TASK_TIMEOUT.help(
        "Walltime of each task of FILE in seconds, stored with the task (engines stop it then; \
         0 = unset)"
    ))]
    #[arg(short = 'W', long = "task-timeout", value_name = "SECONDS", value_parser = positive_secs)]
    pub task_timeout: Option<f64>,

    #[command(flatten)]
    pub poll: PollArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub tls: TlsArgs,

    #[command(flatten)]
    pub store: StoreArgs,

    #[command(flatten)]
    pub heartbeat: HeartbeatArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

/// `hs key`.
#[derive(Args, Debug)]
pub struct KeyArgs {
    /// Write the key to this new file (mode 0600) instead of stdout, for `--key-file PATH`.
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Store the key as server.auth in your config file, ~/.hypershell/config.toml (made 0600):
    /// hs server, hs client and hs submit -q on hosts sharing your home then use it.
    #[arg(long, conflicts_with = "local")]
    pub user: bool,

    /// Store the key as server.auth in this project's config file (./.hypershell/config.toml, or
    /// $HYPERSHELL_SITE/config.toml; made 0600).
    #[arg(long)]
    pub local: bool,

    /// Check a key read from stdin (its first line) instead of making one: print its estimated
    /// strength; exit 2 if hs server would refuse it.
    #[arg(long, conflicts_with_all = ["output", "user", "local"])]
    pub check: bool,
}

#[derive(Args, Debug)]
pub struct ClientArgs {
    #[arg(help = key::SERVER_HOST.help("Host of the server"))]
    #[arg(short = 'H', long, value_name = "HOST")]
    pub host: Option<String>,

    #[arg(help = key::SERVER_PORT.help("The server's port (its -p)"))]
    #[arg(short = 'p', long, value_name = "PORT")]
    pub port: Option<u16>,

    /// The server's key. Without it, the connection file of a local server on PORT is used.
    /// Every user of this host sees -k in `ps`: prefer --key-file, client.auth in a config file,
    /// or HYPERSHELL_CLIENT_AUTH [config: client.auth, else server.auth].
    #[arg(short = 'k', long = "auth", alias = "authkey", value_name = "KEY")]
    pub auth: Option<String>,

    /// Read the server's key from this file (its first line; mode 0600, as `hs key -o FILE`
    /// writes it): the key stays off the command line. Launchers start engines this way.
    #[arg(long, value_name = "PATH", conflicts_with = "auth")]
    pub key_file: Option<PathBuf>,

    /// Connection file to use (address, ports and key), e.g. one copied from the server's host;
    /// `-` reads it as one line from stdin, and the engine then stops when stdin ends (how
    /// launchers start engines without putting the key on a command line).
    #[arg(long = "file", value_name = "PATH", conflicts_with_all = ["auth", "key_file"])]
    pub connection_file: Option<PathBuf>,

    /// Join the running cluster of this profile (its security/hs-engine.json).
    #[arg(long, value_name = "NAME",
          conflicts_with_all = ["auth", "key_file", "connection_file", "host", "port"])]
    pub profile: Option<String>,

    /// With --profile: have the running profile's launcher start N engines with the profile's
    /// settings (as `hs start --profile NAME --add N`) instead of running one here; `hs stop`
    /// stops them.
    #[arg(short = 'n', long = "engines", value_name = "N", requires = "profile",
          allow_negative_numbers = true, value_parser = super::profile::engine_count,
          conflicts_with_all = ["SlotArgs", "RunArgs", "BundleArgs", "idle_timeout",
                                "CapacityArgs", "gpus", "ConfirmArgs", "TlsArgs", "delay_start",
                                "connect_timeout", "reconnect_limit"])]
    pub engines: Option<u32>,

    #[command(flatten)]
    pub slots: SlotArgs,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub bundle: BundleArgs,

    #[arg(help = key::CLIENT_TIMEOUT.help("Leave after this many seconds with nothing to do (0 = never)"))]
    #[arg(short = 'T', short_alias = 'x', long = "timeout", value_name = "SECONDS",
          value_parser = positive_secs)]
    pub idle_timeout: Option<f64>,

    #[command(flatten)]
    pub capacity: CapacityArgs,

    /// GPUs this engine hands out: a count, or devices such as 0,1 (`--client-gpus` by its
    /// `hs cluster` name; default: those found).
    #[arg(long, value_name = "LIST|N", value_parser = super::compat::gpu_list,
          conflicts_with = "client_gpus")]
    pub gpus: Option<super::compat::GpuList>,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub tls: TlsArgs,

    /// Wait this many seconds before connecting; negative = a random wait up to |SECONDS|.
    #[arg(
        short = 'd',
        long = "delay-start",
        default_value_t = 0.0,
        value_name = "SECONDS",
        allow_negative_numbers = true,
        value_parser = delay_secs
    )]
    pub delay_start: f64,

    /// Give up if no server answers within this many seconds.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS", value_parser = positive_secs)]
    pub connect_timeout: f64,

    /// Give up after the server has been unreachable this long, counted from the last message
    /// heard, and exit with status 5. (Running tasks were stopped and handed back already, just
    /// before the server's eviction time: it may run them elsewhere.)
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS", value_parser = positive_secs)]
    pub reconnect_limit: f64,

    #[arg(short = 'v', long, help = "More log detail (debug level).")]
    pub verbose: bool,

    #[arg(long, help = "Most log detail (trace level).")]
    pub debug: bool,
}

#[derive(Args, Debug)]
pub struct StreamArgs {
    #[command(flatten)]
    pub slots: SlotArgs,

    /// Run the jobs on a running controller (`hs server`, `hs start`) through its connection
    /// file (or a directory holding it) instead of a cluster inside this process; its engines'
    /// settings then apply, not -N, -t, -W, -S, -o, -e or --capture.
    #[arg(
        long = "file",
        value_name = "CONN.json",
        conflicts_with_all = [
            "num_threads", "template", "task_timeout", "signalwait", "executor", "capture", "output",
            "errors", "bundlesize", "bundlewait", "heartrate", "evict", "host_wait",
        ]
    )]
    pub connection_file: Option<PathBuf>,

    /// Run the jobs on the running cluster of this profile (its security/hs-client.json); as
    /// with --file, its engines' settings apply.
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with_all = [
            "connection_file", "num_threads", "template", "task_timeout", "signalwait", "executor", "capture",
            "output", "errors", "bundlesize", "bundlewait", "heartrate", "evict", "host_wait",
        ]
    )]
    pub profile: Option<String>,

    /// Write results in input order (default: as jobs finish).
    #[arg(long)]
    pub keep_order: bool,

    #[arg(help = key::SERVER_HOSTWAIT.help(
        "Seconds a job with a \"host\" waits for an engine on one of its hosts before it fails \
         without running (0: at once)"
    ))]
    #[arg(long = "host-wait", value_name = "SECONDS", value_parser = non_negative_secs)]
    pub host_wait: Option<f64>,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub bundle: BundleArgs,

    #[command(flatten)]
    pub heartbeat: HeartbeatArgs,

    #[command(flatten)]
    pub log: LogArgs,
}
