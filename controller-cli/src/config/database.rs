//! Which database the `[database]` keys describe, in HyperShell's terms: `database.url` wins;
//! `database = "path"` is a SQLite file; otherwise `provider` (default `sqlite`) with `file`, or
//! a PostgreSQL URL built from `host`, `port`, `user`, `password`, `database` and any other key
//! as a query parameter (`sslmode = "verify-full"`). An empty file or `:memory:` means no
//! database.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Config;
use super::error::ConfigError;
use super::keys::split_suffix;
use super::value;

/// The database to use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseSettings {
    pub provider: Provider,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provider {
    /// A SQLite file, and `[database.pragmas]` to run as `PRAGMA key = value` on connecting.
    Sqlite {
        path: PathBuf,
        pragmas: Vec<(String, String)>,
    },
    /// A PostgreSQL connection URL (`postgresql://…`). The schema (`database.schema`, default
    /// `public`) is not part of the URL: set `search_path` after connecting.
    Postgres { url: String, schema: String },
    /// No database: the queue lives in memory only.
    None,
}

/// Keys that describe the connection itself; any other `database.*` key is a URL parameter.
const CONNECTION_KEYS: &[&str] = &[
    "provider", "file", "url", "database", "schema", "host", "port", "user", "password", "echo",
];

impl Config {
    pub fn database(&self) -> Result<DatabaseSettings, ConfigError> {
        let provider = self.database_provider()?;
        Ok(DatabaseSettings { provider })
    }

    fn database_provider(&self) -> Result<Provider, ConfigError> {
        if self.provider("database").is_some() {
            let file = self.get_str("database")?.unwrap_or_default();
            return Ok(self.sqlite(&file));
        }
        if let Some(url) = self.get_str("database.url")?.filter(|u| !u.is_empty()) {
            return self.url_provider(&url);
        }
        let provider = self
            .get_str("database.provider")?
            .unwrap_or_else(|| "sqlite".into())
            .to_ascii_lowercase();
        match provider.as_str() {
            "sqlite" => {
                let file = self.get_str("database.file")?.unwrap_or_default();
                Ok(self.sqlite(&file))
            }
            "postgres" | "postgresql" => self.postgres(),
            other => Err(ConfigError::Database(format!(
                "database.provider = {other:?} is not supported: use sqlite or postgres"
            ))),
        }
    }

    fn sqlite(&self, file: &str) -> Provider {
        if file.is_empty() || file == ":memory:" {
            return Provider::None;
        }
        let pragmas = self
            .merged
            .under("database.pragmas")
            .filter(|(_, s)| !s.value.is_null())
            .map(|(k, s)| (k.to_string(), value::raw(&s.value)))
            .collect();
        Provider::Sqlite {
            path: self.ctx.absolute(std::path::Path::new(file)),
            pragmas,
        }
    }

    fn url_provider(&self, url: &str) -> Result<Provider, ConfigError> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            ConfigError::Database(format!("database.url {url:?} is not a URL (scheme://…)"))
        })?;
        // SQLAlchemy spellings: `postgresql+psycopg://`, `sqlite:///relative.db`, `sqlite:////abs.db`.
        match scheme.split('+').next().unwrap_or_default() {
            "postgres" | "postgresql" => Ok(Provider::Postgres {
                url: format!("postgresql://{rest}"),
                schema: self.schema()?,
            }),
            "sqlite" => Ok(self.sqlite(rest.strip_prefix('/').unwrap_or(rest))),
            other => Err(ConfigError::Database(format!(
                "database.url scheme {other:?} is not supported: use postgresql:// or sqlite:///"
            ))),
        }
    }

    fn postgres(&self) -> Result<Provider, ConfigError> {
        let host = self
            .get_str("database.host")?
            .unwrap_or_else(|| "localhost".into());
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            encode(&host)
        };
        let port = self
            .get_i64("database.port")?
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        let user = self.get_str("database.user")?;
        let password = self.get_str("database.password")?;
        let userinfo = match (user, password) {
            (None, None) => String::new(),
            (Some(u), None) => format!("{}@", encode(&u)),
            (Some(u), Some(p)) => format!("{}:{}@", encode(&u), encode(&p)),
            (None, Some(_)) => {
                return Err(ConfigError::Database(
                    "database.password is set but database.user is not".into(),
                ));
            }
        };
        let name = self.get_str("database.database")?.unwrap_or_default();
        let mut url = format!("postgresql://{userinfo}{host}{port}/{}", encode(&name));
        let params = self.query_params()?;
        if !params.is_empty() {
            let query: Vec<String> = params
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            url = format!("{url}?{}", query.join("&"));
        }
        Ok(Provider::Postgres {
            url,
            schema: self.schema()?,
        })
    }

    /// Other `database.*` keys and `[database.connect_args]`: libpq takes both as parameters.
    /// Connection keys are skipped before expansion so that no `_eval` command runs twice.
    fn query_params(&self) -> Result<BTreeMap<String, String>, ConfigError> {
        let mut params = BTreeMap::new();
        for (rel, _) in self.merged.under("database") {
            let rel = split_suffix(rel).map_or(rel, |(base, _)| base);
            let name = rel.strip_prefix("connect_args.").unwrap_or(rel);
            if name.contains('.') || CONNECTION_KEYS.contains(&name) || params.contains_key(name) {
                continue;
            }
            if let Some(v) = self.get(&format!("database.{rel}"))? {
                params.insert(name.to_string(), value::raw(&v));
            }
        }
        Ok(params)
    }

    fn schema(&self) -> Result<String, ConfigError> {
        Ok(self
            .get_str("database.schema")?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "public".into()))
    }
}

/// Percent-encoding for URL parts: everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(encode("a b/c@d:e"), "a%20b%2Fc%40d%3Ae");
        assert_eq!(encode("é"), "%C3%A9");
    }
}
