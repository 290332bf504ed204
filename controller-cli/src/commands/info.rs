//! `hs info ID`: one task, all fields, one field, or its captured output.

use std::io::{IsTerminal, Write};

use hs_broker::store::Field;

use super::task_id;
use crate::cli::{InfoArgs, InfoFormatArgs};
use crate::config::Config;
use crate::database::{self, Location};
use crate::exit::{Failure, Status};
use crate::output;

/// Copy a captured output file to `to`, or say clearly why it cannot be.
pub fn copy_file(path: &str, to: &mut dyn Write) -> anyhow::Result<()> {
    let mut file = std::fs::File::open(path).map_err(|e| {
        Failure::runtime(format!(
            "cannot read {path}: {e} (captured output stays on the host that ran the task)"
        ))
    })?;
    std::io::copy(&mut file, to)?;
    Ok(())
}

pub fn run(args: InfoArgs, cfg: &Config) -> anyhow::Result<Status> {
    let id = task_id::parse(&args.id)?;
    let mut store = database::open_reading(&Location::persistent(cfg)?, args.ignore_partitions)?;
    let task = task_id::lookup(store.as_mut(), &id)?;
    let mut out = std::io::stdout().lock();
    if args.perf {
        print_samples(&task, &mut out)?;
        return Ok(Status::Ok);
    }
    let captured = [
        (
            args.stdout,
            &task.outpath,
            "captured output: its engine ran without --capture",
        ),
        (
            args.stderr,
            &task.errpath,
            "captured output: its engine ran without --capture",
        ),
    ];
    if let Some((_, path, missing)) = captured.into_iter().find(|(asked, _, _)| *asked) {
        let Some(path) = path else {
            return Err(Failure::runtime(format!("task {id} has no {missing}")));
        };
        copy_file(path, &mut out)?;
        return Ok(Status::Ok);
    }
    if let Some(name) = &args.extract {
        let field = Field::parse(name).ok_or_else(|| {
            Failure::usage(format!("unknown field {name:?}: see `hs list --fields`"))
        })?;
        writeln!(out, "{}", output::extract(&task, field))?;
        return Ok(Status::Ok);
    }
    print_task(&task, &args.format, &mut out)?;
    Ok(Status::Ok)
}

/// `--perf`: the task's resource samples (`time,cores,memory`, as its engine wrote them with
/// `--monitor`), or one line saying why there are none or where they are.
fn print_samples(task: &hs_broker::store::TaskRecord, out: &mut dyn Write) -> anyhow::Result<()> {
    let id = task.id;
    let Some(path) = &task.csvpath else {
        return Err(Failure::runtime(format!(
            "task {id} has no resource samples: its engine ran without --monitor, or it ended \
             before the first sample (about a second after it started)"
        )));
    };
    let here = hs_engine::engine::short_hostname();
    let elsewhere = task.client_host.as_deref().filter(|host| *host != here);
    match elsewhere {
        // Read where it is, or say which host has it (hs does not fetch it).
        Some(host) if !std::path::Path::new(path).exists() => Err(Failure::runtime(format!(
            "the resource samples of task {id} are not on this host: {host}:{path}"
        ))),
        _ => copy_file(path, out),
    }
}

/// One task in the format `-f`/`--json`/`--yaml` chose (`hs info`, `hs wait --info`).
pub fn print_task(
    task: &hs_broker::store::TaskRecord,
    format: &InfoFormatArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let tty = std::io::stdout().is_terminal();
    let color = tty && std::env::var_os("NO_COLOR").is_none();
    match format.name() {
        "json" => writeln!(out, "{}", output::info_json(task, tty, color))?,
        "yaml" => write!(out, "{}", output::info_yaml(task))?,
        _ => write!(out, "{}", output::info_normal(task, color))?,
    }
    Ok(())
}
