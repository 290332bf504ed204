//! # hs-fuzz: fuzz targets for everything hs reads from outside, and a driver that runs them
//!
//! Every parser that takes input an hs process does not control has a target here: the session
//! frame decoder, the message decoder of each direction, the handshake messages, the `-t`
//! template language, the `-w` clause parser (with tags, changes and sizes), JSON job lines
//! (`hs stream`, `--from-json`) and configuration files. A target takes bytes and checks the
//! properties that matter for that input: it never panics, it never hangs, its memory stays
//! bounded, every error it reports is one line, and where hs also writes the format,
//! decode(encode(x)) == x. A target panics when a property fails; the [`driver`] catches it.
//!
//! The driver is deliberately not cargo-fuzz: cargo-fuzz needs a nightly toolchain, which the
//! project's CI does not have. It runs each target over its seed corpus (`fuzz/corpus/<target>/`,
//! small real inputs and every input that once broke something) and then over seeded random
//! mutations of it, keeping the mutants whose outcome is new as parents for more; the run is
//! reproducible from its seed. A short run is part of `scripts/test`, a long one is
//! `scripts/fuzz` (see docs/fuzzing.md).

pub mod alloc;
pub mod check;
pub mod driver;
pub mod frames;
pub mod mutate;
pub mod targets;
pub mod watch;

/// A fuzz target: a name (also its corpus folder), what it checks, and the function that runs
/// one input.
pub struct Target {
    pub name: &'static str,
    pub about: &'static str,
    /// Runs one input; panics when a property fails. Returns a short label for the kind of
    /// outcome (`ok`, or the error's variant), which the driver uses to keep mutants that reach
    /// something new.
    pub run: fn(&[u8]) -> String,
    /// Longest input the mutator makes for this target.
    pub max_len: usize,
    /// Fragments worth inserting: the format's keywords and delimiters.
    pub dictionary: &'static [&'static str],
}

/// A folder of this process's own for the files targets write (databases, configuration files),
/// created on first use; [`remove_scratch`] removes it.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hs-fuzz-{}", std::process::id()));
    let path = dir.join(name);
    std::fs::create_dir_all(&dir).expect("a scratch folder in the temporary directory");
    path
}

pub fn remove_scratch() {
    let dir = std::env::temp_dir().join(format!("hs-fuzz-{}", std::process::id()));
    std::fs::remove_dir_all(dir).ok();
}

/// Every target, in the order the driver runs them.
pub fn targets() -> &'static [Target] {
    targets::ALL
}

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    targets().iter().find(|t| t.name == name)
}
