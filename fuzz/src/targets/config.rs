//! `config`: configuration files (TOML), as every hs command loads them, and the two ways hs
//! writes them (`hs config get` prints the configuration as TOML; `hs config set` edits a file).
//!
//! An input is a file's text, then (after the first NUL byte, if any) the text of a value to
//! `set`; the input's length picks the key. Properties: loading answers, and every error is
//! one line (so is every typed read of every key); what `hs config get` prints loads back to
//! the same configuration; after `hs config set`, the file loads, holds the new value, and
//! every unrelated key is unchanged. Keys ending in `_eval` run commands when read: with one in
//! the file, only reads that expand nothing are made.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hs_cli::fuzzing::{CONFIG_KEYS, Config, Context, Level, config};
use serde_json::Value;

use crate::check;

fn context(dir: &Path, file: Option<&Path>) -> Context {
    let mut vars = BTreeMap::new();
    vars.insert("HOME".to_string(), dir.join("home").display().to_string());
    if let Some(file) = file {
        vars.insert("HYPERSHELL_CONFIG_FILE".into(), file.display().to_string());
    }
    Context::new(vars, dir.to_path_buf(), false)
}

/// A fresh folder for this input.
fn workspace() -> PathBuf {
    let dir = crate::scratch(&format!("config-{:?}", std::thread::current().id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(dir.join("home/.hypershell")).expect("scratch folders");
    dir
}

/// Every key and value, nulls left out (TOML cannot say null).
fn values(cfg: &Config) -> BTreeMap<String, Value> {
    let mut all = cfg.get_section("", false).expect("listing expands nothing");
    all.retain(|_, v| !v.is_null());
    all
}

fn load(path: &Path, text: &str, dir: &Path) -> Result<Config, String> {
    std::fs::write(path, text).expect("write the scratch file");
    Config::load_with(context(dir, Some(path))).map_err(|e| check::error("load", &e))
}

pub fn run(data: &[u8]) -> String {
    let (text, value) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let text = String::from_utf8_lossy(text);
    let dir = workspace();
    let cfg = match load(&dir.join("config.toml"), &text, &dir) {
        Ok(cfg) => cfg,
        Err(label) => return format!("load err:{label}"),
    };
    let runs_commands = values(&cfg).keys().any(|k| k.ends_with("_eval"));
    if !runs_commands {
        typed_reads(&cfg);
    }
    shown_reads_back(&cfg, &dir);
    let key = CONFIG_KEYS[data.len() % CONFIG_KEYS.len()].name;
    let value = value.map_or("1".into(), String::from_utf8_lossy);
    let set = set_keeps_the_rest(&text, key, &value, &dir);
    format!("load ok eval:{runs_commands} set:{set}")
}

fn typed_reads(cfg: &Config) {
    for def in CONFIG_KEYS {
        let key = def.name;
        check::outcome(key, &cfg.get_str(key));
        check::outcome(key, &cfg.get_i64(key));
        check::outcome(key, &cfg.get_f64(key));
        check::outcome(key, &cfg.get_bool(key));
    }
    check::outcome("database", &cfg.database());
    check::outcome("export", &cfg.exports());
}

fn shown_reads_back(cfg: &Config, dir: &Path) {
    let shown = match config::show_all(cfg) {
        Ok(shown) => shown,
        Err(e) => {
            check::error("show", &e);
            return;
        }
    };
    let again = load(&dir.join("shown.toml"), &shown, dir)
        .unwrap_or_else(|e| panic!("what `hs config get` prints does not load ({e}): {shown}"));
    assert_eq!(
        values(&again),
        values(cfg),
        "what `hs config get` prints loads as another configuration"
    );
}

/// `k`, `k_env` and `k_eval` are one setting.
fn base(key: &str) -> &str {
    key.strip_suffix("_env")
        .or_else(|| key.strip_suffix("_eval"))
        .unwrap_or(key)
}

fn related(a: &str, b: &str) -> bool {
    let (a, b) = (base(a), base(b));
    a == b || a.starts_with(&format!("{b}.")) || b.starts_with(&format!("{a}."))
}

fn set_keeps_the_rest(text: &str, key: &str, value: &str, dir: &Path) -> String {
    let user = dir.join("home/.hypershell/config.toml");
    std::fs::write(&user, text).expect("write the scratch file");
    let ctx = context(dir, None);
    let before = Config::file_only(ctx.clone(), Level::User).map(|c| values(&c));
    if let Err(e) = config::set_user(&ctx, key, value) {
        return check::error("set", &e);
    }
    let Ok(before) = before else {
        panic!("`hs config set` changed a file that does not load");
    };
    let written = std::fs::read_to_string(&user).unwrap_or_default();
    let after = Config::file_only(ctx, Level::User)
        .map(|c| values(&c))
        .unwrap_or_else(|e| panic!("after `hs config set {key}` the file does not load: {e}"));
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for k in keys {
        if !related(k, key) {
            assert_eq!(
                before.get(k),
                after.get(k),
                "`hs config set {key}` changed {k}; the file is now:\n{written}"
            );
        }
    }
    let null = matches!(value.to_ascii_lowercase().as_str(), "null" | "none");
    assert_eq!(
        after.contains_key(key),
        !null,
        "`hs config set {key} {value:?}` did not set it; the file is now:\n{written}"
    );
    "ok".into()
}
