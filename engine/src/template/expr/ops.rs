//! Operators with Python semantics, made total: every overflow, division by zero or type mismatch
//! is an `Err` with a message, never a panic or a silent wrap-around.

use std::cmp::Ordering;

use super::ast::Cmp;
use super::lexer::Op;
use super::value::{Num, Value};

/// Largest string (in bytes) an expression may build. Results end up on a command line, so
/// anything larger is a mistake, and the cap keeps `'a' * 10**9` from exhausting memory.
pub const MAX_STRING_BYTES: usize = 1 << 20;

/// Largest list an expression may build by concatenation or repetition.
pub const MAX_LIST_LEN: usize = 1 << 16;

pub fn check_string_len(bytes: usize) -> Result<(), String> {
    if bytes > MAX_STRING_BYTES {
        Err(format!(
            "the result would be {bytes} bytes long, more than the limit of {MAX_STRING_BYTES}"
        ))
    } else {
        Ok(())
    }
}

fn check_list_len(len: usize) -> Result<(), String> {
    if len > MAX_LIST_LEN {
        Err(format!(
            "the list would have {len} items, more than the limit of {MAX_LIST_LEN}"
        ))
    } else {
        Ok(())
    }
}

/// Applies an arithmetic operator.
pub fn binary(op: Op, a: &Value, b: &Value) -> Result<Value, String> {
    if let (Some(x), Some(y)) = (a.as_num(), b.as_num()) {
        return arithmetic(op, x, y);
    }
    match (op, a, b) {
        (Op::Plus, Value::Str(x), Value::Str(y)) => {
            check_string_len(x.len() + y.len())?;
            Ok(Value::Str(format!("{x}{y}")))
        }
        (Op::Plus, Value::List(x), Value::List(y)) => {
            check_list_len(x.len() + y.len())?;
            Ok(Value::List(x.iter().chain(y).cloned().collect()))
        }
        (Op::Star, Value::Str(_) | Value::List(_), _) => repeat(a, b),
        (Op::Star, _, Value::Str(_) | Value::List(_)) => repeat(b, a),
        _ => Err(type_error(op, a, b)),
    }
}

fn type_error(op: Op, a: &Value, b: &Value) -> String {
    let hint = match (a, b) {
        (Value::Str(_), _) | (_, Value::Str(_)) => {
            "; convert first, e.g. str(…) to join text or int(…)/float(…) for arithmetic"
        }
        (Value::Null, _) | (_, Value::Null) => "; the args were `null`/`none`",
        _ => "",
    };
    format!(
        "unsupported operand types for `{}`: {} and {}{hint}",
        op.symbol(),
        a.describe(),
        b.describe()
    )
}

/// `str * n` / `list * n`: Python repetition, empty for `n <= 0`.
fn repeat(seq: &Value, count: &Value) -> Result<Value, String> {
    let times = match count {
        Value::Int(n) => *n,
        Value::Bool(b) => i64::from(*b),
        other => {
            return Err(format!(
                "can only repeat {} by an integer, not {}",
                seq.type_name(),
                other.describe()
            ));
        }
    };
    let times = usize::try_from(times).unwrap_or(0);
    match seq {
        Value::Str(s) => {
            check_string_len(s.len().saturating_mul(times))?;
            Ok(Value::Str(s.repeat(times)))
        }
        Value::List(items) => {
            check_list_len(items.len().saturating_mul(times))?;
            Ok(Value::List(
                std::iter::repeat_n(items.iter(), times)
                    .flatten()
                    .cloned()
                    .collect(),
            ))
        }
        other => Err(format!("cannot repeat {}", other.describe())),
    }
}

fn overflow(a: i64, op: Op, b: i64) -> String {
    format!(
        "integer overflow: {a} {} {b} exceeds 64 bits (hs integers are 64-bit where Python's \
         are unbounded); use floats, e.g. float(x)",
        op.symbol()
    )
}

fn arithmetic(op: Op, a: Num, b: Num) -> Result<Value, String> {
    if let (Num::Int(x), Num::Int(y)) = (a, b) {
        return int_arithmetic(op, x, y);
    }
    let (x, y) = (a.as_f64(), b.as_f64());
    let result = match op {
        Op::Plus => x + y,
        Op::Minus => x - y,
        Op::Star => x * y,
        Op::Slash => {
            if y == 0.0 {
                return Err(String::from("float division by zero"));
            }
            x / y
        }
        Op::DoubleSlash => float_divmod(x, y)?.0,
        Op::Percent => float_divmod(x, y)?.1,
        Op::DoubleStar => return float_pow(x, y).map(Value::Float),
        _ => return Err(format!("`{}` is not an arithmetic operator", op.symbol())),
    };
    Ok(Value::Float(result))
}

fn int_arithmetic(op: Op, x: i64, y: i64) -> Result<Value, String> {
    let checked = |r: Option<i64>| r.map(Value::Int).ok_or_else(|| overflow(x, op, y));
    match op {
        Op::Plus => checked(x.checked_add(y)),
        Op::Minus => checked(x.checked_sub(y)),
        Op::Star => checked(x.checked_mul(y)),
        Op::Slash => {
            if y == 0 {
                Err(String::from("division by zero"))
            } else {
                Ok(Value::Float(x as f64 / y as f64))
            }
        }
        Op::DoubleSlash => {
            if y == 0 {
                return Err(String::from("integer division by zero"));
            }
            // Floor division: round the truncated quotient down when the signs differ.
            let q = x.checked_div(y).ok_or_else(|| overflow(x, op, y))?;
            let r = x.wrapping_rem(y);
            Ok(Value::Int(if r != 0 && ((r < 0) != (y < 0)) {
                q - 1
            } else {
                q
            }))
        }
        Op::Percent => {
            if y == 0 {
                return Err(String::from("integer modulo by zero"));
            }
            // The remainder takes the sign of the divisor (`-7 % 3 == 2`).
            let r = x.checked_rem(y).unwrap_or(0);
            Ok(Value::Int(if r != 0 && ((r < 0) != (y < 0)) {
                r + y
            } else {
                r
            }))
        }
        Op::DoubleStar => int_pow(x, y),
        _ => Err(format!("`{}` is not an arithmetic operator", op.symbol())),
    }
}

/// `x ** y` for integers: an integer for `y >= 0`, a float for negative exponents (as Python).
fn int_pow(x: i64, y: i64) -> Result<Value, String> {
    if y < 0 {
        if x == 0 {
            return Err(String::from(
                "0 cannot be raised to a negative power (division by zero)",
            ));
        }
        return float_pow(x as f64, y as f64).map(Value::Float);
    }
    let result = match (x, u32::try_from(y)) {
        (_, Ok(e)) => x.checked_pow(e),
        (0 | 1, Err(_)) => Some(x),
        (-1, Err(_)) => Some(if y % 2 == 0 { 1 } else { -1 }),
        _ => None,
    };
    result
        .map(Value::Int)
        .ok_or_else(|| overflow(x, Op::DoubleStar, y))
}

/// `x ** y` for floats, with Python's errors instead of NaN or a silent infinity.
pub fn float_pow(x: f64, y: f64) -> Result<f64, String> {
    if x == 0.0 && y < 0.0 {
        return Err(String::from(
            "0.0 cannot be raised to a negative power (division by zero)",
        ));
    }
    if x < 0.0 && y.is_finite() && y.fract() != 0.0 {
        return Err(format!(
            "{} cannot be raised to the fractional power {}: the result is not a real number",
            super::value::format_float(x),
            super::value::format_float(y)
        ));
    }
    let r = x.powf(y);
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return Err(String::from(
            "float overflow in `**`: the result is too large",
        ));
    }
    Ok(r)
}

/// Python's `divmod` for floats: the quotient is floored and the remainder has the divisor's
/// sign (CPython's `float_divmod`, including its rounding fix-ups).
fn float_divmod(x: f64, y: f64) -> Result<(f64, f64), String> {
    if y == 0.0 {
        return Err(String::from("float modulo or floor division by zero"));
    }
    let mut m = x % y;
    let mut div = (x - m) / y;
    if m != 0.0 {
        if (y < 0.0) != (m < 0.0) {
            m += y;
            div -= 1.0;
        }
    } else {
        m = 0.0_f64.copysign(y);
    }
    let floordiv = if div != 0.0 {
        let f = div.floor();
        if div - f > 0.5 { f + 1.0 } else { f }
    } else {
        0.0_f64.copysign(x / y)
    };
    Ok((floordiv, m))
}

/// Unary minus.
pub fn negate(v: &Value) -> Result<Value, String> {
    match v.as_num() {
        Some(Num::Int(i)) => i
            .checked_neg()
            .map(Value::Int)
            .ok_or_else(|| format!("integer overflow in -({i})")),
        Some(Num::Float(f)) => Ok(Value::Float(-f)),
        None => Err(format!("bad operand for unary `-`: {}", v.describe())),
    }
}

/// Unary plus: numbers only (booleans become integers, as in Python).
pub fn plus(v: &Value) -> Result<Value, String> {
    match v.as_num() {
        Some(Num::Int(i)) => Ok(Value::Int(i)),
        Some(Num::Float(f)) => Ok(Value::Float(f)),
        None => Err(format!("bad operand for unary `+`: {}", v.describe())),
    }
}

/// One comparison of a chain.
pub fn compare(cmp: Cmp, a: &Value, b: &Value) -> Result<bool, String> {
    let op = match cmp {
        Cmp::In => return contains(b, a),
        Cmp::NotIn => return contains(b, a).map(|found| !found),
        Cmp::Op(op) => op,
    };
    match op {
        Op::Eq => Ok(a.equals(b)),
        Op::Ne => Ok(!a.equals(b)),
        _ => {
            let ordering = a.compare(b, cmp.symbol())?;
            Ok(match ordering {
                None => false,
                Some(o) => match op {
                    Op::Lt => o == Ordering::Less,
                    Op::Le => o != Ordering::Greater,
                    Op::Gt => o == Ordering::Greater,
                    Op::Ge => o != Ordering::Less,
                    _ => false,
                },
            })
        }
    }
}

/// `needle in haystack`: substring for strings, element equality for lists.
fn contains(haystack: &Value, needle: &Value) -> Result<bool, String> {
    match (haystack, needle) {
        (Value::Str(h), Value::Str(n)) => Ok(h.contains(n.as_str())),
        (Value::Str(_), other) => Err(format!(
            "`in` on a string needs a string on the left, not {}; use str(…)",
            other.describe()
        )),
        (Value::List(items), n) => Ok(items.iter().any(|item| item.equals(n))),
        (other, _) => Err(format!(
            "`in` needs a string or list on the right, not {}",
            other.describe()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(i: i64) -> Value {
        Value::Int(i)
    }

    fn float(f: f64) -> Value {
        Value::Float(f)
    }

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    /// Expected values are Python 3.11's.
    #[test]
    fn integer_arithmetic_matches_python() {
        let cases = [
            (Op::Plus, 2, 3, int(5)),
            (Op::Minus, 2, 3, int(-1)),
            (Op::Star, -4, 3, int(-12)),
            (Op::Slash, 3, 2, float(1.5)),
            (Op::Slash, 6, 3, float(2.0)),
            (Op::DoubleSlash, 7, 2, int(3)),
            (Op::DoubleSlash, -7, 2, int(-4)),
            (Op::DoubleSlash, 7, -2, int(-4)),
            (Op::DoubleSlash, -7, -2, int(3)),
            (Op::Percent, 7, 3, int(1)),
            (Op::Percent, -7, 3, int(2)),
            (Op::Percent, 7, -3, int(-2)),
            (Op::Percent, -7, -3, int(-1)),
            (Op::Percent, i64::MIN, -1, int(0)),
            (Op::DoubleStar, 2, 10, int(1024)),
            (Op::DoubleStar, 2, -1, float(0.5)),
            (Op::DoubleStar, -1, 1 << 40, int(1)),
            (Op::DoubleStar, 0, 0, int(1)),
        ];
        for (op, a, b, expected) in cases {
            assert_eq!(
                binary(op, &int(a), &int(b)),
                Ok(expected),
                "{a} {} {b}",
                op.symbol()
            );
        }
    }

    #[test]
    fn float_arithmetic_matches_python() {
        let cases = [
            (Op::Plus, 1.5, 1.0, 2.5),
            (Op::DoubleSlash, 7.5, 2.0, 3.0),
            (Op::DoubleSlash, -7.5, 2.0, -4.0),
            (Op::Percent, -7.5, 2.0, 0.5),
            (Op::Percent, 7.5, -2.0, -0.5),
            (Op::DoubleStar, 4.0, 0.5, 2.0),
            (Op::Slash, 1.0, 4.0, 0.25),
        ];
        for (op, a, b, expected) in cases {
            assert_eq!(binary(op, &float(a), &float(b)), Ok(float(expected)));
        }
        assert_eq!(binary(Op::Plus, &int(1), &float(0.5)), Ok(float(1.5)));
        assert_eq!(binary(Op::Plus, &Value::Bool(true), &int(1)), Ok(int(2)));
        // -0.0 % 1.0 keeps Python's signed zero rules.
        assert_eq!(
            binary(Op::Percent, &float(6.0), &float(-3.0)),
            Ok(float(-0.0))
        );
    }

    #[test]
    fn arithmetic_errors_are_messages_not_panics() {
        assert_eq!(
            binary(Op::Slash, &int(1), &int(0)),
            Err("division by zero".into())
        );
        assert_eq!(
            binary(Op::DoubleSlash, &int(1), &int(0)),
            Err("integer division by zero".into())
        );
        assert_eq!(
            binary(Op::Percent, &int(1), &int(0)),
            Err("integer modulo by zero".into())
        );
        assert!(binary(Op::Slash, &float(1.0), &float(0.0)).is_err());
        assert!(binary(Op::Percent, &float(1.0), &int(0)).is_err());
        assert!(
            binary(Op::Plus, &int(i64::MAX), &int(1))
                .expect_err("overflow")
                .starts_with("integer overflow: 9223372036854775807 + 1 exceeds 64 bits")
        );
        assert!(binary(Op::Star, &int(i64::MAX), &int(2)).is_err());
        assert!(binary(Op::DoubleSlash, &int(i64::MIN), &int(-1)).is_err());
        assert!(binary(Op::DoubleStar, &int(10), &int(19)).is_err());
        assert!(binary(Op::DoubleStar, &int(2), &int(1 << 40)).is_err());
        assert!(binary(Op::DoubleStar, &int(0), &int(-1)).is_err());
        assert!(binary(Op::DoubleStar, &float(-8.0), &float(0.5)).is_err());
        assert!(binary(Op::DoubleStar, &float(10.0), &float(400.0)).is_err());
        assert!(negate(&int(i64::MIN)).is_err());
        assert_eq!(
            binary(Op::Plus, &s("a"), &int(1)),
            Err(
                "unsupported operand types for `+`: str 'a' and int 1; convert first, e.g. \
                 str(…) to join text or int(…)/float(…) for arithmetic"
                    .into()
            )
        );
        assert!(binary(Op::Minus, &s("a"), &s("b")).is_err());
        assert!(
            binary(Op::Plus, &Value::Null, &int(1))
                .expect_err("null")
                .contains("null")
        );
    }

    #[test]
    fn strings_and_lists_concatenate_and_repeat() {
        assert_eq!(binary(Op::Plus, &s("ab"), &s("cd")), Ok(s("abcd")));
        assert_eq!(binary(Op::Star, &s("ab"), &int(3)), Ok(s("ababab")));
        assert_eq!(binary(Op::Star, &int(2), &s("ab")), Ok(s("abab")));
        assert_eq!(binary(Op::Star, &s("ab"), &int(-1)), Ok(s("")));
        assert!(binary(Op::Star, &s("ab"), &float(2.0)).is_err());
        assert!(
            binary(Op::Star, &s("ab"), &int(1 << 40))
                .expect_err("huge")
                .contains("limit")
        );
        let list = Value::List(vec![s("a")]);
        assert_eq!(
            binary(Op::Plus, &list, &list),
            Ok(Value::List(vec![s("a"), s("a")]))
        );
        assert_eq!(
            binary(Op::Star, &list, &int(2)),
            Ok(Value::List(vec![s("a"), s("a")]))
        );
        assert!(binary(Op::Star, &list, &int(i64::MAX)).is_err());
    }

    #[test]
    fn comparisons_follow_python() {
        let cmp = |op, a: &Value, b: &Value| compare(Cmp::Op(op), a, b);
        assert_eq!(cmp(Op::Lt, &int(1), &float(1.5)), Ok(true));
        assert_eq!(cmp(Op::Eq, &int(1), &float(1.0)), Ok(true));
        assert_eq!(cmp(Op::Eq, &s("1"), &int(1)), Ok(false));
        assert_eq!(cmp(Op::Ne, &Value::Null, &int(0)), Ok(true));
        assert_eq!(cmp(Op::Le, &s("abc"), &s("abd")), Ok(true));
        assert_eq!(cmp(Op::Ge, &float(f64::NAN), &int(0)), Ok(false));
        assert!(cmp(Op::Lt, &s("a"), &int(1)).is_err());
        assert_eq!(compare(Cmp::In, &s("b"), &s("abc")), Ok(true));
        assert_eq!(compare(Cmp::NotIn, &s("z"), &s("abc")), Ok(true));
        assert_eq!(
            compare(Cmp::In, &int(1), &Value::List(vec![float(1.0)])),
            Ok(true)
        );
        assert!(compare(Cmp::In, &int(1), &s("1")).is_err());
        assert!(compare(Cmp::In, &int(1), &int(1)).is_err());
    }
}
