//! The ssh command line for one remote engine. ssh hands the remote side one string that the
//! remote login shell splits again, so every word is quoted for that shell.

use hs_engine::executor::is_secret_var;

use crate::config::{Config, Layers, key};
use crate::exit::Failure;

/// `ssh [user args] -o BatchMode=yes -- HOST 'VAR=v' 'hs' 'client' …`. The user's options come
/// first: ssh keeps the first value of an option, so theirs win over hs's defaults. `--` ends
/// the options before the host, so no host can be read as one (host lists refuse names
/// starting with `-` too).
pub fn command(
    host: &str,
    ssh_args: &[String],
    exports: &[(String, String)],
    remote: &[String],
) -> Vec<String> {
    let mut argv = vec!["ssh".to_string()];
    argv.extend(ssh_args.iter().cloned());
    // Never stop to ask for a password or a host key: a launch of many hosts would hang.
    argv.extend(["-o".into(), "BatchMode=yes".into()]);
    argv.push("--".into());
    argv.push(host.to_string());
    let mut line: Vec<String> = exports
        .iter()
        .map(|(k, v)| format!("{k}={}", shell_words::quote(v)))
        .collect();
    if !exports.is_empty() {
        line.insert(0, "env".into());
    }
    line.extend(remote.iter().map(|w| shell_words::quote(w).into_owned()));
    argv.push(line.join(" "));
    argv
}

/// Options for every ssh connection: `-F <ssh.config>` when that key is set (and the options
/// do not name a file themselves), then `flag` (`--ssh-args`) or else `ssh.args`, split as a
/// shell would.
pub fn options(flag: Option<&str>, cfg: &Config) -> anyhow::Result<Vec<String>> {
    let (text, what) = match flag {
        Some(text) => (text.to_string(), "--ssh-args".to_string()),
        None => (
            cfg.option(None::<String>, key::SSH_ARGS, Layers::All)?
                .unwrap_or_default(),
            format!("{} ({})", key::SSH_ARGS, cfg.source(key::SSH_ARGS.name)),
        ),
    };
    let given = shell_words::split(&text).map_err(|e| Failure::usage(format!("{what}: {e}")))?;
    let mut argv = Vec::new();
    if !given.iter().any(|w| w.starts_with("-F"))
        && let Some(file) = cfg.option(None::<String>, key::SSH_CONFIG, Layers::Set)?
    {
        argv.extend(["-F".to_string(), file]);
    }
    argv.extend(given);
    Ok(argv)
}

/// `HYPERSHELL_*` variables of this process, for `-E/--env`, without the secrets no task may
/// see ([`is_secret_var`]: keys, database passwords). They would be on the ssh command line, in
/// `ps` on both hosts; the key travels on stdin instead.
pub fn exports() -> Vec<(String, String)> {
    exports_from(std::env::vars())
}

fn exports_from(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = vars
        .filter(|(k, _)| k.starts_with("HYPERSHELL_") && !is_secret_var(k.as_bytes()))
        .collect();
    vars.sort();
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_words_are_quoted_for_the_remote_shell() {
        let argv = command(
            "h1",
            &["-F".into(), "/x/ssh config".into()],
            &[("HYPERSHELL_EXPORT_A".into(), "a b".into())],
            &[
                "/opt/hs".into(),
                "client".into(),
                "-t".into(),
                "echo '{}' $HOME".into(),
            ],
        );
        assert_eq!(
            argv,
            [
                "ssh",
                "-F",
                "/x/ssh config",
                "-o",
                "BatchMode=yes",
                "--",
                "h1",
                "env HYPERSHELL_EXPORT_A='a b' /opt/hs client -t 'echo '\\''{}'\\'' $HOME'"
            ]
        );
    }

    #[test]
    fn exports_leave_out_keys_and_database_passwords() {
        let vars = [
            ("HYPERSHELL_SERVER_PORT", "50001"),
            ("HYPERSHELL_SERVER_AUTH", "k"),
            ("HYPERSHELL_CLIENT_AUTH", "k"),
            ("HYPERSHELL_DATABASE_PASSWORD", "p"),
            ("HYPERSHELL_DATABASE_URL", "postgresql://u:p@db/x"),
            ("HYPERSHELL_EXPORT_A", "a"),
            ("HOME", "/h"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let names: Vec<String> = exports_from(vars.into_iter())
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(names, ["HYPERSHELL_EXPORT_A", "HYPERSHELL_SERVER_PORT"]);
    }
}
