//! Named fields, `{name}`: filled from a JSON object's keys by `--from-json`.
//!
//! A field is `{name}` with `name` a word (ASCII letters, digits, `_`, not starting with a digit)
//! that is not right after a `$`, so `${HOME}` stays the shell's. Fields are found only in the
//! template's literal text: they are never patterns, and text inside `{% %}` or `{= =}` is code.
//! Values are inserted once, as data: a value that itself looks like `{other}` or `{}` is not
//! expanded again.

/// Calls `each(range, name)` for every field in `text`, in order; `range` covers the braces.
pub(crate) fn for_each(text: &str, mut each: impl FnMut(std::ops::Range<usize>, &str)) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(rel) = text[i..].find('{') {
        let open = i + rel;
        i = open + 1;
        if open > 0 && bytes[open - 1] == b'$' {
            continue;
        }
        let Some(len) = text[open + 1..].find('}') else {
            return;
        };
        let name = &text[open + 1..open + 1 + len];
        if is_word(name) {
            let end = open + len + 2;
            each(open..end, name);
            i = end;
        }
    }
}

fn is_word(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Appends `text` to `out` with each field replaced by `value(name)`; a field without a value
/// stays as written.
pub(crate) fn fill(text: &str, value: &dyn Fn(&str) -> Option<String>, out: &mut String) {
    let mut copied = 0;
    for_each(text, |range, name| {
        if let Some(v) = value(name) {
            out.push_str(&text[copied..range.start]);
            out.push_str(&v);
            copied = range.end;
        }
    });
    out.push_str(&text[copied..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        for_each(text, |_, name| found.push(name.to_string()));
        found
    }

    #[test]
    fn fields_are_words_in_braces_but_not_shell_expansions() {
        assert_eq!(
            names("run {input} > {out}.txt; echo ${HOME} {} {/} {input}"),
            ["input", "out", "input"]
        );
        assert!(names("awk '{ print $1 }' {1..3} {a,b}").is_empty());
        assert_eq!(names("{{a}}"), ["a"]);
    }

    #[test]
    fn values_are_inserted_once() {
        let value = |name: &str| match name {
            "a" => Some("{b}".to_string()),
            "b" => Some("X".to_string()),
            _ => None,
        };
        let mut out = String::new();
        fill("echo {a} {b} {c} ${a}", &value, &mut out);
        assert_eq!(out, "echo {b} X {c} ${a}");
    }
}
