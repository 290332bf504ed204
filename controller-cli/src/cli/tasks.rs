//! Arguments of the commands that read and change the task store: `submit`, `list`, `update`,
//! `info`, `wait`, `run` and `initdb`.

use super::*;

/// Task settings given on the command line (the same keys as `# HYPERSHELL:` directives).
#[derive(Args, Debug, Clone, Default)]
pub struct TaskSettingArgs {
    /// Tags: `key` or `key:value` (letters, digits and . _ + -).
    #[arg(short = 't', long = "tag", value_name = "TAG", num_args = 1..)]
    pub tags: Vec<String>,
    /// Task group (only the active group is scheduled; see docs).
    #[arg(short = 'g', long, value_name = "N")]
    pub group: Option<i64>,
    #[arg(help = key::TASK_CORES.help("Cores each task needs (0 = unset)"))]
    #[arg(short = 'c', long, value_name = "N")]
    pub cores: Option<i64>,
    #[arg(help = key::TASK_MEMORY.help("Memory each task needs, e.g. 8G, 512MB (0 = unset)"))]
    #[arg(short = 'm', long, value_name = "SIZE", value_parser = size_bytes)]
    pub memory: Option<i64>,
    #[arg(help = key::TASK_GPUS.help("GPUs each task needs (0 = none)"))]
    #[arg(long, value_name = "N")]
    pub gpus: Option<u32>,
    #[arg(help = key::TASK_TIMEOUT.help("Walltime of each task in seconds (0 = unset)"))]
    #[arg(short = 'W', long = "timeout", value_name = "SECONDS", value_parser = whole_secs)]
    pub timeout: Option<i64>,
}

#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// A command (its words joined), `-` for stdin, or an existing task file. Nothing = stdin.
    /// Options may come before or after; put a command with options of its own after `--`:
    /// `hs submit -t x -- ls -l`.
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    /// Read tasks from this file (`-` = stdin).
    #[arg(
        short = 'f',
        long = "task-file",
        value_name = "FILE",
        conflicts_with = "args"
    )]
    pub task_file: Option<PathBuf>,
    /// Tasks from JSON objects (an array, or one per line): keys fill `{key}` in --template and
    /// become tags; `args` is `{}`. A field missing from any object stops everything.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["args", "task_file"])]
    pub from_json: Option<PathBuf>,
    /// Submit-side template applied to each line before it is stored (see docs/templates.md).
    #[arg(long, value_name = "TEMPLATE", default_value = "{}")]
    pub template: String,
    #[command(flatten)]
    pub settings: TaskSettingArgs,
    #[arg(help = key::SUBMIT_BUNDLESIZE.help("Tasks per database transaction"))]
    #[arg(short = 'b', long, value_name = "NUM")]
    pub bundlesize: Option<usize>,
    /// Accepted for HyperShell: hs commits a bundle as soon as the input has no more lines
    /// ready, so nothing waits for this many seconds.
    #[arg(short = 'w', long, value_name = "SECONDS", value_parser = non_negative_secs)]
    pub bundlewait: Option<f64>,
    /// Create the database tables first.
    #[arg(long, conflicts_with = "queue")]
    pub initdb: bool,
    /// Send the tasks to a running controller (`hs server` on -H/-p) instead of the database:
    /// it stores and schedules them (in memory when it runs with --no-db).
    #[arg(short = 'q', long, conflicts_with_all = ["profile", "file"])]
    pub queue: bool,
    #[arg(help = key::SERVER_HOST.help("With -q: host of the controller"))]
    #[arg(short = 'H', long, value_name = "ADDR", requires = "queue")]
    pub host: Option<String>,
    #[arg(help = key::SERVER_PORT.help("With -q: the controller's port (its -p)"))]
    #[arg(short = 'p', long, value_name = "PORT", requires = "queue")]
    pub port: Option<u16>,
    /// With -q: the controller's key; without it a local controller's connection file is used.
    /// Every user of this host sees -k in `ps`: prefer --key-file or client.auth in a config
    /// file [config: client.auth, else server.auth].
    #[arg(short = 'k', long = "auth", value_name = "KEY", requires = "queue")]
    pub auth: Option<String>,
    /// With -q: read the controller's key from this file (mode 0600, as `hs key -o FILE` writes).
    #[arg(long, value_name = "PATH", requires = "queue", conflicts_with = "auth")]
    pub key_file: Option<PathBuf>,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the id of a single submitted task on stdout (`hs task submit`).
    #[arg(skip)]
    pub print_id: bool,
}

/// Which tasks a command applies to.
#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Conditions, ANDed: `FIELD OP VALUE` with OP one of == != < <= > >= ~ (regex).
    #[arg(short = 'w', long = "where", value_name = "COND", num_args = 1..)]
    pub conditions: Vec<String>,
    /// Tasks with these tags (`key` or `key:value`), ANDed.
    #[arg(short = 't', long = "with-tag", value_name = "TAG", num_args = 1..)]
    pub tags: Vec<String>,
    /// Only tasks of this group.
    #[arg(short = 'g', long, value_name = "N")]
    pub group: Option<i64>,
    /// Failed tasks (exit_status != 0).
    #[arg(short = 'F', long)]
    pub failed: bool,
    /// Tasks that succeeded.
    #[arg(short = 'S', long)]
    pub succeeded: bool,
    /// Tasks that finished (any status).
    #[arg(short = 'C', long, visible_alias = "finished")]
    pub completed: bool,
    /// Tasks not finished yet.
    #[arg(short = 'R', long)]
    pub remaining: bool,
    /// Tasks that are retries of others.
    #[arg(long)]
    pub retries: bool,
    /// Order by this field.
    #[arg(short = 's', long = "order-by", value_name = "FIELD")]
    pub order_by: Option<String>,
    /// Descending order (with --order-by; alone it changes nothing, as in HyperShell).
    #[arg(long)]
    pub desc: bool,
    /// At most this many tasks.
    #[arg(short = 'l', long, value_name = "N")]
    pub limit: Option<u64>,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Fields to show (default: all, as one block per task).
    #[arg(value_name = "FIELD")]
    pub fields: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Only print how many tasks match.
    #[arg(short = 'c', long)]
    pub count: bool,
    /// Output format.
    #[arg(short = 'f', long, value_name = "FORMAT", value_parser = ["normal", "plain", "table", "csv", "json"])]
    pub format: Option<String>,
    /// Same as --format json.
    #[arg(long, conflicts_with_all = ["format", "csv"])]
    pub json: bool,
    /// Same as --format csv.
    #[arg(long, conflicts_with = "format")]
    pub csv: bool,
    /// Field separator for plain and csv.
    #[arg(short = 'd', long, value_name = "TEXT")]
    pub delimiter: Option<String>,
    /// List the field names and exit.
    #[arg(long = "fields")]
    pub fields_list: bool,
    /// List the distinct tag keys.
    #[arg(long)]
    pub tag_keys: bool,
    /// List the distinct values of one tag.
    #[arg(long, value_name = "KEY")]
    pub tag_values: Option<String>,
    /// Read the SQLite database alone, not the `main.N` partitions `hs initdb --rotate` made
    /// beside it.
    #[arg(short = 'i', long)]
    pub ignore_partitions: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Changes: `field=value` or `tagkey:value`; or, as in HyperShell, `ID FIELD VALUE`.
    #[arg(value_name = "ARG")]
    pub changes: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Cancel the tasks (they are never scheduled or retried).
    #[arg(long, conflicts_with_all = ["revert", "delete"])]
    pub cancel: bool,
    /// Reset the tasks so they run again.
    #[arg(long, conflicts_with = "delete")]
    pub revert: bool,
    /// Delete the tasks.
    #[arg(long)]
    pub delete: bool,
    /// Remove these tags.
    #[arg(long = "remove-tag", value_name = "KEY", num_args = 1..)]
    pub remove_tags: Vec<String>,
    /// Do not ask for confirmation.
    #[arg(short = 'f', long = "no-confirm", visible_alias = "yes")]
    pub no_confirm: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The task id.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Print only this field.
    #[arg(short = 'x', long = "extract", value_name = "FIELD", conflicts_with_all = ["stdout", "stderr"])]
    pub extract: Option<String>,
    /// Print the task's captured stdout.
    #[arg(long, conflicts_with = "stderr")]
    pub stdout: bool,
    /// Print the task's captured stderr.
    #[arg(long, conflicts_with = "perf")]
    pub stderr: bool,
    /// Print the task's resource samples (CSV, from engines run with --monitor).
    #[arg(long, conflicts_with_all = ["extract", "stdout"])]
    pub perf: bool,
    #[command(flatten)]
    pub format: InfoFormatArgs,
    /// Read the SQLite database alone, not the `main.N` partitions `hs initdb --rotate` made
    /// beside it.
    #[arg(short = 'i', long)]
    pub ignore_partitions: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// How `hs info` and `hs wait --info` print a task.
#[derive(Args, Debug, Clone, Default)]
pub struct InfoFormatArgs {
    /// Output format.
    #[arg(short = 'f', long, value_name = "FORMAT", value_parser = ["normal", "json", "yaml"])]
    pub format: Option<String>,
    /// Same as --format json.
    #[arg(long, conflicts_with_all = ["format", "yaml"])]
    pub json: bool,
    /// Same as --format yaml.
    #[arg(long, conflicts_with = "format")]
    pub yaml: bool,
}

impl InfoFormatArgs {
    /// The chosen format: `normal`, `json` or `yaml`.
    pub fn name(&self) -> &str {
        if self.json {
            "json"
        } else if self.yaml {
            "yaml"
        } else {
            self.format.as_deref().unwrap_or("normal")
        }
    }
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    /// The task id.
    #[arg(value_name = "ID")]
    pub id: String,
    /// Seconds between checks.
    #[arg(short = 'n', long, default_value_t = 1.0, value_name = "SECONDS", value_parser = positive_secs)]
    pub interval: f64,
    /// Exit with the task's own exit status.
    #[arg(short = 'r', long = "return", conflicts_with_all = ["info", "status"])]
    pub return_status: bool,
    /// Then print the task, as `hs info` does.
    #[arg(short = 'i', long, conflicts_with = "status")]
    pub info: bool,
    /// Then print the task's exit status.
    #[arg(short = 's', long)]
    pub status: bool,
    #[command(flatten)]
    pub format: InfoFormatArgs,
    /// Give up after this many seconds (exit 5).
    #[arg(short = 'T', long, value_name = "SECONDS", value_parser = positive_secs)]
    pub timeout: Option<f64>,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Args, Debug)]
pub struct RunTaskArgs {
    /// The command; put it after `--` when it has options of its own: `hs run -- ls -l`.
    #[arg(value_name = "ARGS", required = true)]
    pub args: Vec<String>,
    /// Seconds between checks.
    #[arg(short = 'n', long, default_value_t = 0.5, value_name = "SECONDS", value_parser = positive_secs)]
    pub interval: f64,
    #[command(flatten)]
    pub settings: TaskSettingArgs,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Args, Debug)]
pub struct InitdbArgs {
    /// Drop and recreate the tables (deletes every task).
    #[arg(short = 't', long, conflicts_with_all = ["vacuum", "backup", "rotate"])]
    pub truncate: bool,
    /// Reclaim space.
    #[arg(short = 'v', long, conflicts_with_all = ["backup", "rotate"])]
    pub vacuum: bool,
    /// Copy the database to PATH (SQLite; PATH must not exist).
    #[arg(short = 'b', long, value_name = "PATH", conflicts_with = "rotate")]
    pub backup: Option<PathBuf>,
    /// Move the finished tasks into the next partition file `main.N` beside the database,
    /// tagged `part:N` (SQLite only; safe while a controller serves).
    #[arg(short = 'r', long)]
    pub rotate: bool,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
}
