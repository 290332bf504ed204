//! Writing result lines: in completion order, or (`--keep-order`) in input order.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Map, Value};
use uuid::Uuid;

/// A job handed on and not answered yet: its place in the input and the object to answer with.
pub type Pending = (u64, Map<String, Value>);

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

    /// Emit the answer to input entry `index` (entries count from 0, one per non-blank line).
    pub fn emit(&mut self, index: u64, mut object: Map<String, Value>, result: Value) {
        if result.get("status").and_then(Value::as_str) != Some("ok") {
            self.not_ok += 1;
        }
        object.insert("result".into(), result);
        let line = Value::Object(object).to_string();
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
        left.sort_by_key(|(_, (index, _))| *index);
        let n = left.len() as u64;
        for (id, (index, object)) in left {
            let r = super::result::not_run(status, why, None, id.map(|id| id.to_string()));
            self.emit(index, object, r);
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
