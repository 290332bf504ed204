//! Writing result lines: in completion order, or (`--keep-order`) in input order.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::Value;
use uuid::Uuid;

use super::echo::Echo;

/// An input entry not answered yet: where it stands in the input and the object to answer with.
pub struct Pending {
    /// Its place among the non-blank input lines, from 0 (the order `--keep-order` keeps).
    pub index: u64,
    /// Its input line number, from 1 (what the result line tells the user).
    pub line: u64,
    pub object: Echo,
}

impl Pending {
    pub fn new(index: u64, line: u64, object: Echo) -> Self {
        Pending {
            index,
            line,
            object,
        }
    }
}

/// Writes one JSON object per line to stdout. With `keep_order`, a line waits until every
/// earlier input line has been answered (memory then grows with how far results run ahead).
pub struct Emitter {
    keep_order: bool,
    next: u64,
    waiting: BTreeMap<u64, String>,
    /// Results that were not `ok` (the exit status says whether any were).
    pub not_ok: u64,
    pub written: u64,
    broken: bool,
}

impl Emitter {
    pub fn new(keep_order: bool) -> Self {
        Emitter {
            keep_order,
            next: 0,
            waiting: BTreeMap::new(),
            not_ok: 0,
            written: 0,
            broken: false,
        }
    }

    /// Emit the answer to an input entry. The result gains the entry's `line`, and its `error`,
    /// if any, starts with `line N: ` so a message read alone still points at its input.
    pub fn emit(&mut self, entry: Pending, mut result: Value) {
        if result.get("status").and_then(Value::as_str) != Some("ok") {
            self.not_ok += 1;
        }
        let Pending {
            index,
            line,
            object,
        } = entry;
        if let Some(error) = result.get_mut("error")
            && let Some(text) = error.as_str()
        {
            *error = Value::String(format!("line {line}: {text}"));
        }
        result["line"] = Value::from(line);
        let line = object.answer(&result);
        if !self.keep_order {
            return self.write(&line);
        }
        self.waiting.insert(index, line);
        while let Some(line) = self.waiting.remove(&self.next) {
            self.write(&line);
            self.next += 1;
        }
    }

    /// Answer every job `left` unanswered (with its task id, when it got one) with `status`
    /// and `why`, in input order so a partial output still reads in order; returns how many.
    pub fn answer_left(
        &mut self,
        left: impl IntoIterator<Item = (Option<Uuid>, Pending)>,
        status: &str,
        why: &str,
    ) -> u64 {
        let mut left: Vec<_> = left.into_iter().collect();
        left.sort_by_key(|(_, entry)| entry.index);
        let n = left.len() as u64;
        for (id, entry) in left {
            let r = super::result::not_run(status, why, id.map(|id| id.to_string()));
            self.emit(entry, r);
        }
        n
    }

    /// Write whatever is still held back (entries never answered leave a gap).
    pub fn finish(&mut self) {
        for line in std::mem::take(&mut self.waiting).into_values() {
            self.write(&line);
        }
    }

    fn write(&mut self, line: &str) {
        self.written += 1;
        if self.broken {
            return;
        }
        let mut out = std::io::stdout().lock();
        if out
            .write_all(line.as_bytes())
            .and_then(|_| out.write_all(b"\n"))
            .and_then(|_| out.flush())
            .is_err()
        {
            // A closed stdout (`| head`): stop writing, keep running the jobs.
            self.broken = true;
        }
    }
}
