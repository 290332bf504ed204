//! Operators with Python semantics, made total: every overflow, division by zero or type mismatch
//! is an `Err` with a message, never a panic or a silent wrap-around.

use std::cmp::Ordering;
use std::sync::OnceLock;

use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{Signed, Zero};

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
    if let Some(result) = super::datetime::binary(op, a, b) {
        return result;
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
        (Op::Percent, Value::Str(format), values) => {
            let text = super::printf::format(format, values)?;
            check_string_len(text.len())?;
            Ok(Value::Str(text))
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
        Value::Big(b) if b.is_negative() => 0,
        Value::Big(_) => i64::MAX,
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

/// Python 3.11 refuses to print an integer of more than this many digits
/// (`sys.int_info.default_max_str_digits`); hs refuses to build one, which also bounds the
/// time and memory big-integer arithmetic can take.
pub const MAX_INT_DIGITS: u32 = 4300;

/// Checks a big-integer result against [`MAX_INT_DIGITS`] and returns it as a value.
pub fn big_value(b: BigInt) -> Result<Value, String> {
    static LIMIT: OnceLock<BigInt> = OnceLock::new();
    let limit = LIMIT.get_or_init(|| BigInt::from(10).pow(MAX_INT_DIGITS));
    if b.magnitude() >= limit.magnitude() {
        return Err(too_many_digits());
    }
    Ok(Value::from_big(b))
}

fn too_many_digits() -> String {
    format!(
        "the integer would have more than {MAX_INT_DIGITS} digits, the most Python prints \
         (sys.int_info.default_max_str_digits); use floats, e.g. float(x)"
    )
}

fn arithmetic(op: Op, a: Num, b: Num) -> Result<Value, String> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => return int_arithmetic(op, x, y),
        (Num::Float(_), _) | (_, Num::Float(_)) => {}
        (x, y) if op != Op::Slash => return big_arithmetic(op, &to_big(x), &to_big(y)),
        _ => {}
    }
    let (x, y) = (a.to_f64()?, b.to_f64()?);
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

/// An integer operand as a big integer (floats never get here).
fn to_big(n: Num) -> BigInt {
    match n {
        Num::Int(i) => BigInt::from(i),
        Num::Big(b) => b.clone(),
        Num::Float(_) => BigInt::zero(),
    }
}

/// Integer arithmetic on 64 bits, moving to big integers when a result does not fit.
fn int_arithmetic(op: Op, x: i64, y: i64) -> Result<Value, String> {
    let checked = |r: Option<i64>| match r {
        Some(i) => Ok(Value::Int(i)),
        None => big_arithmetic(op, &BigInt::from(x), &BigInt::from(y)),
    };
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
            let Some(q) = x.checked_div(y) else {
                return big_arithmetic(op, &BigInt::from(x), &BigInt::from(y));
            };
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
    match result {
        Some(i) => Ok(Value::Int(i)),
        None => big_pow(&BigInt::from(x), &BigInt::from(y)),
    }
}

/// `+ - * // % **` on integers of any size (`/` goes through floats).
fn big_arithmetic(op: Op, x: &BigInt, y: &BigInt) -> Result<Value, String> {
    match op {
        Op::Plus => big_value(x + y),
        Op::Minus => big_value(x - y),
        Op::Star => {
            if x.bits() + y.bits() > u64::from(MAX_INT_DIGITS) * 4 {
                return Err(too_many_digits());
            }
            big_value(x * y)
        }
        Op::DoubleSlash if y.is_zero() => Err(String::from("integer division by zero")),
        Op::Percent if y.is_zero() => Err(String::from("integer modulo by zero")),
        Op::DoubleSlash => big_value(x.div_floor(y)),
        Op::Percent => big_value(x.mod_floor(y)),
        Op::DoubleStar => big_pow(x, y),
        _ => Err(format!("`{}` is not an arithmetic operator", op.symbol())),
    }
}

/// `x ** y` for big integers; the size is estimated before anything is computed.
fn big_pow(x: &BigInt, y: &BigInt) -> Result<Value, String> {
    if y.is_negative() {
        let (xf, yf) = (Num::Big(x).to_f64()?, Num::Big(y).to_f64()?);
        if xf == 0.0 {
            return Err(String::from(
                "0 cannot be raised to a negative power (division by zero)",
            ));
        }
        return float_pow(xf, yf).map(Value::Float);
    }
    if x.magnitude() <= &num_bigint::BigUint::from(1_u8) {
        let odd = y.is_odd();
        return Ok(Value::Int(match (x.is_negative(), x.is_zero()) {
            (_, true) if y.is_zero() => 1,
            (_, true) => 0,
            (true, _) if odd => -1,
            _ => 1,
        }));
    }
    // |x| >= 2, so the result has at least (bits(x) - 1) * y + 1 bits.
    let exponent = u32::try_from(y).map_err(|_| too_many_digits())?;
    if (x.bits() - 1).saturating_mul(u64::from(exponent)) > u64::from(MAX_INT_DIGITS) * 4 {
        return Err(too_many_digits());
    }
    big_value(x.pow(exponent))
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
        Some(Num::Int(i)) => Ok(i
            .checked_neg()
            .map_or_else(|| Value::from_big(-BigInt::from(i)), Value::Int)),
        Some(Num::Big(b)) => Ok(Value::from_big(-b)),
        Some(Num::Float(f)) => Ok(Value::Float(-f)),
        None => match v {
            Value::Delta(d) => {
                super::datetime::delta(-i128::from(super::datetime::micros(d))).map(Value::Delta)
            }
            _ => Err(format!("bad operand for unary `-`: {}", v.describe())),
        },
    }
}

/// Unary plus: numbers only (booleans become integers, as in Python).
pub fn plus(v: &Value) -> Result<Value, String> {
    match v.as_num() {
        Some(Num::Int(i)) => Ok(Value::Int(i)),
        Some(Num::Big(b)) => Ok(Value::Big(b.clone())),
        Some(Num::Float(f)) => Ok(Value::Float(f)),
        None => match v {
            Value::Delta(_) => Ok(v.clone()),
            _ => Err(format!("bad operand for unary `+`: {}", v.describe())),
        },
    }
}

/// `is`: values of one kind that are equal. For the singletons templates test (`None`, `True`,
/// `False`) this is Python's identity; `1 is True` is false, as in Python.
fn same(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b) && a.equals(b)
}

/// One comparison of a chain.
pub fn compare(cmp: Cmp, a: &Value, b: &Value) -> Result<bool, String> {
    let op = match cmp {
        Cmp::In => return contains(b, a),
        Cmp::NotIn => return contains(b, a).map(|found| !found),
        Cmp::Is => return Ok(same(a, b)),
        Cmp::IsNot => return Ok(!same(a, b)),
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

    /// Past 64 bits integers are big, as in Python; expected values are Python 3.11's.
    #[test]
    fn big_integer_arithmetic_matches_python() {
        let text = |op, a: i64, b: i64| binary(op, &int(a), &int(b)).map(|v| v.to_str());
        assert_eq!(
            text(Op::Plus, i64::MAX, 1),
            Ok("9223372036854775808".into())
        );
        assert_eq!(
            text(Op::Star, i64::MAX, 2),
            Ok("18446744073709551614".into())
        );
        assert_eq!(
            text(Op::DoubleSlash, i64::MIN, -1),
            Ok("9223372036854775808".into())
        );
        assert_eq!(
            text(Op::DoubleStar, 10, 19),
            Ok("10000000000000000000".into())
        );
        assert_eq!(
            negate(&int(i64::MIN)).map(|v| v.to_str()),
            Ok("9223372036854775808".into())
        );
        let big = |s: &str| Value::Big(s.parse().expect("big"));
        let x = big("123456789012345678901234567890");
        let run = |op, a: &Value, b: &Value| binary(op, a, b).map(|v| v.to_str());
        assert_eq!(
            run(Op::DoubleSlash, &x, &int(-7)),
            Ok("-17636684144620811271604938270".into())
        );
        assert_eq!(run(Op::Percent, &x, &int(-1000)), Ok("-110".into()));
        assert_eq!(run(Op::Minus, &x, &x), Ok("0".into()));
        assert_eq!(
            binary(Op::Minus, &x, &x),
            Ok(int(0)),
            "normalised back to 64 bits"
        );
        assert_eq!(
            run(Op::Slash, &x, &int(10)),
            Ok("1.2345678901234568e+28".into())
        );
        assert_eq!(
            run(Op::Plus, &x, &float(0.5)),
            Ok("1.2345678901234568e+29".into())
        );
        assert_eq!(
            run(Op::DoubleStar, &x, &int(-1)),
            Ok("8.1000000729e-30".into())
        );
        assert!(compare(Cmp::Op(Op::Gt), &x, &float(1e29)).expect("ordered"));
        assert!(compare(Cmp::Op(Op::Lt), &x, &float(f64::INFINITY)).expect("ordered"));
        assert!(compare(Cmp::Op(Op::Gt), &x, &int(i64::MAX)).expect("ordered"));
        assert!(
            compare(
                Cmp::Op(Op::Eq),
                &big("18446744073709551616"),
                &float(18446744073709551616.0)
            )
            .expect("eq")
        );
        assert_eq!(
            binary(Op::DoubleSlash, &x, &int(0)),
            Err("integer division by zero".into())
        );
        let huge = binary(Op::DoubleStar, &int(10), &int(400)).expect("big");
        assert_eq!(
            binary(Op::Plus, &huge, &float(1.0)),
            Err("int too large to convert to float".into())
        );
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
            binary(Op::DoubleStar, &int(2), &int(1 << 40))
                .expect_err("huge")
                .starts_with("the integer would have more than 4300 digits")
        );
        assert!(binary(Op::DoubleStar, &int(10), &int(4300)).is_err());
        assert!(binary(Op::DoubleStar, &int(10), &int(4299)).is_ok());
        assert!(binary(Op::DoubleStar, &int(0), &int(-1)).is_err());
        assert!(binary(Op::DoubleStar, &float(-8.0), &float(0.5)).is_err());
        assert!(binary(Op::DoubleStar, &float(10.0), &float(400.0)).is_err());

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
