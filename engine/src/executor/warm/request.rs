//! What the engine sends a slot shell for one task, and which tasks may be sent at all.
//!
//! The byte layout is the one slot_builtin.c reads (described at its top). A task goes to a slot
//! shell only when the result cannot differ from a fresh `bash -c`: its own variables are plain
//! names that bash gives no meaning of its own. A variable bash reads at start-up (`SHELLOPTS`,
//! `BASH_ENV`, `PWD`…) or acts on when it is assigned (`PATH`, `LANG`, `IFS`…) would have had its
//! effect in a fresh bash and not in a child forked from one that started without it; such
//! tasks run through the fresh-exec path instead.

use std::os::unix::ffi::OsStrExt;

use super::super::RunSpec;

/// Names bash handles specially at start-up or on assignment (bash 5.2's `special_vars`, the
/// variables it initialises itself, and those it imports with a side effect). Names starting
/// with one of [`SPECIAL_PREFIXES`] are covered there.
const SPECIAL_NAMES: &[&str] = &[
    "_",
    "CDPATH",
    "CHILD_MAX",
    "COLUMNS",
    "DIRSTACK",
    "EMACS",
    "ENV",
    "EUID",
    "EXECIGNORE",
    "FIGNORE",
    "FUNCNAME",
    "FUNCNEST",
    "GLOBIGNORE",
    "GLOBSORT",
    "GROUPS",
    "HOME",
    "HOSTFILE",
    "HOSTNAME",
    "HOSTTYPE",
    "IFS",
    "IGNOREEOF",
    "INPUTRC",
    "INSIDE_EMACS",
    "LANG",
    "LINENO",
    "LINES",
    "MACHTYPE",
    "MAIL",
    "MAILCHECK",
    "MAILPATH",
    "OLDPWD",
    "OPTARG",
    "OPTERR",
    "OPTIND",
    "OSTYPE",
    "PATH",
    "PIPESTATUS",
    "POSIXLY_CORRECT",
    "PPID",
    "PROMPT_COMMAND",
    "PROMPT_DIRTRIM",
    "PS0",
    "PS1",
    "PS2",
    "PS3",
    "PS4",
    "PWD",
    "RANDOM",
    "REPLY",
    "SECONDS",
    "SHELL",
    "SHELLOPTS",
    "SHLVL",
    "SRANDOM",
    "TERM",
    "TERMCAP",
    "TERMINFO",
    "TEXTDOMAIN",
    "TEXTDOMAINDIR",
    "TIMEFORMAT",
    "TMOUT",
    "TZ",
    "UID",
    "auto_resume",
    "histchars",
];

const SPECIAL_PREFIXES: &[&str] = &["BASH", "COMP", "EPOCH", "HIST", "LC_", "READLINE"];

/// Whether a fresh bash would import `name` as an ordinary variable and nothing more.
fn plain_name(name: &[u8]) -> bool {
    let identifier = name
        .first()
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
        && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
    identifier
        && !SPECIAL_NAMES.iter().any(|s| s.as_bytes() == name)
        && !SPECIAL_PREFIXES
            .iter()
            .any(|p| name.starts_with(p.as_bytes()))
}

/// Whether a variable named `name` in the environment every task starts from keeps a slot shell
/// from being equivalent to a fresh bash: a start-up file a fresh bash would source per task.
pub(super) fn unsuited_base_variable(name: &[u8]) -> bool {
    name == b"BASH_ENV" || name == b"ENV"
}

/// The request for `spec`, or `None` when the task must run through the fresh-exec path: one
/// of its variables is not [plain](plain_name), or it holds what the fresh-exec path reports as
/// an error (a NUL byte, a refused variable).
pub(super) fn encode(spec: &RunSpec<'_>, buf: &mut Vec<u8>) -> Option<()> {
    if spec.env.has_invalid() || spec.command.as_bytes().contains(&0) {
        return None;
    }
    let cwd = spec.cwd.map(|dir| dir.as_os_str().as_bytes());
    if cwd.is_some_and(|dir| dir.contains(&0)) {
        return None;
    }
    let mut count: u32 = 0;
    for (name, _) in spec.env.pairs() {
        if !plain_name(name) {
            return None;
        }
        count += 1;
    }
    let command = spec.command.as_bytes();
    let dir = cwd.unwrap_or_default();
    buf.clear();
    buf.extend_from_slice(&[0; 4]); // length, filled in below
    for word in [
        u32::from(cwd.is_some()),
        u32::try_from(command.len()).ok()?,
        u32::try_from(dir.len()).ok()?,
        count,
    ] {
        buf.extend_from_slice(&word.to_ne_bytes());
    }
    buf.extend_from_slice(command);
    buf.push(0);
    buf.extend_from_slice(dir);
    buf.push(0);
    for (name, value) in spec.env.pairs() {
        buf.extend_from_slice(name);
        buf.push(b'=');
        buf.extend_from_slice(value);
        buf.push(0);
    }
    let len = u32::try_from(buf.len() - 4).ok()?;
    buf[..4].copy_from_slice(&len.to_ne_bytes());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{Leftover, OutputTarget, TaskVars};
    use std::time::Duration;

    fn spec<'a>(command: &'a str, env: &'a TaskVars) -> RunSpec<'a> {
        RunSpec {
            command,
            cwd: None,
            env,
            stdout: OutputTarget::Null,
            stderr: OutputTarget::Null,
            timeout: None,
            signalwait: Duration::from_secs(1),
            started: None,
            leftovers: Leftover::Linger,
        }
    }

    #[test]
    fn plain_names_are_sent_and_special_ones_are_not() {
        let mut buf = Vec::new();
        let env: TaskVars = [("TASK_ID", "1"), ("my_var", "x")].into_iter().collect();
        assert!(encode(&spec("true", &env), &mut buf).is_some());
        for special in [
            "PATH",
            "BASH_ENV",
            "LC_ALL",
            "SHELLOPTS",
            "IFS",
            "PWD",
            "A-B",
            "9X",
        ] {
            let env: TaskVars = [(special, "1")].into_iter().collect();
            assert!(
                encode(&spec("true", &env), &mut buf).is_none(),
                "{special} was sent"
            );
        }
    }

    #[test]
    fn the_layout_is_length_header_strings_and_variables() {
        let mut buf = Vec::new();
        let env: TaskVars = [("TASK_ID", "7")].into_iter().collect();
        let mut s = spec("echo hi", &env);
        let dir = std::path::Path::new("/tmp");
        s.cwd = Some(dir);
        encode(&s, &mut buf).expect("sent");
        let word = |i: usize| u32::from_ne_bytes(buf[i..i + 4].try_into().expect("4 bytes"));
        assert_eq!(word(0) as usize, buf.len() - 4);
        assert_eq!([word(4), word(8), word(12), word(16)], [1, 7, 4, 1]);
        assert_eq!(&buf[20..], b"echo hi\0/tmp\0TASK_ID=7\0");
    }
}
