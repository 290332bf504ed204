//! The key table: every configuration key hs knows, once, with its kind, built-in default,
//! hs's own default where the option differs, and the line docs/config.md shows for it.
//!
//! Code names keys by these constants (`key::SERVER_PORT`), never by a string, so a key cannot
//! be misspelt at a call site and its default is written nowhere else: `Config::value` falls
//! back to it, `KeyDef::help` puts it in the command-line help, and docs/config.md's tables are
//! generated from it (a test fails when they are stale).
//!
//! Built-in defaults are HyperShell's (§5.2) except where the doc line says otherwise.

use super::defaults::DefaultValue::{Absent, Bool as B, Computed, Int as I, Str as S};
use super::defaults::Kind::{Any, Bool, Int, Number, Str};
use super::defaults::{Form, KeyDef, database_file, ssh_config, task_cwd};

/// Defines one `&KeyDef` constant per key and `KEYS`, the table of all of them in order.
macro_rules! keys {
    ($($name:ident = $def:expr;)*) => {
        $(pub const $name: &KeyDef = &$def;)*

        /// Every key, in the order docs/config.md lists them.
        pub const KEYS: &[KeyDef] = &[$(*$name),*];

        /// The constants' names, to check they spell their keys.
        #[cfg(test)]
        pub const CONST_NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

use KeyDef as K;

keys! {
    LOGGING_LEVEL = K::new("logging.level", Str, S("info"),
        "`trace`, `debug`, `info`, `warning`, `error`, `critical` (`-v`, `-d` raise it)");
    LOGGING_STYLE = K::new("logging.style", Str, S("default"),
        "`default` (level and message); `detailed`, `detailed-compact`, `system` add time, host \
         and component for logs many hosts write; `short` = `default`");
    LOGGING_FORMAT = K::new("logging.format", Str, Absent,
        "HyperShell's log format string; accepted, hs uses its styles");
    LOGGING_DATEFMT = K::new("logging.datefmt", Str, S("%Y-%m-%d %H:%M:%S"),
        "time format of detailed logs");
    LOGGING_COLOR = K::new("logging.color", Bool, B(true),
        "colour when stderr is a terminal (`NO_COLOR` turns it off)");
    LOGGING_FILE_ENABLED = K::new("logging.file.enabled", Bool, B(false),
        "also write the log to a file");
    LOGGING_FILE_PATH = K::new("logging.file.path", Str, Absent,
        "the file (HyperShell's default: `<site>/log/<role>-<host>.log`)");
    LOGGING_FILE_LEVEL = K::new("logging.file.level", Str, S("trace"), "level for the file");
    LOGGING_FILE_STYLE = K::new("logging.file.style", Str, S("system"), "style for the file");
    LOGGING_FILE_ROTATE = K::new("logging.file.rotate", Any, S("never"),
        "a size (`\"512MB\"`) or a schedule (`\"@daily\"`)");
    LOGGING_FILE_COMPRESS = K::new("logging.file.compress", Str, Absent,
        "`gzip`, `bzip`, `lzma`, `zstd` for rotated files");
    LOGGING_FILE_KEEP = K::new("logging.file.keep", Int, I(0), "rotated files kept");

    DATABASE_PROVIDER = K::new("database.provider", Str, S("sqlite"),
        "`sqlite`, or `postgres`/`postgresql`");
    DATABASE_FILE = K::new("database.file", Str,
        Computed(database_file, "`<site>/lib/main.db`"),
        "the SQLite file (relative to the working directory, `~/` to HOME); `\"\"` or \
         `\":memory:\"`: no database");
    DATABASE_URL = K::new("database.url", Str, Absent,
        "a full URL, which overrides every other key: `postgresql://…` (also \
         `postgresql+psycopg://…`), `sqlite:///relative.db`, `sqlite:////absolute.db`; may hold \
         a password, so tasks never inherit `HYPERSHELL_DATABASE_URL`").secret();
    DATABASE_HOST = K::new("database.host", Str, Absent, "PostgreSQL host (absent: `localhost`)");
    DATABASE_PORT = K::new("database.port", Int, Absent,
        "PostgreSQL port (absent: libpq's 5432)");
    DATABASE_USER = K::new("database.user", Str, Absent, "user; `password` needs it");
    DATABASE_PASSWORD = K::new("database.password", Str, Absent,
        "password; prefer `password_env` or `password_eval`; tasks never inherit \
         `HYPERSHELL_DATABASE_PASSWORD`, and `-E` does not send it").secret();
    DATABASE_DATABASE = K::new("database.database", Str, Absent,
        "database name (absent: libpq's default, the user name)");
    DATABASE_SCHEMA = K::new("database.schema", Str, Absent,
        "schema (absent: `public`); not part of the URL, hs sets `search_path`");
    DATABASE_ECHO = K::new("database.echo", Bool, Absent,
        "accepted (SQLAlchemy's SQL echo); not used");

    SERVER_BIND = K::new("server.bind", Str, S("localhost"),
        "address `hs server` listens on (`server -H`, `cluster --bind`, profiles)");
    SERVER_HOST = K::new("server.host", Str, S("localhost"),
        "address engines (`hs client -H`) and `hs submit -q` connect to; HyperShell 2.8.2 \
         dials `server.bind` (D12)");
    SERVER_PORT = K::new("server.port", Int, I(50001),
        "engine port, heartbeats PORT+1, clients PORT+2 (`server -p`, `client -p`, `submit -q -p`)");
    SERVER_AUTH = K::new("server.auth", Str, Absent,
        "shared key (16+ characters, about 64 bits or more, checked like `-k`; `hs key` makes \
         one); absent: generated, written to a connection file. Safer than `-k`, which every \
         user sees in `ps`; tasks never inherit `HYPERSHELL_SERVER_AUTH`").secret();
    SERVER_WEAKKEY = K::new("server.weakkey", Bool, B(false),
        "accept a key of 16+ characters that is easy to guess (`server --weak-key`; hs only, \
         for keys already in use)");
    SERVER_QUEUESIZE = K::new("server.queuesize", Int, I(1),
        "bundles queued ahead; not used by hs");
    SERVER_BUNDLESIZE = K::new("server.bundlesize", Int, I(1),
        "tasks per bundle to an engine (`server -b`, `cluster -b`); hs's own default sizes \
         bundles to the engine's free room").own(I(0));
    SERVER_ATTEMPTS = K::new("server.attempts", Int, I(1),
        "attempts per task (`-r/--max-retries` is this − 1)");
    SERVER_EAGER = K::new("server.eager", Bool, B(false),
        "retry failed tasks before new ones (`--eager`)");
    SERVER_POLL = K::new("server.poll", Number, I(30),
        "seconds, the database polling backoff ceiling (`-Q/--poll`); hs looks this often").own(I(1));
    SERVER_EVICT = K::new("server.evict", Number, I(5),
        "seconds of silence before an engine is evicted (`--evict`, in every mode; \
         HyperShell's cluster ignores it, D12). **HyperShell: 600.** hs watches engines \
         closely and re-runs an evicted engine's tasks elsewhere without counting an attempt");
    SERVER_HEARTRATE = K::new("server.heartrate", Number, I(1),
        "seconds between heartbeats (`--heartrate`; hs only)");
    SERVER_HOSTWAIT = K::new("server.hostwait", Number, I(30),
        "seconds a task that names hosts (`hs stream`'s `host`) waits for an engine on one of \
         them before it fails without running; 0 = at once (`--host-wait`; hs only)");
    SERVER_DBWAIT = K::new("server.dbwait", Number, I(60),
        "seconds a controller waits for its database to answer again (a PostgreSQL restart, a \
         busy or failing SQLite file) before it gives up and exits 5; meanwhile engines keep \
         running and their results are held (`--db-wait`; hs only)");
    SERVER_MAXMESSAGE = K::new("server.maxmessage", Int, I(64 * 1024 * 1024),
        "bytes, the largest message an engine or client may send once it has proved the key \
         (at least 1 MiB; hs only). Before that only handshake messages of a few dozen bytes \
         are taken, and no ZeroMQ frame may exceed 16 KiB. hs's engines send results in bundles \
         of up to 24 MiB: a lower value refuses the largest");
    SERVER_MAXOUTPUT = K::new("server.maxoutput", Int, I(1 << 30),
        "bytes of one captured file (`<id>.out`, `<id>.err`) a controller takes from an engine \
         with `--capture` whose site is not the controller's; a longer file is cut there, said \
         once in both logs, and the engine keeps it whole. 0 = take none: engines keep their \
         files (hs only; HyperShell needs SFTP for this)");
    SERVER_TLS_ENABLED = K::new("server.tls.enabled", Bool, Absent,
        "HyperShell's TLS: accepted, not used (hs signs every message with the shared key)");
    SERVER_TLS_CERT = K::new("server.tls.cert", Str, Absent, "HyperShell's TLS: not used");
    SERVER_TLS_KEY = K::new("server.tls.key", Str, Absent, "HyperShell's TLS: not used");
    SERVER_TLS_CAFILE = K::new("server.tls.cafile", Str, Absent, "HyperShell's TLS: not used");
    SERVER_TLS_FINGERPRINT = K::new("server.tls.fingerprint", Str, Absent,
        "HyperShell's TLS: not used");
    SERVER_TLS_INSECURE = K::new("server.tls.insecure", Bool, Absent,
        "HyperShell's TLS: not used");
    SERVER_TLS_MIN_VERSION = K::new("server.tls.min_version", Str, Absent,
        "HyperShell's TLS: not used");
    SERVER_TLS_CIPHERS = K::new("server.tls.ciphers", Str, Absent, "HyperShell's TLS: not used");
    SERVER_TLS_SERVERNAME = K::new("server.tls.servername", Str, Absent,
        "HyperShell's TLS: not used");

    CLIENT_AUTH = K::new("client.auth", Str, Absent,
        "the key `hs client` and `hs submit -q` use, else `server.auth` (hs only; also \
         `HYPERSHELL_CLIENT_AUTH`, which tasks never inherit; `--key-file` reads it from a \
         file)").secret();
    CLIENT_BUNDLESIZE = K::new("client.bundlesize", Int, I(1),
        "results sent together (`client -b`, `cluster -b`); hs's own default sends once half \
         of what the engine holds has finished").own(I(0));
    CLIENT_BUNDLEWAIT = K::new("client.bundlewait", Number, I(5),
        "seconds to hold results for a bundle (`-w/--bundlewait`); used only when set (hs: 50 ms)");
    CLIENT_HEARTRATE = K::new("client.heartrate", Number, I(1),
        "seconds between heartbeats; not used (engines beat at the controller's \
         `server.heartrate`). **HyperShell: 10**; with a 5 s `server.evict` engines must beat \
         more often");
    CLIENT_TIMEOUT = K::new("client.timeout", Number, I(0),
        "seconds idle before the engine leaves, 0 = never (`client -T`, `cluster -T`)");
    CLIENT_CORES = K::new("client.cores", Int, I(0),
        "cores an engine's tasks may use together, 0 = the host's CPUs (`-C/--client-cores`)");
    CLIENT_MEMORY = K::new("client.memory", Any, I(0),
        "memory an engine's tasks may use together, 0 = the host's RAM (`-M/--client-memory`)");
    CLIENT_GPUS = K::new("client.gpus", Any, S(""),
        "GPUs an engine hands out: a count or a list of devices, empty = those found \
         (`CUDA_VISIBLE_DEVICES`, `ROCR_VISIBLE_DEVICES`, `nvidia-smi -L`) (`client --gpus`, \
         `cluster --client-gpus`)");
    CLIENT_RATELIMIT = K::new("client.ratelimit", Number, I(0),
        "most tasks an engine starts per second, 0 = no limit (`-R/--ratelimit` of `client` \
         and `cluster`; HyperShell's `cluster -R` reads `task.ratelimit` instead)");

    TASK_CWD = K::new("task.cwd", Str, Computed(task_cwd, "the working directory at start"),
        "where tasks run; not used");
    TASK_CORES = K::new("task.cores", Int, I(0),
        "cores per task, 0 = unset (`submit -c`, `run -c`)");
    TASK_MEMORY = K::new("task.memory", Any, I(0),
        "memory per task, 0 = unset (`submit -m`, `run -m`)");
    TASK_GPUS = K::new("task.gpus", Int, I(0),
        "GPUs per task, 0 = none (`submit --gpus`, `cluster --gpus`, `server --task-gpus`)");
    TASK_TIMEOUT = K::new("task.timeout", Number, I(0),
        "walltime per task in seconds, 0 = none (`-W/--task-timeout`)");
    TASK_SIGNALWAIT = K::new("task.signalwait", Number, I(10),
        "seconds between SIGINT, SIGTERM and SIGKILL (`-S/--signalwait`)");
    TASK_EXECUTOR = K::new("task.executor", Str, S("warm"),
        "how an engine starts tasks (`--executor`): `warm`, a pre-started bash per slot forks \
         each one (falls back to `spawn` where that bash cannot, with one log line); `spawn`, \
         a fresh bash per task. Not in HyperShell");

    SUBMIT_BUNDLESIZE = K::new("submit.bundlesize", Int, I(1),
        "tasks per database write (`submit -b`)").own(I(1000));
    SUBMIT_BUNDLEWAIT = K::new("submit.bundlewait", Number, I(5),
        "seconds to hold tasks for a write; not used");

    SSH_CONFIG = K::new("ssh.config", Str, Computed(ssh_config, "`~/.ssh/config`"),
        "ssh client configuration");
    SSH_ARGS = K::new("ssh.args", Str, Absent, "extra ssh arguments (`cluster --ssh-args`)");
    SSH_NODELIST = K::new("ssh.nodelist", Any, Absent,
        "hosts: a list, a pattern string, or a table of named lists (`[ssh.nodelist] gpu = [...]`)");

    ENGINES_LAUNCHER = K::new("engines.launcher", Str, S("local"),
        "`local`, `ssh`, `mpi`, `slurm` or `command`");
    ENGINES_COUNT = K::new("engines.count", Int, I(1),
        "engines for local, mpi, slurm (`hs profile create` writes 2); `hs start -n` overrides");
    ENGINES_PER_HOST = K::new("engines.per_host", Int, I(1), "ssh: engines per nodefile host");
    ENGINES_SLOTS = K::new("engines.slots", Int, I(1), "tasks per engine (0 = its cores)");
    ENGINES_COMMAND = K::new("engines.command", Str, Absent,
        "`command`: the program that starts engines (hs appends the engine command); `slurm`: \
         srun's options (default `srun --ntasks=COUNT`)");
    ENGINES_MPI_ARGS = K::new("engines.mpi_args", Str, Absent, "extra mpirun options");
    ENGINES_REMOTE_EXE = K::new("engines.remote_exe", Str, Absent,
        "hs on remote hosts (absent: this hs)");
    ENGINES_DELAY_START = K::new("engines.delay_start", Number, I(0),
        "seconds before connecting; negative = random up to \\|n\\|");
    ENGINES_TIMEOUT = K::new("engines.timeout", Number, I(0),
        "idle seconds before an engine leaves (0 = never)");
    ENGINES_ENV = K::new("engines.env", Bool, B(false),
        "ssh: send `HYPERSHELL_*` variables along");
    ENGINES_CAPTURE = K::new("engines.capture", Bool, B(false),
        "engines run with `--capture`: each task's output in its own files, sent to the \
         controller's site from engines on other hosts");
    ENGINES_MONITOR = K::new("engines.monitor", Bool, B(false),
        "engines run with `--monitor`: each task's cores and memory sampled about once a second");

    AUTOSCALE_POLICY = K::new("autoscale.policy", Str, S("fixed"),
        "`fixed` or `dynamic` (`cluster -A` without a policy; a profile with `[autoscale]`)");
    AUTOSCALE_FACTOR = K::new("autoscale.factor", Number, I(1), "scaling factor (`--factor`)");
    AUTOSCALE_PERIOD = K::new("autoscale.period", Number, I(60),
        "seconds between scaling checks (`--period`)");
    AUTOSCALE_LAUNCHER = K::new("autoscale.launcher", Str, S(""),
        "command prefix that starts each autoscaled engine of `hs cluster -A` (when \
         `--launcher` is not given; empty: a local process) or of an autoscaled profile (empty: \
         its engines.launcher)");
    AUTOSCALE_SIZE_INIT = K::new("autoscale.size.init", Int, I(1),
        "engines at start (`--init-size`)");
    AUTOSCALE_SIZE_MIN = K::new("autoscale.size.min", Int, I(0),
        "engines kept at least (`--min-size`)");
    AUTOSCALE_SIZE_MAX = K::new("autoscale.size.max", Int, I(1),
        "engines at most (`--max-size`)");

    CONSOLE_THEME = K::new("console.theme", Str, Absent,
        "accepted (HyperShell's console colours); not used");
}

/// Sections whose sub-keys are free.
pub const OPEN_SECTIONS: &[Form] = &[
    Form {
        name: "export",
        shown: "export.*",
        default: "`{}`",
        doc: "`NAME = value` put in every task's environment (`HYPERSHELL_EXPORT_*` wins)",
    },
    Form {
        name: "database",
        shown: "database.<other>",
        default: "",
        doc: "any other key becomes a URL query parameter (`sslmode = \"verify-full\"`)",
    },
    Form {
        name: "database.connect_args",
        shown: "database.connect_args.*",
        default: "",
        doc: "connection parameters, added to the PostgreSQL URL's query",
    },
    Form {
        name: "database.pragmas",
        shown: "database.pragmas.*",
        default: "",
        doc: "HyperShell's SQLite `PRAGMA key = value` for every connection; accepted, not \
              applied (hs sets its own; a warning says so)",
    },
    Form {
        name: "ssh.nodelist",
        shown: "ssh.nodelist.*",
        default: "",
        doc: "a named host list (`hs cluster --ssh-group NAME`)",
    },
];

/// A value where HyperShell also accepts a section: `database = "x.db"`, `logging.file = true`.
pub const SHORTHANDS: &[Form] = &[
    Form {
        name: "database",
        shown: "database",
        default: "",
        doc: "shorthand: `database = \"path.db\"` is a SQLite file; `\"\"` or `\":memory:\"` \
              means no database",
    },
    Form {
        name: "logging.file",
        shown: "logging.file",
        default: "",
        doc: "shorthand: `true`/`\"enabled\"` → `logging.file.enabled = true`; \
              `false`/`\"disabled\"`/`\"\"` → `false`; any other text → enabled with that \
              `path` (hs spells this out as `enabled` so it merges with the `[logging.file]` keys)",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_spell_their_keys() {
        assert_eq!(CONST_NAMES.len(), KEYS.len());
        for (name, def) in CONST_NAMES.iter().zip(KEYS) {
            assert_eq!(*name, def.name.replace('.', "_").to_ascii_uppercase());
        }
    }

    /// The engine leaves secrets out of every task's environment by a rule of its own (it
    /// knows no config keys): every key marked secret must fall under it, and no other.
    #[test]
    fn secret_keys_are_the_variables_tasks_never_inherit() {
        for def in KEYS {
            let var = super::super::env::var_for(def.name);
            assert_eq!(
                hs_engine::executor::is_secret_var(var.as_bytes()),
                def.secret,
                "{def}: {var}"
            );
        }
    }

    #[test]
    fn keys_are_defined_once() {
        let mut names: Vec<_> = KEYS.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KEYS.len());
    }
}
