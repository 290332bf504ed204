//! A query compiled once into tests that each row in memory passes or not (the SQL stores'
//! `WHERE`, for `--no-db`).

use super::*;

/// One compiled condition of a query.
pub(super) enum Test {
    IsNull(Field, bool),
    Compare(Field, Op, Param),
    Regex(Field, regex::Regex),
    HasTag(String),
    TagEquals(String, serde_json::Value),
}

pub(super) fn compile(q: &Query) -> Result<Vec<Test>> {
    let mut tests = Vec::new();
    for c in &q.conditions {
        tests.push(match (&c.value, c.op) {
            (Value::Null, Op::Eq) => Test::IsNull(c.field, true),
            (Value::Null, Op::Ne) => Test::IsNull(c.field, false),
            (Value::Null, _) => {
                return Err(StoreError::BadValue {
                    field: c.field.name().into(),
                    reason: "null can only be compared with == or !=".into(),
                });
            }
            (v, Op::Regex) => Test::Regex(c.field, compile_regex(c.field, &regex_text(v))?),
            (v, op) => {
                if c.field.kind() == FieldKind::Json && !matches!(op, Op::Eq | Op::Ne) {
                    return Err(StoreError::BadValue {
                        field: c.field.name().into(),
                        reason: "tags can only be compared with == or != (or use -t)".into(),
                    });
                }
                Test::Compare(c.field, op, coerce(c.field, v, false)?)
            }
        });
    }
    for t in &q.tags {
        tests.push(match t {
            TagFilter::Has(k) => {
                check_tag_key(k)?;
                Test::HasTag(k.clone())
            }
            TagFilter::Equals(k, v) => {
                check_tag_key(k)?;
                Test::TagEquals(k.clone(), v.clone())
            }
        });
    }
    Ok(tests)
}

pub(super) fn passes(r: &TaskRecord, tests: &[Test]) -> bool {
    tests.iter().all(|t| match t {
        Test::IsNull(f, want) => field_param(r, *f).is_null() == *want,
        Test::Compare(f, op, p) => compare_op(&field_param(r, *f), *op, p),
        Test::Regex(f, re) => field_param(r, *f).text().is_some_and(|s| re.is_match(&s)),
        Test::HasTag(k) => r.tag.contains_key(k),
        Test::TagEquals(k, v) => r.tag.get(k) == Some(v),
    })
}
