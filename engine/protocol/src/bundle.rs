//! How much a bundle of tasks may hold. A bundle travels in one sealed message of at most
//! [`MAX_MESSAGE_BYTES`] (the default bound a receiver takes, `server.maxmessage` at a
//! controller); one over it is refused, and with it every task inside. So an input line is refused above [`MAX_TASK_BYTES`] (with its line number), and
//! a bundle stops growing once it holds [`BUNDLE_BYTES`]: even its last task, of the largest size
//! escaped for JSON, keeps the frame under the limit.

use crate::protocol::{MAX_MESSAGE_BYTES, TaskSpec};
use crate::task::{JobOptions, Task, TaskResult};

/// The largest task (its input line, or a retry's command) hs takes: 8 MiB.
pub const MAX_TASK_BYTES: usize = 8 << 20;

/// What a bundle of tasks holds before it goes, whatever its count: 24 MiB.
pub const BUNDLE_BYTES: usize = 24 << 20;

/// Room for a task's fields besides its text (ids, times, tags, options), counted generously.
const TASK_OVERHEAD: usize = 1024;

// The largest task, written at up to 4 bytes of JSON per byte (escapes), after a full bundle
// still fits in a message.
const _: () = assert!(BUNDLE_BYTES + 4 * MAX_TASK_BYTES + TASK_OVERHEAD < MAX_MESSAGE_BYTES);

/// About how many bytes `task` takes in a bundle: its text and a fixed allowance.
pub fn task_bytes(task: &Task) -> usize {
    let command = task.job.as_ref().and_then(|j| j.command.as_ref());
    task.args.len() + command.map_or(0, String::len) + TASK_OVERHEAD
}

/// How many bytes a submitted job takes in a `submit` message: its command, run settings and
/// tags as JSON writes them (a control character is 6 bytes there), and a fixed allowance.
pub fn spec_bytes(spec: &TaskSpec) -> usize {
    spec_text(spec, json_len) + TASK_OVERHEAD
}

/// Whether a job is small enough to submit: at most [`MAX_TASK_BYTES`] of text, the most a
/// task may carry, and at most 4 bytes of JSON per byte of it, so that it keeps a full bundle
/// within a frame (as the assertion above counts).
pub fn spec_fits(spec: &TaskSpec) -> bool {
    spec_text(spec, str::len) <= MAX_TASK_BYTES && spec_text(spec, json_len) <= 4 * MAX_TASK_BYTES
}

/// The text of a job, each piece measured by `len`.
fn spec_text(spec: &TaskSpec, len: fn(&str) -> usize) -> usize {
    let tags: usize = spec
        .tags
        .iter()
        .map(|(k, v)| len(k) + len(&v.to_string()))
        .sum();
    len(&spec.args) + spec.job.as_ref().map_or(0, |j| options_text(j, len)) + tags
}

/// The text of a job's run settings, each piece measured by `len`.
fn options_text(job: &JobOptions, len: fn(&str) -> usize) -> usize {
    let text = |s: &Option<String>| s.as_deref().map_or(0, len);
    let env: usize = job.env.iter().map(|(k, v)| len(k) + len(v)).sum();
    let hosts: usize = job.hosts.iter().map(|h| len(h)).sum();
    text(&job.cwd) + text(&job.stdout) + text(&job.stderr) + text(&job.command) + env + hosts
}

/// How many bytes `text` takes inside a JSON string: `"`, `\` and the usual control
/// characters are 2, any other control character 6 (`\u001f`), everything else as it is.
pub fn json_len(text: &str) -> usize {
    text.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum()
}

/// About how many bytes `result` takes in a bundle: the command it ran, its error and a fixed
/// allowance.
pub fn result_bytes(result: &TaskResult) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    text(&result.command) + text(&result.error) + TASK_OVERHEAD
}

/// `items` cut, in order, into bundles that each stop growing once full by `size`.
pub fn split<T>(items: Vec<T>, size: impl Fn(&T) -> usize) -> Vec<Vec<T>> {
    let mut bundles = Vec::new();
    let (mut current, mut held) = (Vec::new(), 0);
    for item in items {
        held += size(&item);
        current.push(item);
        if bundle_full(held) {
            bundles.push(std::mem::take(&mut current));
            held = 0;
        }
    }
    if !current.is_empty() {
        bundles.push(current);
    }
    bundles
}

/// Whether a bundle already holding `held` bytes is full.
pub fn bundle_full(held: usize) -> bool {
    held >= BUNDLE_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_is_full_at_its_byte_budget_and_counts_text() {
        let small = Task::new("echo hi");
        let big = Task::new("x".repeat(MAX_TASK_BYTES));
        assert!(task_bytes(&big) > MAX_TASK_BYTES);
        assert!(task_bytes(&small) < 2 * TASK_OVERHEAD);
        assert!(!bundle_full(2 * task_bytes(&big)));
        assert!(bundle_full(3 * task_bytes(&big)));
    }

    #[test]
    fn a_job_counts_its_settings_and_tags_and_fits_up_to_the_task_limit() {
        let mut spec = TaskSpec {
            args: "x".repeat(MAX_TASK_BYTES - 20),
            ..TaskSpec::default()
        };
        assert!(spec_fits(&spec));
        spec.tags.insert("k".into(), "v".repeat(9).into());
        assert!(spec_fits(&spec), "{}", spec_bytes(&spec));
        spec.job = Some(JobOptions {
            env: vec![("A".into(), "y".repeat(100))],
            ..JobOptions::default()
        });
        assert!(!spec_fits(&spec));
    }

    #[test]
    fn a_job_is_measured_as_json_writes_it() {
        let spec = |args: &str| TaskSpec {
            args: args.into(),
            ..TaskSpec::default()
        };
        for text in ["plain é", "a\"b\\c\n\t", "\u{1}\u{1f}\u{7f}"] {
            let json = serde_json::to_string(text).unwrap();
            assert_eq!(json_len(text), json.len() - 2, "{json}");
            assert_eq!(spec_bytes(&spec(text)), json.len() - 2 + TASK_OVERHEAD);
        }
        // Within 8 MiB, but 6 bytes of JSON each: too large for a full bundle's frame.
        assert!(!spec_fits(&spec(&"\u{1}".repeat(6 << 20))));
        assert!(spec_fits(&spec(&"\u{1}".repeat(5 << 20))));
    }

    #[test]
    fn split_keeps_order_and_cuts_at_the_budget() {
        let sizes = vec![BUNDLE_BYTES / 2, BUNDLE_BYTES / 2, 1, BUNDLE_BYTES, 5];
        let bundles = split(sizes.clone(), |n| *n);
        assert_eq!(
            bundles,
            vec![
                vec![BUNDLE_BYTES / 2, BUNDLE_BYTES / 2],
                vec![1, BUNDLE_BYTES],
                vec![5]
            ]
        );
        assert!(split(Vec::<usize>::new(), |n| *n).is_empty());
    }
}
