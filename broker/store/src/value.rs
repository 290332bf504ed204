//! Typed cell values shared by every backend: a task row as a list of [`Param`]s (for binding
//! and decoding in both SQL dialects), the coercion of a user's [`Value`] to a column's type,
//! and the SQL comparison rules the memory store imitates.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SubsecRound, Utc};
use uuid::Uuid;

use super::query::{Field, FieldKind, Op, Value};
use super::record::TaskRecord;
use super::{Result, StoreError};

/// One typed cell (possibly NULL), as bound to or read from a statement.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Param {
    Int(Option<i64>),
    Float(Option<f64>),
    Text(Option<String>),
    Bool(bool),
    Time(Option<DateTime<Utc>>),
    Uuid(Option<Uuid>),
    Json(serde_json::Value),
    /// A list of ids (SQLite: a JSON array for `json_each`; PostgreSQL: `uuid[]`).
    Ids(Vec<Uuid>),
}

impl Param {
    pub(crate) fn is_null(&self) -> bool {
        match self {
            Param::Int(v) => v.is_none(),
            Param::Float(v) => v.is_none(),
            Param::Text(v) => v.is_none(),
            Param::Time(v) => v.is_none(),
            Param::Uuid(v) => v.is_none(),
            Param::Json(v) => v.is_null(),
            Param::Bool(_) | Param::Ids(_) => false,
        }
    }

    /// The value as text, the way a regular expression sees it (SQLite's rendering).
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Param::Int(v) => v.map(|v| v.to_string()),
            Param::Float(v) => v.map(|v| v.to_string()),
            Param::Text(v) => v.clone(),
            Param::Bool(b) => Some(if *b { "true" } else { "false" }.to_string()),
            Param::Time(v) => v.map(time_text),
            Param::Uuid(v) => v.map(|v| v.hyphenated().to_string()),
            Param::Json(v) => Some(v.to_string()),
            Param::Ids(v) => Some(ids_json(v)),
        }
    }
}

/// Now, at the precision every backend stores (microseconds).
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// The fixed-width text form of a time on SQLite (text order = time order).
pub(crate) fn time_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parse a stored or user-given time: RFC 3339, or `YYYY-MM-DD[ HH:MM[:SS[.f]]]` taken as UTC.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

pub(crate) fn ids_json(ids: &[Uuid]) -> String {
    let mut s = String::with_capacity(ids.len() * 39 + 2);
    s.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        s.push_str(&id.hyphenated().to_string());
        s.push('"');
    }
    s.push(']');
    s
}

/// One column of a task as a cell.
pub(crate) fn field_param(r: &TaskRecord, f: Field) -> Param {
    use Field::*;
    match f {
        Id => Param::Uuid(Some(r.id)),
        Group => Param::Int(Some(r.group)),
        Args => Param::Text(Some(r.args.clone())),
        SubmitId => Param::Uuid(Some(r.submit_id)),
        SubmitTime => Param::Time(Some(r.submit_time)),
        SubmitHost => Param::Text(r.submit_host.clone()),
        Cores => Param::Int(r.cores),
        Memory => Param::Int(r.memory),
        CoresMax => Param::Float(r.cores_max),
        MemoryMax => Param::Float(r.memory_max),
        Timeout => Param::Int(r.timeout),
        ServerId => Param::Uuid(r.server_id),
        ServerHost => Param::Text(r.server_host.clone()),
        ScheduleTime => Param::Time(r.schedule_time),
        ClientId => Param::Uuid(r.client_id),
        ClientHost => Param::Text(r.client_host.clone()),
        Command => Param::Text(r.command.clone()),
        StartTime => Param::Time(r.start_time),
        CompletionTime => Param::Time(r.completion_time),
        ExitStatus => Param::Int(r.exit_status.map(i64::from)),
        Signal => Param::Int(r.signal.map(i64::from)),
        Outpath => Param::Text(r.outpath.clone()),
        Errpath => Param::Text(r.errpath.clone()),
        Csvpath => Param::Text(r.csvpath.clone()),
        Attempt => Param::Int(Some(i64::from(r.attempt))),
        Retried => Param::Bool(r.retried),
        Waited => Param::Int(r.waited),
        Duration => Param::Int(r.duration),
        PreviousId => Param::Uuid(r.previous_id),
        NextId => Param::Uuid(r.next_id),
        Tag => Param::Json(serde_json::Value::Object(r.tag.clone())),
    }
}

/// Every column of a task, in [`Field::ALL`] order.
pub(crate) fn task_params(r: &TaskRecord) -> impl Iterator<Item = Param> + '_ {
    Field::ALL.into_iter().map(move |f| field_param(r, f))
}

/// The kinds to decode a full task row with.
pub(crate) fn task_kinds() -> [FieldKind; 31] {
    Field::ALL.map(Field::kind)
}

fn corrupt(field: Field, what: &str) -> StoreError {
    StoreError::Backend(format!(
        "column {} holds {what}: the database is damaged",
        field.name()
    ))
}

/// Store one decoded cell into a task (the inverse of [`field_param`]).
pub(crate) fn set_field(r: &mut TaskRecord, f: Field, p: Param) -> Result<()> {
    use Field::*;
    let null = || corrupt(f, "NULL");
    let i32_of = |v: Option<i64>| -> Result<Option<i32>> {
        v.map(|v| i32::try_from(v).map_err(|_| corrupt(f, "an out-of-range number")))
            .transpose()
    };
    match (f, p) {
        (Id, Param::Uuid(v)) => r.id = v.ok_or_else(null)?,
        (Group, Param::Int(v)) => r.group = v.ok_or_else(null)?,
        (Args, Param::Text(v)) => r.args = v.ok_or_else(null)?,
        (SubmitId, Param::Uuid(v)) => r.submit_id = v.ok_or_else(null)?,
        (SubmitTime, Param::Time(v)) => r.submit_time = v.ok_or_else(null)?,
        (SubmitHost, Param::Text(v)) => r.submit_host = v,
        (Cores, Param::Int(v)) => r.cores = v,
        (Memory, Param::Int(v)) => r.memory = v,
        (CoresMax, Param::Float(v)) => r.cores_max = v,
        (MemoryMax, Param::Float(v)) => r.memory_max = v,
        (Timeout, Param::Int(v)) => r.timeout = v,
        (ServerId, Param::Uuid(v)) => r.server_id = v,
        (ServerHost, Param::Text(v)) => r.server_host = v,
        (ScheduleTime, Param::Time(v)) => r.schedule_time = v,
        (ClientId, Param::Uuid(v)) => r.client_id = v,
        (ClientHost, Param::Text(v)) => r.client_host = v,
        (Command, Param::Text(v)) => r.command = v,
        (StartTime, Param::Time(v)) => r.start_time = v,
        (CompletionTime, Param::Time(v)) => r.completion_time = v,
        (ExitStatus, Param::Int(v)) => r.exit_status = i32_of(v)?,
        (Signal, Param::Int(v)) => r.signal = i32_of(v)?,
        (Outpath, Param::Text(v)) => r.outpath = v,
        (Errpath, Param::Text(v)) => r.errpath = v,
        (Csvpath, Param::Text(v)) => r.csvpath = v,
        (Attempt, Param::Int(v)) => r.attempt = i32_of(v)?.ok_or_else(null)?,
        (Retried, Param::Bool(v)) => r.retried = v,
        (Waited, Param::Int(v)) => r.waited = v,
        (Duration, Param::Int(v)) => r.duration = v,
        (PreviousId, Param::Uuid(v)) => r.previous_id = v,
        (NextId, Param::Uuid(v)) => r.next_id = v,
        (Tag, Param::Json(v)) => {
            r.tag = match v {
                serde_json::Value::Object(m) => m,
                serde_json::Value::Null => serde_json::Map::new(),
                _ => return Err(corrupt(f, "JSON that is not an object")),
            }
        }
        _ => return Err(corrupt(f, "a value of the wrong type")),
    }
    Ok(())
}

/// Build a task from a full row of cells in [`Field::ALL`] order.
pub(crate) fn record_from(row: Vec<Param>) -> Result<TaskRecord> {
    if row.len() != Field::ALL.len() {
        return Err(StoreError::Backend(format!(
            "a task row has {} columns, expected {}",
            row.len(),
            Field::ALL.len()
        )));
    }
    let mut r = TaskRecord::new(String::new(), Uuid::nil(), None);
    for (f, p) in Field::ALL.into_iter().zip(row) {
        set_field(&mut r, f, p)?;
    }
    Ok(r)
}

fn bad(field: Field, reason: impl Into<String>) -> StoreError {
    StoreError::BadValue {
        field: field.name().to_string(),
        reason: reason.into(),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => x.to_string(),
        Value::Text(s) => s.clone(),
        Value::Time(t) => time_text(*t),
        Value::Uuid(u) => u.hyphenated().to_string(),
    }
}

/// The text a `~` pattern is given as.
pub(crate) fn regex_text(v: &Value) -> String {
    value_text(v)
}

/// Compile a `~` pattern, or say why it is not one.
pub(crate) fn compile_regex(field: Field, pattern: &str) -> Result<regex::Regex> {
    regex::Regex::new(pattern).map_err(|e| {
        bad(
            field,
            format!("not a regular expression ({})", regex_reason(&e)),
        )
    })
}

/// Why a `~` pattern is refused by every store (each checks it with the same engine before it
/// runs a query), in one line; `None` when it is accepted. Lets a command reject a bad pattern
/// as a usage error before it opens a store.
pub fn regex_problem(pattern: &str) -> Option<String> {
    regex::Regex::new(pattern).err().map(|e| regex_reason(&e))
}

/// The last line of the regex crate's message (the others draw the pattern and a caret).
fn regex_reason(e: &regex::Error) -> String {
    let msg = e.to_string();
    let last = msg.lines().last().unwrap_or_default().trim();
    let last = last.strip_prefix("error: ").unwrap_or(last);
    if last.is_empty() {
        "invalid regular expression".into()
    } else {
        last.into()
    }
}

/// Turn a user's value into a cell of `field`'s type. `for_set` is stricter (a stored value
/// must fit the column exactly); comparisons allow e.g. a fractional bound on an integer column.
pub(crate) fn coerce(field: Field, v: &Value, for_set: bool) -> Result<Param> {
    let kind = field.kind();
    if let Value::Null = v {
        return Ok(match kind {
            FieldKind::Uuid => Param::Uuid(None),
            FieldKind::Int => Param::Int(None),
            FieldKind::Float => Param::Float(None),
            FieldKind::Text => Param::Text(None),
            FieldKind::Time => Param::Time(None),
            FieldKind::Bool => return Err(bad(field, "cannot be null")),
            FieldKind::Json => Param::Json(serde_json::Value::Null),
        });
    }
    let p = match kind {
        FieldKind::Text => Param::Text(Some(value_text(v))),
        FieldKind::Uuid => match v {
            Value::Uuid(u) => Param::Uuid(Some(*u)),
            Value::Text(s) => Param::Uuid(Some(
                Uuid::parse_str(s.trim())
                    .map_err(|_| bad(field, format!("{s:?} is not a UUID")))?,
            )),
            _ => return Err(bad(field, format!("{} is not a UUID", value_text(v)))),
        },
        FieldKind::Int => match v {
            Value::Int(i) => Param::Int(Some(*i)),
            Value::Bool(b) => Param::Int(Some(i64::from(*b))),
            Value::Float(x) => float_for_int(field, *x, for_set)?,
            Value::Text(s) => {
                let t = s.trim();
                if let Ok(i) = t.parse::<i64>() {
                    Param::Int(Some(i))
                } else if let Ok(x) = t.parse::<f64>() {
                    float_for_int(field, x, for_set)?
                } else {
                    return Err(bad(field, format!("{s:?} is not an integer")));
                }
            }
            _ => return Err(bad(field, format!("{} is not an integer", value_text(v)))),
        },
        FieldKind::Float => match v {
            Value::Int(i) => Param::Float(Some(*i as f64)),
            Value::Float(x) if x.is_finite() => Param::Float(Some(*x)),
            Value::Text(s) => match s.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Param::Float(Some(x)),
                _ => return Err(bad(field, format!("{s:?} is not a number"))),
            },
            _ => return Err(bad(field, format!("{} is not a number", value_text(v)))),
        },
        FieldKind::Time => match v {
            Value::Time(t) => Param::Time(Some(micros(*t))),
            Value::Text(s) => Param::Time(Some(micros(parse_time(s).ok_or_else(|| {
                bad(
                    field,
                    format!("{s:?} is not a time (use YYYY-MM-DD HH:MM:SS)"),
                )
            })?))),
            _ => return Err(bad(field, format!("{} is not a time", value_text(v)))),
        },
        FieldKind::Bool => match v {
            Value::Bool(b) => Param::Bool(*b),
            Value::Int(0) => Param::Bool(false),
            Value::Int(1) => Param::Bool(true),
            Value::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Param::Bool(true),
                "false" | "0" => Param::Bool(false),
                _ => return Err(bad(field, format!("{s:?} is not true or false"))),
            },
            _ => {
                return Err(bad(
                    field,
                    format!("{} is not true or false", value_text(v)),
                ));
            }
        },
        FieldKind::Json => match v {
            Value::Text(s) => {
                let j: serde_json::Value = serde_json::from_str(s)
                    .map_err(|_| bad(field, format!("{s:?} is not JSON")))?;
                if for_set && !j.is_object() {
                    return Err(bad(field, "must be a JSON object"));
                }
                Param::Json(j)
            }
            _ => return Err(bad(field, format!("{} is not JSON", value_text(v)))),
        },
    };
    if let Param::Int(Some(i)) = p
        && for_set
        && matches!(field, Field::ExitStatus | Field::Signal | Field::Attempt)
        && i32::try_from(i).is_err()
    {
        return Err(bad(field, format!("{i} is out of range")));
    }
    Ok(p)
}

fn float_for_int(field: Field, x: f64, for_set: bool) -> Result<Param> {
    if !x.is_finite() {
        return Err(bad(field, format!("{x} is not a number")));
    }
    if x.fract() == 0.0 && x.abs() < 9.0e18 {
        Ok(Param::Int(Some(x as i64)))
    } else if for_set {
        Err(bad(field, format!("{x} is not an integer")))
    } else {
        Ok(Param::Float(Some(x)))
    }
}

/// Check a value may be stored in `field` (NOT NULL columns, the immutable id).
pub(crate) fn check_settable(field: Field, p: &Param) -> Result<()> {
    if field == Field::Id {
        return Err(bad(field, "the id of a task cannot be changed"));
    }
    if !field.nullable() && p.is_null() {
        return Err(bad(field, "cannot be null"));
    }
    Ok(())
}

/// A tag key every backend can address.
pub(crate) fn check_tag_key(key: &str) -> Result<()> {
    if key.is_empty()
        || key.len() > 120
        || key.chars().any(|c| c == '"' || c == '\\' || c.is_control())
    {
        return Err(StoreError::BadValue {
            field: "tag".into(),
            reason: format!("{key:?} is not a tag key (letters, digits and _.+- only)"),
        });
    }
    Ok(())
}

/// SQL-style ordering of two non-NULL cells (numbers compare across int/float).
pub(crate) fn compare(a: &Param, b: &Param) -> Option<Ordering> {
    match (a, b) {
        (Param::Int(Some(x)), Param::Int(Some(y))) => Some(x.cmp(y)),
        (Param::Int(Some(x)), Param::Float(Some(y))) => (*x as f64).partial_cmp(y),
        (Param::Float(Some(x)), Param::Int(Some(y))) => x.partial_cmp(&(*y as f64)),
        (Param::Float(Some(x)), Param::Float(Some(y))) => x.partial_cmp(y),
        (Param::Text(Some(x)), Param::Text(Some(y))) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Param::Bool(x), Param::Bool(y)) => Some(x.cmp(y)),
        (Param::Time(Some(x)), Param::Time(Some(y))) => Some(x.cmp(y)),
        (Param::Uuid(Some(x)), Param::Uuid(Some(y))) => Some(x.cmp(y)),
        (Param::Json(x), Param::Json(y)) if !x.is_null() && !y.is_null() => {
            if x == y {
                Some(Ordering::Equal)
            } else {
                Some(x.to_string().cmp(&y.to_string()))
            }
        }
        _ => None,
    }
}

/// `a op b` with SQL's rule that a comparison with NULL is not true.
pub(crate) fn compare_op(a: &Param, op: Op, b: &Param) -> bool {
    let Some(o) = compare(a, b) else {
        return false;
    };
    match op {
        Op::Eq => o == Ordering::Equal,
        Op::Ne => o != Ordering::Equal,
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
        Op::Regex => false,
    }
}

/// Sort order for `ORDER BY`: NULLs first (ascending), as the SQL backends are told to do.
pub(crate) fn order_cmp(a: &Param, b: &Param) -> Ordering {
    match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => match (a, b) {
            (Param::Json(x), Param::Json(y)) => x.to_string().cmp(&y.to_string()),
            _ => compare(a, b).unwrap_or(Ordering::Equal),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_text_is_fixed_width_and_round_trips() {
        let t = parse_time("2024-03-04T05:06:07.123456Z").unwrap();
        assert_eq!(time_text(t), "2024-03-04T05:06:07.123456Z");
        let t0 = parse_time("2024-03-04").unwrap();
        assert_eq!(time_text(t0), "2024-03-04T00:00:00.000000Z");
        assert_eq!(
            parse_time("2024-03-04 05:06:07").unwrap().timestamp(),
            t.timestamp()
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn coercion_follows_the_column() {
        assert_eq!(
            coerce(Field::ExitStatus, &Value::Text("3".into()), false).unwrap(),
            Param::Int(Some(3))
        );
        assert_eq!(
            coerce(Field::Args, &Value::Int(3), false).unwrap(),
            Param::Text(Some("3".into()))
        );
        assert!(coerce(Field::Id, &Value::Text("nope".into()), false).is_err());
        assert!(coerce(Field::ExitStatus, &Value::Float(1.5), true).is_err());
        assert!(coerce(Field::ExitStatus, &Value::Int(1 << 40), true).is_err());
        assert_eq!(
            coerce(Field::ExitStatus, &Value::Float(1.5), false).unwrap(),
            Param::Float(Some(1.5))
        );
    }

    #[test]
    fn comparisons_with_null_are_never_true() {
        assert!(!compare_op(&Param::Int(None), Op::Ne, &Param::Int(Some(0))));
        assert!(compare_op(
            &Param::Int(Some(0)),
            Op::Ge,
            &Param::Int(Some(0))
        ));
        assert!(compare_op(
            &Param::Int(Some(0)),
            Op::Le,
            &Param::Int(Some(0))
        ));
        assert!(!compare_op(
            &Param::Int(Some(0)),
            Op::Gt,
            &Param::Int(Some(0))
        ));
    }
}
