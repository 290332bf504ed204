//! Commands about hs itself rather than tasks: citation, the task columns, shell completions and
//! manual pages. Completions and pages are generated from the same clap definitions the parser
//! uses, so they cannot drift from what hs accepts.

use std::io::Write;
use std::path::Path;

use crate::cli::{CompletionsArgs, ManpagesArgs, TaskArgs, whole_command};
use crate::exit::{Failure, Status};

/// What `hs --citation` prints: the HyperShell paper, since hs follows its design and interface
/// (BibTeX, as HyperShell prints it, so it pastes into a bibliography).
pub const CITATION: &str = "\
@inproceedings{lentner_2022,
    author = {Lentner, Geoffrey and Gorenstein, Lev},
    title = {HyperShell v2: Distributed Task Execution for HPC},
    booktitle = {Practice and Experience in Advanced Research Computing},
    series = {PEARC '22},
    year = {2022},
    publisher = {Association for Computing Machinery},
    doi = {10.1145/3491418.3535138},
    url = {https://doi.org/10.1145/3491418.3535138}
}
";

/// `hs task --list-columns`: the task table's columns, one per line.
pub fn list_columns() -> anyhow::Result<Status> {
    let mut out = std::io::stdout().lock();
    for f in crate::output::hypershell_fields() {
        writeln!(out, "{}", f.name())?;
    }
    Ok(Status::Ok)
}

/// `hs task` with `--list-columns` or nothing.
pub fn task_without_action(args: &TaskArgs) -> anyhow::Result<Status> {
    if args.list_columns {
        return list_columns();
    }
    Err(Failure::usage(
        "hs task needs an action: submit, info, wait, run, search or update (see hs task --help)",
    ))
}

/// `hs completions SHELL`: the completion script on stdout.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<Status> {
    let shell = args.shell;
    let mut out = std::io::stdout().lock();
    let mut cmd = match args.name.as_str() {
        "hsx" => hsx_command(),
        _ => whole_command(),
    };
    clap_complete::generate(shell, &mut cmd, args.name.as_str(), &mut out);
    Ok(Status::Ok)
}

/// `hs manpages DIR`: hs.1, hyper-shell.1, hsx.1 and hs-SUBCOMMAND.1 for every subcommand.
pub fn manpages(args: &ManpagesArgs) -> anyhow::Result<Status> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
    let hs = whole_command().name("hs");
    let mut written = 0usize;
    written += write_tree(dir, hs.clone(), "hs")?;
    write_page(dir, "hyper-shell", hs.name("hyper-shell"))?;
    write_page(dir, "hsx", hsx_command())?;
    written += 2;
    eprintln!("wrote {written} manual pages to {}", dir.display());
    Ok(Status::Ok)
}

/// `hsx` is `hs cluster` under its own name.
fn hsx_command() -> clap::Command {
    let cluster = whole_command()
        .find_subcommand("cluster")
        .cloned()
        .unwrap_or_else(|| clap::Command::new("cluster"));
    cluster
        .name("hsx")
        .bin_name("hsx")
        .about("Run tasks on a local cluster (hsx ARGS is hs cluster ARGS)")
}

/// The page of `cmd` and of each of its subcommands (`hs-task-submit.1`), depth first.
fn write_tree(dir: &Path, cmd: clap::Command, name: &str) -> anyhow::Result<usize> {
    let mut count = 1;
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let sub_name = format!("{name}-{}", sub.get_name());
        count += write_tree(dir, sub.clone().name(sub_name.clone()), &sub_name)?;
    }
    write_page(dir, name, cmd)?;
    Ok(count)
}

fn write_page(dir: &Path, name: &str, cmd: clap::Command) -> anyhow::Result<()> {
    let path = dir.join(format!("{name}.1"));
    let mut buffer = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buffer)
        .map_err(|e| Failure::runtime(format!("cannot render {name}.1: {e}")))?;
    std::fs::write(&path, buffer)
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", path.display())))?;
    Ok(())
}
