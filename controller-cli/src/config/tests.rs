//! Whole-configuration tests: files and environment of a described machine, merged, read back
//! typed, traced to their origin, and turned into database settings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::*;

/// A temporary folder removed on drop (hs-cli has no tempfile dependency).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("hs-config-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.0.join(rel);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).expect("mkdir");
        }
        std::fs::write(&p, text).expect("write");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A machine whose HOME is `dir/home` and working directory `dir/work`.
fn machine(dir: &TempDir, vars: &[(&str, &str)]) -> Context {
    let mut all: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.insert("HOME".into(), dir.path().join("home").display().to_string());
    Context::new(all, dir.path().join("work"), false)
}

fn load(dir: &TempDir, vars: &[(&str, &str)]) -> Config {
    Config::load_with(machine(dir, vars)).expect("load")
}

#[test]
fn defaults_files_and_environment_merge_in_order() {
    let dir = TempDir::new();
    let user = dir.write(
        "home/.hypershell/config.toml",
        "[server]\nport = 8080\nbind = '0.0.0.0'\nevict = 30\n",
    );
    let local = dir.write(
        "work/.hypershell/config.toml",
        "[server]\nbind = '10.0.0.1'\n",
    );
    let cfg = load(&dir, &[("HYPERSHELL_SERVER_EVICT", "60")]);
    assert_eq!(cfg.get_i64("server.port").expect("int"), Some(8080));
    assert_eq!(
        cfg.get_str("server.bind").expect("str").as_deref(),
        Some("10.0.0.1")
    );
    assert_eq!(cfg.get_f64("server.evict").expect("num"), Some(60.0));
    assert_eq!(
        cfg.get_str("server.host").expect("str").as_deref(),
        Some("localhost")
    );
    assert_eq!(cfg.get_bool("server.eager").expect("bool"), Some(false));
    assert_eq!(cfg.get("server.auth").expect("absent"), None);

    assert_eq!(
        cfg.source("server.port"),
        Source::File {
            level: Level::User,
            path: user
        }
    );
    assert_eq!(
        cfg.source("server.bind"),
        Source::File {
            level: Level::Local,
            path: local
        }
    );
    assert_eq!(
        cfg.source("server.evict"),
        Source::Env {
            var: "HYPERSHELL_SERVER_EVICT".into()
        }
    );
    assert_eq!(cfg.source("server.host"), Source::Default);
}

#[test]
fn site_replaces_the_local_file_and_sets_the_database_default() {
    let dir = TempDir::new();
    dir.write("work/.hypershell/config.toml", "[server]\nport = 1\n");
    let site = dir.write("site/config.toml", "[server]\nport = 2\n");
    let site_dir = dir.path().join("site");
    let cfg = load(
        &dir,
        &[("HYPERSHELL_SITE", &site_dir.display().to_string())],
    );
    assert_eq!(cfg.get_i64("server.port").expect("int"), Some(2));
    assert_eq!(
        cfg.source("server.port"),
        Source::File {
            level: Level::Local,
            path: site
        }
    );
    assert_eq!(
        cfg.database().expect("db").provider,
        Provider::Sqlite {
            path: site_dir.join("lib/main.db"),
            pragmas: vec![]
        }
    );
}

#[test]
fn config_file_variable_reads_only_that_file() {
    let dir = TempDir::new();
    dir.write(
        "home/.hypershell/config.toml",
        "[server]\nport = 1\nbind = 'u'\n",
    );
    let only = dir.write("only.toml", "[server]\nport = 3\n");
    let cfg = load(
        &dir,
        &[("HYPERSHELL_CONFIG_FILE", &only.display().to_string())],
    );
    assert_eq!(cfg.get_i64("server.port").expect("int"), Some(3));
    assert_eq!(
        cfg.get_str("server.bind").expect("str").as_deref(),
        Some("localhost")
    );
    assert_eq!(cfg.source("server.port").site(), "file");

    let cfg = load(
        &dir,
        &[
            ("HYPERSHELL_CONFIG_FILE", ""),
            ("HYPERSHELL_SERVER_PORT", "4"),
        ],
    );
    assert_eq!(cfg.get_i64("server.port").expect("int"), Some(4));
    assert_eq!(
        cfg.get_str("server.bind").expect("str").as_deref(),
        Some("localhost")
    );

    let missing = dir.path().join("missing.toml").display().to_string();
    let err = Config::load_with(machine(&dir, &[("HYPERSHELL_CONFIG_FILE", &missing)]))
        .expect_err("missing file");
    assert!(err.to_string().contains("missing.toml"), "{err}");
    assert_eq!(err.status(), crate::exit::Status::Config);
}

#[test]
fn a_broken_file_is_one_line_with_file_line_and_column() {
    let dir = TempDir::new();
    let user = dir.write(
        "home/.hypershell/config.toml",
        "[server]\nport = 1\nbind = \n",
    );
    let err = Config::load_with(machine(&dir, &[])).expect_err("broken");
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("{}:3:", user.display())), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    assert_eq!(
        crate::exit::Failure::from(err).status,
        crate::exit::Status::Config
    );
}

#[test]
fn unknown_file_keys_warn_and_unknown_env_names_are_ignored() {
    let dir = TempDir::new();
    dir.write("home/.hypershell/config.toml", "[server]\nprot = 1\n");
    let cfg = load(&dir, &[("HYPERSHELL_SERVER_PROT", "2")]);
    assert_eq!(cfg.warnings().len(), 1, "{:?}", cfg.warnings());
    assert_eq!(cfg.get("server.prot").expect("kept"), Some(json!(1)));
}

#[test]
fn typed_reads_name_the_origin_of_a_wrong_value() {
    let dir = TempDir::new();
    let user = dir.write("home/.hypershell/config.toml", "[server]\nport = 'abc'\n");
    let cfg = load(&dir, &[("HYPERSHELL_SERVER_AUTH", "0012345678901234567")]);
    let err = cfg.get_i64("server.port").expect_err("not a port");
    assert_eq!(
        err.to_string(),
        format!(
            "server.port = \"abc\" (user: {}): expected an integer",
            user.display()
        )
    );
    assert_eq!(
        cfg.get_str("server.auth").expect("text").as_deref(),
        Some("0012345678901234567")
    );
}

#[test]
fn env_null_unsets_a_file_value() {
    let dir = TempDir::new();
    dir.write("home/.hypershell/config.toml", "[server]\nauth = 'k'\n");
    let cfg = load(&dir, &[("HYPERSHELL_SERVER_AUTH", "null")]);
    assert_eq!(cfg.get_str("server.auth").expect("null"), None);
    assert_eq!(cfg.source("server.auth").site(), "env");
}

#[test]
fn env_and_eval_keys_expand_when_read() {
    let dir = TempDir::new();
    dir.write(
        "home/.hypershell/config.toml",
        "[database]\nprovider = 'postgres'\nuser = 'me'\npassword_env = 'PGPASS'\nhost_eval = 'echo db.example'\nsslmode = 'verify-full'\n[database.connect_args]\nconnect_timeout = 10\n",
    );
    let cfg = load(
        &dir,
        &[
            ("PGPASS", "p@ss word"),
            ("HYPERSHELL_DATABASE_DATABASE", "hs"),
        ],
    );
    assert_eq!(
        cfg.get_str("database.password").expect("env").as_deref(),
        Some("p@ss word")
    );
    let expanded = cfg.get_section("database", true).expect("expand");
    assert_eq!(expanded.get("host"), Some(&json!("db.example")));
    assert!(!expanded.contains_key("host_eval"));
    assert_eq!(
        cfg.database().expect("db").provider,
        Provider::Postgres {
            url:
                "postgresql://me:p%40ss%20word@db.example/hs?connect_timeout=10&sslmode=verify-full"
                    .into(),
            schema: "public".into()
        }
    );
}

#[test]
fn database_shorthands() {
    let dir = TempDir::new();
    let db = |vars: &[(&str, &str)]| load(&dir, vars).database().map(|d| d.provider);
    let work = dir.path().join("work");
    assert_eq!(
        db(&[("HYPERSHELL_DATABASE", "x.db")]).expect("bare"),
        Provider::Sqlite {
            path: work.join("x.db"),
            pragmas: vec![]
        }
    );
    assert_eq!(
        db(&[("HYPERSHELL_DATABASE_FILE", ":memory:")]).expect("mem"),
        Provider::None
    );
    assert_eq!(
        db(&[("HYPERSHELL_DATABASE", "")]).expect("empty"),
        Provider::None
    );
    assert_eq!(
        db(&[("HYPERSHELL_DATABASE_URL", "postgresql+psycopg://u@h:5/d")]).expect("url"),
        Provider::Postgres {
            url: "postgresql://u@h:5/d".into(),
            schema: "public".into()
        }
    );
    assert_eq!(
        db(&[("HYPERSHELL_DATABASE_URL", "sqlite:////tmp/a.db")]).expect("url"),
        Provider::Sqlite {
            path: PathBuf::from("/tmp/a.db"),
            pragmas: vec![]
        }
    );
    let err = db(&[
        ("HYPERSHELL_DATABASE_PROVIDER", "postgres"),
        ("HYPERSHELL_DATABASE_PASSWORD", "x"),
    ])
    .expect_err("password without user");
    assert!(err.to_string().contains("database.user"), "{err}");
    assert!(db(&[("HYPERSHELL_DATABASE_PROVIDER", "turso")]).is_err());
    assert_eq!(
        db(&[
            ("HYPERSHELL_DATABASE_PROVIDER", "postgres"),
            ("HYPERSHELL_DATABASE_PORT", "5433")
        ])
        .expect("parts"),
        Provider::Postgres {
            url: "postgresql://localhost:5433/".into(),
            schema: "public".into()
        }
    );
}

#[test]
fn get_and_which_output() {
    let dir = TempDir::new();
    let user = dir.write("home/.hypershell/config.toml", "[server]\nport = 8080\n");
    let cfg = load(&dir, &[("HYPERSHELL_CLIENT_HEARTRATE", "2.5")]);
    assert_eq!(
        show::get(&cfg, Some("server.port"), false, false).expect("get"),
        "8080\n"
    );
    assert_eq!(
        show::get(&cfg, Some("server.bind"), false, false).expect("get"),
        "\"localhost\"\n"
    );
    assert_eq!(
        show::get(&cfg, Some("server.bind"), false, true).expect("get"),
        "localhost\n"
    );
    let section = show::get(&cfg, Some("server"), false, false).expect("section");
    assert!(
        section.contains("port = 8080\n") && !section.contains("[server]"),
        "{section}"
    );
    let all = show::get(&cfg, None, false, false).expect("all");
    assert!(
        all.contains("[server]\n") && all.contains("[client]\n"),
        "{all}"
    );
    assert_eq!(
        show::which(&cfg, "server.port", false).expect("which"),
        format!("8080 (user: {})\n", user.display())
    );
    assert_eq!(
        show::which(&cfg, "client.heartrate", false).expect("which"),
        "2.5 (env: HYPERSHELL_CLIENT_HEARTRATE)\n"
    );
    assert_eq!(
        show::which(&cfg, "server.bind", false).expect("which"),
        "\"localhost\" (default)\n"
    );
    assert_eq!(
        show::which(&cfg, "server.port", true).expect("site"),
        "user\n"
    );
    assert_eq!(
        show::which(&cfg, "server.auth", false).expect("absent"),
        "null (default)\n"
    );
    let err = show::get(&cfg, Some("server.prot"), false, false).expect_err("unknown");
    assert_eq!(err.status(), crate::exit::Status::Usage);
    assert!(show::which(&cfg, "nosuch", false).is_err());
}
