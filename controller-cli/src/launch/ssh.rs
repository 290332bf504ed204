//! The ssh command line for one remote engine. ssh hands the remote side one string that the
//! remote login shell splits again, so every word is quoted for that shell.

use crate::config::{Config, Layers, key};
use crate::exit::Failure;

/// `ssh [user args] -o BatchMode=yes HOST -- 'VAR=v' 'hs' 'client' …`. The user's options come
/// first: ssh keeps the first value of an option, so theirs win over hs's defaults.
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
    argv.push(host.to_string());
    argv.push("--".into());
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

/// `HYPERSHELL_*` variables of this process, for `-E/--env` (the key variables excepted: the
/// key travels on stdin, never on a command line).
pub fn exports() -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("HYPERSHELL_") && !k.ends_with("_AUTH"))
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
                "h1",
                "--",
                "env HYPERSHELL_EXPORT_A='a b' /opt/hs client -t 'echo '\\''{}'\\'' $HOME'"
            ]
        );
    }
}
