//! Tags as users write them: `key` or `key:value` (split on the first `:`), with HyperShell's
//! rules (§3.3) so tags written for one tool mean the same in the other:
//! - keys match `^[A-Za-z0-9_.+-]+$` and have at most 120 characters;
//! - values are typed: `null`/`none` → null, `true`/`false` → bool (any case), then an integer,
//!   then a finite float, otherwise a string;
//! - string values use the key's character set (so no `/`, `:` or spaces) and have at most
//!   120 characters; a blank value is a "naked" tag, stored as `""`.
//!
//! Surrounding whitespace around the key and the value is ignored.

use hs_broker::store::TagFilter;
use serde_json::Value as Json;

use super::QueryError;

/// Longest key or string value, in characters.
const MAX_LEN: usize = 120;

/// Parse `key` or `key:value` into the key and its typed JSON value (`""` for a naked tag).
pub fn parse_tag(text: &str) -> Result<(String, Json), QueryError> {
    let bad = |reason: String| QueryError::BadTag {
        tag: text.to_string(),
        reason,
    };
    let (key, value) = match text.trim().split_once(':') {
        Some((k, v)) => (k.trim(), v.trim()),
        None => (text.trim(), ""),
    };
    check_chars("key", key).map_err(bad)?;
    let value = coerce(value);
    if let Json::String(s) = &value
        && !s.is_empty()
    {
        check_chars("value", s).map_err(bad)?;
    }
    Ok((key.to_string(), value))
}

/// `-t key` (the tag exists) or `-t key:value` (the tag equals the typed value). A blank value
/// (`key:`) is the same as `key`, as in HyperShell.
pub fn parse_tag_filter(text: &str) -> Result<TagFilter, QueryError> {
    let (key, value) = parse_tag(text)?;
    Ok(match value {
        Json::String(s) if s.is_empty() => TagFilter::Has(key),
        value => TagFilter::Equals(key, value),
    })
}

fn check_chars(what: &str, s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    let len = s.chars().count();
    if len > MAX_LEN {
        return Err(format!(
            "the {what} has {len} characters, at most {MAX_LEN} are allowed"
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-')))
    {
        return Err(format!(
            "the {what} contains {c:?}: only letters, digits and _ . + - are allowed"
        ));
    }
    Ok(())
}

/// HyperShell's `smart_coerce`, minus non-finite floats (not JSON; kept as strings).
fn coerce(value: &str) -> Json {
    if value.eq_ignore_ascii_case("null") || value.eq_ignore_ascii_case("none") {
        return Json::Null;
    }
    if value.eq_ignore_ascii_case("true") {
        return Json::Bool(true);
    }
    if value.eq_ignore_ascii_case("false") {
        return Json::Bool(false);
    }
    if let Ok(i) = value.parse::<i64>() {
        return Json::from(i);
    }
    if let Some(n) = value
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
    {
        return Json::Number(n);
    }
    Json::String(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(text: &str) -> (String, Json) {
        parse_tag(text).unwrap()
    }

    fn err(text: &str) -> String {
        parse_tag(text).unwrap_err().to_string()
    }

    #[test]
    fn keys_and_typed_values() {
        assert_eq!(ok("site"), ("site".into(), json!("")));
        assert_eq!(ok("site:"), ("site".into(), json!("")));
        assert_eq!(ok(" site : a.b "), ("site".into(), json!("a.b")));
        assert_eq!(ok("n:42"), ("n".into(), json!(42)));
        assert_eq!(ok("n:-7"), ("n".into(), json!(-7)));
        assert_eq!(ok("x:1.5"), ("x".into(), json!(1.5)));
        assert_eq!(ok("x:1e3"), ("x".into(), json!(1000.0)));
        assert_eq!(ok("ok:TRUE"), ("ok".into(), json!(true)));
        assert_eq!(ok("ok:false"), ("ok".into(), json!(false)));
        assert_eq!(ok("gone:None"), ("gone".into(), json!(null)));
        assert_eq!(ok("v:inf"), ("v".into(), json!("inf")));
        assert_eq!(ok("v:007"), ("v".into(), json!(7)));
        assert_eq!(ok("a.b+c-d_e:X-1"), ("a.b+c-d_e".into(), json!("X-1")));
        let long = "k".repeat(120);
        assert_eq!(ok(&format!("{long}:{long}")), (long.clone(), json!(long)));
    }

    #[test]
    fn error_messages() {
        let k121 = "k".repeat(121);
        let cases = [
            (
                "file:/a/b.txt".to_string(),
                r#"tag "file:/a/b.txt": the value contains '/': only letters, digits and _ . + - are allowed"#
                    .to_string(),
            ),
            (
                "a:b:c".to_string(),
                r#"tag "a:b:c": the value contains ':': only letters, digits and _ . + - are allowed"#
                    .to_string(),
            ),
            (
                "my key:1".to_string(),
                r#"tag "my key:1": the key contains ' ': only letters, digits and _ . + - are allowed"#
                    .to_string(),
            ),
            (
                ":v".to_string(),
                r#"tag ":v": the key is empty"#.to_string(),
            ),
            ("".to_string(), r#"tag "": the key is empty"#.to_string()),
            (
                k121.clone(),
                format!(r#"tag "{k121}": the key has 121 characters, at most 120 are allowed"#),
            ),
            (
                format!("k:{k121}"),
                format!(r#"tag "k:{k121}": the value has 121 characters, at most 120 are allowed"#),
            ),
        ];
        for (text, message) in cases {
            assert_eq!(err(&text), message, "{text}");
        }
    }

    #[test]
    fn filters() {
        assert_eq!(
            parse_tag_filter("site").unwrap(),
            TagFilter::Has("site".into())
        );
        assert_eq!(
            parse_tag_filter("site:").unwrap(),
            TagFilter::Has("site".into())
        );
        assert_eq!(
            parse_tag_filter("site:a").unwrap(),
            TagFilter::Equals("site".into(), json!("a"))
        );
        assert_eq!(
            parse_tag_filter("n:1").unwrap(),
            TagFilter::Equals("n".into(), json!(1))
        );
        assert_eq!(
            parse_tag_filter("n:null").unwrap(),
            TagFilter::Equals("n".into(), json!(null))
        );
        assert!(parse_tag_filter("a b").is_err());
    }
}
