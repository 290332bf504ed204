//! HyperShell's `dt` global (Python's `datetime` module): constructors such as
//! `dt.datetime.now()` and `dt.timedelta(days=1)`, and the methods and attributes of the values
//! they make (`.strftime(…)`, `.year`).
//!
//! Datetimes are naive and in local time, as Python's `now()` and `fromtimestamp()` give them;
//! `utcnow()` gives UTC. Methods and attributes are only reachable after a `.`, so they do not
//! add global function names.

use chrono::{DateTime, Datelike, Local, NaiveDateTime, TimeZone, Timelike, Utc};

use super::datetime::{self, delta, micros};
use super::functions::Func;
use super::strtime;
use super::value::{Num, Value};

/// A `dt` function, method or attribute, resolved at parse time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DtFunc {
    DateTime,
    Date,
    TimeDelta,
    Now,
    UtcNow,
    Today,
    FromTimestamp { date: bool },
    UtcFromTimestamp,
    Strptime,
    FromIsoFormat { date: bool },
    // Methods.
    Strftime,
    IsoFormat,
    Weekday,
    IsoWeekday,
    Timestamp,
    ToDate,
    TotalSeconds,
    // Attributes.
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Microsecond,
    Days,
    Seconds,
    Microseconds,
}

use DtFunc as D;

/// Modules under `dt` (each is also callable: `dt.datetime(2024, 5, 1)`).
pub fn is_module(dotted: &str) -> bool {
    matches!(dotted, "dt" | "dt.datetime" | "dt.date")
}

const DATETIME: [(&str, DtFunc); 7] = [
    ("now", D::Now),
    ("today", D::Now),
    ("utcnow", D::UtcNow),
    ("fromtimestamp", D::FromTimestamp { date: false }),
    ("utcfromtimestamp", D::UtcFromTimestamp),
    ("strptime", D::Strptime),
    ("fromisoformat", D::FromIsoFormat { date: false }),
];

const DATE: [(&str, DtFunc); 3] = [
    ("today", D::Today),
    ("fromtimestamp", D::FromTimestamp { date: true }),
    ("fromisoformat", D::FromIsoFormat { date: true }),
];

const METHODS: [(&str, DtFunc); 7] = [
    ("strftime", D::Strftime),
    ("isoformat", D::IsoFormat),
    ("weekday", D::Weekday),
    ("isoweekday", D::IsoWeekday),
    ("timestamp", D::Timestamp),
    ("date", D::ToDate),
    ("total_seconds", D::TotalSeconds),
];

const ATTRIBUTES: [(&str, DtFunc); 10] = [
    ("year", D::Year),
    ("month", D::Month),
    ("day", D::Day),
    ("hour", D::Hour),
    ("minute", D::Minute),
    ("second", D::Second),
    ("microsecond", D::Microsecond),
    ("days", D::Days),
    ("seconds", D::Seconds),
    ("microseconds", D::Microseconds),
];

/// A `dt.…` name: a constant (`dt.MINYEAR`) or a function; the error lists what there is.
pub fn resolve(dotted: &str) -> Result<super::modules::Member, String> {
    use super::modules::Member;
    let find = |table: &[(&str, DtFunc)], name: &str| {
        table
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| Member::Func(Func::Dt(*f)))
    };
    let found = match dotted {
        "dt.datetime" => Some(Member::Func(Func::Dt(D::DateTime))),
        "dt.date" => Some(Member::Func(Func::Dt(D::Date))),
        "dt.timedelta" => Some(Member::Func(Func::Dt(D::TimeDelta))),
        "dt.MINYEAR" => Some(Member::Const(Value::Int(1))),
        "dt.MAXYEAR" => Some(Member::Const(Value::Int(9999))),
        other => match other.rsplit_once('.') {
            Some(("dt.datetime", name)) => find(&DATETIME, name),
            Some(("dt.date", name)) => find(&DATE, name),
            _ => None,
        },
    };
    found.ok_or_else(|| {
        let names = |t: &[(&str, DtFunc)]| t.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
        let (module, available) = match dotted.rsplit_once('.') {
            Some(("dt.datetime", _)) => ("dt.datetime", names(&DATETIME)),
            Some(("dt.date", _)) => ("dt.date", names(&DATE)),
            _ => (
                "dt",
                String::from("datetime, date, timedelta, MINYEAR, MAXYEAR"),
            ),
        };
        format!("`{dotted}` is not available; {module} has: {available}")
    })
}

/// What `.name` means after a value, if it is a datetime method (`true`) or attribute.
pub fn member(name: &str) -> Option<(DtFunc, bool)> {
    let find = |t: &[(&str, DtFunc)]| t.iter().find(|(n, _)| *n == name).map(|(_, f)| *f);
    find(&METHODS)
        .map(|f| (f, true))
        .or_else(|| find(&ATTRIBUTES).map(|f| (f, false)))
}

impl DtFunc {
    pub fn name(self) -> &'static str {
        let tables: [&[(&str, DtFunc)]; 4] = [&DATETIME, &DATE, &METHODS, &ATTRIBUTES];
        let found = tables
            .iter()
            .flat_map(|t| t.iter())
            .find(|(_, f)| *f == self);
        match (found, self) {
            (Some((n, _)), _) => n,
            (None, D::DateTime) => "datetime",
            (None, D::Date) => "date",
            _ => "timedelta",
        }
    }

    /// Python's parameter names, for keyword arguments; each defaults to 0 when left out.
    pub fn keywords(self) -> &'static [&'static str] {
        match self {
            D::DateTime => &[
                "year",
                "month",
                "day",
                "hour",
                "minute",
                "second",
                "microsecond",
            ],
            D::Date => &["year", "month", "day"],
            D::TimeDelta => &[
                "days",
                "seconds",
                "microseconds",
                "milliseconds",
                "minutes",
                "hours",
                "weeks",
            ],
            _ => &[],
        }
    }

    /// Minimum and maximum argument counts, the value before a `.` counting as the first.
    pub fn arity(self) -> (usize, Option<usize>) {
        match self {
            D::DateTime => (3, Some(7)),
            D::Date => (3, Some(3)),
            D::TimeDelta => (0, Some(7)),
            D::Now | D::UtcNow | D::Today => (0, Some(0)),
            D::Strptime | D::Strftime => (2, Some(2)),
            D::IsoFormat => (1, Some(2)),
            _ => (1, Some(1)),
        }
    }

    pub fn call(self, args: &[Value]) -> Result<Value, String> {
        let arg = |i: usize| args.get(i).ok_or_else(|| String::from("missing argument"));
        let int = |i: usize| arg(i).and_then(|v| integer(v, self.keywords().get(i).copied()));
        match self {
            D::DateTime => {
                let field = |i: usize| int(i).map(|v| u32::try_from(v).unwrap_or(u32::MAX));
                let date = make_date(int(0)?, int(1)?, int(2)?)?;
                let (h, m, s, us) = (field(3)?, field(4)?, field(5)?, field(6)?);
                check(h, 23, "hour")?;
                check(m, 59, "minute")?;
                check(s, 59, "second")?;
                check(us, 999_999, "microsecond")?;
                Ok(Value::DateTime(
                    date.and_hms_micro_opt(h, m, s, us).unwrap_or_default(),
                ))
            }
            D::Date => make_date(int(0)?, int(1)?, int(2)?).map(Value::Date),
            D::TimeDelta => timedelta(args),
            D::Now => Ok(Value::DateTime(truncate(Local::now().naive_local()))),
            D::UtcNow => Ok(Value::DateTime(truncate(Utc::now().naive_utc()))),
            D::Today => Ok(Value::Date(Local::now().date_naive())),
            D::FromTimestamp { date } => {
                let t = from_timestamp(arg(0)?)?.with_timezone(&Local).naive_local();
                Ok(if date {
                    Value::Date(t.date())
                } else {
                    Value::DateTime(t)
                })
            }
            D::UtcFromTimestamp => Ok(Value::DateTime(from_timestamp(arg(0)?)?.naive_utc())),
            D::Strptime => {
                strtime::strptime(&text(arg(0)?, "strptime")?, &text(arg(1)?, "strptime")?)
                    .map(Value::DateTime)
            }
            D::FromIsoFormat { date } => {
                let t = strtime::fromisoformat(&text(arg(0)?, "fromisoformat")?, date)?;
                Ok(if date {
                    Value::Date(t.date())
                } else {
                    Value::DateTime(t)
                })
            }
            D::Strftime => {
                let fmt = text(arg(1)?, "strftime")?;
                let t = as_datetime(arg(0)?, self)?;
                Ok(Value::Str(strtime::strftime(&t, &fmt, || {
                    local_seconds(&t)
                })))
            }
            D::IsoFormat => match arg(0)? {
                Value::Date(d) => Ok(Value::Str(datetime::date_str(d))),
                Value::DateTime(t) => {
                    let sep = match args.get(1) {
                        None => 'T',
                        Some(v) => {
                            let s = text(v, "isoformat")?;
                            let mut chars = s.chars();
                            match (chars.next(), chars.next()) {
                                (Some(c), None) => c,
                                _ => {
                                    return Err(String::from(
                                        "isoformat() argument 1 must be a unicode character",
                                    ));
                                }
                            }
                        }
                    };
                    Ok(Value::Str(datetime::datetime_str(t, sep)))
                }
                other => Err(no_member(other, self)),
            },
            D::Weekday => Ok(Value::Int(i64::from(
                as_date(arg(0)?, self)?.weekday().num_days_from_monday(),
            ))),
            D::IsoWeekday => Ok(Value::Int(i64::from(
                as_date(arg(0)?, self)?.weekday().number_from_monday(),
            ))),
            D::Timestamp => match arg(0)? {
                Value::DateTime(t) => Ok(Value::Float(
                    local_seconds(t) as f64 + f64::from(datetime::microsecond(t)) / 1e6,
                )),
                other => Err(no_member(other, self)),
            },
            D::ToDate => match arg(0)? {
                Value::DateTime(t) => Ok(Value::Date(t.date())),
                other => Err(no_member(other, self)),
            },
            D::TotalSeconds => match arg(0)? {
                Value::Delta(d) => Ok(Value::Float(micros(d) as f64 / 1e6)),
                other => Err(no_member(other, self)),
            },
            D::Year | D::Month | D::Day => {
                let d = as_date(arg(0)?, self)?;
                Ok(Value::Int(i64::from(match self {
                    D::Year => d.year(),
                    D::Month => d.month() as i32,
                    _ => d.day() as i32,
                })))
            }
            D::Hour | D::Minute | D::Second | D::Microsecond => match arg(0)? {
                Value::DateTime(t) => Ok(Value::Int(i64::from(match self {
                    D::Hour => t.hour(),
                    D::Minute => t.minute(),
                    D::Second => t.second(),
                    _ => datetime::microsecond(t),
                }))),
                other => Err(no_member(other, self)),
            },
            D::Days | D::Seconds | D::Microseconds => match arg(0)? {
                Value::Delta(d) => {
                    let (days, seconds, micro) = datetime::parts(d);
                    Ok(Value::Int(match self {
                        D::Days => days,
                        D::Seconds => seconds,
                        _ => micro,
                    }))
                }
                other => Err(no_member(other, self)),
            },
        }
    }
}

/// Python's `AttributeError`, with the hint that the args are text until parsed.
fn no_member(v: &Value, f: DtFunc) -> String {
    let hint = match v {
        Value::Str(_) | Value::Int(_) | Value::Float(_) => {
            "; parse the args first, e.g. dt.datetime.fromisoformat(x) or dt.datetime.strptime(str(x), '%Y%m%d')"
        }
        _ => "",
    };
    format!("{} has no attribute `{}`{hint}", v.describe(), f.name())
}

fn as_date(v: &Value, f: DtFunc) -> Result<chrono::NaiveDate, String> {
    match v {
        Value::Date(d) => Ok(*d),
        Value::DateTime(t) => Ok(t.date()),
        other => Err(no_member(other, f)),
    }
}

/// A date as a datetime at midnight, as Python's `date.strftime` formats it.
fn as_datetime(v: &Value, f: DtFunc) -> Result<NaiveDateTime, String> {
    match v {
        Value::DateTime(t) => Ok(*t),
        other => as_date(other, f).map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default()),
    }
}

fn text(v: &Value, func: &str) -> Result<String, String> {
    match v {
        Value::Str(s) => Ok(s.clone()),
        other => Err(format!(
            "{func}: argument must be str, not {}; use str(x)",
            other.describe()
        )),
    }
}

fn integer(v: &Value, name: Option<&str>) -> Result<i64, String> {
    match v.as_num() {
        Some(Num::Int(i)) => Ok(i),
        _ => Err(format!(
            "{} must be an integer, not {}",
            name.unwrap_or("the argument"),
            v.describe()
        )),
    }
}

fn check(v: u32, max: u32, what: &str) -> Result<(), String> {
    if v <= max {
        Ok(())
    } else {
        Err(format!("{what} must be in 0..{max}"))
    }
}

fn make_date(y: i64, m: i64, d: i64) -> Result<chrono::NaiveDate, String> {
    if !(1..=9999).contains(&y) {
        return Err(format!("year {y} is out of range"));
    }
    if !(1..=12).contains(&m) {
        return Err(String::from("month must be in 1..12"));
    }
    u32::try_from(d)
        .ok()
        .and_then(|d| chrono::NaiveDate::from_ymd_opt(y as i32, m as u32, d))
        .ok_or_else(|| String::from("day is out of range for month"))
}

/// `dt.timedelta(days, seconds, microseconds, milliseconds, minutes, hours, weeks)`: numbers,
/// summed exactly for integers and rounded half to even to microseconds for floats.
fn timedelta(args: &[Value]) -> Result<Value, String> {
    const UNITS: [i64; 7] = [
        86_400_000_000,
        1_000_000,
        1,
        1_000,
        60_000_000,
        3_600_000_000,
        604_800_000_000,
    ];
    let mut whole: i128 = 0;
    let mut fraction = 0.0_f64;
    for (i, (v, unit)) in args.iter().zip(UNITS).enumerate() {
        match v.as_num() {
            Some(Num::Int(n)) => whole += i128::from(n) * i128::from(unit),
            Some(Num::Float(f)) if f.is_finite() => {
                let scaled = f * unit as f64;
                let int_part = scaled.trunc();
                if int_part.abs() > 1e20 {
                    return Err(String::from("timedelta overflow: the value is too large"));
                }
                whole += int_part as i128;
                fraction += scaled - int_part;
            }
            _ => {
                return Err(format!(
                    "unsupported type for timedelta {} component: {}",
                    DtFunc::TimeDelta.keywords().get(i).copied().unwrap_or("?"),
                    v.describe()
                ));
            }
        }
    }
    delta(whole + fraction.round_ties_even() as i128).map(Value::Delta)
}

/// Seconds since the epoch of a number, rounded half to even to microseconds as Python does.
fn from_timestamp(v: &Value) -> Result<DateTime<Utc>, String> {
    let out_of_range = || String::from("year is out of range");
    let (secs, micro) = match v.as_num() {
        Some(Num::Int(i)) => (i, 0),
        Some(Num::Float(f)) if f.is_finite() => {
            let total = (f * 1e6).round_ties_even();
            if total.abs() > 1e18 {
                return Err(out_of_range());
            }
            let total = total as i64;
            (total.div_euclid(1_000_000), total.rem_euclid(1_000_000))
        }
        Some(Num::Float(_)) => {
            return Err(String::from(
                "cannot convert float NaN or infinity to integer",
            ));
        }
        _ => {
            return Err(format!(
                "'{}' object cannot be interpreted as a timestamp",
                v.type_name()
            ));
        }
    };
    DateTime::from_timestamp(secs, micro as u32 * 1000)
        .filter(|t| (1..=9999).contains(&t.year()))
        .ok_or_else(out_of_range)
}

/// Python's naive `timestamp()`: the datetime read as local time (the earlier of two readings
/// in a repeated hour, as `mktime` does; a skipped hour is read with the offset before it).
fn local_seconds(t: &NaiveDateTime) -> i64 {
    match Local.from_local_datetime(t).earliest() {
        Some(local) => local.timestamp(),
        None => {
            let offset = Local.offset_from_utc_datetime(t);
            t.and_utc().timestamp() - i64::from(chrono::Offset::fix(&offset).local_minus_utc())
        }
    }
}

/// Python datetimes hold microseconds.
fn truncate(t: NaiveDateTime) -> NaiveDateTime {
    t.with_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)
}
