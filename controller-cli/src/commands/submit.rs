//! `hs submit`: add tasks to the database; a controller running `--forever` (or one started
//! later with `--restart`) schedules them.

use std::path::Path;

use hs_broker::store::TaskRecord;

use super::common::parse_template;
use super::store_args::settings;
use super::submit_tasks::submit_tasks;
use crate::cli::SubmitArgs;
use crate::config::{Config, key};
use crate::database::{self, Location, Prepare};
use crate::exit::Status;
use crate::input::{Source, Submitter};
use crate::submit_shell::SubmitShell;

/// HyperShell's rule: no args = stdin; one arg that is `-` or an existing non-executable file =
/// a task file; anything else = one task made of the args.
pub(super) fn source(args: &SubmitArgs) -> Result<Source, String> {
    if let Some(f) = &args.task_file {
        return Ok(Source::from_arg(Some(f.clone())));
    }
    match args.args.as_slice() {
        [] => Ok(Source::Stdin),
        [one] if one == "-" => Ok(Source::Stdin),
        [one] if is_task_file(Path::new(one)) => Ok(Source::File(one.into())),
        words => Err(join_words(words)),
    }
}

/// The words of `hs submit WORDS…` as one command line. A word with spaces and nothing the shell
/// expands between double quotes is written as HyperShell writes it (`echo "hello world"`); any
/// other word that needs quoting is single-quoted, so it reaches the command as the one word it
/// was (HyperShell leaves `it's` or `a;b` bare, and the shell then splits or runs them).
fn join_words(words: &[String]) -> String {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| {
            let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
            if !w.is_empty() && w.chars().all(|c| plain(c) || c == ' ') && w.contains(' ') {
                format!("\"{w}\"")
            } else {
                shell_words::quote(w).into_owned()
            }
        })
        .collect();
    quoted.join(" ")
}

/// An existing file that is not a program: a regular file, or a pipe such as `<(seq 100)`.
fn is_task_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| !m.is_dir() && m.permissions().mode() & 0o111 == 0)
}

pub fn run(args: SubmitArgs, cfg: &Config) -> anyhow::Result<Status> {
    args.tls.note_unused();
    let template = parse_template(&args.template)?;
    let mut submitter = Submitter::new(hs_engine::engine::short_hostname());
    submitter.defaults = settings(&args.settings, cfg)?;
    let shell = SubmitShell::new(&template)?;
    if args.queue {
        return super::submit_queue::run(&args, &template, &shell, &submitter, cfg);
    }
    // HyperShell's `submit.bundlesize` default (1) would make one transaction per task.
    let chunk = cfg.value(args.bundlesize, key::SUBMIT_BUNDLESIZE)?.max(1);
    let location = Location::persistent(cfg)?;
    let prepare = if args.initdb {
        Prepare::Initialize
    } else {
        Prepare::Existing
    };
    let mut store = database::open(&location, prepare)?;

    if let Some(path) = &args.from_json {
        let rows = crate::from_json::load(path, &args.template, &submitter)?;
        for part in rows.chunks(chunk) {
            store.submit(part).map_err(database::runtime)?;
        }
        tracing::info!("submitted {} tasks", rows.len());
        return Ok(Status::Ok);
    }
    let mut deliver = |rows: Vec<TaskRecord>| -> anyhow::Result<Vec<uuid::Uuid>> {
        for part in rows.chunks(chunk) {
            store.submit(part).map_err(database::runtime)?;
        }
        Ok(rows.iter().map(|r| r.id).collect())
    };
    submit_tasks(
        &args,
        &template,
        &shell,
        &submitter,
        &mut deliver,
        "to the database",
    )
}

#[cfg(test)]
mod tests {
    use super::join_words;

    fn join(words: &[&str]) -> String {
        join_words(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn words_are_quoted_as_hypershell_where_that_is_safe() {
        assert_eq!(join(&["echo", "hello world"]), "echo \"hello world\"");
        assert_eq!(join(&["echo", "a  b"]), "echo \"a  b\"");
        assert_eq!(join(&["ls", "-l", "/tmp"]), "ls -l /tmp");
        assert_eq!(join(&["echo", "it's"]), "echo 'it'\\''s'");
        assert_eq!(join(&["echo", "$HOME x"]), "echo '$HOME x'");
        assert_eq!(join(&["echo", "a;b"]), "echo 'a;b'");
        assert_eq!(join(&["echo", ""]), "echo ''");
    }
}
