//! A task store on a PostgreSQL server (the `postgres` crate, no TLS).
//!
//! Every statement is prepared once per connection and cached. The controller claim is a
//! session advisory lock (`pg_try_advisory_lock`) keyed on a fixed number and the schema, so it
//! is released when the controller's connection ends, however the process ends.
//!
//! A lost connection (the server restarted, a network cut) is a [transient] error; the store
//! keeps what it needs to open a new session ([`TaskStore::reconnect`]): the URL's settings,
//! the schema, and whether it held the controller claim, which it takes again (refused with
//! [`StoreError::Locked`] if another controller took it meanwhile).
//!
//! [transient]: StoreError::is_transient
//! [`TaskStore::reconnect`]: crate::TaskStore::reconnect

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use postgres::types::{ToSql, Type};
use postgres::{Client, Config, NoTls, Row, Statement};
use uuid::Uuid;

use super::query::FieldKind;
use super::sql::{Claimed, Conn, Dialect, SqlCore, forward_task_store};
use super::value::Param;
use super::{Result, StoreError, one_line};

/// The first key of the controller's advisory lock (the second is the schema's hash).
const LOCK_KEY: i32 = 0x6873_0001; // "hs" 1

/// A task store in a PostgreSQL database.
pub struct PostgresStore {
    core: SqlCore<PgConn>,
}

forward_task_store!(PostgresStore);

impl PostgresStore {
    /// Connect to `url` (`postgres://user[:password]@host[:port]/database[?options=...]`).
    pub fn connect(url: &str) -> Result<Self> {
        Self::open(url, None)
    }

    /// Connect and use `schema` (created if missing) for every table: the equivalent of
    /// HyperShell's `database.schema`.
    pub fn connect_with_schema(url: &str, schema: &str) -> Result<Self> {
        Self::open(url, Some(schema))
    }

    fn open(url: &str, schema: Option<&str>) -> Result<Self> {
        let mut config: Config = url.parse().map_err(|_| StoreError::BadValue {
            field: "database url".into(),
            reason: "not a PostgreSQL URL (postgres://user@host:port/database)".into(),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.notice_callback(|_| {});
        let target = describe(&config);
        let client = session(&config, &target, schema)?;
        Ok(PostgresStore {
            core: SqlCore::new(PgConn {
                client,
                stmts: HashMap::new(),
                target,
                config,
                schema: schema.map(str::to_string),
                claimed: false,
            }),
        })
    }

    /// Where this store is connected (`host:port/database`, never the password).
    pub fn target(&self) -> &str {
        &self.core.conn.target
    }
}

/// A new session on the server: UTC, and `schema` (created if missing) as the search path.
fn session(config: &Config, target: &str, schema: Option<&str>) -> Result<Client> {
    let user = config.get_user().unwrap_or("").to_string();
    let mut client = config
        .connect(NoTls)
        .map_err(|e| connect_error(&e, target, &user))?;
    client
        .batch_execute("SET TIME ZONE 'UTC'")
        .map_err(pg_err)?;
    if let Some(schema) = schema {
        let quoted = quote_ident(schema);
        client
            .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {quoted}"))
            .map_err(pg_err)?;
        client
            .batch_execute(&format!("SET search_path TO {quoted}"))
            .map_err(pg_err)?;
    }
    Ok(client)
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn describe(config: &Config) -> String {
    use postgres::config::Host;
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = config
                .get_ports()
                .get(i)
                .or(config.get_ports().first())
                .copied()
                .unwrap_or(5432);
            match h {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost:5432".to_string()
    } else {
        hosts.join(",")
    };
    format!(
        "{hosts}/{}",
        config
            .get_dbname()
            .unwrap_or(config.get_user().unwrap_or(""))
    )
}

/// The innermost cause of an error, on one line.
fn cause(e: &postgres::Error) -> String {
    let mut msg = e.to_string();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        msg = s.to_string();
        src = s.source();
    }
    one_line(&msg)
}

fn connect_error(e: &postgres::Error, target: &str, user: &str) -> StoreError {
    if let Some(db) = e.as_db_error() {
        // A server shutting down or starting up refuses new sessions for a moment (57P03):
        // a controller reconnecting through a restart must wait for it, not give up.
        if server_unavailable(db.code().code()) {
            return StoreError::Unavailable(one_line(&format!(
                "{} ({})",
                db.message(),
                db.code().code()
            )));
        }
        return StoreError::Refused {
            user: user.to_string(),
            target: target.to_string(),
            reason: one_line(db.message()),
        };
    }
    let text = e.to_string().to_ascii_lowercase();
    if text.contains("password") || text.contains("authentication") {
        return StoreError::Refused {
            user: user.to_string(),
            target: target.to_string(),
            reason: one_line(&e.to_string()),
        };
    }
    StoreError::Unreachable {
        target: target.to_string(),
        reason: cause(e),
    }
}

fn pg_err(e: postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => {
            let text = one_line(&format!("{} ({})", db.message(), db.code().code()));
            if server_unavailable(db.code().code()) {
                StoreError::Unavailable(text)
            } else {
                StoreError::Backend(text)
            }
        }
        None if e.is_closed() => {
            StoreError::Unavailable("the PostgreSQL connection was closed".into())
        }
        // The socket failed under the session (reset, timed out).
        None if io_failure(&e) => StoreError::Unavailable(cause(&e)),
        None => StoreError::Backend(cause(&e)),
    }
}

/// SQLSTATEs of a server that cannot serve now but may soon: connection exceptions (class 08),
/// the server shutting down or restarting (57P01 admin, 57P02 crash, 57P03 cannot connect now),
/// a transaction the server aborted to recover (40001 serialization, 40P01 deadlock), and a
/// server that takes no writes for now (25006: a standby not yet promoted in a failover, or a
/// database set read-only for maintenance). Each is waited through for `--db-wait`.
fn server_unavailable(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "25006"
        )
}

/// Whether an error came from the connection's socket.
fn io_failure(e: &postgres::Error) -> bool {
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        if s.is::<std::io::Error>() {
            return true;
        }
        src = s.source();
    }
    false
}

pub(crate) struct PgConn {
    client: Client,
    stmts: HashMap<String, Statement>,
    target: String,
    /// What a new session needs (see [`Conn::reconnect`]).
    config: Config,
    schema: Option<String>,
    /// This session holds the controller claim, so a new one must take it again.
    claimed: bool,
}

impl Drop for PgConn {
    /// Release the controller claim before the connection closes. The server would release it
    /// anyway when this session's backend exits, but that happens a moment after the socket
    /// closes, and a successor starting right away must not be refused in that moment.
    fn drop(&mut self) {
        let _ = self.client.batch_execute("SELECT pg_advisory_unlock_all()");
    }
}

fn boxed(p: &Param) -> Box<dyn ToSql + Sync> {
    match p {
        Param::Int(v) => Box::new(*v),
        Param::Float(v) => Box::new(*v),
        Param::Text(v) => Box::new(v.clone()),
        Param::Bool(v) => Box::new(*v),
        Param::Time(v) => Box::new(*v),
        Param::Uuid(v) => Box::new(*v),
        Param::Json(v) => Box::new(v.clone()),
        Param::Ids(v) => Box::new(v.clone()),
    }
}

fn decode(row: &Row, i: usize, kind: FieldKind) -> std::result::Result<Param, postgres::Error> {
    let ty = row.columns()[i].type_().clone();
    Ok(match kind {
        FieldKind::Int => Param::Int(if ty == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)?.map(i64::from)
        } else if ty == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)?.map(i64::from)
        } else {
            row.try_get::<_, Option<i64>>(i)?
        }),
        FieldKind::Float => Param::Float(if ty == Type::FLOAT4 {
            row.try_get::<_, Option<f32>>(i)?.map(f64::from)
        } else {
            row.try_get::<_, Option<f64>>(i)?
        }),
        FieldKind::Text => Param::Text(row.try_get::<_, Option<String>>(i)?),
        FieldKind::Bool => Param::Bool(row.try_get::<_, Option<bool>>(i)?.unwrap_or(false)),
        FieldKind::Time => Param::Time(if ty == Type::TIMESTAMP {
            row.try_get::<_, Option<NaiveDateTime>>(i)?
                .map(|t| t.and_utc())
        } else {
            row.try_get::<_, Option<DateTime<Utc>>>(i)?
        }),
        FieldKind::Uuid => Param::Uuid(row.try_get::<_, Option<Uuid>>(i)?),
        FieldKind::Json => Param::Json(
            row.try_get::<_, Option<serde_json::Value>>(i)?
                .unwrap_or(serde_json::Value::Null),
        ),
    })
}

impl PgConn {
    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).map_err(pg_err)?;
        if self.stmts.len() >= 256 {
            self.stmts.clear();
        }
        self.stmts.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.client.batch_execute(sql).map_err(pg_err)
    }

    fn exec(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        let st = self.statement(sql)?;
        let owned: Vec<Box<dyn ToSql + Sync>> = params.iter().map(boxed).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        self.client.execute(&st, &refs).map_err(pg_err)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Param],
        kinds: &[FieldKind],
    ) -> Result<Vec<Vec<Param>>> {
        let st = self.statement(sql)?;
        let owned: Vec<Box<dyn ToSql + Sync>> = params.iter().map(boxed).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        let rows = self.client.query(&st, &refs).map_err(pg_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.len() < kinds.len() {
                return Err(StoreError::Backend(
                    "a query returned too few columns".into(),
                ));
            }
            let mut cells = Vec::with_capacity(kinds.len());
            for (i, kind) in kinds.iter().enumerate() {
                cells.push(decode(row, i, *kind).map_err(|e| {
                    StoreError::Backend(format!(
                        "column {} cannot be read: {}",
                        row.columns()[i].name(),
                        cause(&e)
                    ))
                })?);
            }
            out.push(cells);
        }
        Ok(out)
    }

    fn forget_statements(&mut self) {
        self.stmts.clear();
    }

    fn table_exists(&mut self, table: &str) -> Result<bool> {
        let rows = self.query(
            "SELECT to_regclass($1::text) IS NOT NULL",
            &[Param::Text(Some(table.to_string()))],
            &[FieldKind::Bool],
        )?;
        Ok(matches!(
            rows.first().and_then(|r| r.first()),
            Some(Param::Bool(true))
        ))
    }

    fn claim(&mut self, _owner: &str) -> Result<Claimed> {
        let sql = format!(
            "SELECT pg_try_advisory_lock({LOCK_KEY}, hashtext(COALESCE(current_schema(), '')))"
        );
        let rows = self.query(&sql, &[], &[FieldKind::Bool])?;
        Ok(match rows.first().and_then(|r| r.first()) {
            Some(Param::Bool(true)) => {
                self.claimed = true;
                Claimed::RecordOwner
            }
            _ => Claimed::TakenSeeRecord,
        })
    }

    fn reconnect(&mut self) -> Result<()> {
        let client = session(&self.config, &self.target, self.schema.as_deref())?;
        // The old session is gone or useless; its statements went with it.
        self.client = client;
        self.stmts.clear();
        if self.claimed {
            self.claimed = false;
            if !matches!(self.claim("")?, Claimed::RecordOwner) {
                return Err(StoreError::Locked {
                    owner: "another hs controller, which took the database while this one could \
                            not reach it"
                        .into(),
                });
            }
        }
        Ok(())
    }

    fn backup(&mut self, _path: &Path) -> Result<()> {
        Err(StoreError::Backend(
            "backup is for SQLite databases only: use pg_dump for PostgreSQL".into(),
        ))
    }

    fn vacuum(&mut self) -> Result<()> {
        self.batch("VACUUM ANALYZE task")?;
        self.batch("VACUUM ANALYZE client")
    }
}

#[cfg(test)]
mod tests {
    use super::server_unavailable;

    #[test]
    fn a_server_that_cannot_serve_for_now_is_waited_for_and_a_wrong_request_is_not() {
        for code in [
            "08006", "57P01", "57P02", "57P03", "40001", "40P01", "25006",
        ] {
            assert!(server_unavailable(code), "{code}");
        }
        // Permission denied, undefined table, disk full: waiting does not help.
        for code in ["42501", "42P01", "53100"] {
            assert!(!server_unavailable(code), "{code}");
        }
    }
}
