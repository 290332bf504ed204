//! `{% cmd %}`: substituting the output of a shell command run while the template expands.
//!
//! HyperShell runs `subprocess.check_output(cmd.replace('@', args), shell=True)`: the args are
//! pasted into the shell code, so an input line holding a quote (`x'; touch pwned; echo '`)
//! breaks out of the `'@'` its own docs recommend and runs as code. hs never puts the args into
//! the code. The command runs with the args in the environment variable [`ARGS_VAR`], and every
//! `@` becomes a reference to it that suits the quoting it stands in ([`rewrite`]):
//!
//! | written | becomes | the command receives |
//! |---|---|---|
//! | `'@'`, `'pre-@.txt'` | `''"${HS_TEMPLATE_ARGS}"''` | the args as one literal word |
//! | `"@"`, `"pre-@.txt"` | `"${HS_TEMPLATE_ARGS}"` | the args as one literal word |
//! | `$'@'` | `$''"${HS_TEMPLATE_ARGS}"$''` | the args as one literal word |
//! | bare `@` | `${HS_TEMPLATE_ARGS}` | the args split into words (and globs expanded), like an unquoted `$var` |
//! | `\@` outside single quotes | `@` | a literal `@` |
//!
//! Whatever the args hold, bash only ever sees them as the value of a variable, which it never
//! parses as code: quotes, `;`, `$(…)` and newlines in an input line are just text.
//!
//! Running the command is the caller's business ([`CommandRunner`]): the engine runs it through
//! its executor, under the task's walltime and stop signal, with bounded output.

use std::time::Duration;

use super::error::{TemplateError, abbreviate};

/// The environment variable that holds the args while a `{% %}` command runs.
pub const ARGS_VAR: &str = "HS_TEMPLATE_ARGS";

/// Runs the shell command of a `{% %}` pattern.
pub trait CommandRunner {
    /// Runs `script` with `/bin/bash -o pipefail -c`, with `args` in the environment variable
    /// [`ARGS_VAR`], and returns its standard output.
    fn run(&self, script: &str, args: &str) -> Result<Vec<u8>, CommandFailure>;
}

/// Why a `{% %}` command gave no output to substitute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandFailure {
    /// It could not be started; the text says why.
    Spawn(String),
    /// It exited with a non-zero status; `stderr` is its first non-empty line of stderr.
    Exited { code: i32, stderr: String },
    /// It died from a signal nobody in hs sent.
    Killed { signal: i32, stderr: String },
    /// The walltime ran out (the task's, or the submitting side's bound).
    TimedOut(Duration),
    /// Its stdout or stderr went over `limit` bytes.
    OutputLimit { limit: usize },
    /// It was stopped because the task was cancelled or the engine is stopping.
    Stopped(&'static str),
}

/// A validated `{% %}` body.
#[derive(Clone, Debug)]
pub struct ShellCommand {
    /// The body as written, surrounding whitespace removed (for messages).
    body: String,
    /// The body with every `@` replaced by a reference to [`ARGS_VAR`].
    script: String,
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
            script: rewrite(body),
            body: body.to_string(),
        })
    }

    /// Runs the command for `args` and returns its stdout without trailing whitespace.
    ///
    /// Only trailing whitespace is removed (HyperShell strips both ends): leading spaces can be
    /// meaningful, and the trailing newline is the only thing nearly every command adds. Output
    /// that is not UTF-8 is converted lossily, since it goes into a command line anyway.
    pub fn run(
        &self,
        args: &str,
        column: usize,
        runner: &dyn CommandRunner,
    ) -> Result<String, TemplateError> {
        tracing::debug!(command = %self.body, "running {{% %}} template command");
        let command = abbreviate(&self.body);
        match runner.run(&self.script, args) {
            Ok(stdout) => Ok(String::from_utf8_lossy(&stdout).trim_end().to_string()),
            Err(CommandFailure::Spawn(reason)) => Err(TemplateError::CommandSpawn {
                command,
                column,
                reason,
            }),
            Err(CommandFailure::Exited { code, stderr }) => Err(TemplateError::CommandFailed {
                command,
                column,
                code,
                stderr: abbreviate(&stderr),
            }),
            Err(CommandFailure::Killed { signal, stderr }) => Err(TemplateError::CommandFailed {
                command,
                column,
                code: -signal,
                stderr: abbreviate(&stderr),
            }),
            Err(CommandFailure::TimedOut(walltime)) => Err(TemplateError::CommandStopped {
                command,
                column,
                reason: format!(
                    "did not finish within the walltime of {:.1}s and was stopped",
                    walltime.as_secs_f64()
                ),
            }),
            Err(CommandFailure::OutputLimit { limit }) => Err(TemplateError::CommandStopped {
                command,
                column,
                reason: format!(
                    "wrote more than {} of output and was stopped",
                    describe_bytes(limit)
                ),
            }),
            Err(CommandFailure::Stopped(why)) => Err(TemplateError::CommandStopped {
                command,
                column,
                reason: format!("was stopped: {why}"),
            }),
        }
    }
}

fn describe_bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// Where in bash's quoting a character of the command stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quoting {
    /// Outside quotes (at the top, or inside `$( … )` / backquotes).
    Bare,
    /// Inside `'…'`.
    Single,
    /// Inside `$'…'`.
    AnsiC,
    /// Inside `"…"`.
    Double,
}

/// One open construct; the bottom of the stack is the command itself.
#[derive(Clone, Copy, Debug)]
enum Open {
    Quote(Quoting),
    /// `$(`: unquoted again inside, until the matching `)`; `depth` counts nested `(`.
    Substitution {
        depth: usize,
    },
    /// `` ` ``: unquoted again inside, until the next backquote.
    Backquote,
}

/// Replaces every `@` in `body` by a reference to [`ARGS_VAR`] that fits the quoting around it
/// (see the module docs). Follows bash's quoting closely enough for commands written on one
/// line: quotes, `\` escapes, `$'…'`, and `$( … )` and backquotes nested inside double quotes.
/// Where it misjudges (a heredoc, say) the result may be wrong, but never unsafe: the args are
/// not in the returned text, only the variable's name.
fn rewrite(body: &str) -> String {
    let reference = format!("${{{ARGS_VAR}}}");
    let mut out = String::with_capacity(body.len() + 16);
    let mut stack: Vec<Open> = Vec::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        let quoting = match stack.last() {
            Some(Open::Quote(q)) => *q,
            _ => Quoting::Bare,
        };
        match (quoting, c) {
            (Quoting::Single, '\'') | (Quoting::AnsiC, '\'') | (Quoting::Double, '"') => {
                stack.pop();
                out.push(c);
            }
            (Quoting::Single, '@') => {
                out.push('\'');
                out.push('"');
                out.push_str(&reference);
                out.push('"');
                out.push('\'');
            }
            (Quoting::AnsiC, '@') => {
                out.push('\'');
                out.push('"');
                out.push_str(&reference);
                out.push('"');
                out.push_str("$'");
            }
            (Quoting::Single, _) => out.push(c),
            (Quoting::AnsiC, '\\') => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            }
            (Quoting::AnsiC, _) => out.push(c),
            (Quoting::Bare | Quoting::Double, '\\') => match chars.next() {
                Some('@') => out.push('@'),
                Some(next) => {
                    out.push(c);
                    out.push(next);
                }
                None => out.push(c),
            },
            (Quoting::Bare | Quoting::Double, '@') => out.push_str(&reference),
            (Quoting::Bare | Quoting::Double, '$') if chars.peek() == Some(&'(') => {
                chars.next();
                out.push_str("$(");
                stack.push(Open::Substitution { depth: 0 });
            }
            (Quoting::Bare, '$') if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push_str("$'");
                stack.push(Open::Quote(Quoting::AnsiC));
            }
            (Quoting::Bare | Quoting::Double, '`') => {
                if matches!(stack.last(), Some(Open::Backquote)) {
                    stack.pop();
                } else {
                    stack.push(Open::Backquote);
                }
                out.push(c);
            }
            (Quoting::Bare, '\'') => {
                stack.push(Open::Quote(Quoting::Single));
                out.push(c);
            }
            (Quoting::Bare, '"') => {
                stack.push(Open::Quote(Quoting::Double));
                out.push(c);
            }
            (Quoting::Bare, '(') => {
                if let Some(Open::Substitution { depth }) = stack.last_mut() {
                    *depth += 1;
                }
                out.push(c);
            }
            (Quoting::Bare, ')') => {
                match stack.last_mut() {
                    Some(Open::Substitution { depth: 0 }) => {
                        stack.pop();
                    }
                    Some(Open::Substitution { depth }) => *depth -= 1,
                    _ => {}
                }
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "${HS_TEMPLATE_ARGS}";

    #[test]
    fn each_quoting_gets_a_reference_that_fits_it() {
        assert_eq!(rewrite("basename @"), format!("basename {R}"));
        assert_eq!(rewrite("basename '@'"), format!("basename ''\"{R}\"''"));
        assert_eq!(rewrite("echo 'a-@.txt'"), format!("echo 'a-'\"{R}\"'.txt'"));
        assert_eq!(rewrite("echo \"a-@.txt\""), format!("echo \"a-{R}.txt\""));
        assert_eq!(rewrite("echo $'@\\n'"), format!("echo $''\"{R}\"$'\\n'"));
        assert_eq!(rewrite("echo @@"), format!("echo {R}{R}"));
    }

    #[test]
    fn escaped_at_is_literal_except_in_single_quotes() {
        assert_eq!(
            rewrite("ssh me\\@host cat @"),
            format!("ssh me@host cat {R}")
        );
        assert_eq!(rewrite("echo \"\\@\""), "echo \"@\"");
        assert_eq!(rewrite("echo \"\\\"@\""), format!("echo \"\\\"{R}\""));
        assert_eq!(rewrite("echo '\\' @"), format!("echo '\\' {R}"));
    }

    #[test]
    fn quotes_nest_inside_substitutions() {
        assert_eq!(
            rewrite("echo \"$(basename '@')\""),
            format!("echo \"$(basename ''\"{R}\"'')\"")
        );
        assert_eq!(
            rewrite("echo \"$( (echo '@') )\" '@'"),
            format!("echo \"$( (echo ''\"{R}\"'') )\" ''\"{R}\"''")
        );
        assert_eq!(
            rewrite("echo \"`echo '@'`\""),
            format!("echo \"`echo ''\"{R}\"''`\"")
        );
        // A `'` inside double quotes is just a character.
        assert_eq!(rewrite("echo \"it's @\""), format!("echo \"it's {R}\""));
    }

    #[test]
    fn the_args_never_reach_the_script() {
        let command = ShellCommand::parse(" basename '@' ", "{% basename '@' %}", 1).expect("ok");
        assert!(!command.script.contains('@'));
        assert_eq!(command.body, "basename '@'");
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

    #[test]
    fn sizes_are_named_in_binary_units() {
        assert_eq!(describe_bytes(1 << 20), "1 MiB");
        assert_eq!(describe_bytes(64 << 10), "64 KiB");
        assert_eq!(describe_bytes(100), "100 bytes");
    }
}
