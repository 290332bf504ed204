//! The built-in functions of the expression language.
//!
//! Functions that work on text accept any value and use its `str()` form, because smart
//! coercion turns args like `007` or `1e3` into numbers and users still expect `zfill(x, 5)` or
//! `upper(x)` to work. (`args` gives the uncoerced text when the exact spelling matters.)

use std::borrow::Cow;

use super::dtmodule::DtFunc;
use super::modules::ModFunc;
use super::ops::{self, MAX_STRING_BYTES, check_string_len};
use num_bigint::BigInt;
use num_integer::Integer;
use num_traits::{FromPrimitive, Signed};

use super::value::{Num, Value};
use crate::path;

/// A built-in function, resolved at parse time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Len,
    Str,
    Int,
    Float,
    Round,
    Abs,
    Min,
    Max,
    Upper,
    Lower,
    Strip,
    Replace,
    Split,
    Join,
    Basename,
    Dirname,
    Stem,
    Ext,
    Zfill,
    Sqrt,
    Floor,
    Ceil,
    Pow,
    /// A member of HyperShell's `math`, `path` or `os` globals (see [`super::modules`]).
    Module(ModFunc),
    /// A member of HyperShell's `dt` global, or a method or attribute of a datetime value
    /// (see [`super::dtmodule`]).
    Dt(DtFunc),
}

impl Func {
    /// Every function, in the order listed in error messages and the docs.
    pub const ALL: [Func; 23] = [
        Func::Len,
        Func::Str,
        Func::Int,
        Func::Float,
        Func::Round,
        Func::Abs,
        Func::Min,
        Func::Max,
        Func::Upper,
        Func::Lower,
        Func::Strip,
        Func::Replace,
        Func::Split,
        Func::Join,
        Func::Basename,
        Func::Dirname,
        Func::Stem,
        Func::Ext,
        Func::Zfill,
        Func::Sqrt,
        Func::Floor,
        Func::Ceil,
        Func::Pow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Func::Len => "len",
            Func::Str => "str",
            Func::Int => "int",
            Func::Float => "float",
            Func::Round => "round",
            Func::Abs => "abs",
            Func::Min => "min",
            Func::Max => "max",
            Func::Upper => "upper",
            Func::Lower => "lower",
            Func::Strip => "strip",
            Func::Replace => "replace",
            Func::Split => "split",
            Func::Join => "join",
            Func::Basename => "basename",
            Func::Dirname => "dirname",
            Func::Stem => "stem",
            Func::Ext => "ext",
            Func::Zfill => "zfill",
            Func::Sqrt => "sqrt",
            Func::Floor => "floor",
            Func::Ceil => "ceil",
            Func::Pow => "pow",
            Func::Module(f) => f.name(),
            Func::Dt(f) => f.name(),
        }
    }

    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Minimum and maximum argument counts (`None`: any number).
    pub(super) fn arity(self) -> (usize, Option<usize>) {
        match self {
            Func::Round | Func::Strip | Func::Split => (1, Some(2)),
            Func::Min | Func::Max => (1, None),
            Func::Replace => (3, Some(3)),
            Func::Join | Func::Zfill | Func::Pow => (2, Some(2)),
            Func::Module(f) => f.arity(),
            Func::Dt(f) => f.arity(),
            _ => (1, Some(1)),
        }
    }

    /// Python's parameter names, for the functions that take keyword arguments
    /// (`dt.timedelta(days=1)`); each defaults to 0 when left out.
    pub fn keywords(self) -> &'static [&'static str] {
        match self {
            Func::Dt(f) => f.keywords(),
            _ => &[],
        }
    }

    /// Checks an argument count at parse time.
    pub fn check_arity(self, given: usize) -> Result<(), String> {
        let (min, max) = self.arity();
        if given >= min && max.is_none_or(|max| given <= max) {
            return Ok(());
        }
        let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
        let expected = match max {
            None => format!("at least {min} {}", plural(min)),
            Some(max) if max == min => format!("{min} {}", plural(min)),
            Some(max) => format!("{min} or {max} arguments"),
        };
        let verb = if given == 1 { "was" } else { "were" };
        Err(format!(
            "`{}` takes {expected} but {given} {verb} given",
            self.name()
        ))
    }

    /// Calls the function. The argument count was checked at parse time; a mismatch here is
    /// still reported as an error rather than a panic.
    pub fn call(self, args: &[Value]) -> Result<Value, String> {
        self.call_inner(args)
            .map_err(|message| format!("{}(): {message}", self.name()))
    }

    fn call_inner(self, args: &[Value]) -> Result<Value, String> {
        let arg = |i: usize| args.get(i).ok_or_else(|| String::from("missing argument"));
        let text_value = |s: &str| Value::Str(s.to_string());
        match self {
            Func::Len => Ok(Value::Int(length(arg(0)?))),
            Func::Str => Ok(Value::Str(arg(0)?.to_str())),
            Func::Int => to_int(arg(0)?),
            Func::Float => to_float(arg(0)?),
            Func::Round => round(arg(0)?, args.get(1)),
            Func::Abs => abs(arg(0)?),
            Func::Min => extreme(args, std::cmp::Ordering::Less),
            Func::Max => extreme(args, std::cmp::Ordering::Greater),
            Func::Upper => Ok(Value::Str(text(arg(0)?).to_uppercase())),
            Func::Lower => Ok(Value::Str(text(arg(0)?).to_lowercase())),
            Func::Strip => {
                let s = text(arg(0)?);
                Ok(text_value(match args.get(1) {
                    None | Some(Value::Null) => s.trim(),
                    Some(chars) => {
                        let chars = text(chars);
                        s.trim_matches(|c| chars.contains(c))
                    }
                }))
            }
            Func::Replace => replace(&text(arg(0)?), &text(arg(1)?), &text(arg(2)?)),
            Func::Split => split(&text(arg(0)?), args.get(1)),
            Func::Join => join(&text(arg(0)?), arg(1)?),
            Func::Basename => Ok(text_value(path::basename(&text(arg(0)?)))),
            Func::Dirname => Ok(text_value(path::dirname(&text(arg(0)?)))),
            Func::Stem => Ok(text_value(path::stem(&text(arg(0)?)))),
            Func::Ext => Ok(text_value(path::ext_without_dot(&text(arg(0)?)))),
            Func::Zfill => zfill(&text(arg(0)?), arg(1)?),
            Func::Sqrt => {
                let x = number(arg(0)?)?.to_f64()?;
                if x < 0.0 {
                    Err(format!(
                        "math domain error: the square root of a negative number ({})",
                        arg(0)?.to_str()
                    ))
                } else {
                    Ok(Value::Float(x.sqrt()))
                }
            }
            Func::Floor => rounded(arg(0)?, f64::floor),
            Func::Ceil => rounded(arg(0)?, f64::ceil),
            Func::Pow => ops::binary(super::lexer::Op::DoubleStar, arg(0)?, arg(1)?),
            Func::Module(f) => f.call(args),
            Func::Dt(f) => f.call(args),
        }
    }
}

/// The `str()` form of a value, borrowed when it already is a string.
fn text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::Str(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_str()),
    }
}

fn number(v: &Value) -> Result<Num<'_>, String> {
    v.as_num().ok_or_else(|| {
        format!(
            "needs a number, not {}; convert with float(…)",
            v.describe()
        )
    })
}

fn integer(v: &Value, what: &str) -> Result<i64, String> {
    match v.as_num() {
        Some(Num::Int(i)) => Ok(i),
        _ => Err(format!("{what} must be an integer, not {}", v.describe())),
    }
}

/// Number of items of a list, or of characters (code points, as Python) of the `str()` form.
fn length(v: &Value) -> i64 {
    let n = match v {
        Value::List(items) => items.len(),
        other => text(other).chars().count(),
    };
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Converts an integral float to an integer (of any size), failing for NaN and infinities.
fn float_to_int(f: f64) -> Result<Value, String> {
    /// 2^63: the first float above the `i64` range.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() {
        return Err(String::from("cannot convert float nan to an integer"));
    }
    if f.is_infinite() {
        return Err(String::from("cannot convert float infinity to an integer"));
    }
    if (-LIMIT..LIMIT).contains(&f) {
        return Ok(Value::Int(f as i64));
    }
    // A float this large is an integer, and converts exactly.
    ops::big_value(BigInt::from_f64(f).unwrap_or_default())
}

fn to_int(v: &Value) -> Result<Value, String> {
    match v {
        Value::Int(_) | Value::Big(_) => Ok(v.clone()),
        Value::Bool(b) => Ok(Value::Int(i64::from(*b))),
        Value::Float(f) => float_to_int(f.trunc()),
        Value::Str(s) => match s.trim().parse::<i64>() {
            Ok(i) => Ok(Value::Int(i)),
            Err(_) => match s.trim().parse::<BigInt>() {
                Ok(b) => ops::big_value(b),
                Err(_) => Err(format!(
                    "cannot convert {} to an integer; for a decimal use int(float(…))",
                    v.describe()
                )),
            },
        },
        other => Err(format!("cannot convert {} to an integer", other.describe())),
    }
}

fn to_float(v: &Value) -> Result<Value, String> {
    match v {
        Value::Str(s) => s
            .trim()
            .parse::<f64>()
            .map(Value::Float)
            .map_err(|_| format!("cannot convert {} to a float", v.describe())),
        other => number(other)
            .map_err(|_| format!("cannot convert {} to a float", other.describe()))?
            .to_f64()
            .map(Value::Float),
    }
}

/// Python's `round`: halves go to the even neighbour. One argument gives an integer; with
/// `ndigits` the result keeps the input's type.
fn round(v: &Value, ndigits: Option<&Value>) -> Result<Value, String> {
    let n = match ndigits {
        None | Some(Value::Null) => None,
        Some(d) => Some(integer(d, "ndigits")?),
    };
    match (number(v)?, n) {
        (Num::Int(_) | Num::Big(_), None) => Ok(v.clone()),
        (Num::Float(f), None) => float_to_int(f.round_ties_even()),
        (Num::Int(i), Some(n)) => round_int(&BigInt::from(i), n),
        (Num::Big(b), Some(n)) => round_int(b, n),
        (Num::Float(f), Some(n)) => Ok(Value::Float(round_float(f, n))),
    }
}

/// Rounds an integer to `10^-n` (only negative `n` changes anything), half to even.
fn round_int(i: &BigInt, n: i64) -> Result<Value, String> {
    if n >= 0 {
        return Ok(Value::from_big(i.clone()));
    }
    // Integers have at most `MAX_INT_DIGITS` digits, so a coarser rounding gives zero.
    if n.unsigned_abs() > u64::from(ops::MAX_INT_DIGITS) + 1 {
        return Ok(Value::Int(0));
    }
    let p = BigInt::from(10).pow(n.unsigned_abs() as u32);
    let (mut q, r) = i.div_mod_floor(&p);
    let twice_r: BigInt = r * 2;
    if twice_r > p || (twice_r == p && q.is_odd()) {
        q += 1;
    }
    ops::big_value(q * p)
}

/// Rounds a float to `n` decimals. For `n >= 0` this formats the exact binary value with `n`
/// decimals (round half to even on the exact value, which is what CPython does) and reads it
/// back; for negative `n` it rounds `x / 10^-n` half to even.
fn round_float(f: f64, n: i64) -> f64 {
    if !f.is_finite() || n > 323 {
        return f;
    }
    if n >= 0 {
        let digits = n as usize;
        return format!("{f:.digits$}").parse().unwrap_or(f);
    }
    if n < -308 {
        return 0.0_f64.copysign(f);
    }
    let p = 10_f64.powi(n.unsigned_abs() as i32);
    let r = (f / p).round_ties_even() * p;
    if r == 0.0 { 0.0_f64.copysign(f) } else { r }
}

fn abs(v: &Value) -> Result<Value, String> {
    match number(v)? {
        Num::Int(i) => Ok(i
            .checked_abs()
            .map_or_else(|| Value::from_big(BigInt::from(i).abs()), Value::Int)),
        Num::Big(b) => Ok(Value::from_big(b.abs())),
        Num::Float(f) => Ok(Value::Float(f.abs())),
    }
}

/// `floor`/`ceil`: integers for numbers, like Python's `math.floor`.
pub(super) fn rounded(v: &Value, f: fn(f64) -> f64) -> Result<Value, String> {
    match number(v)? {
        Num::Int(_) | Num::Big(_) => Ok(v.clone()),
        Num::Float(x) => float_to_int(f(x)),
    }
}

/// `min`/`max` over the arguments, or over the items of a single list (or characters of a
/// single string). The first of equal extremes wins, as in Python.
fn extreme(args: &[Value], want: std::cmp::Ordering) -> Result<Value, String> {
    let chars;
    let items: &[Value] = match args {
        [Value::List(items)] => items,
        [Value::Str(s)] => {
            chars = s
                .chars()
                .map(|c| Value::Str(c.to_string()))
                .collect::<Vec<_>>();
            &chars
        }
        [single] => {
            return Err(format!(
                "a single argument must be a list, e.g. split(x), not {}",
                single.describe()
            ));
        }
        many => many,
    };
    let op = if want == std::cmp::Ordering::Less {
        "min"
    } else {
        "max"
    };
    let mut best = items
        .first()
        .ok_or_else(|| String::from("the list is empty"))?;
    for item in items.iter().skip(1) {
        if item.compare(best, op)? == Some(want) {
            best = item;
        }
    }
    Ok(best.clone())
}

fn replace(s: &str, old: &str, new: &str) -> Result<Value, String> {
    // Check the size before building it: `replace(x, '', big)` multiplies.
    let count = if old.is_empty() {
        s.chars().count() + 1
    } else {
        s.matches(old).count()
    };
    let size = s
        .len()
        .saturating_add(count.saturating_mul(new.len()))
        .saturating_sub(count.saturating_mul(old.len()));
    check_string_len(size)?;
    Ok(Value::Str(s.replace(old, new)))
}

/// Python's `str.split`: on runs of whitespace without a separator, else on each occurrence.
fn split(s: &str, sep: Option<&Value>) -> Result<Value, String> {
    let pieces: Vec<Value> = match sep {
        None | Some(Value::Null) => s
            .split_whitespace()
            .map(|p| Value::Str(p.to_string()))
            .collect(),
        Some(sep) => {
            let sep = text(sep);
            if sep.is_empty() {
                return Err(String::from(
                    "empty separator; leave it out to split on whitespace",
                ));
            }
            s.split(sep.as_ref())
                .map(|p| Value::Str(p.to_string()))
                .collect()
        }
    };
    Ok(Value::List(pieces))
}

/// `join(sep, list)`: like Python's `sep.join(list)` (a string joins its characters); items
/// that are not strings are joined in their `str()` form.
fn join(sep: &str, items: &Value) -> Result<Value, String> {
    let parts: Vec<String> = match items {
        Value::List(items) => items.iter().map(Value::to_str).collect(),
        Value::Str(s) => s.chars().map(String::from).collect(),
        other => {
            return Err(format!(
                "the second argument must be a list, e.g. split(x), not {}",
                other.describe()
            ));
        }
    };
    let size = parts.iter().map(String::len).sum::<usize>()
        + sep.len().saturating_mul(parts.len().saturating_sub(1));
    check_string_len(size)?;
    Ok(Value::Str(parts.join(sep)))
}

/// Python's `str.zfill`: pads with zeros after any leading sign.
fn zfill(s: &str, width: &Value) -> Result<Value, String> {
    let width = integer(width, "the width")?;
    let len = s.chars().count();
    let width = usize::try_from(width).unwrap_or(0);
    if width <= len {
        return Ok(Value::Str(s.to_string()));
    }
    if width > MAX_STRING_BYTES {
        check_string_len(width)?;
    }
    let pad = "0".repeat(width - len);
    let (sign, rest) = match s.chars().next() {
        Some(c @ ('+' | '-')) => (&s[..c.len_utf8()], &s[c.len_utf8()..]),
        _ => ("", s),
    };
    Ok(Value::Str(format!("{sign}{pad}{rest}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(f: &str, args: &[Value]) -> Result<Value, String> {
        Func::from_name(f).expect("known function").call(args)
    }

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|i| s(i)).collect())
    }

    #[test]
    fn every_function_has_a_unique_name() {
        for f in Func::ALL {
            assert_eq!(Func::from_name(f.name()), Some(f));
        }
        assert_eq!(Func::from_name("eval"), None);
    }

    #[test]
    fn arity_messages() {
        assert_eq!(
            Func::Len.check_arity(2),
            Err("`len` takes 1 argument but 2 were given".into())
        );
        assert_eq!(
            Func::Replace.check_arity(1),
            Err("`replace` takes 3 arguments but 1 was given".into())
        );
        assert_eq!(
            Func::Max.check_arity(0),
            Err("`max` takes at least 1 argument but 0 were given".into())
        );
        assert!(Func::Max.check_arity(5).is_ok());
        assert!(Func::Split.check_arity(2).is_ok());
    }

    #[test]
    fn conversions() {
        assert_eq!(call("len", &[s("héllo")]), Ok(Value::Int(5)));
        assert_eq!(call("len", &[list(&["a", "b"])]), Ok(Value::Int(2)));
        assert_eq!(call("len", &[Value::Int(12345)]), Ok(Value::Int(5)));
        assert_eq!(call("str", &[Value::Float(2.0)]), Ok(s("2.0")));
        assert_eq!(call("int", &[s(" 42 ")]), Ok(Value::Int(42)));
        assert_eq!(call("int", &[Value::Float(-2.7)]), Ok(Value::Int(-2)));
        assert_eq!(call("int", &[Value::Bool(true)]), Ok(Value::Int(1)));
        assert_eq!(
            call("int", &[s("2.5")]),
            Err(
                "int(): cannot convert str '2.5' to an integer; for a decimal use int(float(…))"
                    .into()
            )
        );
        assert!(call("int", &[Value::Float(f64::NAN)]).is_err());
        assert_eq!(
            call("int", &[Value::Float(1e30)]).map(|v| v.to_str()),
            Ok("1000000000000000019884624838656".into())
        );
        assert_eq!(
            call("int", &[s(" -123456789012345678901234567890 ")]).map(|v| v.to_str()),
            Ok("-123456789012345678901234567890".into())
        );
        assert!(call("int", &[Value::Float(f64::INFINITY)]).is_err());
        assert!(call("int", &[Value::Null]).is_err());
        assert_eq!(call("float", &[s("2.5")]), Ok(Value::Float(2.5)));
        assert_eq!(call("float", &[Value::Int(3)]), Ok(Value::Float(3.0)));
        assert!(call("float", &[s("abc")]).is_err());
    }

    /// Expected values are Python 3.11's `round`.
    #[test]
    fn round_matches_python() {
        let f = Value::Float;
        let i = Value::Int;
        assert_eq!(call("round", &[f(2.5)]), Ok(i(2)));
        assert_eq!(call("round", &[f(3.5)]), Ok(i(4)));
        assert_eq!(call("round", &[f(-2.5)]), Ok(i(-2)));
        assert_eq!(call("round", &[f(2.675), i(2)]), Ok(f(2.67)));
        assert_eq!(call("round", &[f(0.125), i(2)]), Ok(f(0.12)));
        assert_eq!(call("round", &[f(0.375), i(2)]), Ok(f(0.38)));
        assert_eq!(call("round", &[f(1.0 / 3.0), i(3)]), Ok(f(0.333)));
        assert_eq!(call("round", &[f(1234.5), i(-2)]), Ok(f(1200.0)));
        assert_eq!(call("round", &[f(1250.0), i(-2)]), Ok(f(1200.0)));
        assert_eq!(call("round", &[f(1350.0), i(-2)]), Ok(f(1400.0)));
        assert_eq!(call("round", &[i(1250), i(-2)]), Ok(i(1200)));
        assert_eq!(call("round", &[i(1350), i(-2)]), Ok(i(1400)));
        assert_eq!(call("round", &[i(-1250), i(-2)]), Ok(i(-1200)));
        assert_eq!(call("round", &[i(7), i(2)]), Ok(i(7)));
        assert_eq!(call("round", &[i(i64::MAX), i(-50)]), Ok(i(0)));
        assert_eq!(call("round", &[i(i64::MIN), i(-38)]), Ok(i(0)));
        assert_eq!(call("round", &[i(i64::MIN), i(-20)]), Ok(i(0)));
        assert_eq!(
            call("round", &[i(4_000_000_000_000_000_000), i(-19)]),
            Ok(i(0))
        );
        // Past 64 bits, as Python's big integers.
        let text = |v: Result<Value, String>| v.map(|v| v.to_str());
        assert_eq!(
            text(call("round", &[i(i64::MIN), i(-19)])),
            Ok("-10000000000000000000".into())
        );
        assert_eq!(
            text(call("round", &[i(i64::MIN), i(-1)])),
            Ok("-9223372036854775810".into())
        );
        assert_eq!(
            text(call("round", &[i(i64::MAX), i(-1)])),
            Ok("9223372036854775810".into())
        );
        assert!(call("round", &[f(f64::INFINITY)]).is_err());
        assert!(call("round", &[f(1.5), f(1.0)]).is_err());
        assert!(call("round", &[s("1.5")]).is_err());
    }

    #[test]
    fn math_functions() {
        let f = Value::Float;
        let i = Value::Int;
        assert_eq!(call("abs", &[i(-3)]), Ok(i(3)));
        assert_eq!(call("abs", &[f(-1.5)]), Ok(f(1.5)));
        assert_eq!(
            call("abs", &[i(i64::MIN)]).map(|v| v.to_str()),
            Ok("9223372036854775808".into())
        );
        assert_eq!(call("sqrt", &[i(16)]), Ok(f(4.0)));
        assert!(
            call("sqrt", &[i(-1)])
                .expect_err("domain")
                .contains("math domain error")
        );
        assert_eq!(call("floor", &[f(-1.5)]), Ok(i(-2)));
        assert_eq!(call("ceil", &[f(1.2)]), Ok(i(2)));
        assert_eq!(call("floor", &[i(5)]), Ok(i(5)));
        assert_eq!(call("pow", &[i(2), i(8)]), Ok(i(256)));
        assert_eq!(call("pow", &[i(2), f(0.5)]), Ok(f(2.0_f64.sqrt())));
        assert_eq!(call("min", &[i(3), f(1.5), i(2)]), Ok(f(1.5)));
        assert_eq!(call("max", &[i(3), f(1.5), i(2)]), Ok(i(3)));
        assert_eq!(call("max", &[list(&["b", "c", "a"])]), Ok(s("c")));
        assert_eq!(call("min", &[s("bca")]), Ok(s("a")));
        assert_eq!(call("max", &[i(1), Value::Bool(true)]), Ok(i(1)));
        assert!(call("max", &[i(1), s("a")]).is_err());
        assert!(
            call("max", &[i(1)])
                .expect_err("single")
                .contains("must be a list")
        );
        assert!(
            call("max", &[list(&[])])
                .expect_err("empty")
                .contains("empty")
        );
    }

    #[test]
    fn string_functions() {
        let i = Value::Int;
        assert_eq!(call("upper", &[s("abc")]), Ok(s("ABC")));
        assert_eq!(call("lower", &[s("ÀB")]), Ok(s("àb")));
        assert_eq!(call("strip", &[s("  a b \n")]), Ok(s("a b")));
        assert_eq!(call("strip", &[s("xxaxx"), s("x")]), Ok(s("a")));
        assert_eq!(
            call("replace", &[s("a-b-c"), s("-"), s("_")]),
            Ok(s("a_b_c"))
        );
        assert_eq!(call("replace", &[s("ab"), s(""), s("-")]), Ok(s("-a-b-")));
        assert!(
            call(
                "replace",
                &[s(&"a".repeat(1000)), s(""), s(&"b".repeat(10_000))]
            )
            .is_err()
        );
        assert_eq!(call("split", &[s(" a  b ")]), Ok(list(&["a", "b"])));
        assert_eq!(
            call("split", &[s("a,,b"), s(",")]),
            Ok(list(&["a", "", "b"]))
        );
        assert!(call("split", &[s("ab"), s("")]).is_err());
        assert_eq!(call("join", &[s("-"), list(&["a", "b"])]), Ok(s("a-b")));
        assert_eq!(call("join", &[s("-"), s("ab")]), Ok(s("a-b")));
        assert_eq!(
            call("join", &[s("+"), Value::List(vec![i(1), i(2)])]),
            Ok(s("1+2"))
        );
        assert!(call("join", &[s("-"), i(1)]).is_err());
        assert_eq!(call("zfill", &[s("42"), i(5)]), Ok(s("00042")));
        assert_eq!(call("zfill", &[s("-42"), i(5)]), Ok(s("-0042")));
        assert_eq!(call("zfill", &[i(7), i(3)]), Ok(s("007")));
        assert_eq!(call("zfill", &[s("abc"), i(2)]), Ok(s("abc")));
        assert_eq!(call("zfill", &[s("abc"), i(-2)]), Ok(s("abc")));
        assert!(call("zfill", &[s("1"), i(i64::MAX)]).is_err());
        assert!(call("zfill", &[s("1"), s("5")]).is_err());
    }

    #[test]
    fn path_functions() {
        let p = s("/x/y/file.tar.gz");
        assert_eq!(
            call("basename", std::slice::from_ref(&p)),
            Ok(s("file.tar.gz"))
        );
        assert_eq!(call("dirname", std::slice::from_ref(&p)), Ok(s("/x/y")));
        assert_eq!(call("stem", std::slice::from_ref(&p)), Ok(s("file.tar")));
        assert_eq!(call("ext", std::slice::from_ref(&p)), Ok(s("gz")));
        assert_eq!(call("dirname", &[s("file")]), Ok(s("")));
    }
}
