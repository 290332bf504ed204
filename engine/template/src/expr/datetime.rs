//! Date, datetime and timedelta values: how they print and how operators apply to them.
//!
//! They follow Python's `datetime` module, which HyperShell exposes as `dt`: naive datetimes
//! to the microsecond, years 1 to 9999, timedeltas of at most 999999999 days, `str()` as
//! `2024-05-01 12:00:00.123456` and `1 day, 2:03:04`. The `dt` functions that build them are
//! in [`super::dtmodule`].

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike};
use num_integer::Integer;

use super::lexer::Op;
use super::value::{Num, Value};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// Python's `timedelta.max.days`.
const MAX_DAYS: i64 = 999_999_999;

/// A timedelta from microseconds, with Python's range check.
pub fn delta(micros: i128) -> Result<TimeDelta, String> {
    let days = micros.div_euclid(i128::from(MICROS_PER_DAY));
    if days.abs() > i128::from(MAX_DAYS) {
        return Err(format!(
            "days={days}; must have magnitude <= {MAX_DAYS} (timedelta overflow)"
        ));
    }
    // In range by the check above.
    Ok(TimeDelta::microseconds(micros as i64))
}

/// Whole microseconds of a timedelta (they always are: every constructor rounds to them).
pub fn micros(d: &TimeDelta) -> i64 {
    d.num_microseconds().unwrap_or(0)
}

/// Python's normalised form: days (any sign), seconds in 0..86400, microseconds in 0..10^6.
pub fn parts(d: &TimeDelta) -> (i64, i64, i64) {
    let m = micros(d);
    let days = m.div_euclid(MICROS_PER_DAY);
    let rest = m.rem_euclid(MICROS_PER_DAY);
    (days, rest / MICROS_PER_SECOND, rest % MICROS_PER_SECOND)
}

pub fn date_str(d: &NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// `str()` (separator `' '`) and `isoformat()` (`'T'`): microseconds only when not zero.
pub fn datetime_str(d: &NaiveDateTime, sep: char) -> String {
    let mut out = format!(
        "{}{sep}{:02}:{:02}:{:02}",
        date_str(&d.date()),
        d.hour(),
        d.minute(),
        d.second()
    );
    let micro = microsecond(d);
    if micro != 0 {
        out.push_str(&format!(".{micro:06}"));
    }
    out
}

pub fn microsecond(d: &NaiveDateTime) -> u32 {
    d.nanosecond() / 1000
}

/// `1 day, 2:03:04`, `-1 day, 23:59:59`, `0:00:00.500000`.
pub fn delta_str(d: &TimeDelta) -> String {
    let (days, seconds, micro) = parts(d);
    let mut out = String::new();
    if days != 0 {
        let plural = if days.abs() == 1 { "" } else { "s" };
        out.push_str(&format!("{days} day{plural}, "));
    }
    out.push_str(&format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    ));
    if micro != 0 {
        out.push_str(&format!(".{micro:06}"));
    }
    out
}

pub fn date_repr(d: &NaiveDate) -> String {
    format!("datetime.date({}, {}, {})", d.year(), d.month(), d.day())
}

/// `datetime.datetime(2024, 5, 1, 12, 0)`: seconds and microseconds only when not zero.
pub fn datetime_repr(d: &NaiveDateTime) -> String {
    let mut out = format!(
        "datetime.datetime({}, {}, {}, {}, {}",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute()
    );
    let micro = microsecond(d);
    if micro != 0 {
        out.push_str(&format!(", {}, {micro}", d.second()));
    } else if d.second() != 0 {
        out.push_str(&format!(", {}", d.second()));
    }
    out.push(')');
    out
}

/// `datetime.timedelta(days=1, seconds=5)`, `datetime.timedelta(0)`.
pub fn delta_repr(d: &TimeDelta) -> String {
    let (days, seconds, micro) = parts(d);
    let fields: Vec<String> = [
        ("days", days),
        ("seconds", seconds),
        ("microseconds", micro),
    ]
    .iter()
    .filter(|(_, v)| *v != 0)
    .map(|(n, v)| format!("{n}={v}"))
    .collect();
    if fields.is_empty() {
        String::from("datetime.timedelta(0)")
    } else {
        format!("datetime.timedelta({})", fields.join(", "))
    }
}

/// Python's `date`/`datetime` range: years 1 to 9999.
fn in_range<T: Datelike>(d: T) -> Result<T, String> {
    if (1..=9999).contains(&d.year()) {
        Ok(d)
    } else {
        Err(String::from("date value out of range"))
    }
}

fn shift_datetime(d: &NaiveDateTime, by: &TimeDelta) -> Result<Value, String> {
    d.checked_add_signed(*by)
        .ok_or_else(|| String::from("date value out of range"))
        .and_then(in_range)
        .map(Value::DateTime)
}

/// `date ± timedelta` uses only the timedelta's days, as Python does.
fn shift_date(d: &NaiveDate, days: i64) -> Result<Value, String> {
    d.checked_add_signed(TimeDelta::days(days))
        .ok_or_else(|| String::from("date value out of range"))
        .and_then(in_range)
        .map(Value::Date)
}

/// An arithmetic operator with a date, datetime or timedelta operand; `None` when Python has
/// no such operation (the caller reports the type error).
pub fn binary(op: Op, a: &Value, b: &Value) -> Option<Result<Value, String>> {
    use Value::{Date, DateTime, Delta};
    Some(match (op, a, b) {
        (Op::Plus, DateTime(d), Delta(t)) | (Op::Plus, Delta(t), DateTime(d)) => {
            shift_datetime(d, t)
        }
        (Op::Minus, DateTime(d), Delta(t)) => shift_datetime(d, &-*t),
        (Op::Minus, DateTime(x), DateTime(y)) => delta(i128::from(micros(&(*x - *y)))).map(Delta),
        (Op::Plus, Date(d), Delta(t)) | (Op::Plus, Delta(t), Date(d)) => shift_date(d, parts(t).0),
        (Op::Minus, Date(d), Delta(t)) => shift_date(d, -parts(t).0),
        (Op::Minus, Date(x), Date(y)) => Ok(Delta(TimeDelta::days((*x - *y).num_days()))),
        (Op::Plus, Delta(x), Delta(y)) => {
            delta(i128::from(micros(x)) + i128::from(micros(y))).map(Delta)
        }
        (Op::Minus, Delta(x), Delta(y)) => {
            delta(i128::from(micros(x)) - i128::from(micros(y))).map(Delta)
        }
        (Op::Star, Delta(t), n) | (Op::Star, n, Delta(t)) => scale(t, n.as_num()?),
        (Op::Slash, Delta(x), Delta(y)) => {
            nonzero(y).map(|y| Value::Float(micros(x) as f64 / y as f64))
        }
        (Op::Slash, Delta(t), n) => match n.as_num()? {
            Num::Float(0.0) => Err(String::from("division by zero")),
            Num::Float(f) => scale_float(t, 1.0 / f),
            n => int_divisor(n)
                .and_then(|k| delta(round_half_even(i128::from(micros(t)), i128::from(k))))
                .map(Delta),
        },
        (Op::DoubleSlash, Delta(x), Delta(y)) => nonzero(y)
            .map(|y| Value::Int(Integer::div_floor(&i128::from(micros(x)), &i128::from(y)) as i64)),
        (Op::DoubleSlash, Delta(t), n) => int_divisor(n.as_num()?)
            .and_then(|k| delta(Integer::div_floor(&i128::from(micros(t)), &i128::from(k))))
            .map(Delta),
        (Op::Percent, Delta(x), Delta(y)) => nonzero(y)
            .and_then(|y| {
                let (x, y) = (i128::from(micros(x)), i128::from(y));
                delta(Integer::mod_floor(&x, &y))
            })
            .map(Delta),
        _ => return None,
    })
}

fn nonzero(d: &TimeDelta) -> Result<i64, String> {
    match micros(d) {
        0 => Err(String::from("division by zero")),
        m => Ok(m),
    }
}

fn int_divisor(n: Num) -> Result<i64, String> {
    match n {
        Num::Int(0) => Err(String::from("integer division or modulo by zero")),
        Num::Int(k) => Ok(k),
        _ => Err(String::from("the divisor is too large")),
    }
}

/// `timedelta * n`: exact for integers, rounded half to even to microseconds for floats.
fn scale(t: &TimeDelta, n: Num) -> Result<Value, String> {
    match n {
        Num::Int(k) => delta(i128::from(micros(t)) * i128::from(k)).map(Value::Delta),
        Num::Float(f) => scale_float(t, f),
        Num::Big(_) => Err(String::from("timedelta overflow: the factor is too large")),
    }
}

fn scale_float(t: &TimeDelta, f: f64) -> Result<Value, String> {
    let m = (micros(t) as f64 * f).round_ties_even();
    if !m.is_finite() || m.abs() > 1e20 {
        return Err(String::from(
            "cannot convert the result to a timedelta: out of range",
        ));
    }
    delta(m as i128).map(Value::Delta)
}

/// `a / b` rounded half to even, for `b != 0`.
fn round_half_even(a: i128, b: i128) -> i128 {
    let (b, a) = if b < 0 { (-b, -a) } else { (b, a) };
    let q = a.div_euclid(b);
    let twice_r = 2 * a.rem_euclid(b);
    if twice_r > b || (twice_r == b && q % 2 != 0) {
        q + 1
    } else {
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn td(m: i64) -> TimeDelta {
        TimeDelta::microseconds(m)
    }

    /// Expected strings are Python 3.11's `str()`/`repr()`.
    #[test]
    fn values_print_like_python() {
        let d = NaiveDate::from_ymd_opt(2024, 5, 1).expect("date");
        let t = d.and_hms_micro_opt(12, 0, 0, 0).expect("time");
        assert_eq!(date_str(&d), "2024-05-01");
        assert_eq!(datetime_str(&t, ' '), "2024-05-01 12:00:00");
        let t2 = d.and_hms_micro_opt(12, 0, 5, 123).expect("time");
        assert_eq!(datetime_str(&t2, 'T'), "2024-05-01T12:00:05.000123");
        assert_eq!(datetime_repr(&t), "datetime.datetime(2024, 5, 1, 12, 0)");
        assert_eq!(
            datetime_repr(&t2),
            "datetime.datetime(2024, 5, 1, 12, 0, 5, 123)"
        );
        assert_eq!(date_repr(&d), "datetime.date(2024, 5, 1)");
        assert_eq!(delta_str(&td(-1)), "-1 day, 23:59:59.999999");
        assert_eq!(
            delta_str(&td(2 * MICROS_PER_DAY + 3_661_000_000)),
            "2 days, 1:01:01"
        );
        assert_eq!(delta_str(&td(0)), "0:00:00");
        assert_eq!(delta_repr(&td(0)), "datetime.timedelta(0)");
        assert_eq!(
            delta_repr(&td(-1)),
            "datetime.timedelta(days=-1, seconds=86399, microseconds=999999)"
        );
    }

    #[test]
    fn timedelta_arithmetic_matches_python() {
        let t = Value::Delta(td(7 * MICROS_PER_DAY));
        let day = Value::Delta(td(MICROS_PER_DAY));
        let run = |op, a: &Value, b: &Value| binary(op, a, b).expect("supported");
        assert_eq!(run(Op::DoubleSlash, &t, &day), Ok(Value::Int(7)));
        assert_eq!(run(Op::Slash, &day, &t), Ok(Value::Float(1.0 / 7.0)));
        assert_eq!(
            run(Op::Slash, &Value::Delta(td(3)), &Value::Int(2)),
            Ok(Value::Delta(td(2)))
        );
        assert_eq!(
            run(Op::Slash, &Value::Delta(td(5)), &Value::Int(2)),
            Ok(Value::Delta(td(2)))
        );
        assert_eq!(
            run(Op::DoubleSlash, &Value::Delta(td(-3)), &Value::Int(2)),
            Ok(Value::Delta(td(-2)))
        );
        assert_eq!(
            run(Op::Star, &Value::Float(0.5), &Value::Delta(td(3))),
            Ok(Value::Delta(td(2)))
        );
        assert_eq!(
            run(Op::Percent, &Value::Delta(td(-3)), &Value::Delta(td(2))),
            Ok(Value::Delta(td(1)))
        );
        assert!(run(Op::Slash, &t, &Value::Delta(td(0))).is_err());
        assert!(run(Op::Star, &t, &Value::Int(1 << 40)).is_err());
        assert!(binary(Op::Plus, &t, &Value::Int(1)).is_none());
    }
}
