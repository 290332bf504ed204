//! Changing one key in a TOML file's text while keeping its comments and layout, which a parse
//! and re-serialisation would lose. It handles the common shapes (`[section]` headers with
//! `key = value` lines) and gives up on anything else; the caller checks the result by parsing
//! it and falls back to rewriting the whole file.

/// `text` with `key` set to `value` (`None`: removed). `None` when the file's shape is beyond
/// this line editor.
pub fn set_in_text(text: &str, key: &str, value: Option<&toml::Value>) -> Option<String> {
    let (table, name) = match key.rsplit_once('.') {
        Some((t, n)) => (t, n),
        None => ("", key),
    };
    if !key.split('.').all(is_bare) {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let sections = sections(&lines)?;
    let new_line = value.map(|v| format!("{name} = {v}"));

    // Replace or remove an existing `name = …` line in the right table.
    for (idx, line) in lines.iter().enumerate() {
        if section_at(&sections, idx) != table || line_key(line) != Some(name) {
            continue;
        }
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        match &new_line {
            Some(new) => {
                let indent = &line[..line.len() - line.trim_start().len()];
                out[idx] = format!("{indent}{new}{}", trailing_comment(line)?);
            }
            None => {
                out.remove(idx);
            }
        }
        return Some(join(out));
    }
    let Some(new) = new_line else {
        return Some(text.to_string());
    };

    // Add the line at the end of its table, or a new table at the end of the file.
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let start = if table.is_empty() {
        Some(0)
    } else {
        sections
            .iter()
            .find(|(_, name)| name == table)
            .map(|(i, _)| i + 1)
    };
    match start {
        Some(start) => {
            let end = sections
                .iter()
                .map(|(i, _)| *i)
                .find(|i| *i >= start)
                .unwrap_or(lines.len());
            let mut at = end;
            while at > start && lines[at - 1].trim().is_empty() {
                at -= 1;
            }
            out.insert(at, new);
        }
        None => {
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            out.push(format!("[{table}]"));
            out.push(new);
        }
    }
    Some(join(out))
}

/// `(line index, table name)` of every `[table]` header; `None` for shapes not handled here
/// (arrays of tables, quoted names).
fn sections(lines: &[&str]) -> Option<Vec<(usize, String)>> {
    let mut found = Vec::new();
    for (idx, line) in lines.iter().enumerate() {
        let t = line.trim();
        if !t.starts_with('[') {
            continue;
        }
        if t.starts_with("[[") {
            return None;
        }
        let close = t.find(']')?;
        let after = t[close + 1..].trim();
        if !(after.is_empty() || after.starts_with('#')) {
            return None;
        }
        let name: String = t[1..close]
            .split('.')
            .map(str::trim)
            .collect::<Vec<_>>()
            .join(".");
        if !name.split('.').all(is_bare) {
            return None;
        }
        found.push((idx, name));
    }
    Some(found)
}

/// The table a line belongs to.
fn section_at(sections: &[(usize, String)], idx: usize) -> &str {
    sections
        .iter()
        .rev()
        .find(|(i, _)| *i < idx)
        .map_or("", |(_, n)| n.as_str())
}

/// The bare key of a `key = value` line.
fn line_key(line: &str) -> Option<&str> {
    let (k, _) = line.split_once('=')?;
    let k = k.trim();
    is_bare(k).then_some(k)
}

/// The ` # comment` after a one-line value; `None` when the value does not fit on its line
/// (a multi-line array or string), which this editor leaves alone.
fn trailing_comment(line: &str) -> Option<&str> {
    let eq = line.find('=')?;
    let parses = |upto: usize| toml::from_str::<toml::Table>(line[..upto].trim()).is_ok();
    for (i, _) in line.match_indices('#').filter(|(i, _)| *i > eq) {
        if parses(i) {
            let start = line[..i].trim_end().len();
            return Some(&line[start..]);
        }
    }
    parses(line.len()).then_some("")
}

fn is_bare(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn join(lines: Vec<String>) -> String {
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str, key: &str, v: Option<toml::Value>) -> Option<String> {
        set_in_text(text, key, v.as_ref())
    }

    const FILE: &str = "# my settings\n[server]\nport = 1 # the port\nbind = 'x'\n\n[client]\n# beats\nheartrate = 2\n";

    #[test]
    fn replaces_in_place_keeping_comments() {
        let out = set(FILE, "server.port", Some(toml::Value::Integer(8080))).expect("edit");
        assert_eq!(out, FILE.replace("port = 1 #", "port = 8080 #"));
    }

    #[test]
    fn adds_to_the_end_of_its_table() {
        let out = set(FILE, "server.eager", Some(toml::Value::Boolean(true))).expect("edit");
        assert!(
            out.contains("bind = 'x'\neager = true\n\n[client]"),
            "{out}"
        );
        let out = set(FILE, "task.cores", Some(toml::Value::Integer(2))).expect("edit");
        assert!(
            out.ends_with("heartrate = 2\n\n[task]\ncores = 2\n"),
            "{out}"
        );
        let out = set(FILE, "database", Some(toml::Value::String("a.db".into()))).expect("edit");
        assert!(
            out.starts_with("# my settings\ndatabase = \"a.db\"\n[server]"),
            "{out}"
        );
        let out = set("", "server.port", Some(toml::Value::Integer(1))).expect("edit");
        assert_eq!(out, "[server]\nport = 1\n");
    }

    #[test]
    fn removes() {
        let out = set(FILE, "client.heartrate", None).expect("edit");
        assert!(out.ends_with("[client]\n# beats\n"), "{out}");
        assert_eq!(set(FILE, "task.cores", None).as_deref(), Some(FILE));
    }

    #[test]
    fn gives_up_on_shapes_it_does_not_handle() {
        assert!(set("[[a]]\nb = 1\n", "a.b", None).is_none());
        assert!(set("[s]\nk = [\n 1,\n]\n", "s.k", Some(toml::Value::Integer(1))).is_none());
        assert!(set("", "export.A B", Some(toml::Value::Integer(1))).is_none());
    }
}
