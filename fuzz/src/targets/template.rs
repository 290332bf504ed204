//! `template`: the `-t` template language (`Template::parse`, expansion, named fields).
//!
//! An input is the template, then (after the first NUL byte, if any) the args of one task.
//! Properties: parsing answers and its errors are one line; a parsed template keeps its source,
//! expands (plain, and with named fields) or says why in one line, and filling named fields
//! changes nothing in a template that has none. The runner of `{% %}` commands here runs
//! nothing: it answers with the args, or fails with a status and a two-line stderr.

use hs_template::{CommandFailure, CommandRunner, Template};

use crate::check;

/// Stands in for bash: output or failure depends on the script's length only.
struct Runner;

impl CommandRunner for Runner {
    fn run(&self, script: &str, args: &str) -> Result<Vec<u8>, CommandFailure> {
        if script.len().is_multiple_of(3) {
            return Err(CommandFailure::Exited {
                code: 2,
                stderr: "first line\nsecond line".into(),
            });
        }
        Ok(format!("<{args}>\n").into_bytes())
    }
}

pub fn run(data: &[u8]) -> String {
    let (template, args) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let template = String::from_utf8_lossy(template);
    let args = String::from_utf8_lossy(args);
    let parsed = match Template::parse(&template) {
        Ok(t) => t,
        Err(e) => return format!("parse {}", check::error("parse", &e)),
    };
    assert_eq!(parsed.source(), template);
    let fields = parsed.field_names();
    let plain = parsed.expand(&args, &Runner);
    let named = parsed.expand_with_fields(&args, &Runner, &|name: &str| {
        name.len().is_multiple_of(2).then(|| format!("[{name}]"))
    });
    if fields.is_empty()
        && let (Ok(a), Ok(b)) = (&plain, &named)
    {
        assert_eq!(
            a, b,
            "no named fields, yet filling them changed the command"
        );
    }
    format!(
        "expand {} {} fields:{} commands:{}",
        check::outcome("expand", &plain),
        check::outcome("expand with fields", &named),
        fields.len().min(3),
        parsed.has_commands()
    )
}
