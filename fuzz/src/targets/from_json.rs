//! `from_json`: `--from-json FILE`, a JSON array of objects or one object per line, whose keys
//! fill a template's `{name}` fields and become tags.
//!
//! An input is the file; its length picks one of a few templates. Properties: the file is
//! turned into tasks or refused with one line, and never more tasks than it has objects.

use hs_cli::fuzzing::{Submitter, load_from_json};

use crate::check;

const TEMPLATES: &[&str] = &["{}", "echo {name} {n} {}", "run {a} {= x =} {/-} {[0]}"];

pub fn run(data: &[u8]) -> String {
    let path = crate::scratch(&format!("from-json-{:?}", std::thread::current().id()));
    std::fs::write(&path, data).expect("write the scratch file");
    let template = TEMPLATES[data.len() % TEMPLATES.len()];
    let label = match load_from_json(&path, template, &Submitter::new("fuzz".into())) {
        Ok(rows) => {
            let text = String::from_utf8_lossy(data);
            let objects = text.matches('{').count();
            assert!(
                rows.len() <= objects.max(1),
                "{} tasks from {objects} objects",
                rows.len()
            );
            format!("ok:{}", rows.len().min(3))
        }
        Err(e) => {
            check::one_line("from-json", &format!("{e:#}"));
            "err".into()
        }
    };
    format!("{template} {label}")
}
