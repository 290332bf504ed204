//! How much a bundle of tasks may hold. A bundle travels in one sealed message of at most
//! [`MAX_MESSAGE_BYTES`] (the default bound a receiver takes, `server.maxmessage` at a
//! controller); one over it is refused, and with it every task inside. So an input line is refused above [`MAX_TASK_BYTES`] (with its line number), and
//! a bundle stops growing once it holds [`BUNDLE_BYTES`]: even its last task, of the largest size
//! escaped for JSON, keeps the frame under the limit.

use crate::protocol::MAX_MESSAGE_BYTES;
use crate::task::{Task, TaskResult};

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
