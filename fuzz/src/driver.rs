//! Running a target: its seed corpus first, then seeded mutations until its time is up.
//!
//! Each input runs under `catch_unwind` with the panic message captured (a failed property is
//! a panic), with its memory budget armed (see [`crate::alloc`]) and the hang watchdog watching
//! (see [`crate::watch`]). A failing mutant is saved under the artifacts folder with a name
//! derived from its bytes; copied into `fuzz/corpus/<target>/`, it stays a regression case.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use crate::Target;
use crate::mutate::Mutator;
use crate::{alloc, watch};

/// How a run goes.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Holds one folder of seed inputs per target.
    pub corpus: PathBuf,
    /// Where failing inputs are saved, one folder per target.
    pub artifacts: PathBuf,
    pub seed: u64,
    /// Time for mutations, per target (the seeds always all run).
    pub budget: Duration,
    /// Longest an input may run before it counts as a hang.
    pub hang: Duration,
    /// Most bytes one input may have allocated at once.
    pub memory: usize,
}

/// What a target's run did.
#[derive(Debug)]
pub struct Report {
    pub seeds: usize,
    pub execs: u64,
    /// Distinct outcome labels seen.
    pub outcomes: usize,
    /// Mutants kept as parents because their outcome was new.
    pub kept: usize,
}

/// A failed property: the panic message and where the input is.
#[derive(Debug)]
pub struct Finding {
    pub target: &'static str,
    pub message: String,
    pub input: PathBuf,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (input: {}; run it again with hs-fuzz --target {} --replay {})",
            self.target,
            self.message,
            self.input.display(),
            self.target,
            self.input.display()
        )
    }
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Panics inside [`exec`] are captured (message and place) instead of printed; others print
/// as usual.
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.get() {
                return default(info);
            }
            let payload = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            let place = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            CAUGHT.set(Some(format!("{payload}{place}")));
        }));
    });
}

/// Run one input: its outcome label, or the message of the panic that a failed property (or a
/// bug) raised.
pub fn exec(target: &Target, input: &[u8], memory: usize) -> Result<String, String> {
    install_hook();
    watch::enter(input);
    QUIET.set(true);
    alloc::arm(memory);
    let result = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    alloc::disarm();
    QUIET.set(false);
    watch::leave();
    result.map_err(|_| CAUGHT.take().unwrap_or_else(|| "a panic".into()))
}

/// The seed inputs of `target` (file name order); none when its folder is missing.
pub fn seeds(target: &Target, corpus: &Path) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let dir = corpus.join(target.name);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.is_file());
    paths.sort();
    paths
        .into_iter()
        .map(|p| std::fs::read(&p).map(|bytes| (p, bytes)))
        .collect()
}

/// FNV-1a: a stable name for an input's bytes.
fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Run `target` over its seeds, then over mutations until its budget is spent.
pub fn fuzz(target: &'static Target, s: &Settings) -> Result<Report, Finding> {
    let artifacts = s.artifacts.join(target.name);
    let fail = |message: String, input: PathBuf| Finding {
        target: target.name,
        message,
        input,
    };
    watch::prepare(target.name, &artifacts, s.hang)
        .map_err(|e| fail(format!("cannot prepare the run: {e}"), artifacts.clone()))?;
    let seeds = seeds(target, &s.corpus).map_err(|e| {
        fail(
            format!("cannot read the corpus: {e}"),
            s.corpus.join(target.name),
        )
    })?;
    let mut seen = HashSet::new();
    let mut pool: Vec<Vec<u8>> = Vec::with_capacity(seeds.len() + 1);
    for (path, bytes) in &seeds {
        let label = exec(target, bytes, s.memory).map_err(|m| fail(m, path.clone()))?;
        seen.insert(label);
        pool.push(bytes.clone());
    }
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    let mut mutator = Mutator::new(s.seed ^ digest(target.name.as_bytes()), target.dictionary);
    let deadline = Instant::now() + s.budget;
    let mut report = Report {
        seeds: seeds.len(),
        execs: seeds.len() as u64,
        outcomes: 0,
        kept: 0,
    };
    while !report.execs.is_multiple_of(16) || Instant::now() < deadline {
        let mut child = pool[mutator.below(pool.len())].clone();
        mutator.mutate(&mut child, &pool, target.max_len);
        report.execs += 1;
        match exec(target, &child, s.memory) {
            Ok(label) => {
                if seen.insert(label) && pool.len() < 10_000 {
                    pool.push(child);
                    report.kept += 1;
                }
            }
            Err(message) => {
                let path = artifacts.join(format!("crash-{:016x}", digest(&child)));
                return Err(match std::fs::write(&path, &child) {
                    Ok(()) => fail(message, path),
                    Err(e) => fail(
                        format!("{message} (and the input could not be saved: {e})"),
                        path,
                    ),
                });
            }
        }
    }
    report.outcomes = seen.len();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boom(data: &[u8]) -> String {
        assert!(!data.windows(4).any(|w| w == b"boom"), "found the word");
        "ok".into()
    }

    static BOOM: Target = Target {
        name: "boom-test",
        about: "panics on the word boom",
        run: boom,
        max_len: 64,
        dictionary: &["boom"],
    };

    #[test]
    fn a_failing_property_is_caught_saved_and_named() {
        let dir = std::env::temp_dir().join(format!("hs-fuzz-driver-{}", std::process::id()));
        let settings = Settings {
            corpus: dir.join("corpus"),
            artifacts: dir.join("artifacts"),
            seed: 1,
            budget: Duration::from_secs(20),
            hang: Duration::from_secs(60),
            memory: 1 << 30,
        };
        let finding = fuzz(&BOOM, &settings).expect_err("the mutator finds the word");
        assert!(finding.message.contains("found the word"), "{finding}");
        let saved = std::fs::read(&finding.input).expect("saved");
        assert!(saved.windows(4).any(|w| w == b"boom"));
        assert_eq!(exec(&BOOM, b"no", 1 << 30), Ok("ok".into()));
        std::fs::remove_dir_all(&dir).ok();
    }
}
