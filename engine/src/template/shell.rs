//! `{% cmd %}`: substituting the output of a shell command run while the template expands.
//!
//! HyperShell runs `subprocess.check_output(cmd.replace('@', args), shell=True)`. hs keeps the
//! raw `@` substitution (users rely on it: `{% basename @ .txt %}`) but runs the command the way
//! tasks run, with `/bin/bash -o pipefail -c`, so a failing stage of a pipeline is not hidden. The
//! command runs synchronously on the host that expands the template, with stdin closed and the
//! expanding process's environment and working directory.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use super::error::{TemplateError, abbreviate};

/// A validated `{% %}` body.
#[derive(Clone, Debug)]
pub struct ShellCommand {
    /// The body with surrounding whitespace removed; every `@` is replaced by the args.
    body: String,
}

impl ShellCommand {
    /// Validates the body of `{% … %}`: it must contain something to run.
    pub fn parse(body: &str, pattern: &str, column: usize) -> Result<ShellCommand, TemplateError> {
        let body = body.trim();
        if body.is_empty() {
            return Err(TemplateError::EmptyCommand {
                pattern: abbreviate(pattern),
                column,
            });
        }
        Ok(ShellCommand {
            body: body.to_string(),
        })
    }

    /// Runs the command for `args` and returns its stdout without trailing whitespace.
    ///
    /// Only trailing whitespace is removed (HyperShell strips both ends): leading spaces can be
    /// meaningful, and the trailing newline is the only thing nearly every command adds. Output
    /// that is not UTF-8 is converted lossily, since it goes into a command line anyway.
    pub fn run(&self, args: &str, column: usize) -> Result<String, TemplateError> {
        let command = self.body.replace('@', args);
        tracing::debug!(command = %command, "running {{% %}} template command");
        let output = Command::new("/bin/bash")
            .arg("-o")
            .arg("pipefail")
            .arg("-c")
            .arg(&command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| TemplateError::CommandSpawn {
                command: abbreviate(&command),
                column,
                reason: e.to_string(),
            })?;
        if !output.status.success() {
            let code = output
                .status
                .code()
                .or_else(|| output.status.signal().map(|s| -s))
                .unwrap_or(-1);
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first_line = stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("");
            return Err(TemplateError::CommandFailed {
                command: abbreviate(&command),
                column,
                code,
                stderr: abbreviate(first_line),
            });
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        Ok(stdout.trim_end().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: &str, args: &str) -> Result<String, TemplateError> {
        ShellCommand::parse(body, body, 1)?.run(args, 1)
    }

    #[test]
    fn substitutes_every_at_and_strips_trailing_whitespace() {
        assert_eq!(run(" echo @-@ ", "a b"), Ok("a b-a b".into()));
        assert_eq!(run("printf '  x\\n\\n\\t'", ""), Ok("  x".into()));
        assert_eq!(run("basename @ .txt", "/d/f.txt"), Ok("f".into()));
    }

    #[test]
    fn pipefail_is_on() {
        let err = run("false | cat", "").expect_err("pipeline fails");
        assert!(
            matches!(err, TemplateError::CommandFailed { code: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn failures_name_the_command_code_and_stderr() {
        let err = run("echo boom >&2; echo more >&2; exit 3", "").expect_err("fails");
        assert_eq!(
            err.to_string(),
            "command `echo boom >&2; echo more >&2; exit 3` from {% %} at column 1 exited with \
             status 3: boom"
        );
        let err = run("kill -9 $$", "").expect_err("killed");
        assert!(err.to_string().contains("killed by signal 9"), "{err}");
    }

    #[test]
    fn empty_commands_are_rejected() {
        assert_eq!(
            ShellCommand::parse("  ", "{%  %}", 4).map(|_| ()),
            Err(TemplateError::EmptyCommand {
                pattern: "{%  %}".into(),
                column: 4
            })
        );
    }
}
