//! Evaluating a parsed expression for one task's args.
//!
//! Evaluation is a plain tree walk. It terminates quickly on any input: there are no loops or
//! user-defined functions, the tree depth is bounded by the parser, and every built-in does
//! work linear in sizes capped by [`super::ops::MAX_STRING_BYTES`].

use super::ast::{Expr, Node, Var};
use super::ops;
use super::value::Value;
use crate::slice::{SliceSpec, resolve_index, valid_range};

/// What an expression can see.
pub struct Env<'a> {
    /// `x`: the coerced args.
    pub x: &'a Value,
    /// `args`: the raw args.
    pub args: &'a str,
}

pub fn eval(expr: &Expr, env: &Env<'_>) -> Result<Value, String> {
    match &expr.node {
        Node::Literal(v) => Ok(v.clone()),
        Node::Var(Var::X) => Ok(env.x.clone()),
        Node::Var(Var::Args) => Ok(Value::Str(env.args.to_string())),
        Node::Neg(e) => ops::negate(&eval(e, env)?),
        Node::Pos(e) => ops::plus(&eval(e, env)?),
        Node::Not(e) => Ok(Value::Bool(!eval(e, env)?.truthy())),
        Node::Binary(op, a, b) => ops::binary(*op, &eval(a, env)?, &eval(b, env)?),
        // `and`/`or` return an operand, not a bool, and short-circuit (`x or 'default'`).
        Node::And(a, b) => {
            let left = eval(a, env)?;
            if left.truthy() {
                eval(b, env)
            } else {
                Ok(left)
            }
        }
        Node::Or(a, b) => {
            let left = eval(a, env)?;
            if left.truthy() {
                Ok(left)
            } else {
                eval(b, env)
            }
        }
        Node::Compare(first, rest) => {
            let mut left = eval(first, env)?;
            for (cmp, e) in rest {
                let right = eval(e, env)?;
                if !ops::compare(*cmp, &left, &right)? {
                    return Ok(Value::Bool(false));
                }
                left = right;
            }
            Ok(Value::Bool(true))
        }
        Node::If {
            cond,
            then,
            otherwise,
        } => {
            if eval(cond, env)?.truthy() {
                eval(then, env)
            } else {
                eval(otherwise, env)
            }
        }
        Node::Index(target, index) => index_value(&eval(target, env)?, &eval(index, env)?),
        Node::Slice {
            target,
            start,
            stop,
            step,
        } => {
            let target = eval(target, env)?;
            let bound = |e: &Option<Box<Expr>>, what: &str| -> Result<Option<i64>, String> {
                match e {
                    None => Ok(None),
                    Some(e) => slice_bound(&eval(e, env)?, what),
                }
            };
            let spec = SliceSpec {
                start: bound(start, "start")?,
                stop: bound(stop, "stop")?,
                step: bound(step, "step")?.unwrap_or(1),
            };
            if spec.step == 0 {
                return Err(String::from("slice step cannot be zero"));
            }
            slice_value(&target, spec)
        }
        Node::Call(func, args) => {
            let values = args
                .iter()
                .map(|a| eval(a, env))
                .collect::<Result<Vec<_>, _>>()?;
            func.call(&values)
        }
    }
}

fn not_indexable(target: &Value) -> String {
    let hint = match target {
        Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Null => {
            "; the args were coerced to a number/bool/None, use args[…] or str(x)[…] for the text"
        }
        _ => "",
    };
    format!(
        "cannot index {}: only strings and lists can be indexed{hint}",
        target.describe()
    )
}

fn index_value(target: &Value, index: &Value) -> Result<Value, String> {
    let i = match index.as_num() {
        Some(super::value::Num::Int(i)) => i,
        _ => {
            return Err(format!(
                "an index must be an integer, not {}",
                index.describe()
            ));
        }
    };
    let out_of_range = |len: usize| {
        format!(
            "index {i} is out of range for {} of length {len} (valid: {})",
            target.describe(),
            valid_range(len)
        )
    };
    match target {
        Value::Str(s) => {
            let len = s.chars().count();
            let pos = resolve_index(i, len).ok_or_else(|| out_of_range(len))?;
            Ok(Value::Str(
                s.chars().nth(pos).map(String::from).unwrap_or_default(),
            ))
        }
        Value::List(items) => {
            let pos = resolve_index(i, items.len()).ok_or_else(|| out_of_range(items.len()))?;
            items
                .get(pos)
                .cloned()
                .ok_or_else(|| out_of_range(items.len()))
        }
        other => Err(not_indexable(other)),
    }
}

fn slice_bound(v: &Value, what: &str) -> Result<Option<i64>, String> {
    match v {
        Value::Null => Ok(None),
        other => match other.as_num() {
            Some(super::value::Num::Int(i)) => Ok(Some(i)),
            _ => Err(format!(
                "the slice {what} must be an integer or None, not {}",
                other.describe()
            )),
        },
    }
}

fn slice_value(target: &Value, spec: SliceSpec) -> Result<Value, String> {
    match target {
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            Ok(Value::Str(
                spec.positions(chars.len())
                    .filter_map(|p| chars.get(p))
                    .collect(),
            ))
        }
        Value::List(items) => Ok(Value::List(
            spec.positions(items.len())
                .filter_map(|p| items.get(p).cloned())
                .collect(),
        )),
        other => Err(not_indexable(other)),
    }
}
