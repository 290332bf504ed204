//! `hs-fuzz`: run the fuzz targets (see the crate docs and docs/fuzzing.md).
//!
//! ```text
//! hs-fuzz --seconds 40                 # all targets, 40 s in total (scripts/test)
//! hs-fuzz --minutes 30 --target config # one target, longer (scripts/fuzz)
//! hs-fuzz --target frame --replay FILE # run one saved input again, showing its panic
//! ```
//!
//! Exit status: 0 when every property held, 1 when one failed (the input is saved and named),
//! 2 for a usage error, 3 when an input hung or went over its memory budget.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use hs_fuzz::alloc::Counting;
use hs_fuzz::driver::{self, Settings};
use hs_fuzz::{Target, target, targets};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[derive(Parser)]
#[command(
    name = "hs-fuzz",
    about = "Fuzz hs's parsers over their seed corpora and seeded mutations"
)]
struct Args {
    /// Total time for mutations, shared evenly by the targets run.
    #[arg(long, default_value_t = 40.0, conflicts_with = "minutes")]
    seconds: f64,
    /// Total time in minutes (a long run).
    #[arg(long)]
    minutes: Option<f64>,
    /// Run only these targets (repeatable); all by default.
    #[arg(long = "target", value_name = "NAME")]
    targets: Vec<String>,
    /// Seed of the mutations (default: from the clock; printed, to repeat a run).
    #[arg(long)]
    seed: Option<u64>,
    /// Folder of seed corpora, one subfolder per target.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus"))]
    corpus: PathBuf,
    /// Where failing inputs are saved, one subfolder per target.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/fuzz-artifacts"))]
    artifacts: PathBuf,
    /// An input running longer than this is a hang.
    #[arg(long, default_value_t = 10.0)]
    hang_seconds: f64,
    /// Most memory one input may hold at once.
    #[arg(long, default_value_t = 512)]
    memory_mib: usize,
    /// Run FILE once with the (one) --target, and show what happens.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// List the targets and what each checks.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list {
        for t in targets() {
            println!("{:<14} {}", t.name, t.about);
        }
        return ExitCode::SUCCESS;
    }
    let chosen: Vec<&'static Target> = if args.targets.is_empty() {
        targets().iter().collect()
    } else {
        let mut chosen = Vec::new();
        for name in &args.targets {
            let Some(t) = target(name) else {
                eprintln!("hs-fuzz: no target {name:?} (see --list)");
                return ExitCode::from(2);
            };
            chosen.push(t);
        }
        chosen
    };
    let memory = args.memory_mib << 20;
    let code = match &args.replay {
        Some(file) => replay(&chosen, file, memory),
        None => fuzz(&args, &chosen, memory),
    };
    hs_fuzz::remove_scratch();
    code
}

fn replay(chosen: &[&'static Target], file: &PathBuf, memory: usize) -> ExitCode {
    let [target] = chosen else {
        eprintln!("hs-fuzz: --replay needs exactly one --target");
        return ExitCode::from(2);
    };
    let input = match std::fs::read(file) {
        Ok(input) => input,
        Err(e) => {
            eprintln!("hs-fuzz: cannot read {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    match driver::exec(target, &input, memory) {
        Ok(label) => {
            eprintln!("{}: passes ({label})", target.name);
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("{}: {message}", target.name);
            ExitCode::FAILURE
        }
    }
}

fn fuzz(args: &Args, chosen: &[&'static Target], memory: usize) -> ExitCode {
    if !hs_fuzz::alloc::installed() {
        eprintln!("hs-fuzz: allocations are not counted: memory is not bounded");
    }
    let total = args.minutes.map_or(args.seconds, |m| m * 60.0);
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let settings = Settings {
        corpus: args.corpus.clone(),
        artifacts: args.artifacts.clone(),
        seed,
        budget: Duration::from_secs_f64((total / chosen.len() as f64).max(0.0)),
        hang: Duration::from_secs_f64(args.hang_seconds.max(0.1)),
        memory,
    };
    eprintln!(
        "hs-fuzz: {} target(s), {:.0} s each, seed {seed}",
        chosen.len(),
        settings.budget.as_secs_f64()
    );
    for target in chosen {
        match driver::fuzz(target, &settings) {
            Ok(r) => eprintln!(
                "hs-fuzz: {:<13} {} seeds, {} inputs, {} outcomes ({} new from mutants)",
                target.name, r.seeds, r.execs, r.outcomes, r.kept
            ),
            Err(finding) => {
                eprintln!("hs-fuzz: FAILED {finding} (seed {seed})");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
