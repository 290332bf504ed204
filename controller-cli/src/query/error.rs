//! Why user text could not become a query, a tag, a change or a size.
//!
//! Each message is one line that quotes what the user typed (so it can be found among several
//! `-w` clauses) and says how to fix it.

/// A rejected where-clause, tag, update argument or size.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error(
        "where clause {clause:?} is not FIELD OP VALUE (e.g. \"exit_status != 0\"; OP is one of == != < <= > >= ~)"
    )]
    NotAClause { clause: String },

    #[error(
        "where clause {clause:?}: {op:?} is not an operator, use {suggest:?} (OP is one of == != < <= > >= ~)"
    )]
    BadOperator {
        clause: String,
        op: String,
        suggest: &'static str,
    },

    #[error("{context} {text:?}: unknown field {name:?} (see `hs list --fields`)")]
    UnknownField {
        context: &'static str,
        text: String,
        name: String,
    },

    #[error(
        "{context} {text:?}: missing a value after {after:?} (write null for a missing value, '' for empty text)"
    )]
    MissingValue {
        context: &'static str,
        text: String,
        after: String,
    },

    #[error("{context} {text:?}: {field} takes {expected}, not {value:?}")]
    BadValue {
        context: &'static str,
        text: String,
        field: &'static str,
        expected: &'static str,
        value: String,
    },

    #[error("where clause {clause:?}: null means \"missing\" and only works with == or !=")]
    NullOrdering { clause: String },

    #[error("where clause {clause:?}: invalid regular expression ({reason})")]
    BadPattern { clause: String, reason: String },

    #[error(
        "where clause {clause:?}: tags are not searched with -w, use -t/--with-tag KEY or KEY:VALUE"
    )]
    TagColumn { clause: String },

    #[error(
        "update argument {arg:?} looks like a where clause: filter with -w/--where (changes are FIELD=VALUE or KEY:VALUE)"
    )]
    ClauseAsChange { arg: String },

    #[error("update argument {arg:?}: expected FIELD=VALUE or TAGKEY:VALUE")]
    NotAChange { arg: String },

    #[error("update argument {arg:?}: a task's id cannot be changed")]
    ImmutableId { arg: String },

    #[error("update argument {arg:?}: set tags with KEY:VALUE (remove them with --remove-tag KEY)")]
    TagAsField { arg: String },

    #[error("update argument {arg:?}: {field} cannot be null")]
    NotNullable { arg: String, field: &'static str },

    #[error("tag {tag:?}: {reason}")]
    BadTag { tag: String, reason: String },

    #[error(
        "size {text:?} is not understood: write a number with an optional unit K, M, G or T (B optional, powers of 1024), e.g. 512M or 8GB"
    )]
    BadSize { text: String },

    #[error("size {text:?} is too large (at most 8 EiB)")]
    SizeTooLarge { text: String },
}
