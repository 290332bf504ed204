//! `hs submit`: add tasks to the database; a controller running `--forever` (or one started
//! later with `--restart`) schedules them.

use std::io::Read;
use std::path::Path;

use hs_broker::RunError;
use hs_broker::store::{InputProgress, TaskRecord, TaskStore};
use uuid::Uuid;

use super::common::parse_template;
use super::store_args::settings;
use super::submit_tasks::{Destination, submit_tasks};
use crate::cli::SubmitArgs;
use crate::config::{Config, key};
use crate::database::{self, Location, Prepare};
use crate::exit::{Failure, Status};
use crate::input::{Source, Submitter};
use crate::resume::{self, Tracking};
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
    let mut database = Database {
        store: store.as_mut(),
        chunk,
        stored: None,
    };
    submit_tasks(&args, &template, &shell, &submitter, &mut database)
}

/// The database as `hs submit`'s destination: each bundle of `chunk` tasks is one transaction,
/// stored with how far its input is read, so a submit whose database fails part-way is finished
/// by running the same command again (see `resume`), as `hs server FILE` is.
struct Database<'a> {
    store: &'a mut dyn TaskStore,
    chunk: usize,
    /// How far the input is stored (by this run, or by the earlier one it finishes).
    stored: Option<InputProgress>,
}

impl Destination for Database<'_> {
    fn name(&self) -> String {
        "to the database".into()
    }

    fn bundle(&self) -> usize {
        self.chunk
    }

    fn track(
        &mut self,
        source: &Source,
        input: Box<dyn Read + Send>,
    ) -> anyhow::Result<(Box<dyn Read + Send>, Option<Tracking>)> {
        let (input, tracking) = resume::prepare(self.store, source, input, Uuid::new_v4())?;
        if tracking.skip > 0 {
            // What the error names if this run stores nothing more (the fingerprint is not shown).
            self.stored = Some(tracking.progress(tracking.skip, &Default::default()));
        }
        Ok((input, Some(tracking)))
    }

    fn deliver(
        &mut self,
        rows: Vec<TaskRecord>,
        progress: Option<&InputProgress>,
    ) -> anyhow::Result<Vec<Uuid>> {
        let stored = match progress {
            // A tracked bundle is read up to `chunk` tasks, so it is one transaction.
            Some(p) => self.store.submit_lines(&rows, p),
            None => rows
                .chunks(self.chunk)
                .try_for_each(|part| self.store.submit(part)),
        };
        match stored {
            Ok(()) => {
                if let Some(p) = progress {
                    self.stored = Some(p.clone());
                }
                Ok(rows.iter().map(|r| r.id).collect())
            }
            Err(e) => Err(match self.stored.take() {
                Some(stored) => Failure::runtime(
                    RunError::InputStopped {
                        cause: Box::new(RunError::Store(e)),
                        stored,
                    }
                    .to_string(),
                ),
                None => database::runtime(e),
            }),
        }
    }

    fn input_done(&mut self, tracking: &Tracking) -> anyhow::Result<()> {
        self.store
            .input_done(&tracking.submission)
            .map_err(database::runtime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracked_bundle_is_stored_with_its_progress_until_the_input_is_done() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = hs_broker::store::SqliteStore::open(&dir.path().join("t.db")).unwrap();
        store.initialize().unwrap();
        let mut db = Database {
            store: &mut store,
            chunk: 2,
            stored: None,
        };
        let text: &[u8] = b"echo 1\necho 2\necho 3\n";
        let (_, tracking) = db
            .track(&Source::Stdin, Box::new(std::io::Cursor::new(text)))
            .unwrap();
        let tracking = tracking.expect("a database tracks its input");
        let row = |a: &str| TaskRecord::new(a.into(), tracking.submission, None);
        let progress = tracking.progress(2, &Default::default());
        let ids = db
            .deliver(vec![row("echo 1"), row("echo 2")], Some(&progress))
            .unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(db.stored.as_ref().map(|p| p.lines), Some(2));
        assert_eq!(db.store.unfinished_inputs().unwrap(), vec![progress]);
        db.input_done(&tracking).unwrap();
        assert!(db.store.unfinished_inputs().unwrap().is_empty());
        assert_eq!(db.store.count(&Default::default()).unwrap(), 2);
    }

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
