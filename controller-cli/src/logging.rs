//! Logs go to stderr (stdout carries task output and data).
//!
//! Level: `logging.level` (trace, debug, info, warning, error, critical; default info; also
//! `HYPERSHELL_LOGGING_LEVEL` through the configuration's environment layer), raised by `-v`
//! (debug) and `-d/--debug` (trace). Style: `logging.style` `default` (level and message) or
//! `detailed` (time, host, component, level and message, for batch logs that many hosts write).
//! Colours only when `logging.color` is true, stderr is a terminal and `NO_COLOR` is unset.
//! `tracing` is used rather than env_logger because engine and broker threads log from the same
//! process in `hs cluster`, and per-component fields keep those lines apart.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{Config, KeyDef, key};
use crate::exit::Failure;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Default,
    Detailed,
}

/// The configured level; a name HyperShell does not know is a configuration error (exit 3)
/// naming where it was set.
fn level(cfg: &Config) -> Result<Level, Failure> {
    const KEY: &KeyDef = key::LOGGING_LEVEL;
    // Unset or null: the key's default; empty: the default level too.
    let name: String = cfg.value(None, KEY)?;
    Ok(match name.to_ascii_lowercase().as_str() {
        "" | "info" => Level::INFO,
        "trace" | "devel" => Level::TRACE,
        "debug" => Level::DEBUG,
        "warn" | "warning" => Level::WARN,
        "error" | "critical" => Level::ERROR,
        _ => {
            return Err(cfg
                .invalid(KEY.name, "trace, debug, info, warning, error or critical")
                .into());
        }
    })
}

/// The configured style; `short` is HyperShell's name for the default one.
fn style(cfg: &Config) -> Result<Style, Failure> {
    const KEY: &KeyDef = key::LOGGING_STYLE;
    let name: String = cfg.value(None, KEY)?;
    Ok(match name.to_ascii_lowercase().as_str() {
        "" | "default" | "short" => Style::Default,
        "detailed" | "detailed-compact" | "system" => Style::Detailed,
        _ => {
            return Err(cfg
                .invalid(
                    KEY.name,
                    "default, short, detailed, detailed-compact or system",
                )
                .into());
        }
    })
}

/// Install the global logger for a command named `component` (server, client, cluster…).
pub fn init(
    component: &'static str,
    verbose: bool,
    debug: bool,
    cfg: &Config,
) -> Result<(), Failure> {
    let mut level = level(cfg)?;
    if verbose {
        level = level.max(Level::DEBUG);
    }
    if debug {
        level = Level::TRACE;
    }
    let style = style(cfg)?;
    let color = cfg.value(None::<bool>, key::LOGGING_COLOR)?
        && std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let format = LineFormat {
        style,
        color,
        component,
        host: hs_engine::engine::short_hostname(),
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(crate::progress::LogWriter)
        // The fields of an event (`task=…`) follow the same rule as the level's colour: plain
        // text in files and pipes.
        .with_ansi(color)
        // A log line that cannot be written (stderr closed: a terminal gone, a reader that
        // quit) is dropped. Reporting it would eprintln! to the same stderr, which panics, and
        // kill the thread that logged: the Ctrl-C/SIGTERM/SIGHUP or SIGUSR thread among them,
        // which then never stops the process.
        .log_internal_errors(false)
        .event_format(format)
        .try_init()
        .map_err(|e| Failure {
            status: crate::exit::Status::Internal,
            message: format!("cannot start logging: {e}"),
        })
}

struct LineFormat {
    style: Style,
    color: bool,
    component: &'static str,
    host: String,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = *event.metadata().level();
        let (name, code) = match level {
            Level::ERROR => ("ERROR", "31"),
            Level::WARN => ("WARNING", "33"),
            Level::INFO => ("INFO", "32"),
            Level::DEBUG => ("DEBUG", "34"),
            Level::TRACE => ("TRACE", "35"),
        };
        if self.style == Style::Detailed {
            let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.3f");
            write!(w, "{now} {} hs.{} ", self.host, self.component)?;
        }
        if self.color {
            write!(w, "\x1b[{code}m{name:<7}\x1b[0m ")?;
        } else {
            write!(w, "{name:<7} ")?;
        }
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}
