//! `hs list`: search tasks and print them in one of five formats.

use std::io::{IsTerminal, Write};

use hs_broker::store::Field;

use super::store_args;
use crate::cli::ListArgs;
use crate::config::Config;
use crate::database::{self, Location};
use crate::exit::{Failure, Status};
use crate::output::{Format, Renderer, hypershell_fields};

fn fields(names: &[String]) -> anyhow::Result<Vec<Field>> {
    names
        .iter()
        .map(|n| {
            Field::parse(n).ok_or_else(|| {
                Failure::usage(format!("unknown field {n:?}: see `hs list --fields`"))
            })
        })
        .collect()
}

/// `hs list -w 'exit_status != 0' args exit_status`: `-w` takes every word up to the next
/// option (as HyperShell's does), so field names written after it arrive as conditions. Bare
/// field names at the end of the conditions are fields; no condition is a bare field name.
fn fields_after_conditions(args: &mut ListArgs) {
    let mut moved = Vec::new();
    // `-w exit_status` alone is a condition with no operator (an error), not a field list.
    while args.filter.conditions.len() > 1
        && let Some(last) = args.filter.conditions.last()
    {
        if Field::parse(last.trim()).is_none() {
            break;
        }
        moved.push(
            args.filter
                .conditions
                .pop()
                .unwrap_or_default()
                .trim()
                .to_string(),
        );
    }
    args.fields.extend(moved.into_iter().rev());
}

pub fn run(mut args: ListArgs, cfg: &Config) -> anyhow::Result<Status> {
    fields_after_conditions(&mut args);
    let mut out = std::io::stdout().lock();
    if args.fields_list {
        // One line, as HyperShell prints it (for shell completion and `for f in $(…)`).
        let names: Vec<&str> = hypershell_fields().iter().map(|f| f.name()).collect();
        writeln!(out, "{}", names.join(" "))?;
        return Ok(Status::Ok);
    }
    let chosen = fields(&args.fields)?;
    let query = store_args::query(&args.filter)?;
    let format = if args.json {
        Format::Json
    } else if args.csv {
        Format::Csv
    } else {
        match &args.format {
            Some(f) => f
                .parse()
                .map_err(|e: crate::output::OutputError| Failure::usage(e.to_string()))?,
            None => Format::default_for(Some(&chosen)),
        }
    };
    let tty = std::io::stdout().is_terminal();
    let color = tty && std::env::var_os("NO_COLOR").is_none();
    let mut renderer = Renderer::new(format, Some(&chosen), args.delimiter.as_deref(), color)
        .map_err(|e| Failure::usage(e.to_string()))?
        .pretty(tty);
    if let Some(width) = terminal_width() {
        renderer = renderer.width(width);
    }

    let mut store = database::open_reading(&Location::persistent(cfg)?, args.ignore_partitions)?;
    if args.tag_keys {
        for k in store.tag_keys().map_err(database::runtime)? {
            writeln!(out, "{k}")?;
        }
        return Ok(Status::Ok);
    }
    if let Some(key) = &args.tag_values {
        for v in store.tag_values(key).map_err(database::runtime)? {
            match v {
                serde_json::Value::String(s) => writeln!(out, "{s}")?,
                other => writeln!(out, "{other}")?,
            }
        }
        return Ok(Status::Ok);
    }
    if args.count {
        writeln!(out, "{}", store.count(&query).map_err(database::runtime)?)?;
        return Ok(Status::Ok);
    }
    let rows = store.search(&query).map_err(database::runtime)?;
    write!(out, "{}", renderer.header())?;
    for row in &rows {
        write!(out, "{}", renderer.row(row))?;
    }
    write!(out, "{}", renderer.footer())?;
    out.flush()?;
    Ok(Status::Ok)
}

/// Columns of the terminal on stdout, so a table can be fitted to it.
fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass, which outlives the call.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(size.ws_col as usize)
}
