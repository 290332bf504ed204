//! Logs go to stderr (stdout carries task output and data).
//!
//! Level: `HYPERSHELL_LOGGING_LEVEL` (trace, debug, info, warning, error, critical), raised by
//! `-v` (debug) and `-d/--debug` (trace); default info. Style: `HYPERSHELL_LOGGING_STYLE`
//! `default` (level and message) or `detailed` (time, host, component, level and message, for
//! batch logs that many hosts write). Colours only when stderr is a terminal and `NO_COLOR` is
//! unset. `tracing` is used rather than env_logger because engine and broker threads log from
//! the same process in `hs cluster`, and per-component fields keep those lines apart.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Default,
    Detailed,
}

/// Install the global logger for a command named `component` (server, client, cluster…).
pub fn init(component: &'static str, verbose: bool, debug: bool) -> Result<(), String> {
    let configured = std::env::var("HYPERSHELL_LOGGING_LEVEL").ok();
    let mut level = match configured
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") => Level::INFO,
        Some("trace") | Some("devel") => Level::TRACE,
        Some("debug") => Level::DEBUG,
        Some("info") => Level::INFO,
        Some("warn") | Some("warning") => Level::WARN,
        Some("error") | Some("critical") => Level::ERROR,
        Some(other) => {
            return Err(format!(
                "HYPERSHELL_LOGGING_LEVEL={other} is not a level: use trace, debug, info, warning, error or critical"
            ));
        }
    };
    if verbose {
        level = level.max(Level::DEBUG);
    }
    if debug {
        level = Level::TRACE;
    }
    let style = match std::env::var("HYPERSHELL_LOGGING_STYLE").ok().as_deref() {
        Some("detailed") | Some("detailed-compact") | Some("system") => Style::Detailed,
        _ => Style::Default,
    };
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let format = LineFormat {
        style,
        color,
        component,
        host: hs_engine::engine::short_hostname(),
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(crate::progress::LogWriter)
        .event_format(format)
        .try_init()
        .map_err(|e| e.to_string())
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
