//! SQL text for both dialects: placeholders and bound parameters, conditions, tag filters,
//! orders and selects, built from a [`Query`].

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub(super) fn begin(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }

    /// Rows per multi-row `INSERT` (31 parameters each; SQLite allows 32766, PG 65535).
    pub(super) fn insert_batch(self) -> usize {
        match self {
            Dialect::Sqlite => 64,
            Dialect::Postgres => 1024,
        }
    }

    /// A quoted column, ready to compare as text bytes (PostgreSQL's collation may be a locale).
    pub(super) fn text_col(self, f: Field) -> String {
        match (self, f.kind()) {
            (Dialect::Postgres, FieldKind::Text) => format!("{} COLLATE \"C\"", col(f)),
            (Dialect::Postgres, FieldKind::Json) => format!("{}::text COLLATE \"C\"", col(f)),
            _ => col(f),
        }
    }

    /// A column rendered as the text a regular expression searches (the same on both).
    pub(super) fn regex_subject(self, f: Field) -> String {
        let c = col(f);
        match (self, f.kind()) {
            (_, FieldKind::Text) => c,
            (_, FieldKind::Bool) => format!("CASE WHEN {c} THEN 'true' ELSE 'false' END"),
            (Dialect::Sqlite, FieldKind::Time | FieldKind::Uuid | FieldKind::Json) => c,
            (Dialect::Sqlite, _) => format!("CAST({c} AS TEXT)"),
            (Dialect::Postgres, FieldKind::Time) => {
                format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
            }
            (Dialect::Postgres, _) => format!("{c}::text"),
        }
    }

    pub(super) fn regex_op(self) -> &'static str {
        match self {
            Dialect::Sqlite => "REGEXP",
            Dialect::Postgres => "~",
        }
    }

    /// `column IN <the ids bound as one parameter>`.
    pub(super) fn in_ids(self, column: &str, placeholder: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{column} IN (SELECT value FROM json_each({placeholder}))"),
            Dialect::Postgres => format!("{column} = ANY({placeholder})"),
        }
    }

    /// The key of a tag as a bound parameter (a JSON path on SQLite).
    pub(super) fn tag_key(self, key: &str) -> Result<Param> {
        check_tag_key(key)?;
        Ok(Param::Text(Some(match self {
            Dialect::Sqlite => format!("$.\"{key}\""),
            Dialect::Postgres => key.to_string(),
        })))
    }

    /// The JSON of one tag (SQL NULL when absent).
    pub(super) fn tag_get(self, b: &mut Bind, key: &str) -> Result<String> {
        let k = b.bind(self.tag_key(key)?);
        Ok(format!("(\"tag\" -> {k})"))
    }

    pub(super) fn json_param(self, b: &mut Bind, v: &serde_json::Value) -> String {
        let p = b.bind(Param::Json(v.clone()));
        match self {
            Dialect::Sqlite => format!("json({p})"),
            Dialect::Postgres => p,
        }
    }
}

pub(super) fn pg_type(p: &Param) -> &'static str {
    match p {
        Param::Int(_) => "int8",
        Param::Float(_) => "float8",
        Param::Text(_) => "text",
        Param::Bool(_) => "bool",
        Param::Time(_) => "timestamptz",
        Param::Uuid(_) => "uuid",
        Param::Json(_) => "jsonb",
        Param::Ids(_) => "uuid[]",
    }
}

/// Most ids bound (as one parameter, see [`Dialect::in_ids`]) in one statement. The statement's
/// text does not depend on how many, so it is prepared once and stays cached.
pub(super) const ID_CHUNK: usize = 1000;

/// Parameters collected while a statement is generated.
pub(crate) struct Bind {
    d: Dialect,
    pub(crate) params: Vec<Param>,
}

impl Bind {
    pub(crate) fn new(d: Dialect) -> Self {
        Bind {
            d,
            params: Vec::new(),
        }
    }

    /// Bind a value; returns its placeholder.
    pub(crate) fn bind(&mut self, p: Param) -> String {
        let n = self.params.len() + 1;
        let s = match self.d {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}::{}", pg_type(&p)),
        };
        self.params.push(p);
        s
    }
}

pub(crate) fn col(f: Field) -> String {
    format!("\"{}\"", f.name())
}

/// Every task column, quoted, in [`Field::ALL`] order.
pub(super) static COLUMNS: LazyLock<String> = LazyLock::new(|| {
    Field::ALL
        .iter()
        .map(|f| col(*f))
        .collect::<Vec<_>>()
        .join(", ")
});

pub(super) fn limit_param(limit: u64) -> Param {
    Param::Int(Some(i64::try_from(limit).unwrap_or(i64::MAX)))
}

pub(super) fn condition(d: Dialect, b: &mut Bind, c: &Condition) -> Result<String> {
    use crate::query::Value;
    let column = col(c.field);
    match (&c.value, c.op) {
        (Value::Null, Op::Eq) => return Ok(format!("{column} IS NULL")),
        (Value::Null, Op::Ne) => return Ok(format!("{column} IS NOT NULL")),
        (Value::Null, _) => {
            return Err(StoreError::BadValue {
                field: c.field.name().into(),
                reason: "null can only be compared with == or !=".into(),
            });
        }
        _ => {}
    }
    if c.op == Op::Regex {
        let pattern = regex_text(&c.value);
        compile_regex(c.field, &pattern)?;
        let p = b.bind(Param::Text(Some(pattern)));
        return Ok(format!("{} {} {p}", d.regex_subject(c.field), d.regex_op()));
    }
    let value = coerce(c.field, &c.value, false)?;
    let op = match c.op {
        Op::Eq => "=",
        Op::Ne => "<>",
        Op::Lt => "<",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Ge => ">=",
        Op::Regex => "~",
    };
    if c.field.kind() == FieldKind::Json {
        if !matches!(c.op, Op::Eq | Op::Ne) {
            return Err(StoreError::BadValue {
                field: c.field.name().into(),
                reason: "tags can only be compared with == or != (or use -t)".into(),
            });
        }
        let Param::Json(j) = &value else {
            return Err(StoreError::BadValue {
                field: "tag".into(),
                reason: "not JSON".into(),
            });
        };
        let p = d.json_param(b, j);
        let lhs = match d {
            Dialect::Sqlite => "json(\"tag\")".to_string(),
            Dialect::Postgres => col(c.field),
        };
        return Ok(format!("{lhs} {op} {p}"));
    }
    let p = b.bind(value);
    let lhs = match c.field.kind() {
        FieldKind::Text => d.text_col(c.field),
        _ => column,
    };
    Ok(format!("{lhs} {op} {p}"))
}

pub(super) fn tag_filter(d: Dialect, b: &mut Bind, t: &TagFilter) -> Result<String> {
    match t {
        TagFilter::Has(key) => Ok(format!("{} IS NOT NULL", d.tag_get(b, key)?)),
        TagFilter::Equals(key, v) => {
            let lhs = d.tag_get(b, key)?;
            let rhs = d.json_param(b, v);
            Ok(format!("{lhs} = {rhs}"))
        }
    }
}

pub(super) fn where_sql(d: Dialect, b: &mut Bind, q: &Query) -> Result<String> {
    let mut parts = Vec::new();
    for c in &q.conditions {
        parts.push(condition(d, b, c)?);
    }
    for t in &q.tags {
        parts.push(tag_filter(d, b, t)?);
    }
    if parts.is_empty() {
        Ok("TRUE".into())
    } else {
        Ok(parts.join(" AND "))
    }
}

/// `ORDER BY`: the requested column (NULLs first ascending, last descending, as SQLite does),
/// then the id; by default submit order.
pub(super) fn order_sql(d: Dialect, order: Option<Order>) -> String {
    match order {
        None => "ORDER BY \"submit_time\" ASC, \"id\" ASC".into(),
        Some(o) => {
            let dir = if o.descending {
                "DESC NULLS LAST"
            } else {
                "ASC NULLS FIRST"
            };
            let id_dir = if o.descending { "DESC" } else { "ASC" };
            format!("ORDER BY {} {dir}, \"id\" {id_dir}", d.text_col(o.field))
        }
    }
}

/// `SELECT <what> FROM task WHERE … ORDER BY … LIMIT …`.
pub(super) fn select_sql(d: Dialect, b: &mut Bind, what: &str, q: &Query) -> Result<String> {
    let w = where_sql(d, b, q)?;
    let mut sql = format!(
        "SELECT {what} FROM task WHERE {w} {}",
        order_sql(d, q.order)
    );
    if let Some(l) = q.limit {
        let p = b.bind(limit_param(l));
        sql.push_str(&format!(" LIMIT {p}"));
    }
    Ok(sql)
}

/// The largest chunk to take from `remaining` rows: `max`, else a power of two (so only a few
/// distinct statements are ever prepared and cached).
pub(super) fn chunk(remaining: usize, max: usize) -> usize {
    if remaining >= max {
        max
    } else {
        1 << (usize::BITS - 1 - remaining.leading_zeros())
    }
}
