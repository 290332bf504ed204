//! `hs info ID`: one task, all fields, one field, or its captured output.

use std::io::{IsTerminal, Write};

use hs_broker::store::Field;

use super::task_id;
use crate::cli::{InfoArgs, InfoFormatArgs};
use crate::config::Config;
use crate::database::{self, Location};
use crate::exit::{Failure, Status};
use crate::output;

/// Copy a captured output file to `to`, or say clearly why it cannot be. A file an engine on
/// another host is still sending to this controller is `<path>.part` until it is whole: it is
/// not printed half-way, and the message says how much has arrived.
pub fn copy_file(path: &str, to: &mut dyn Write) -> anyhow::Result<()> {
    let mut file = std::fs::File::open(path).map_err(|e| {
        let arriving = std::fs::metadata(format!("{path}.part"));
        Failure::runtime(match arriving {
            Ok(part) => format!(
                "{path} is still arriving from the engine that ran the task ({} bytes so far): \
                 try again once it is whole",
                part.len()
            ),
            Err(_) => format!(
                "cannot read {path}: {e} (captured output stays on the host that ran the task \
                 unless the controller's site takes it)"
            ),
        })
    })?;
    std::io::copy(&mut file, to)?;
    Ok(())
}

/// How long `hs run` waits for a captured file that is still on its way without growing.
const UPLOAD_STALL: std::time::Duration = std::time::Duration::from_secs(10);

/// Wait until the captured file at `path` is whole, for a task that has just ended: an engine
/// on another host sends it after its result (see [`copy_file`]). Gives up once nothing has
/// arrived for [`UPLOAD_STALL`]; the copy then says why.
pub fn wait_until_whole(path: &str, poll: std::time::Duration) {
    let part = format!("{path}.part");
    let (mut held, mut since) = (None, std::time::Instant::now());
    while !std::path::Path::new(path).exists() && since.elapsed() < UPLOAD_STALL {
        let now_held = std::fs::metadata(&part).ok().map(|m| m.len());
        if now_held != held {
            (held, since) = (now_held, std::time::Instant::now());
        }
        std::thread::sleep(poll.min(std::time::Duration::from_millis(200)));
    }
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
