//! `hs config`: show where the files are, read the merged configuration, trace a value to its
//! origin, and change files without hand-editing TOML.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::error::ConfigError;
use super::paths::Context;
use super::show::{self, View};
use super::source::Level;
use super::{layers, write};
use crate::exit::{Failure, Status};

const ABOUT_FILES: &str = "\
Files, lowest precedence first (HYPERSHELL_<SECTION>_<KEY> variables override all of them):
  --system  /etc/hypershell.toml
  --user    ~/.hypershell/config.toml
  --local   ./.hypershell/config.toml, or $HYPERSHELL_SITE/config.toml when set
HYPERSHELL_CONFIG_FILE=PATH reads only PATH (empty: no file). See docs/config.md.";

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, after_help = ABOUT_FILES)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: Option<Action>,

    /// Which file's path to print (default: --user).
    #[command(flatten)]
    pub file: FileFlags,
}

/// Which configuration file.
#[derive(Args, Debug, Clone, Copy, Default)]
#[group(id = "file", multiple = false)]
pub struct FileFlags {
    /// The system-wide file, /etc/hypershell.toml.
    #[arg(long)]
    pub system: bool,
    /// Your file, ~/.hypershell/config.toml (the default).
    #[arg(long)]
    pub user: bool,
    /// This project's file: ./.hypershell/config.toml, or $HYPERSHELL_SITE/config.toml.
    #[arg(long)]
    pub local: bool,
}

impl FileFlags {
    fn level(self) -> Option<Level> {
        if self.system {
            Some(Level::System)
        } else if self.user {
            Some(Level::User)
        } else if self.local {
            Some(Level::Local)
        } else {
            None
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Action {
    /// Print the merged configuration (TOML), a section (TOML) or one value (JSON).
    Get(GetArgs),
    /// Set KEY to VALUE in a file (your file unless --system or --local); VALUE `null` removes it.
    Set(SetArgs),
    /// Open a file in $EDITOR (or $VISUAL), then check it.
    Edit(EditArgs),
    /// Print a value and where it comes from: `8080 (user: /path)`, `1 (env: HYPERSHELL_…)`.
    Which(WhichArgs),
    /// Rewrite the generated key tables of these markdown files from the key table.
    #[command(hide = true)]
    Docs(DocsArgs),
}

#[derive(Args, Debug)]
pub struct DocsArgs {
    /// Markdown files with `<!-- keys: SECTION… -->` blocks (docs/config.md, docs/profiles.md).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// A key (`server.port`) or a section (`server`); everything when absent.
    #[arg(value_name = "KEY")]
    pub key: Option<String>,
    /// Replace `_env` and `_eval` keys by the value they stand for (runs `_eval` commands).
    #[arg(short = 'x', long)]
    pub expand: bool,
    /// Print text values without quotes (for scripts).
    #[arg(short = 'r', long)]
    pub raw: bool,
    /// Show only this file, as written, instead of the merged configuration.
    #[command(flatten)]
    pub file: FileFlags,
    /// Show only the built-in defaults.
    #[arg(long, conflicts_with = "file")]
    pub default: bool,
}

#[derive(Args, Debug)]
pub struct SetArgs {
    /// The key, e.g. `server.port`.
    #[arg(value_name = "KEY")]
    pub key: String,
    /// The value, coerced: `null`, `true`/`false`, integers and floats; text otherwise.
    #[arg(value_name = "VALUE", allow_hyphen_values = true)]
    pub value: String,
    #[command(flatten)]
    pub file: FileFlags,
}

#[derive(Args, Debug)]
pub struct EditArgs {
    #[command(flatten)]
    pub file: FileFlags,
}

#[derive(Args, Debug)]
pub struct WhichArgs {
    /// The key, e.g. `server.port`, or a section to list its keys.
    #[arg(value_name = "KEY")]
    pub key: String,
    /// Print only the origin: default, system, user, local, file or env.
    #[arg(long)]
    pub site: bool,
}

/// Run `hs config …`.
pub fn run(args: ConfigArgs) -> anyhow::Result<Status> {
    let ctx = Context::from_process();
    let out = match args.action {
        None => format!("{}\n", path_of(&ctx, args.file)?.display()),
        Some(Action::Get(a)) => {
            let view = match (a.default, a.file.level()) {
                (true, _) => View::Default,
                (false, Some(level)) => View::File(level),
                (false, None) => View::Merged,
            };
            let cfg = show::load(ctx, view).map_err(Failure::from)?;
            show::get(&cfg, a.key.as_deref(), a.expand, a.raw).map_err(Failure::from)?
        }
        Some(Action::Which(a)) => {
            let cfg = show::load(ctx, View::Merged).map_err(Failure::from)?;
            show::which(&cfg, &a.key, a.site).map_err(Failure::from)?
        }
        Some(Action::Set(a)) => {
            set(&ctx, a)?;
            String::new()
        }
        Some(Action::Edit(a)) => {
            edit(&ctx, a.file)?;
            String::new()
        }
        Some(Action::Docs(a)) => {
            for path in &a.files {
                refresh_docs(path)?;
            }
            String::new()
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(Status::Ok)
}

/// Rewrite one file's generated key tables, when they changed.
fn refresh_docs(path: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (fresh, _) = super::docs::refresh(&text)
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    if fresh != text {
        std::fs::write(path, fresh).with_context(|| format!("cannot write {}", path.display()))?;
        tracing::info!("rewrote the key tables of {}", path.display());
    }
    Ok(())
}

fn path_of(ctx: &Context, file: FileFlags) -> anyhow::Result<PathBuf> {
    let level = file.level().unwrap_or(Level::User);
    ctx.file_path(level).ok_or_else(|| {
        Failure::usage(format!(
            "the {} config file cannot be located (is HOME set?)",
            level.name()
        ))
    })
}

fn set(ctx: &Context, a: SetArgs) -> anyhow::Result<()> {
    let level = a.file.level().unwrap_or(Level::User);
    set_in_file(ctx, level, &a.key, &a.value).map(|_| ())
}

/// Set `key` to `value` in the file of `level`, warning when that file will not be read or lost
/// its comments; the file written.
pub fn set_in_file(ctx: &Context, level: Level, key: &str, value: &str) -> anyhow::Result<PathBuf> {
    let w = write::set(ctx, level, key, value).map_err(Failure::from)?;
    if let Some(only) = ctx.config_file_override() {
        let only = only.map_or("no file".to_string(), |p| p.display().to_string());
        tracing::warn!(
            "HYPERSHELL_CONFIG_FILE is set, so {} is not read ({only} is)",
            w.path.display()
        );
    }
    if w.rewritten {
        let backup = w.backup.as_ref().map_or(String::new(), |b| {
            format!("; the previous version is {}", b.display())
        });
        tracing::warn!(
            "{} was rewritten without its comments{backup}",
            w.path.display()
        );
    }
    tracing::debug!("wrote {} (backup: {:?})", w.path.display(), w.backup);
    Ok(w.path)
}

/// Run the editor on the file, then parse it so that a mistake is reported now, with its line,
/// rather than by the next command that reads it.
fn edit(ctx: &Context, file: FileFlags) -> anyhow::Result<()> {
    let editor = ["EDITOR", "VISUAL"]
        .iter()
        .find_map(|v| ctx.var(v).filter(|e| !e.trim().is_empty()))
        .ok_or_else(|| Failure::usage("set EDITOR (or VISUAL) to the editor to use"))?;
    let words = shell_words::split(editor)
        .map_err(|e| Failure::usage(format!("cannot split EDITOR/VISUAL {editor:?}: {e}")))?;
    let Some((program, editor_args)) = words.split_first() else {
        return Err(Failure::usage("EDITOR/VISUAL is blank"));
    };
    let path = path_of(ctx, file)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|error| {
            Failure::from(ConfigError::Write {
                path: dir.to_path_buf(),
                error,
            })
        })?;
    }
    let status = Command::new(program)
        .args(editor_args)
        .arg(&path)
        .status()
        .with_context(|| format!("cannot run the editor {program:?}"))?;
    if !status.success() {
        anyhow::bail!("the editor {program:?} failed ({status})");
    }
    if let Some(table) = layers::read_file(&path, false).map_err(Failure::from)? {
        let level = file.level().unwrap_or(Level::User);
        let (_, warnings) = layers::settings_of(&table, &super::Source::File { level, path });
        for w in warnings {
            tracing::warn!("{w}");
        }
    }
    Ok(())
}
