//! Turning command-line task settings and filters into store types.

use hs_broker::store::{Field, Order, Query};

use crate::cli::{FilterArgs, TaskSettingArgs};
use crate::config::{Config, Layers, key};
use crate::directives::Directives;
use crate::exit::Failure;
use crate::query::{self, alias};

/// `-t`, `-g`, `-c`, `-m`, `-W` as directives (the same rules as `# HYPERSHELL:` items), over
/// `task.cores`, `task.memory` and `task.timeout`; a flag wins over a tag of the same key.
pub fn settings(args: &TaskSettingArgs, cfg: &Config) -> anyhow::Result<Directives> {
    let mut tags = Directives::default();
    for tag in &args.tags {
        tags.add(tag).map_err(|e| Failure::usage(e.to_string()))?;
    }
    let mut flags = resources(
        args.cores,
        args.memory,
        args.gpus,
        args.timeout.map(|t| t as f64),
    );
    flags.group = args.group;
    Ok(configured(cfg)?.merged(&tags).merged(&flags))
}

/// `-c`, `-m`, `--gpus` and `-W` of `hs cluster` and `hs server`: stored with every task of
/// their input, over `task.cores`, `task.memory`, `task.gpus` and `task.timeout`.
pub fn input_settings(
    cores: Option<i64>,
    memory: Option<i64>,
    gpus: Option<u32>,
    timeout: Option<f64>,
    cfg: &Config,
) -> anyhow::Result<Directives> {
    Ok(configured(cfg)?.merged(&resources(cores, memory, gpus, timeout)))
}

/// Resource flags as directives; a timeout is whole seconds, rounded up.
fn resources(
    cores: Option<i64>,
    memory: Option<i64>,
    gpus: Option<u32>,
    timeout: Option<f64>,
) -> Directives {
    Directives {
        cores,
        memory,
        gpus,
        timeout: timeout.map(|t| t.ceil() as i64),
        ..Directives::default()
    }
}

/// The `[task]` resource keys as directives, the layer under the flags. 0 is HyperShell's
/// "unset", so only a non-zero value reaches a task.
fn configured(cfg: &Config) -> anyhow::Result<Directives> {
    let cores = cfg.option(None::<i64>, key::TASK_CORES, Layers::All)?;
    let gpus = cfg.option(None::<u32>, key::TASK_GPUS, Layers::All)?;
    // Seconds may be written as 1.5; a task's timeout is whole seconds, rounded up.
    let timeout = cfg.option(None::<f64>, key::TASK_TIMEOUT, Layers::All)?;
    let memory = match cfg.option(None::<String>, key::TASK_MEMORY, Layers::All)? {
        Some(text) => Some(query::parse_bytes(&text).map_err(|_| {
            Failure::from(cfg.invalid(key::TASK_MEMORY.name, "a size such as 8G or 512MB"))
        })?),
        None => None,
    };
    Ok(Directives {
        cores: cores.filter(|c| *c > 0),
        memory: memory.filter(|m| *m > 0),
        gpus: gpus.filter(|g| *g > 0),
        timeout: timeout.filter(|t| *t > 0.0).map(|t| t.ceil() as i64),
        ..Directives::default()
    })
}

/// The query a filter describes. Every mistake is a usage error naming the argument.
pub fn query(f: &FilterArgs) -> anyhow::Result<Query> {
    let usage = |e: query::QueryError| Failure::usage(e.to_string());
    let mut q = Query::default();
    for c in &f.conditions {
        q.conditions.push(query::parse_where(c).map_err(usage)?);
    }
    for t in &f.tags {
        q.tags.push(query::parse_tag_filter(t).map_err(usage)?);
    }
    let aliases = [
        (f.failed, alias::failed as fn() -> _),
        (f.succeeded, alias::succeeded),
        (f.completed, alias::completed),
        (f.remaining, alias::remaining),
        (f.retries, alias::retries),
    ];
    q.conditions
        .extend(aliases.iter().filter(|(on, _)| *on).map(|(_, make)| make()));
    if let Some(g) = f.group {
        q.conditions.push(alias::group(g));
    }
    if let Some(name) = &f.order_by {
        let field = Field::parse(name).ok_or_else(|| {
            Failure::usage(format!(
                "--order-by {name}: unknown field (see `hs list --fields`)"
            ))
        })?;
        q.order = Some(Order {
            field,
            descending: f.desc,
        });
    }
    if f.desc && f.order_by.is_none() {
        tracing::warn!("--desc without --order-by changes nothing");
    }
    q.limit = f.limit;
    Ok(q)
}
