//! HyperShell's expression globals: `math`, `path` (= `os.path`), `os` and `dt` (datetime).
//!
//! HyperShell evaluates `{= =}` with these modules in scope, so templates copied from its docs
//! say `math.sqrt(x)` or `path.basename(x)`. hs has no modules or attribute access; instead the
//! parser reads a dotted name that starts with one of [`ROOTS`] as a whole (`os.path.join`) and
//! resolves it here to a constant or a function, with Python's results and error messages.
//! `dt.…` names are resolved by [`super::dtmodule`].

use std::f64::consts;

use super::dtmodule;
use super::functions::Func;
use super::value::{Num, Value};
use crate::path;

/// The names a dotted module member can start with.
pub const ROOTS: [&str; 4] = ["math", "path", "os", "dt"];

/// Dotted prefixes that are modules themselves, so the parser reads one more `.name`.
pub fn is_module(dotted: &str) -> bool {
    matches!(dotted, "math" | "path" | "os" | "os.path" | "os.environ")
        || dtmodule::is_module(dotted)
}

/// What a dotted name stands for.
pub enum Member {
    Const(Value),
    Func(Func),
}

/// A module function, resolved at parse time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModFunc {
    Sqrt,
    Floor,
    Ceil,
    Trunc,
    Pow,
    Exp,
    Log,
    Log2,
    Log10,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Atan2,
    Sinh,
    Cosh,
    Tanh,
    Hypot,
    Degrees,
    Radians,
    Fabs,
    Fmod,
    Copysign,
    Isclose,
    Isnan,
    Isinf,
    Isfinite,
    Factorial,
    Gcd,
    Basename,
    Dirname,
    Splitext,
    Join,
    Normpath,
    Abspath,
    Exists,
    Isfile,
    Isdir,
    Getenv,
    Getcwd,
}

use ModFunc as F;

/// `math.` members, then `path.` ones (`os.path.` is the same list).
const MATH: [(&str, ModFunc); 31] = [
    ("sqrt", F::Sqrt),
    ("floor", F::Floor),
    ("ceil", F::Ceil),
    ("trunc", F::Trunc),
    ("pow", F::Pow),
    ("exp", F::Exp),
    ("log", F::Log),
    ("log2", F::Log2),
    ("log10", F::Log10),
    ("sin", F::Sin),
    ("cos", F::Cos),
    ("tan", F::Tan),
    ("asin", F::Asin),
    ("acos", F::Acos),
    ("atan", F::Atan),
    ("atan2", F::Atan2),
    ("sinh", F::Sinh),
    ("cosh", F::Cosh),
    ("tanh", F::Tanh),
    ("hypot", F::Hypot),
    ("degrees", F::Degrees),
    ("radians", F::Radians),
    ("fabs", F::Fabs),
    ("fmod", F::Fmod),
    ("copysign", F::Copysign),
    ("isclose", F::Isclose),
    ("isnan", F::Isnan),
    ("isinf", F::Isinf),
    ("isfinite", F::Isfinite),
    ("factorial", F::Factorial),
    ("gcd", F::Gcd),
];

const PATH: [(&str, ModFunc); 9] = [
    ("basename", F::Basename),
    ("dirname", F::Dirname),
    ("splitext", F::Splitext),
    ("join", F::Join),
    ("normpath", F::Normpath),
    ("abspath", F::Abspath),
    ("exists", F::Exists),
    ("isfile", F::Isfile),
    ("isdir", F::Isdir),
];

/// Resolves a dotted name; the error lists what the module has.
pub fn resolve(dotted: &str) -> Result<Member, String> {
    if dotted == "dt" || dotted.starts_with("dt.") {
        return dtmodule::resolve(dotted);
    }
    let (module, member) = dotted.rsplit_once('.').unwrap_or((dotted, ""));
    let find = |table: &[(&str, ModFunc)]| {
        table
            .iter()
            .find(|(n, _)| *n == member)
            .map(|(_, f)| Member::Func(Func::Module(*f)))
    };
    let found = match module {
        "math" => match member {
            "pi" => Some(Member::Const(Value::Float(consts::PI))),
            "e" => Some(Member::Const(Value::Float(consts::E))),
            "tau" => Some(Member::Const(Value::Float(consts::TAU))),
            "inf" => Some(Member::Const(Value::Float(f64::INFINITY))),
            "nan" => Some(Member::Const(Value::Float(f64::NAN))),
            _ => find(&MATH),
        },
        "path" | "os.path" => match member {
            "sep" => Some(Member::Const(Value::Str("/".into()))),
            _ => find(&PATH),
        },
        "os" => match member {
            "getenv" => Some(Member::Func(Func::Module(F::Getenv))),
            "getcwd" => Some(Member::Func(Func::Module(F::Getcwd))),
            "sep" => Some(Member::Const(Value::Str("/".into()))),
            _ => None,
        },
        "os.environ" if member == "get" => Some(Member::Func(Func::Module(F::Getenv))),
        _ => None,
    };
    found.ok_or_else(|| {
        let names = |table: &[(&str, ModFunc)]| {
            table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        };
        let available = match module {
            "math" => format!("pi, e, tau, inf, nan, {}", names(&MATH)),
            "path" | "os.path" => format!("sep, {}", names(&PATH)),
            "os" => String::from("getenv, getcwd, sep, environ.get, path.…"),
            _ => String::from("get"),
        };
        format!("`{dotted}` is not available; {module} has: {available}")
    })
}

impl ModFunc {
    /// The name as users write it, for messages.
    pub fn name(self) -> &'static str {
        let math = MATH.iter().find(|(_, f)| *f == self).map(|(n, _)| *n);
        let path = PATH.iter().find(|(_, f)| *f == self).map(|(n, _)| *n);
        match (math, path, self) {
            (Some(n), _, _) | (_, Some(n), _) => n,
            (_, _, F::Getenv) => "getenv",
            _ => "getcwd",
        }
    }

    /// Minimum and maximum argument counts (`None`: any number).
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            F::Getcwd => (0, Some(0)),
            F::Log | F::Getenv => (1, Some(2)),
            F::Pow | F::Atan2 | F::Fmod | F::Copysign | F::Isclose => (2, Some(2)),
            F::Hypot | F::Gcd => (1, None),
            F::Join => (1, None),
            _ => (1, Some(1)),
        }
    }

    pub fn call(self, args: &[Value]) -> Result<Value, String> {
        let arg = |i: usize| args.get(i).ok_or_else(|| String::from("missing argument"));
        let num = |i: usize| arg(i).and_then(real);
        let text = |i: usize| arg(i).map(Value::to_str);
        let float = |f: f64| checked(f).map(Value::Float);
        match self {
            F::Sqrt => domain(num(0)?, |x| x >= 0.0, f64::sqrt),
            F::Floor => super::functions::rounded(arg(0)?, f64::floor),
            F::Ceil => super::functions::rounded(arg(0)?, f64::ceil),
            F::Trunc => super::functions::rounded(arg(0)?, f64::trunc),
            F::Pow => {
                let (a, b) = (num(0)?, num(1)?);
                if (a == 0.0 && b < 0.0) || (a < 0.0 && b.is_finite() && b.fract() != 0.0) {
                    return Err(domain_error());
                }
                float(a.powf(b))
            }
            F::Exp => float(num(0)?.exp()),
            F::Log => {
                let x = num(0)?;
                let ln = domain(x, |x| x > 0.0, f64::ln)?
                    .as_num()
                    .and_then(|n| n.to_f64().ok());
                match args.get(1) {
                    None => Ok(Value::Float(ln.unwrap_or(f64::NAN))),
                    Some(base) => {
                        let b = real(base)?;
                        if b <= 0.0 {
                            return Err(domain_error());
                        }
                        if b == 1.0 {
                            return Err(String::from("float division by zero"));
                        }
                        Ok(Value::Float(ln.unwrap_or(f64::NAN) / b.ln()))
                    }
                }
            }
            F::Log2 => domain(num(0)?, |x| x > 0.0, f64::log2),
            F::Log10 => domain(num(0)?, |x| x > 0.0, f64::log10),
            F::Sin => domain(num(0)?, f64::is_finite, f64::sin),
            F::Cos => domain(num(0)?, f64::is_finite, f64::cos),
            F::Tan => domain(num(0)?, f64::is_finite, f64::tan),
            F::Asin => domain(num(0)?, |x| (-1.0..=1.0).contains(&x), f64::asin),
            F::Acos => domain(num(0)?, |x| (-1.0..=1.0).contains(&x), f64::acos),
            F::Atan => Ok(Value::Float(num(0)?.atan())),
            F::Atan2 => Ok(Value::Float(num(0)?.atan2(num(1)?))),
            F::Sinh => float(num(0)?.sinh()),
            F::Cosh => float(num(0)?.cosh()),
            F::Tanh => Ok(Value::Float(num(0)?.tanh())),
            F::Hypot => {
                let mut sum = 0.0_f64;
                for i in 0..args.len() {
                    sum = sum.hypot(num(i)?);
                }
                Ok(Value::Float(sum))
            }
            F::Degrees => Ok(Value::Float(num(0)?.to_degrees())),
            F::Radians => Ok(Value::Float(num(0)?.to_radians())),
            F::Fabs => Ok(Value::Float(num(0)?.abs())),
            F::Fmod => {
                let (a, b) = (num(0)?, num(1)?);
                if b == 0.0 || a.is_infinite() {
                    return Err(domain_error());
                }
                Ok(Value::Float(a % b))
            }
            F::Copysign => Ok(Value::Float(num(0)?.copysign(num(1)?))),
            F::Isclose => {
                let (a, b) = (num(0)?, num(1)?);
                let close = a == b
                    || (a.is_finite()
                        && b.is_finite()
                        && (a - b).abs() <= 1e-9 * a.abs().max(b.abs()));
                Ok(Value::Bool(close))
            }
            F::Isnan => Ok(Value::Bool(num(0)?.is_nan())),
            F::Isinf => Ok(Value::Bool(num(0)?.is_infinite())),
            F::Isfinite => Ok(Value::Bool(num(0)?.is_finite())),
            F::Factorial => factorial(arg(0)?),
            F::Gcd => {
                let mut g: i64 = 0;
                for a in args {
                    g = gcd(g, integer(a)?)?;
                }
                Ok(Value::Int(g))
            }
            F::Basename => Ok(Value::Str(path::basename(&text(0)?).into())),
            F::Dirname => Ok(Value::Str(path::dirname(&text(0)?).into())),
            F::Splitext => {
                let p = text(0)?;
                let (root, ext) = path::splitext(&p);
                Ok(Value::List(vec![
                    Value::Str(root.into()),
                    Value::Str(ext.into()),
                ]))
            }
            F::Join => {
                let parts = args.iter().map(Value::to_str).collect::<Vec<_>>();
                let joined = join(&parts);
                super::ops::check_string_len(joined.len())?;
                Ok(Value::Str(joined))
            }
            F::Normpath => Ok(Value::Str(normpath(&text(0)?))),
            F::Abspath => Ok(Value::Str(abspath(&text(0)?))),
            F::Exists => Ok(Value::Bool(std::fs::metadata(text(0)?).is_ok())),
            F::Isfile => Ok(Value::Bool(
                std::fs::metadata(text(0)?).is_ok_and(|m| m.is_file()),
            )),
            F::Isdir => Ok(Value::Bool(
                std::fs::metadata(text(0)?).is_ok_and(|m| m.is_dir()),
            )),
            F::Getenv => Ok(match std::env::var(text(0)?) {
                Ok(v) => Value::Str(v),
                Err(_) => args.get(1).cloned().unwrap_or(Value::Null),
            }),
            F::Getcwd => Ok(Value::Str(cwd())),
        }
    }
}

fn domain_error() -> String {
    String::from("math domain error")
}

/// A float argument (ints and bools convert, as in Python's `math`).
fn real(v: &Value) -> Result<f64, String> {
    v.as_num()
        .ok_or_else(|| {
            format!(
                "must be a real number, not {}; convert with float(…)",
                v.describe()
            )
        })?
        .to_f64()
}

fn integer(v: &Value) -> Result<i64, String> {
    match v.as_num() {
        Some(Num::Int(i)) => Ok(i),
        _ => Err(format!("needs integers, not {}", v.describe())),
    }
}

/// Python's `math` raises "math range error" where a finite input gives an infinite result.
fn checked(f: f64) -> Result<f64, String> {
    if f.is_infinite() {
        Err(String::from("math range error"))
    } else {
        Ok(f)
    }
}

fn domain(x: f64, valid: impl Fn(f64) -> bool, f: fn(f64) -> f64) -> Result<Value, String> {
    if x.is_nan() {
        return Ok(Value::Float(f64::NAN));
    }
    // +inf is outside some domains as written but Python gives inf where the limit is inf.
    let infinite_limit = x == f64::INFINITY && f(x) == f64::INFINITY;
    if !(valid(x) || infinite_limit) {
        return Err(domain_error());
    }
    Ok(Value::Float(f(x)))
}

fn factorial(v: &Value) -> Result<Value, String> {
    let n = match v {
        Value::Int(n) => *n,
        Value::Bool(b) => i64::from(*b),
        other => {
            return Err(format!(
                "only accepts integral values, not {}",
                other.describe()
            ));
        }
    };
    if n < 0 {
        return Err(String::from("not defined for negative values"));
    }
    let mut product = num_bigint::BigInt::from(1);
    for k in 2..=n {
        product *= k;
        // Stop early: the digit limit is checked exactly by `big_value`, this only bounds work.
        if product.bits() > u64::from(super::ops::MAX_INT_DIGITS) * 4 {
            break;
        }
    }
    super::ops::big_value(product)
}

fn gcd(a: i64, b: i64) -> Result<i64, String> {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    i64::try_from(a).map_err(|_| String::from("integer overflow: the result exceeds 64 bits"))
}

/// `os.path.join` on POSIX: an absolute part starts over, a `/` is added only where needed.
fn join(parts: &[String]) -> String {
    let mut out = String::new();
    for part in parts {
        if part.starts_with('/') {
            out.clear();
        } else if !out.is_empty() && !out.ends_with('/') {
            out.push('/');
        }
        out.push_str(part);
    }
    out
}

/// `os.path.normpath` on POSIX: `.` and empty parts dropped, `..` folded where it can be, two
/// leading slashes kept (POSIX leaves their meaning open), `.` for an empty result.
fn normpath(p: &str) -> String {
    if p.is_empty() {
        return String::from(".");
    }
    let leading = match p.bytes().take_while(|&b| b == b'/').count() {
        0 => "",
        2 => "//",
        _ => "/",
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." if !parts.is_empty() && parts.last() != Some(&"..") => {
                parts.pop();
            }
            ".." if !leading.is_empty() => {}
            other => parts.push(other),
        }
    }
    let out = format!("{leading}{}", parts.join("/"));
    if out.is_empty() {
        String::from(".")
    } else {
        out
    }
}

fn cwd() -> String {
    std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

fn abspath(p: &str) -> String {
    if p.starts_with('/') {
        normpath(p)
    } else {
        normpath(&join(&[cwd(), p.to_string()]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normpath_and_join_follow_posixpath() {
        for (given, want) in [
            ("", "."),
            ("a/./b/../c", "a/c"),
            ("/../x", "/x"),
            ("../../x", "../../x"),
            ("a/../..", ".."),
            ("//a//b/", "//a/b"),
            ("///a", "/a"),
        ] {
            assert_eq!(normpath(given), want, "{given}");
        }
        let parts = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(join(&parts(&["a", "b/", "c"])), "a/b/c");
        assert_eq!(join(&parts(&["a", "/b", "c"])), "/b/c");
        assert_eq!(join(&parts(&["", "a"])), "a");
    }

    #[test]
    fn unknown_members_list_what_the_module_has() {
        let err = resolve("math.sqr").err().expect("unknown");
        assert!(
            err.starts_with("`math.sqr` is not available; math has: pi, e"),
            "{err}"
        );
        assert!(resolve("os.path.join").is_ok());
        assert!(resolve("os.environ.get").is_ok());
    }
}
