//! The shortcut filters of `hs list` / `hs update`, as the conditions HyperShell expands them to.
//!
//! SQL comparisons never match NULL, so `failed()` (`exit_status != 0`) already leaves out the
//! tasks that have not finished; it does include cancelled (-1) and other sentinel statuses,
//! as HyperShell's `--failed` does.

use hs_broker::store::{Condition, Field, Op, Value};

fn condition(field: Field, op: Op, value: Value) -> Condition {
    Condition { field, op, value }
}

/// `-F, --failed`: `exit_status != 0`.
pub fn failed() -> Condition {
    condition(Field::ExitStatus, Op::Ne, Value::Int(0))
}

/// `-S, --succeeded`: `exit_status == 0`.
pub fn succeeded() -> Condition {
    condition(Field::ExitStatus, Op::Eq, Value::Int(0))
}

/// `-C, --completed` / `--finished`: `exit_status != null`.
pub fn completed() -> Condition {
    condition(Field::ExitStatus, Op::Ne, Value::Null)
}

/// `-R, --remaining`: `exit_status == null`.
pub fn remaining() -> Condition {
    condition(Field::ExitStatus, Op::Eq, Value::Null)
}

/// `--retries`: `attempt > 1`.
pub fn retries() -> Condition {
    condition(Field::Attempt, Op::Gt, Value::Int(1))
}

/// `-g N`: `group == N`.
pub fn group(n: i64) -> Condition {
    condition(Field::Group, Op::Eq, Value::Int(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse_where;

    #[test]
    fn aliases_equal_their_documented_clauses() {
        assert_eq!(failed(), parse_where("exit_status != 0").unwrap());
        assert_eq!(succeeded(), parse_where("exit_status == 0").unwrap());
        assert_eq!(completed(), parse_where("exit_status != null").unwrap());
        assert_eq!(remaining(), parse_where("exit_status == null").unwrap());
        assert_eq!(retries(), parse_where("attempt > 1").unwrap());
        assert_eq!(group(-3), parse_where("group == -3").unwrap());
    }
}
