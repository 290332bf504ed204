//! Every key hs knows, with its built-in default (HyperShell's §5.2 table, except where hs
//! behaves differently: see docs/config.md). Knowing the keys lets hs warn about typos in files,
//! map `HYPERSHELL_*` variables whose key names contain underscores, and check `hs config set`.

use super::paths::Context;
use super::value::Value;

/// What kind of value a key takes, checked by `hs config set`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    /// Integer or float (seconds, factors).
    Number,
    Bool,
    /// Several shapes are meaningful (`ssh.nodelist`, sizes like `4GB` or `0`).
    Any,
}

/// A built-in default.
#[derive(Clone, Copy, Debug)]
pub enum DefaultValue {
    /// No value unless something sets one.
    Absent,
    Str(&'static str),
    Int(i64),
    Bool(bool),
    /// Depends on the machine (site, home, working directory).
    Computed(fn(&Context) -> Value),
}

#[derive(Clone, Copy, Debug)]
pub struct KeyDef {
    pub key: &'static str,
    pub kind: Kind,
    pub default: DefaultValue,
}

const fn k(key: &'static str, kind: Kind, default: DefaultValue) -> KeyDef {
    KeyDef { key, kind, default }
}

use DefaultValue::{Absent, Bool as B, Computed, Int as I, Str as S};
use Kind::{Any, Bool, Int, Number, Str};

pub const KEYS: &[KeyDef] = &[
    k("logging.level", Str, S("info")),
    k("logging.style", Str, S("default")),
    k("logging.format", Str, Absent),
    k("logging.datefmt", Str, S("%Y-%m-%d %H:%M:%S")),
    k("logging.color", Bool, B(true)),
    k("logging.file.enabled", Bool, B(false)),
    k("logging.file.path", Str, Absent),
    k("logging.file.level", Str, S("trace")),
    k("logging.file.style", Str, S("system")),
    k("logging.file.rotate", Any, S("never")),
    k("logging.file.compress", Str, Absent),
    k("logging.file.keep", Int, I(0)),
    k("database.provider", Str, S("sqlite")),
    k("database.file", Str, Computed(database_file)),
    k("database.url", Str, Absent),
    k("database.database", Str, Absent),
    k("database.schema", Str, Absent),
    k("database.host", Str, Absent),
    k("database.port", Int, Absent),
    k("database.user", Str, Absent),
    k("database.password", Str, Absent),
    k("database.echo", Bool, Absent),
    k("server.bind", Str, S("localhost")),
    k("server.host", Str, S("localhost")),
    k("server.port", Int, I(50001)),
    k("server.auth", Str, Absent),
    k("server.queuesize", Int, I(1)),
    k("server.bundlesize", Int, I(1)),
    k("server.attempts", Int, I(1)),
    k("server.eager", Bool, B(false)),
    k("server.poll", Number, I(30)),
    // hs evicts after 5 s of silence (HyperShell: 600), so engines beat every second.
    k("server.evict", Number, I(5)),
    k("server.heartrate", Number, I(1)),
    // hs only: how long a task that names hosts waits for an engine on one of them.
    k("server.hostwait", Number, I(30)),
    k("server.tls.enabled", Bool, Absent),
    k("server.tls.cert", Str, Absent),
    k("server.tls.key", Str, Absent),
    k("server.tls.cafile", Str, Absent),
    k("server.tls.fingerprint", Str, Absent),
    k("server.tls.insecure", Bool, Absent),
    k("server.tls.min_version", Str, Absent),
    k("server.tls.ciphers", Str, Absent),
    k("server.tls.servername", Str, Absent),
    k("client.auth", Str, Absent),
    k("client.bundlesize", Int, I(1)),
    k("client.bundlewait", Number, I(5)),
    // HyperShell: 10; with hs's 5 s eviction a heartbeat must come more often.
    k("client.heartrate", Number, I(1)),
    k("client.timeout", Number, I(0)),
    k("client.cores", Int, I(0)),
    k("client.memory", Any, I(0)),
    k("client.ratelimit", Any, I(0)),
    k("task.cwd", Str, Computed(task_cwd)),
    k("task.cores", Int, I(0)),
    k("task.memory", Any, I(0)),
    k("task.timeout", Number, I(0)),
    k("task.signalwait", Number, I(10)),
    k("submit.bundlesize", Int, I(1)),
    k("submit.bundlewait", Number, I(5)),
    k("ssh.config", Str, Computed(ssh_config)),
    k("ssh.args", Str, Absent),
    k("ssh.nodelist", Any, Absent),
    k("console.theme", Str, Absent),
    // How `hs start --profile` starts engines (docs/profiles.md).
    k("engines.launcher", Str, S("local")),
    k("engines.count", Int, I(1)),
    k("engines.per_host", Int, I(1)),
    k("engines.slots", Int, I(1)),
    k("engines.command", Str, Absent),
    k("engines.mpi_args", Str, Absent),
    k("engines.remote_exe", Str, Absent),
    k("engines.delay_start", Number, I(0)),
    k("engines.timeout", Number, I(0)),
    k("engines.env", Bool, B(false)),
    k("autoscale.policy", Str, S("fixed")),
    k("autoscale.factor", Number, I(1)),
    k("autoscale.period", Number, I(60)),
    k("autoscale.launcher", Str, S("")),
    k("autoscale.size.init", Int, I(1)),
    k("autoscale.size.min", Int, I(0)),
    k("autoscale.size.max", Int, I(1)),
];

/// Sections whose sub-keys are free: environment variables for tasks, database URL query
/// parameters and driver settings, named node lists.
pub const OPEN_SECTIONS: &[&str] = &[
    "export",
    "database",
    "database.connect_args",
    "database.pragmas",
    "ssh.nodelist",
];

fn database_file(ctx: &Context) -> Value {
    Value::String(ctx.default_lib().join("main.db").display().to_string())
}

fn task_cwd(ctx: &Context) -> Value {
    Value::String(ctx.cwd().display().to_string())
}

fn ssh_config(ctx: &Context) -> Value {
    let home = ctx.home().unwrap_or_else(|| std::path::PathBuf::from("~"));
    Value::String(home.join(".ssh").join("config").display().to_string())
}

/// The built-in defaults for this machine, as flat `(key, value)` pairs.
pub fn defaults(ctx: &Context) -> Vec<(String, Value)> {
    KEYS.iter()
        .filter_map(|def| {
            let value = match def.default {
                Absent => return None,
                S(s) => Value::String(s.into()),
                I(i) => Value::from(i),
                B(b) => Value::Bool(b),
                Computed(f) => f(ctx),
            };
            Some((def.key.to_string(), value))
        })
        .collect()
}
