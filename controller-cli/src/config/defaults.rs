//! What a key definition holds, and the built-in default layer computed from the key table
//! ([`super::key::KEYS`]). Knowing the keys lets hs warn about typos in files, map
//! `HYPERSHELL_*` variables whose key names contain underscores, check `hs config set`, give
//! each command option its default, and write docs/config.md's key tables.

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
    /// Depends on the machine (site, home, working directory); the text says how, for the docs.
    Computed(fn(&Context) -> Value, &'static str),
}

impl DefaultValue {
    /// The value on this machine; `None` when absent.
    pub fn value(self, ctx: &Context) -> Option<Value> {
        Some(match self {
            DefaultValue::Absent => return None,
            DefaultValue::Str(s) => Value::String(s.into()),
            DefaultValue::Int(i) => Value::from(i),
            DefaultValue::Bool(b) => Value::Bool(b),
            DefaultValue::Computed(f, _) => f(ctx),
        })
    }

    /// The integer, for help text that derives a number from it.
    pub const fn int(self) -> Option<i64> {
        match self {
            DefaultValue::Int(i) => Some(i),
            _ => None,
        }
    }

    /// As the command-line help shows it: `50001`, `localhost`, `true`.
    pub fn shown(self) -> String {
        match self {
            DefaultValue::Absent => "none".into(),
            DefaultValue::Str(s) => s.into(),
            DefaultValue::Int(i) => i.to_string(),
            DefaultValue::Bool(b) => b.to_string(),
            DefaultValue::Computed(_, how) => how.into(),
        }
    }
}

/// One configuration key: everything about it is written here once.
#[derive(Clone, Copy, Debug)]
pub struct KeyDef {
    /// The dotted name, as in files and `hs config`.
    pub name: &'static str,
    pub kind: Kind,
    /// The built-in default layer's value (HyperShell's, except where docs/config.md says):
    /// what `hs config get --default` shows.
    pub default: DefaultValue,
    /// hs's own default for the option behind the key, where it differs from the built-in one
    /// (bundle sizes hs chooses itself): the key then counts only when a file or the
    /// environment sets it.
    pub own: Option<DefaultValue>,
    /// One line for docs/config.md: what the key does and the options it is the default for.
    pub doc: &'static str,
    /// Whether the value is a secret (a key, a password): no task inherits its variable, `-E`
    /// does not send it, and a file `hs config set` writes it to is made private (0600).
    pub secret: bool,
}

impl KeyDef {
    pub const fn new(
        name: &'static str,
        kind: Kind,
        default: DefaultValue,
        doc: &'static str,
    ) -> KeyDef {
        KeyDef {
            name,
            kind,
            default,
            own: None,
            doc,
            secret: false,
        }
    }

    /// A secret (see [`KeyDef::secret`]).
    pub const fn secret(self) -> KeyDef {
        KeyDef {
            secret: true,
            ..self
        }
    }

    /// With hs's own default for the option (see [`KeyDef::own`]).
    pub const fn own(self, own: DefaultValue) -> KeyDef {
        KeyDef {
            own: Some(own),
            ..self
        }
    }

    /// What a command uses when neither its flag nor the configuration gives a value.
    pub fn fallback(&self) -> DefaultValue {
        self.own.unwrap_or(self.default)
    }

    /// `TEXT [default: 50001, config: server.port]`: an option's help with its default and
    /// its key, so the help cannot tell another default than the one the option gets.
    pub fn help(&self, text: &str) -> String {
        match (self.fallback(), self.own) {
            (DefaultValue::Absent, _) => format!("{text} [config: {}]", self.name),
            (d, None) => format!("{text} [default: {}, config: {}]", d.shown(), self.name),
            (d, Some(_)) => format!(
                "{text} [default: {}, config: {} when set]",
                d.shown(),
                self.name
            ),
        }
    }
}

impl std::fmt::Display for KeyDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// A section whose sub-keys are free (environment variables for tasks, database URL query
/// parameters, driver settings, named node lists), or a shorthand that stands for a section.
#[derive(Clone, Copy, Debug)]
pub struct Form {
    pub name: &'static str,
    /// As docs/config.md's key column shows it (`database.pragmas.*`).
    pub shown: &'static str,
    pub default: &'static str,
    pub doc: &'static str,
}

pub fn database_file(ctx: &Context) -> Value {
    Value::String(ctx.default_lib().join("main.db").display().to_string())
}

pub fn task_cwd(ctx: &Context) -> Value {
    Value::String(ctx.cwd().display().to_string())
}

pub fn ssh_config(ctx: &Context) -> Value {
    let home = ctx.home().unwrap_or_else(|| std::path::PathBuf::from("~"));
    Value::String(home.join(".ssh").join("config").display().to_string())
}

/// The built-in defaults for this machine, as flat `(key, value)` pairs.
pub fn defaults(ctx: &Context) -> Vec<(String, Value)> {
    super::key::KEYS
        .iter()
        .filter_map(|def| Some((def.name.to_string(), def.default.value(ctx)?)))
        .collect()
}
