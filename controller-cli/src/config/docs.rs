//! The key tables of docs/config.md and docs/profiles.md, generated from the key table so that
//! the documented defaults are the ones hs uses. A block
//!
//! ```text
//! <!-- keys: task submit -->
//! …
//! <!-- end keys -->
//! ```
//!
//! holds the keys of the named sections; `hs config docs FILE…` (hidden) rewrites the blocks,
//! and a test fails while a file is stale.

use super::defaults::{DefaultValue, Form, KeyDef};
use super::key::{KEYS, OPEN_SECTIONS, SHORTHANDS};

const BEGIN: &str = "<!-- keys:";
const END: &str = "<!-- end keys -->";

/// The top-level section of a dotted name: `server.tls.cert` → `server`.
fn section(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}

/// The Default column: absent, a quoted text, a number, or how a computed default is found.
fn default_cell(d: DefaultValue) -> String {
    match d {
        DefaultValue::Absent => "absent".into(),
        DefaultValue::Str(s) => format!("`{s:?}`"),
        DefaultValue::Computed(_, how) => how.into(),
        other => format!("`{}`", other.shown()),
    }
}

fn key_row(def: &KeyDef) -> String {
    let own = def.own.map_or(String::new(), |d| {
        format!("; hs uses `{}` unless set", d.shown())
    });
    format!(
        "| `{}` | {} | {}{own} |\n",
        def.name,
        default_cell(def.default),
        def.doc
    )
}

fn form_row(f: &Form) -> String {
    format!("| `{}` | {} | {} |\n", f.shown, f.default, f.doc)
}

/// The markdown table of the keys of `sections`: shorthands, keys, then free-form sub-keys.
pub fn table(sections: &[&str]) -> String {
    let mut out = String::from("| Key | Default | Meaning |\n|---|---|---|\n");
    for s in sections {
        let forms = |list: &[Form]| -> String {
            list.iter()
                .filter(|f| section(f.name) == *s)
                .map(form_row)
                .collect()
        };
        out += &forms(SHORTHANDS);
        out.extend(KEYS.iter().filter(|d| section(d.name) == *s).map(key_row));
        out += &forms(OPEN_SECTIONS);
    }
    out
}

/// `text` with every generated block rewritten, and the sections the blocks name.
pub fn refresh(text: &str) -> Result<(String, Vec<String>), String> {
    let mut out = String::new();
    let mut named = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let line_end = rest[start..]
            .find('\n')
            .map(|i| start + i + 1)
            .ok_or("a keys block has no line after its start")?;
        let head = rest[start + BEGIN.len()..line_end].trim_end();
        let sections: Vec<&str> = head
            .strip_suffix("-->")
            .ok_or_else(|| format!("unterminated block start: {head}"))?
            .split_whitespace()
            .collect();
        let end = rest[line_end..]
            .find(END)
            .map(|i| line_end + i)
            .ok_or_else(|| format!("no {END} after {BEGIN}{head}"))?;
        out += &rest[..line_end];
        out += &table(&sections);
        named.extend(sections.iter().map(|s| s.to_string()));
        rest = &rest[end..];
    }
    out += rest;
    Ok((out, named))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    const FILES: [&str; 2] = ["docs/config.md", "docs/profiles.md"];
    /// The command a stale file names, run from the workspace root.
    const REFRESH: &str =
        "cargo run -p hs-cli --bin hs -- config docs docs/config.md docs/profiles.md";

    fn read(rel: &str) -> String {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(rel);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn docs_key_tables_are_current() {
        for rel in FILES {
            let text = read(rel);
            let (fresh, _) = refresh(&text).expect("blocks");
            assert!(text == fresh, "{rel} is stale: run `{REFRESH}`");
        }
    }

    #[test]
    fn every_key_is_in_a_generated_table() {
        let named: Vec<String> = FILES
            .iter()
            .flat_map(|rel| refresh(&read(rel)).expect("blocks").1)
            .collect();
        for def in KEYS {
            assert!(
                named.iter().any(|s| s == section(def.name)),
                "{def} is in no generated table"
            );
        }
    }

    #[test]
    fn blocks_are_rewritten_and_the_rest_kept() {
        let text = "intro\n<!-- keys: console -->\nold\n<!-- end keys -->\nafter\n";
        let (out, named) = refresh(text).expect("block");
        assert_eq!(named, ["console"]);
        assert!(out.starts_with("intro\n<!-- keys: console -->\n| Key |"));
        assert!(out.contains("| `console.theme` | absent |"));
        assert!(out.ends_with("<!-- end keys -->\nafter\n"));
        assert!(!out.contains("old"));
        assert!(refresh("<!-- keys: console -->\nno end\n").is_err());
    }

    #[test]
    fn rows_show_defaults_and_own_defaults() {
        let t = table(&["server"]);
        assert!(t.contains("| `server.port` | `50001` |"));
        assert!(t.contains("| `server.bind` | `\"localhost\"` |"));
        assert!(t.contains("; hs uses `1` unless set |"), "{t}");
    }
}
