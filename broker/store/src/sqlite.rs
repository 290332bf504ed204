//! The embedded default: one SQLite file (WAL, `synchronous=NORMAL`, a busy timeout, cached
//! prepared statements, a `REGEXP` function backed by the `regex` crate).
//!
//! The controller claim is an exclusive `flock` on `<database>.lock`, held by an open file in the
//! store: the kernel drops it when the process dies, however it dies.
//!
//! Task databases hold every command line and its output paths: hs creates them (and their
//! lock, backups and partitions) 0600 and missing folders 0700, whatever the umask. SQLite gives
//! its `-wal` and `-shm` files the mode of the database file, so they are private too.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hs_protocol::private;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSql, ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::query::FieldKind;
use super::sql::{Claimed, Conn, Dialect, SqlCore, forward_task_store};
use super::value::{Param, ids_json, parse_time, time_text};
use super::{Result, StoreError, one_line};

mod partition;

pub use partition::{
    MAX_ATTACHED, Partition, Rotation, next_partition, partition_path, partitions,
};

/// A task store in one SQLite file.
pub struct SqliteStore {
    core: SqlCore<SqliteConn>,
}

forward_task_store!(SqliteStore);

impl SqliteStore {
    /// Open (creating it and its parent directories if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        create_parent(path)?;
        let shown = path.display().to_string();
        // Made here, private, before SQLite would make it with the umask's mode.
        private::open_options()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StoreError::Backend(format!("cannot open {shown}: {e}")))?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| map_err(&shown, e))?;
        let mut c = SqliteConn {
            conn,
            path: path.to_path_buf(),
            shown,
            lock: None,
        };
        c.setup()?;
        Ok(SqliteStore {
            core: SqlCore::new(c),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.core.conn.path
    }
}

pub(crate) struct SqliteConn {
    conn: Connection,
    path: PathBuf,
    shown: String,
    lock: Option<File>,
}

/// Create the folders `path` is in that are missing (0700).
fn create_parent(path: &Path) -> Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => private::create_dir_all(parent)
            .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", parent.display()))),
        None => Ok(()),
    }
}

fn map_err(path: &str, e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        match f.code {
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                return StoreError::NotADatabase {
                    path: path.to_string(),
                };
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return StoreError::Unavailable(format!(
                    "{path} is busy (another process holds a write lock): try again"
                ));
            }
            // An I/O error may pass (a network file system back, a device remounted); a full
            // disk does not pass by itself and is reported at once.
            ErrorCode::SystemIoFailure => {
                return StoreError::Unavailable(format!(
                    "{path}: {}",
                    one_line(msg.as_deref().unwrap_or("disk I/O error"))
                ));
            }
            ErrorCode::DiskFull => {
                return StoreError::Backend(format!("the disk holding {path} is full"));
            }
            ErrorCode::CannotOpen => {
                return StoreError::Backend(format!(
                    "cannot open {path}: {}",
                    msg.as_deref().unwrap_or("unable to open")
                ));
            }
            _ => {}
        }
    }
    StoreError::Backend(one_line(&e.to_string()))
}

impl SqliteConn {
    fn err(&self, e: rusqlite::Error) -> StoreError {
        map_err(&self.shown, e)
    }

    fn setup(&mut self) -> Result<()> {
        self.conn
            .busy_timeout(Duration::from_secs(30))
            .map_err(|e| self.err(e))?;
        self.conn.set_prepared_statement_cache_capacity(64);
        // The first statement that reads the file: a text file fails here as NotADatabase.
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::debug!("SQLite journal mode is {mode}, not WAL");
        }
        self.conn
            .execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;")
            .map_err(|e| self.err(e))?;
        self.conn
            .create_scalar_function(
                "regexp",
                2,
                FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
                |ctx| {
                    let re: Arc<regex::Regex> = ctx.get_or_create_aux(
                        0,
                        |v| -> std::result::Result<
                            regex::Regex,
                            Box<dyn std::error::Error + Send + Sync>,
                        > {
                            let pattern = match v {
                                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                                _ => return Err("REGEXP needs a text pattern".into()),
                            };
                            Ok(regex::Regex::new(&pattern)?)
                        },
                    )?;
                    let text = match ctx.get_raw(1) {
                        ValueRef::Null => return Ok(None),
                        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                        ValueRef::Integer(i) => i.to_string(),
                        ValueRef::Real(x) => x.to_string(),
                        ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned(),
                    };
                    Ok(Some(re.is_match(&text)))
                },
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn lock_path(&self) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Int(Some(v)) => ToSqlOutput::Owned(SqlValue::Integer(*v)),
            Param::Float(Some(v)) => ToSqlOutput::Owned(SqlValue::Real(*v)),
            Param::Text(Some(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Bool(b) => ToSqlOutput::Owned(SqlValue::Integer(i64::from(*b))),
            Param::Time(Some(t)) => ToSqlOutput::Owned(SqlValue::Text(time_text(*t))),
            Param::Uuid(Some(u)) => ToSqlOutput::Owned(SqlValue::Text(u.hyphenated().to_string())),
            Param::Json(j) => ToSqlOutput::Owned(SqlValue::Text(j.to_string())),
            Param::Ids(ids) => ToSqlOutput::Owned(SqlValue::Text(ids_json(ids))),
            Param::Int(None)
            | Param::Float(None)
            | Param::Text(None)
            | Param::Time(None)
            | Param::Uuid(None) => ToSqlOutput::Owned(SqlValue::Null),
        })
    }
}

fn decode(v: ValueRef<'_>, kind: FieldKind) -> std::result::Result<Param, String> {
    let text = |t: &[u8]| String::from_utf8_lossy(t).into_owned();
    Ok(match (kind, v) {
        (FieldKind::Int, ValueRef::Null) => Param::Int(None),
        (FieldKind::Int, ValueRef::Integer(i)) => Param::Int(Some(i)),
        (FieldKind::Int, ValueRef::Real(x)) if x.fract() == 0.0 && x.abs() < 9.0e18 => {
            Param::Int(Some(x as i64))
        }
        (FieldKind::Int, ValueRef::Text(t)) => Param::Int(Some(
            text(t).trim().parse().map_err(|_| "text, not an integer")?,
        )),
        (FieldKind::Float, ValueRef::Null) => Param::Float(None),
        (FieldKind::Float, ValueRef::Real(x)) => Param::Float(Some(x)),
        (FieldKind::Float, ValueRef::Integer(i)) => Param::Float(Some(i as f64)),
        (FieldKind::Text, ValueRef::Null) => Param::Text(None),
        (FieldKind::Text, ValueRef::Text(t) | ValueRef::Blob(t)) => Param::Text(Some(text(t))),
        (FieldKind::Text, ValueRef::Integer(i)) => Param::Text(Some(i.to_string())),
        (FieldKind::Text, ValueRef::Real(x)) => Param::Text(Some(x.to_string())),
        (FieldKind::Bool, ValueRef::Integer(i)) => Param::Bool(i != 0),
        (FieldKind::Bool, ValueRef::Text(t)) => Param::Bool(matches!(
            text(t).trim().to_ascii_lowercase().as_str(),
            "1" | "true"
        )),
        (FieldKind::Time, ValueRef::Null) => Param::Time(None),
        (FieldKind::Time, ValueRef::Text(t)) => {
            Param::Time(Some(parse_time(&text(t)).ok_or("text that is not a time")?))
        }
        (FieldKind::Uuid, ValueRef::Null) => Param::Uuid(None),
        (FieldKind::Uuid, ValueRef::Text(t)) => Param::Uuid(Some(
            uuid::Uuid::parse_str(&text(t)).map_err(|_| "text that is not a UUID")?,
        )),
        (FieldKind::Uuid, ValueRef::Blob(b)) => Param::Uuid(Some(
            uuid::Uuid::from_slice(b).map_err(|_| "a blob that is not a UUID")?,
        )),
        (FieldKind::Json, ValueRef::Null) => Param::Json(serde_json::Value::Null),
        (FieldKind::Json, ValueRef::Text(t)) => {
            Param::Json(serde_json::from_slice(t).map_err(|_| "text that is not JSON")?)
        }
        (_, other) => return Err(format!("an unexpected {:?} value", other.data_type())),
    })
}

impl Conn for SqliteConn {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(|e| self.err(e))
    }

    fn exec(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        let mut st = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| map_err(&self.shown, e))?;
        let n = st
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(|e| map_err(&self.shown, e))?;
        Ok(n as u64)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Param],
        kinds: &[FieldKind],
    ) -> Result<Vec<Vec<Param>>> {
        let shown = &self.shown;
        let mut st = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| map_err(shown, e))?;
        let mut rows = st
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(|e| map_err(shown, e))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| map_err(shown, e))? {
            let mut cells = Vec::with_capacity(kinds.len());
            for (i, kind) in kinds.iter().enumerate() {
                let v = row.get_ref(i).map_err(|e| map_err(shown, e))?;
                cells.push(decode(v, *kind).map_err(|what| {
                    // Named only here: looking the name up for every cell read costs an
                    // allocation each.
                    let name = row.as_ref().column_name(i).unwrap_or("?");
                    StoreError::Backend(format!("column {name} holds {what}: {shown} is damaged"))
                })?);
            }
            out.push(cells);
        }
        Ok(out)
    }

    fn forget_statements(&mut self) {
        self.conn.flush_prepared_statement_cache();
    }

    fn table_exists(&mut self, table: &str) -> Result<bool> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1")
            .and_then(|mut st| st.query_row([table], |r| r.get(0)))
            .map_err(|e| map_err(&self.shown, e))?;
        Ok(n > 0)
    }

    fn claim(&mut self, owner: &str) -> Result<Claimed> {
        let lock_path = self.lock_path();
        let shown = lock_path.display().to_string();
        let io = |e: std::io::Error| StoreError::Backend(format!("cannot lock {shown}: {e}"));
        if let Some(f) = self.lock.as_mut() {
            // Already ours: just record the new owner text.
            f.set_len(0).map_err(io)?;
            f.rewind().map_err(io)?;
            f.write_all(owner.as_bytes()).map_err(io)?;
            return Ok(Claimed::Done);
        }
        let mut f = private::open_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io)?;
        // SAFETY: flock on a file descriptor we own; it neither reads nor writes memory.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut text = String::new();
                let _ = f.read_to_string(&mut text);
                let text = one_line(&text);
                let owner = if text.is_empty() {
                    format!("lock {shown}")
                } else {
                    text
                };
                return Err(StoreError::Locked { owner });
            }
            return Err(io(e));
        }
        f.set_len(0).map_err(io)?;
        f.write_all(owner.as_bytes()).map_err(io)?;
        let _ = f.flush();
        self.lock = Some(f);
        Ok(Claimed::Done)
    }

    fn backup(&mut self, path: &Path) -> Result<()> {
        if path.exists() {
            return Err(StoreError::Backend(format!(
                "{} already exists: choose a new backup path",
                path.display()
            )));
        }
        create_parent(path)?;
        // SQLite writes into an empty file: this one, private.
        private::open_options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| StoreError::Backend(format!("cannot create {}: {e}", path.display())))?;
        let target = path.to_string_lossy().into_owned();
        self.conn
            .execute("VACUUM INTO ?1", [target])
            .map(|_| ())
            .map_err(|e| {
                let _ = std::fs::remove_file(path);
                map_err(&self.shown, e)
            })
    }

    fn vacuum(&mut self) -> Result<()> {
        self.batch("VACUUM")
    }
}

impl SqliteStore {
    /// The lock file beside the database that [`TaskStore::claim_controller`] uses.
    ///
    /// [`TaskStore::claim_controller`]: super::TaskStore::claim_controller
    pub fn lock_path(&self) -> PathBuf {
        self.core.conn.lock_path()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::{TaskRecord, TaskStore};

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn the_database_and_everything_beside_it_are_private() {
        // SAFETY: umask only changes this process's file creation mask; 022 is the usual one.
        unsafe { libc::umask(0o022) };
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("new/lib/main.db");
        let mut s = SqliteStore::open(&db).unwrap();
        s.initialize().unwrap();
        s.claim_controller("test").unwrap();
        s.submit(&[TaskRecord::new(
            "echo secret".into(),
            uuid::Uuid::now_v7(),
            None,
        )])
        .unwrap();
        let backup = dir.path().join("b/backup.db");
        s.backup(&backup).unwrap();
        for folder in ["new", "new/lib", "b"] {
            assert_eq!(mode(&dir.path().join(folder)), 0o700, "{folder}");
        }
        let mut files = vec![db.clone(), s.lock_path(), backup];
        files.extend(["main.db-wal", "main.db-shm"].map(|f| db.with_file_name(f)));
        for file in files {
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
}
