//! Every input of every seed corpus passes its target: the seeds are real inputs, and the
//! inputs that once broke something (`regression-*`) must keep passing. Allocations are
//! counted, so an input that goes over the memory budget fails the run too.

use hs_fuzz::alloc::Counting;
use hs_fuzz::driver::{exec, seeds};
use hs_fuzz::targets;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");

#[test]
fn every_corpus_input_passes_its_target() {
    let mut failures = Vec::new();
    for target in targets() {
        let inputs = seeds(target, CORPUS.as_ref()).expect("the corpus is readable");
        assert!(!inputs.is_empty(), "{} has no seed corpus", target.name);
        for (path, bytes) in inputs {
            if let Err(message) = exec(target, &bytes, 512 << 20) {
                failures.push(format!("{}: {message}", path.display()));
            }
        }
    }
    hs_fuzz::remove_scratch();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_corpus_folder_belongs_to_a_target() {
    for entry in std::fs::read_dir(CORPUS).expect("the corpus folder") {
        let name = entry.expect("an entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            hs_fuzz::target(&name).is_some(),
            "fuzz/corpus/{name} is the corpus of no target"
        );
    }
}
