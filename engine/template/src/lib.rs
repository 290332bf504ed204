//! # hs-template: turning a `-t` template and one task's args into the command to run
//!
//! A [`Template`] is parsed once (every pattern is validated up front, so a typo fails the
//! command line instead of every task) and expanded per task on the engine's hot path. The
//! patterns are HyperShell's (docs/templates.md is the user reference):
//!
//! | pattern | expands to, for args `/x/y/file.tar.gz` |
//! |---|---|
//! | `{}` | the args verbatim |
//! | `{.}` / `{..}` | dirname / dirname of dirname: `/x/y` / `/x` |
//! | `{/}` / `{/-}` | basename / basename without last extension: `file.tar.gz` / `file.tar` |
//! | `{-}` | path without last extension: `/x/y/file.tar` |
//! | `{+}` / `{++}` | last extension with / without dot: `.gz` / `gz` |
//! | `{[i]}`, `{[a:b:c]}` | Python indexing/slicing of the whitespace-separated fields |
//! | `{% cmd @ %}` | stdout of `bash -o pipefail -c cmd`, `@` standing for the args (see [`shell`]) |
//! | `{= expr =}` | an expression over `x` (see [`expr`]) |
//!
//! Unlike HyperShell, a brace that is not a pattern stays literal (see [`scan`]), so shell code
//! such as `${HOME}` or `awk '{print $1}'` can be used in templates.
//!
//! Layout: [`scan`] finds patterns, [`path`] and [`slice`] implement the simple ones, [`shell`]
//! prepares `{% %}` and hands it to the caller's [`CommandRunner`] (the engine's executor: this
//! crate runs no process itself), [`expr`] is the expression language, [`error`] holds the
//! error type.

mod error;
mod expr;
mod fields;
mod path;
mod scan;
mod shell;
mod slice;
#[cfg(test)]
mod tests;

pub use error::TemplateError;
pub use shell::{ARGS_VAR, CommandFailure, CommandRunner};

use error::{abbreviate, one_line};
use expr::{Expression, Value};
use scan::{Kind, Piece, Simple};
use shell::ShellCommand;
use slice::{Selector, SliceSpec};

/// Where named fields get their values: the value of `{name}`, if there is one.
pub type FieldValues<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A parsed template, expanded once per task. Cheap to clone and share between threads.
#[derive(Clone, Debug)]
pub struct Template {
    source: String,
    body: Body,
}

/// How expansion works, decided at parse time so that the common cases cost nothing.
#[derive(Clone, Debug)]
enum Body {
    /// No patterns at all: the template is the command and the args are ignored (HyperShell
    /// does the same).
    Verbatim,
    /// Exactly `{}` (or `{ }`): the command is the args.
    Identity,
    /// Anything else.
    Segments(Vec<Segment>),
}

#[derive(Clone, Debug)]
enum Segment {
    Literal(String),
    Pattern(PatternAt),
}

/// A validated pattern and where it came from, for error messages.
#[derive(Clone, Debug)]
struct PatternAt {
    pattern: Pattern,
    /// The pattern as written (shortened if long).
    text: String,
    /// 1-based column of its opening brace.
    column: usize,
}

#[derive(Clone, Debug)]
enum Pattern {
    Simple(Simple),
    Index(i64),
    Slice(SliceSpec),
    Command(ShellCommand),
    Expression(Expression),
}

impl Template {
    /// Parses and validates a template: slices, expressions (syntax, function names and
    /// argument counts) and the termination of `{= =}` / `{% %}` are all checked here.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let pieces = scan::scan(text)?;
        let body = match pieces.as_slice() {
            [Piece::Pattern(found)] if found.kind == Kind::Simple(Simple::Args) => Body::Identity,
            _ if pieces.iter().all(|p| matches!(p, Piece::Literal(_))) => Body::Verbatim,
            _ => Body::Segments(
                pieces
                    .iter()
                    .map(|piece| match piece {
                        Piece::Literal(l) => Ok(Segment::Literal((*l).to_string())),
                        Piece::Pattern(found) => validate(found).map(Segment::Pattern),
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Template {
            source: text.to_string(),
            body,
        })
    }

    /// Expands the template for one task's args; `shell` runs its `{% %}` commands.
    ///
    /// Fails only for `{[i]}` out of range, a failing `{% %}` command, or an `{= =}` expression
    /// that fails for these args (division by zero, wrong types, …).
    pub fn expand(&self, args: &str, shell: &dyn CommandRunner) -> Result<String, TemplateError> {
        self.expand_inner(args, shell, None)
    }

    /// Expands like [`expand`](Self::expand), and fills the named fields `{name}` of the
    /// template's literal text from `value` (`--from-json`). Each value is inserted once, as
    /// text: nothing in a value (or in the args, or in a command's output) is scanned again.
    pub fn expand_with_fields(
        &self,
        args: &str,
        shell: &dyn CommandRunner,
        value: FieldValues<'_>,
    ) -> Result<String, TemplateError> {
        self.expand_inner(args, shell, Some(value))
    }

    /// The named fields `{name}` of the template's literal text, each once, in order of first
    /// appearance.
    pub fn field_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let mut add = |_, name: &str| {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        };
        match &self.body {
            Body::Verbatim => fields::for_each(&self.source, &mut add),
            Body::Identity => {}
            Body::Segments(segments) => {
                for segment in segments {
                    if let Segment::Literal(text) = segment {
                        fields::for_each(text, &mut add);
                    }
                }
            }
        }
        names
    }

    fn expand_inner(
        &self,
        args: &str,
        shell: &dyn CommandRunner,
        value: Option<FieldValues<'_>>,
    ) -> Result<String, TemplateError> {
        let literal = |text: &str, out: &mut String| match value {
            Some(value) => fields::fill(text, value, out),
            None => out.push_str(text),
        };
        let segments = match &self.body {
            Body::Verbatim => {
                let mut out = String::with_capacity(self.source.len());
                literal(&self.source, &mut out);
                return Ok(out);
            }
            Body::Identity => return Ok(args.to_string()),
            Body::Segments(segments) => segments,
        };
        let mut out = String::with_capacity(self.source.len() + args.len());
        // Computed on first use only: most templates need neither.
        let mut fields: Option<Vec<&str>> = None;
        let mut coerced: Option<Value> = None;
        for segment in segments {
            let at = match segment {
                Segment::Literal(l) => {
                    literal(l, &mut out);
                    continue;
                }
                Segment::Pattern(at) => at,
            };
            match &at.pattern {
                Pattern::Simple(simple) => out.push_str(expand_simple(*simple, args)),
                Pattern::Index(index) => {
                    let fields = fields.get_or_insert_with(|| args.split_whitespace().collect());
                    let pos = slice::resolve_index(*index, fields.len()).ok_or_else(|| {
                        TemplateError::IndexOutOfRange {
                            pattern: at.text.clone(),
                            column: at.column,
                            index: *index,
                            len: fields.len(),
                            valid: slice::valid_range(fields.len()),
                        }
                    })?;
                    out.push_str(fields.get(pos).copied().unwrap_or_default());
                }
                Pattern::Slice(spec) => {
                    let fields = fields.get_or_insert_with(|| args.split_whitespace().collect());
                    for (n, pos) in spec.positions(fields.len()).enumerate() {
                        if n > 0 {
                            out.push(' ');
                        }
                        out.push_str(fields.get(pos).copied().unwrap_or_default());
                    }
                }
                Pattern::Command(command) => {
                    out.push_str(&command.run(args, at.column, shell)?);
                }
                Pattern::Expression(expression) => {
                    let x = coerced.get_or_insert_with(|| Value::coerce(args));
                    let value = expression.eval(x, args).map_err(|message| {
                        TemplateError::ExpressionEval {
                            pattern: at.text.clone(),
                            column: at.column,
                            args: expr::repr_args(args),
                            message: one_line(&message),
                        }
                    })?;
                    out.push_str(&value);
                }
            }
        }
        Ok(out)
    }

    /// Whether the template has `{% %}` commands, which need a [`CommandRunner`] that can run
    /// them.
    pub fn has_commands(&self) -> bool {
        match &self.body {
            Body::Segments(segments) => segments.iter().any(|s| {
                matches!(
                    s,
                    Segment::Pattern(PatternAt {
                        pattern: Pattern::Command(_),
                        ..
                    })
                )
            }),
            Body::Verbatim | Body::Identity => false,
        }
    }

    /// The template text as given to [`Template::parse`].
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Turns a scanned pattern into a validated one.
fn validate(found: &scan::Found<'_>) -> Result<PatternAt, TemplateError> {
    let text = abbreviate(found.text);
    let column = found.column;
    let pattern = match found.kind {
        Kind::Simple(simple) => Pattern::Simple(simple),
        Kind::Slice(inner) => match slice::parse(inner) {
            Ok(Selector::Index(i)) => Pattern::Index(i),
            Ok(Selector::Slice(spec)) => Pattern::Slice(spec),
            Err(reason) => {
                return Err(TemplateError::InvalidSlice {
                    pattern: text,
                    column,
                    reason: one_line(&reason),
                });
            }
        },
        Kind::Command(body) => Pattern::Command(ShellCommand::parse(body, found.text, column)?),
        // The body starts two characters after the brace (`{=`).
        Kind::Expression(body) => match Expression::parse(body, column + 2) {
            Ok(expression) => Pattern::Expression(expression),
            Err(message) => {
                return Err(TemplateError::ExpressionSyntax {
                    pattern: text,
                    column,
                    message: one_line(&message),
                });
            }
        },
    };
    Ok(PatternAt {
        pattern,
        text,
        column,
    })
}

fn expand_simple(simple: Simple, args: &str) -> &str {
    match simple {
        Simple::Args => args,
        Simple::Dirname => path::dirname(args),
        Simple::Dirname2 => path::dirname(path::dirname(args)),
        Simple::Basename => path::basename(args),
        Simple::Stem => path::stem(args),
        Simple::WithoutExt => path::without_ext(args),
        Simple::ExtWithDot => path::ext_with_dot(args),
        Simple::ExtWithoutDot => path::ext_without_dot(args),
    }
}
