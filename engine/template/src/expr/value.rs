//! Values of the expression language, how args become a value, and how values print.
//!
//! The output of `{= =}` must read like HyperShell's `str(eval(...))`, so printing follows
//! Python's `str()`: `6`, `1.5`, `6.0`, `1e+20`, `True`, `None`, `['a', 'b']`,
//! `2024-05-01 12:00:00`.

use std::cmp::Ordering;
use std::fmt::Write as _;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use num_bigint::BigInt;
use num_traits::{FromPrimitive, ToPrimitive};

use super::datetime;
use crate::error::abbreviate;

/// One value. Lists only come from `split()` (and slicing or concatenating lists).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// An integer outside the `i64` range (Python's integers are unbounded). Always built with
    /// [`Value::from_big`], so a value that fits is an `Int` and `i64` stays the fast path.
    Big(BigInt),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    /// `datetime.date` (from the `dt` global).
    Date(NaiveDate),
    /// A naive `datetime.datetime`, to the microsecond.
    DateTime(NaiveDateTime),
    /// `datetime.timedelta`, a whole number of microseconds.
    Delta(TimeDelta),
}

/// A number view of a value: booleans count as 0 and 1, as in Python.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num<'a> {
    Int(i64),
    Big(&'a BigInt),
    Float(f64),
}

impl Num<'_> {
    /// The value as a float; Python's `OverflowError` for an integer beyond the float range.
    pub fn to_f64(self) -> Result<f64, String> {
        match self {
            Num::Int(i) => Ok(i as f64),
            Num::Float(f) => Ok(f),
            Num::Big(b) => b
                .to_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| String::from("int too large to convert to float")),
        }
    }
}

impl Value {
    /// HyperShell's `smart_coerce` of the args: `null`/`none` (any case) → null, `true`/`false`
    /// (any case) → bool, then a decimal integer (of any size), then a float (including
    /// `inf`/`nan`, like Python's `float()`), else the args unchanged as a string. Surrounding
    /// whitespace is ignored for the non-string cases.
    pub fn coerce(args: &str) -> Value {
        let trimmed = args.trim();
        if trimmed.eq_ignore_ascii_case("null") || trimmed.eq_ignore_ascii_case("none") {
            return Value::Null;
        }
        if trimmed.eq_ignore_ascii_case("true") {
            return Value::Bool(true);
        }
        if trimmed.eq_ignore_ascii_case("false") {
            return Value::Bool(false);
        }
        if let Ok(i) = trimmed.parse::<i64>() {
            return Value::Int(i);
        }
        // Python's int() refuses more than 4300 digits, and the parse is quadratic; such args
        // fall through to a float, as smart_coerce's do.
        if trimmed.len() <= super::ops::MAX_INT_DIGITS as usize + 1
            && let Ok(big) = trimmed.parse::<BigInt>()
        {
            return Value::Big(big);
        }
        if let Ok(f) = trimmed.parse::<f64>() {
            return Value::Float(f);
        }
        Value::Str(args.to_string())
    }

    /// An integer of any size: `Int` when it fits in 64 bits, else `Big`.
    pub fn from_big(big: BigInt) -> Value {
        match big.to_i64() {
            Some(i) => Value::Int(i),
            None => Value::Big(big),
        }
    }

    /// The type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::Big(_) => "int",
            Value::Date(_) => "datetime.date",
            Value::DateTime(_) => "datetime.datetime",
            Value::Delta(_) => "datetime.timedelta",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::List(_) => "list",
        }
    }

    /// `int 3`, `str 'abc'`, `None`: a value as quoted in error messages (shortened if long).
    pub fn describe(&self) -> String {
        match self {
            Value::Null => String::from("None"),
            other => format!("{} {}", other.type_name(), abbreviate(&other.repr())),
        }
    }

    pub fn as_num(&self) -> Option<Num<'_>> {
        match self {
            Value::Bool(b) => Some(Num::Int(i64::from(*b))),
            Value::Int(i) => Some(Num::Int(*i)),
            Value::Big(b) => Some(Num::Big(b)),
            Value::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }

    /// Python truthiness: null, false, zero, a zero timedelta, empty string and empty list are
    /// false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Big(_) | Value::Date(_) | Value::DateTime(_) => true,
            Value::Delta(d) => !d.is_zero(),
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
        }
    }

    /// Python's `str()`.
    pub fn to_str(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Date(d) => datetime::date_str(d),
            Value::DateTime(d) => datetime::datetime_str(d, ' '),
            Value::Delta(d) => datetime::delta_str(d),
            other => other.repr(),
        }
    }

    /// Python's `repr()` (the same as `str()` except that strings are quoted).
    pub fn repr(&self) -> String {
        match self {
            Value::Null => String::from("None"),
            Value::Bool(true) => String::from("True"),
            Value::Bool(false) => String::from("False"),
            Value::Int(i) => i.to_string(),
            Value::Big(b) => b.to_string(),
            Value::Float(f) => format_float(*f),
            Value::Date(d) => datetime::date_repr(d),
            Value::DateTime(d) => datetime::datetime_repr(d),
            Value::Delta(d) => datetime::delta_repr(d),
            Value::Str(s) => repr_str(s),
            Value::List(items) => {
                let mut out = String::from("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&item.repr());
                }
                out.push(']');
                out
            }
        }
    }

    /// Python `==`: numbers compare by value across int/float/bool, strings and lists by
    /// content, null equals only null, and values of unrelated types are simply unequal.
    pub fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Date(a), Value::Date(b)) => a == b,
            (Value::DateTime(a), Value::DateTime(b)) => a == b,
            (Value::Delta(a), Value::Delta(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.equals(y))
            }
            (a, b) => match (a.as_num(), b.as_num()) {
                (Some(x), Some(y)) => compare_nums(x, y) == Some(Ordering::Equal),
                _ => false,
            },
        }
    }

    /// Python ordering (`<` and friends, `min`, `max`): numbers with numbers, strings with
    /// strings (by code point), lists element by element, dates, datetimes and timedeltas each
    /// with their own kind. `Ok(None)` means unordered (NaN); other combinations are a type
    /// error, as in Python 3.
    pub fn compare(&self, other: &Value, op: &str) -> Result<Option<Ordering>, String> {
        match (self, other) {
            (Value::Str(a), Value::Str(b)) => Ok(Some(a.cmp(b))),
            (Value::Date(a), Value::Date(b)) => Ok(Some(a.cmp(b))),
            (Value::DateTime(a), Value::DateTime(b)) => Ok(Some(a.cmp(b))),
            (Value::Delta(a), Value::Delta(b)) => Ok(Some(a.cmp(b))),
            (Value::List(a), Value::List(b)) => {
                for (x, y) in a.iter().zip(b) {
                    if !x.equals(y) {
                        return x.compare(y, op);
                    }
                }
                Ok(Some(a.len().cmp(&b.len())))
            }
            (a, b) => match (a.as_num(), b.as_num()) {
                (Some(x), Some(y)) => Ok(compare_nums(x, y)),
                _ => Err(format!(
                    "`{op}` cannot compare {} with {}; convert one side first, e.g. with int() \
                     or str()",
                    a.describe(),
                    b.describe()
                )),
            },
        }
    }
}

/// Exact numeric comparison. Converting a large integer to `f64` would round, so mixed
/// comparisons split the float into its integer and fractional parts instead.
pub fn compare_nums(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
        (Num::Int(x), Num::Float(y)) => compare_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => compare_int_float(y, x).map(Ordering::reverse),
        (Num::Big(x), Num::Big(y)) => Some(x.cmp(y)),
        // A `Big` is outside the `i64` range, so its sign decides.
        (Num::Big(x), Num::Int(_)) => Some(big_sign(x)),
        (Num::Int(_), Num::Big(y)) => Some(big_sign(y).reverse()),
        (Num::Big(x), Num::Float(y)) => compare_big_float(x, y),
        (Num::Float(x), Num::Big(y)) => compare_big_float(y, x).map(Ordering::reverse),
    }
}

fn big_sign(b: &BigInt) -> Ordering {
    b.sign().cmp(&num_bigint::Sign::NoSign)
}

/// Compares exactly: a finite float is an integer plus a fraction in (-1, 1), and every float
/// beyond 2^53 is an integer, so comparing with its integer part settles all but ties.
fn compare_big_float(b: &BigInt, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f.is_infinite() {
        return Some(if f > 0.0 {
            Ordering::Less
        } else {
            Ordering::Greater
        });
    }
    // An integral float converts exactly.
    let whole = BigInt::from_f64(f.trunc()).unwrap_or_default();
    Some(b.cmp(&whole).then_with(|| {
        let frac = f - f.trunc();
        if frac > 0.0 {
            Ordering::Less
        } else if frac < 0.0 {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    }))
}

fn compare_int_float(i: i64, f: f64) -> Option<Ordering> {
    /// 2^63 as a float: every `i64` is below it.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() {
        return None;
    }
    if f >= TWO_63 {
        return Some(Ordering::Less);
    }
    if f < -TWO_63 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    // In range by the checks above, so the cast is exact.
    let whole_int = whole as i64;
    Some(i.cmp(&whole_int).then_with(|| {
        let frac = f - whole;
        if frac > 0.0 {
            Ordering::Less
        } else if frac < 0.0 {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    }))
}

/// Python's `repr(float)`: the shortest digits that round-trip, in positional notation when the
/// decimal exponent is in `-4 ..= 15` (always with a `.0` or fraction), otherwise scientific with
/// a signed, at least two-digit exponent: `6.0`, `0.0001`, `1e-05`, `1e+16`, `1.5e+300`.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return String::from("nan");
    }
    if f.is_infinite() {
        return String::from(if f > 0.0 { "inf" } else { "-inf" });
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. `1.5e-5`, but when the exact
    // value lies halfway between two such strings it may pick the upper one, where Python picks
    // the correctly rounded (half to even) one. `{:.N$e}` rounds the exact value half to even,
    // so use it with the same number of digits whenever it still round-trips.
    let shortest = format!("{:e}", f.abs());
    let n_digits = shortest
        .bytes()
        .take_while(|b| *b != b'e')
        .filter(u8::is_ascii_digit)
        .count();
    let precision = n_digits.saturating_sub(1);
    let rounded = format!("{:.precision$e}", f.abs());
    let sci = if rounded.parse::<f64>() == Ok(f.abs()) {
        rounded
    } else {
        shortest
    };
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f.is_sign_negative() { "-" } else { "" };
    // Position of the decimal point relative to the start of `digits`.
    let point = exponent + 1;
    let mut out = String::from(sign);
    if (-3..=16).contains(&point) {
        let n = digits.len() as i32;
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
            out.push_str(&digits);
        } else if point >= n {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', (point - n) as usize));
            out.push_str(".0");
        } else {
            let (int_part, frac_part) = digits.split_at(point as usize);
            out.push_str(int_part);
            out.push('.');
            out.push_str(frac_part);
        }
    } else {
        out.push_str(mantissa);
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{exp_sign}{:02}", exponent.unsigned_abs());
    }
    out
}

/// Python's `repr(str)`: single quotes unless the text contains `'` but no `"`; backslash, the
/// quote and control characters are escaped.
pub fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coercion_follows_smart_coerce() {
        assert_eq!(Value::coerce("3"), Value::Int(3));
        assert_eq!(Value::coerce("-3"), Value::Int(-3));
        assert_eq!(Value::coerce(" 7 "), Value::Int(7));
        assert_eq!(Value::coerce("007"), Value::Int(7));
        assert_eq!(Value::coerce("1.5"), Value::Float(1.5));
        assert_eq!(Value::coerce("1e3"), Value::Float(1000.0));
        assert_eq!(
            Value::coerce(" -99999999999999999999 "),
            Value::Big("-99999999999999999999".parse().expect("big"))
        );
        assert!(matches!(Value::coerce("nan"), Value::Float(f) if f.is_nan()));
        assert_eq!(Value::coerce("True"), Value::Bool(true));
        assert_eq!(Value::coerce("FALSE"), Value::Bool(false));
        assert_eq!(Value::coerce("null"), Value::Null);
        assert_eq!(Value::coerce("None"), Value::Null);
        assert_eq!(Value::coerce("a b"), Value::Str("a b".into()));
        assert_eq!(Value::coerce(""), Value::Str(String::new()));
        assert_eq!(Value::coerce(" x "), Value::Str(" x ".into()));
    }

    /// Expected strings are Python 3.11's `repr(float)`.
    #[test]
    fn floats_print_like_python() {
        for (f, expected) in [
            (6.0, "6.0"),
            (0.5, "0.5"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e20, "1e+20"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1.0 / 3.0, "0.3333333333333333"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (12345.678, "12345.678"),
            // Exactly halfway between two shortest candidates: Python rounds half to even.
            (62_748_517.0 / 16_384.0, "3829.8655395507812"),
            (-62_748_517.0 / 16_384.0, "-3829.8655395507812"),
            (-811_376_019_104_808.0 - 0.25, "-811376019104808.2"),
            (-924_538_884_010.0 - 0.031_25, "-924538884010.0312"),
            (100.0, "100.0"),
        ] {
            assert_eq!(format_float(f), expected, "format_float({f:?})");
        }
    }

    #[test]
    fn values_print_like_python_str() {
        assert_eq!(Value::Int(-6).to_str(), "-6");
        assert_eq!(Value::Bool(true).to_str(), "True");
        assert_eq!(Value::Bool(false).to_str(), "False");
        assert_eq!(Value::Null.to_str(), "None");
        assert_eq!(Value::Str("a'b".into()).to_str(), "a'b");
        let list = Value::List(vec![
            Value::Str("a".into()),
            Value::Str("it's".into()),
            Value::Int(1),
            Value::Str("q\"'\n".into()),
        ]);
        assert_eq!(list.to_str(), r#"['a', "it's", 1, 'q"\'\n']"#);
    }

    #[test]
    fn mixed_numeric_comparison_is_exact() {
        use Ordering::*;
        assert_eq!(compare_nums(Num::Int(1), Num::Float(1.0)), Some(Equal));
        assert_eq!(compare_nums(Num::Int(1), Num::Float(1.5)), Some(Less));
        assert_eq!(compare_nums(Num::Int(-1), Num::Float(-1.5)), Some(Greater));
        assert_eq!(compare_nums(Num::Float(2.5), Num::Int(2)), Some(Greater));
        assert_eq!(
            compare_nums(Num::Int(i64::MAX), Num::Float(9_223_372_036_854_775_808.0)),
            Some(Less)
        );
        assert_eq!(
            compare_nums(Num::Int(i64::MAX - 1), Num::Float(i64::MAX as f64)),
            Some(Less)
        );
        assert_eq!(compare_nums(Num::Int(0), Num::Float(f64::NAN)), None);
        assert!(Value::Int(1).equals(&Value::Bool(true)));
        assert!(!Value::Int(1).equals(&Value::Str("1".into())));
    }

    #[test]
    fn ordering_mixed_types_is_an_error() {
        let err = Value::Str("a".into())
            .compare(&Value::Int(1), "<")
            .expect_err("type error");
        assert_eq!(
            err,
            "`<` cannot compare str 'a' with int 1; convert one side first, e.g. with int() or str()"
        );
    }
}
