//! `_env` and `_eval` keys: secrets stay out of configuration files. `password_env = "PGPASS"`
//! reads the variable PGPASS, `password_eval = "pass hs/db"` runs the command with bash and
//! uses its output. Expansion happens only when a value is read (or `hs config get -x`), so
//! commands do not run for configuration that is never used.

use std::process::{Command, Stdio};

use super::error::ConfigError;
use super::keys::Suffix;
use super::paths::Context;
use super::value::Value;

/// The value that `key` (an `_env` or `_eval` key holding `value`) stands for.
pub fn expand(
    key: &str,
    suffix: Suffix,
    value: &Value,
    ctx: &Context,
) -> Result<Value, ConfigError> {
    let fail = |message: String| ConfigError::Expand {
        key: key.to_string(),
        message,
    };
    let Value::String(text) = value else {
        return Err(fail(format!(
            "expected text (a variable name or a command), got {value}"
        )));
    };
    match suffix {
        Suffix::Env => ctx
            .var(text)
            .map(|v| Value::String(v.to_string()))
            .ok_or_else(|| fail(format!("environment variable {text} is not set"))),
        Suffix::Eval => run(text).map(Value::String).map_err(fail),
    }
}

/// Run `command` with `/bin/bash -c`; its standard output without the final newline.
fn run(command: &str) -> Result<String, String> {
    let out = Command::new("/bin/bash")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run /bin/bash: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let status = out.status.code().map_or_else(
            || "killed by a signal".to_string(),
            |c| format!("exit status {c}"),
        );
        return Err(format!("command {command:?} failed ({status}) {first}")
            .trim_end()
            .to_string());
    }
    let text = String::from_utf8(out.stdout)
        .map_err(|_| format!("command {command:?} printed something that is not UTF-8"))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Context {
        let vars = [("PGPASS".to_string(), "s3cret".to_string())]
            .into_iter()
            .collect();
        Context::new(vars, "/".into(), false)
    }

    #[test]
    fn env_reads_the_variable() {
        let v = expand(
            "database.password_env",
            Suffix::Env,
            &json!("PGPASS"),
            &ctx(),
        );
        assert_eq!(v.expect("set"), json!("s3cret"));
        let err = expand("database.password_env", Suffix::Env, &json!("NOPE"), &ctx())
            .expect_err("unset");
        assert_eq!(
            err.to_string(),
            "database.password_env: environment variable NOPE is not set"
        );
    }

    #[test]
    fn eval_runs_bash() {
        let v = expand("k_eval", Suffix::Eval, &json!("echo a; echo b"), &ctx());
        assert_eq!(v.expect("ran"), json!("a\nb"));
        let err = expand(
            "k_eval",
            Suffix::Eval,
            &json!("echo no >&2; exit 3"),
            &ctx(),
        )
        .expect_err("fails");
        assert!(err.to_string().contains("exit status 3) no"), "{err}");
        let err = expand("k_eval", Suffix::Eval, &json!(1), &ctx()).expect_err("not text");
        assert!(err.to_string().contains("expected text"), "{err}");
    }
}
