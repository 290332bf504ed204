//! `"%03d" % x`: Python's printf-style string formatting, the form HyperShell users write in
//! `{= =}` to pad numbers (`"%05.1f" % x`, `"%s-%s" % [x, x]`; a list stands for Python's tuple).

use super::value::{Num, Value};

/// Formats `values` into `format` as Python's `str % values` does, for the conversions
/// `d i u s r f F e E g G x X o c %` with the flags `-+ 0#`, a width and a precision.
pub fn format(format: &str, values: &Value) -> Result<String, String> {
    let args: Vec<&Value> = match values {
        Value::List(items) => items.iter().collect(),
        one => vec![one],
    };
    let mut args = args.into_iter();
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek().filter(|f| "-+ 0#".contains(**f)) {
            flags.push(f);
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(bounded(&p, "precision")?);
        }
        let conversion = chars
            .next()
            .ok_or("incomplete format: `%` at the end of the text")?;
        if conversion == '%' {
            out.push('%');
            continue;
        }
        let value = args
            .next()
            .ok_or("not enough arguments for format string")?;
        let body = convert(conversion, value, precision, &flags)?;
        let width = bounded(&width, "width")?;
        out.push_str(&pad(body, width, &flags, conversion));
    }
    if args.next().is_some() {
        return Err("not all arguments converted during string formatting".into());
    }
    Ok(out)
}

/// A width or precision: digits up to [`MAX_FIELD`] (empty = 0). Larger ones would only build
/// a huge string, and Rust's formatter refuses precisions past 65535.
fn bounded(digits: &str, what: &str) -> Result<usize, String> {
    match digits.parse::<usize>() {
        Ok(n) if n <= MAX_FIELD => Ok(n),
        Err(_) if digits.is_empty() => Ok(0),
        _ => Err(format!(
            "format {what} {digits} is too large (at most {MAX_FIELD})"
        )),
    }
}

/// The largest width or precision a `%` conversion takes.
const MAX_FIELD: usize = 10_000;

fn convert(conv: char, v: &Value, precision: Option<usize>, flags: &str) -> Result<String, String> {
    let sign = |negative: bool| {
        if negative {
            "-"
        } else if flags.contains('+') {
            "+"
        } else if flags.contains(' ') {
            " "
        } else {
            ""
        }
    };
    let number = || {
        v.as_num()
            .ok_or_else(|| format!("%{conv} format: a number is required, not {}", v.describe()))
    };
    Ok(match conv {
        's' => v.to_str(),
        'r' => v.repr(),
        'c' => match v {
            Value::Str(s) if s.chars().count() == 1 => s.clone(),
            Value::Int(i) => char::from_u32(u32::try_from(*i).unwrap_or(u32::MAX))
                .ok_or("%c arg not in range(0x110000)")?
                .to_string(),
            _ => return Err("%c requires an integer or a single character".into()),
        },
        'd' | 'i' | 'u' => match number()? {
            Num::Float(f) => format!("{}{}", sign(f < 0.0), (f.abs().trunc()) as i128),
            n => {
                let text = integer_text(n);
                let (neg, digits) = text
                    .strip_prefix('-')
                    .map_or((false, text.as_str()), |d| (true, d));
                format!("{}{digits}", sign(neg))
            }
        },
        'x' | 'X' | 'o' => {
            let i = match number()? {
                Num::Int(i) => i,
                Num::Float(_) => {
                    return Err(format!("%{conv} format: an integer is required, not float"));
                }
                Num::Big(_) => {
                    return Err(format!(
                        "%{conv} format of integers past 64 bits is not supported"
                    ));
                }
            };
            let magnitude = i.unsigned_abs();
            let alt = flags.contains('#');
            let digits = match conv {
                'x' => format!("{}{magnitude:x}", if alt { "0x" } else { "" }),
                'X' => format!("{}{magnitude:X}", if alt { "0X" } else { "" }),
                _ => format!("{}{magnitude:o}", if alt { "0o" } else { "" }),
            };
            format!("{}{digits}", sign(i < 0))
        }
        'f' | 'F' | 'e' | 'E' | 'g' | 'G' => {
            let f = match number()? {
                Num::Int(i) => i as f64,
                Num::Float(f) => f,
                n => integer_text(n).parse::<f64>().unwrap_or(f64::INFINITY),
            };
            if !f.is_finite() {
                // Python prints inf and nan whatever the conversion.
                let text = if f.is_nan() { "nan" } else { "inf" };
                let text = if conv.is_ascii_uppercase() {
                    text.to_uppercase()
                } else {
                    text.into()
                };
                return Ok(format!(
                    "{}{text}",
                    sign(f.is_sign_negative() && !f.is_nan())
                ));
            }
            let p = precision.unwrap_or(6);
            let body = match conv {
                'f' | 'F' => format!("{:.p$}", f.abs()),
                'e' | 'E' => python_exp(f.abs(), p),
                _ => python_general(f.abs(), p.max(1), flags.contains('#')),
            };
            let body = if conv.is_ascii_uppercase() {
                body.to_uppercase()
            } else {
                body
            };
            format!("{}{body}", sign(f.is_sign_negative() && f != 0.0))
        }
        other => return Err(format!("unsupported format character '{other}'")),
    })
}

/// The digits of an integer (big or not).
fn integer_text(n: Num) -> String {
    match n {
        Num::Int(i) => i.to_string(),
        Num::Big(b) => b.to_string(),
        Num::Float(f) => f.to_string(),
    }
}

/// `1.5e+00` as C and Python write exponents: a sign and at least two digits.
fn python_exp(f: f64, precision: usize) -> String {
    let text = format!("{f:.precision$e}");
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!(
        "{mantissa}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

/// `%g`: the shorter of `%e` and `%f` at `precision` significant digits, trailing zeros dropped.
fn python_general(f: f64, precision: usize, keep_zeros: bool) -> String {
    if f == 0.0 {
        return "0".into();
    }
    let exp = f.abs().log10().floor() as i32;
    let text = if exp < -4 || exp >= precision as i32 {
        python_exp(f, precision - 1)
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        format!("{f:.decimals$}")
    };
    if keep_zeros {
        return text;
    }
    match text.split_once('e') {
        Some((m, e)) if m.contains('.') => {
            format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
        }
        None if text.contains('.') => text.trim_end_matches('0').trim_end_matches('.').into(),
        _ => text,
    }
}

/// Width: left-justified with `-`, zero-filled after the sign with `0` (numbers only).
fn pad(body: String, width: usize, flags: &str, conv: char) -> String {
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = width - len;
    if flags.contains('-') {
        return format!("{body}{}", " ".repeat(fill));
    }
    if flags.contains('0') && !matches!(conv, 's' | 'r' | 'c') {
        let split = body
            .char_indices()
            .find(|(_, c)| !"+- ".contains(*c))
            .map_or(0, |(i, _)| i);
        let (sign, digits) = body.split_at(split);
        let (prefix, digits) = ["0x", "0X", "0o"]
            .iter()
            .find_map(|p| digits.strip_prefix(p).map(|d| (*p, d)))
            .unwrap_or(("", digits));
        return format!("{sign}{prefix}{}{digits}", "0".repeat(fill));
    }
    format!("{}{body}", " ".repeat(fill))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, v: Value) -> String {
        format(fmt, &v).unwrap_or_else(|e| panic!("{fmt}: {e}"))
    }

    /// Expected values are what Python 3.11 prints for the same expressions.
    #[test]
    fn formats_as_python() {
        assert_eq!(f("%03d", Value::Int(3)), "003");
        assert_eq!(
            f(
                "%5d|%-5d|",
                Value::List(vec![Value::Int(-42), Value::Int(7)])
            ),
            "  -42|7    |"
        );
        assert_eq!(f("%05d", Value::Int(-42)), "-0042");
        assert_eq!(f("%+d", Value::Int(5)), "+5");
        assert_eq!(f("%.2f", Value::Float(1.23456)), "1.23");
        assert_eq!(f("%08.3f", Value::Float(-1.23456)), "-001.235");
        assert_eq!(f("%e", Value::Float(12345.678)), "1.234568e+04");
        assert_eq!(f("%g", Value::Float(0.0001)), "0.0001");
        assert_eq!(f("%g", Value::Float(1234567.0)), "1.23457e+06");
        assert_eq!(f("%g", Value::Float(2.5)), "2.5");
        assert_eq!(
            f(
                "%x %X %o",
                Value::List(vec![Value::Int(255), Value::Int(255), Value::Int(8)])
            ),
            "ff FF 10"
        );
        assert_eq!(f("%#06x", Value::Int(255)), "0x00ff");
        assert_eq!(
            f(
                "%s-%s",
                Value::List(vec![Value::Str("a".into()), Value::Int(1)])
            ),
            "a-1"
        );
        assert_eq!(f("%r", Value::Str("a".into())), "'a'");
        assert_eq!(f("%d%%", Value::Int(50)), "50%");
        assert_eq!(f("%d", Value::Float(3.9)), "3");
        assert_eq!(f("%s", Value::Null), "None");
    }

    #[test]
    fn huge_fields_are_errors_and_infinities_print_as_python() {
        for fmt in ["%.70000f", "%999999999999999999d", "%20000s"] {
            let e = format(fmt, &Value::Float(1.0)).unwrap_err();
            assert!(e.contains("too large"), "{fmt}: {e}");
        }
        assert_eq!(f("%e", Value::Float(f64::INFINITY)), "inf");
        assert_eq!(f("%5.2f", Value::Float(f64::NEG_INFINITY)), " -inf");
        assert_eq!(f("%G", Value::Float(f64::NAN)), "NAN");
    }

    #[test]
    fn mistakes_are_python_errors() {
        assert!(
            format("%d %d", &Value::Int(1))
                .unwrap_err()
                .contains("not enough arguments")
        );
        assert!(
            format("%d", &Value::List(vec![Value::Int(1), Value::Int(2)]))
                .unwrap_err()
                .contains("not all arguments")
        );
        assert!(
            format("%d", &Value::Str("x".into()))
                .unwrap_err()
                .contains("number is required")
        );
        assert!(
            format("%q", &Value::Int(1))
                .unwrap_err()
                .contains("unsupported format character")
        );
        assert!(
            format("50%", &Value::Int(1))
                .unwrap_err()
                .contains("incomplete format")
        );
    }
}
