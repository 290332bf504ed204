//! Python's text forms of datetimes: `strftime`, `strptime` and `fromisoformat`.
//!
//! `strftime` follows CPython on Linux (glibc's directives in the C locale, `%f` for
//! microseconds, empty `%z`/`%Z` for naive values, unknown directives kept as written).
//! `strptime` builds the same regular expression as CPython's `_strptime` (same alternatives in
//! the same order, case-insensitive, whitespace runs matching any whitespace), so it accepts
//! and refuses the same strings, with the same messages.

use std::fmt::Write as _;

use chrono::format::StrftimeItems;
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// `d.strftime(fmt)`. `timestamp` gives `%s` (seconds since the epoch, local time).
pub fn strftime(d: &NaiveDateTime, fmt: &str, timestamp: impl Fn() -> i64) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let flag = chars.next_if(|f| matches!(f, '-' | '_' | '0'));
        let Some(directive) = chars.next() else {
            out.push('%');
            out.extend(flag);
            break;
        };
        match (flag, directive) {
            (None, 'f') => {
                let _ = write!(out, "{:06}", d.nanosecond() / 1000);
            }
            (None, 'z' | 'Z') => {}
            (None, '%') => out.push('%'),
            (None, 'Y') => {
                let _ = write!(out, "{}", d.year());
            }
            (None, 's') => {
                let _ = write!(out, "{}", timestamp());
            }
            (_, 'a' | 'A' | 'b' | 'B' | 'c' | 'C' | 'd' | 'D' | 'e' | 'F' | 'g' | 'G' | 'h')
            | (_, 'H' | 'I' | 'j' | 'k' | 'l' | 'm' | 'M' | 'n' | 'p' | 'P' | 'r' | 'R' | 'S')
            | (_, 't' | 'T' | 'u' | 'U' | 'V' | 'w' | 'W' | 'x' | 'X' | 'y') => {
                let spec: String = ['%'].into_iter().chain(flag).chain([directive]).collect();
                let mut piece = String::new();
                if write!(piece, "{}", d.format_with_items(StrftimeItems::new(&spec))).is_ok() {
                    out.push_str(&piece);
                } else {
                    out.push_str(&spec);
                }
            }
            _ => {
                out.push('%');
                out.extend(flag);
                out.push(directive);
            }
        }
    }
    out
}

/// The regular expression CPython's `_strptime` uses for one directive.
fn directive_regex(c: char) -> Option<String> {
    let names = |list: &[&str], abbreviate: bool| {
        let mut words: Vec<String> = list
            .iter()
            .map(|w| {
                if abbreviate {
                    w[..3].to_string()
                } else {
                    w.to_string()
                }
            })
            .collect();
        // Longest first, as CPython's `__seqToRE`, so `may` cannot shadow a longer name.
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        words.join("|")
    };
    let (name, body) = match c {
        'd' => ('d', String::from(r"3[01]|[12]\d|0[1-9]|[1-9]| [1-9]")),
        'f' => ('f', String::from(r"[0-9]{1,6}")),
        'H' => ('H', String::from(r"2[0-3]|[0-1]\d|\d")),
        'I' => ('I', String::from(r"1[0-2]|0[1-9]|[1-9]")),
        'j' => (
            'j',
            String::from(r"36[0-6]|3[0-5]\d|[12]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9]"),
        ),
        'm' => ('m', String::from(r"1[0-2]|0[1-9]|[1-9]")),
        'M' => ('M', String::from(r"[0-5]\d|\d")),
        'S' => ('S', String::from(r"6[0-1]|[0-5]\d|\d")),
        'w' => ('w', String::from(r"[0-6]")),
        'y' => ('y', String::from(r"\d\d")),
        'Y' => ('Y', String::from(r"\d\d\d\d")),
        'p' => ('p', String::from("am|pm")),
        'a' => ('a', names(&DAYS, true)),
        'A' => ('A', names(&DAYS, false)),
        'b' => ('b', names(&MONTHS, true)),
        'B' => ('B', names(&MONTHS, false)),
        '%' => return Some(String::from("%")),
        'x' => return Some(expand("%m/%d/%y")),
        'X' => return Some(expand("%H:%M:%S")),
        'c' => return Some(expand("%a %b %d %H:%M:%S %Y")),
        _ => return None,
    };
    Some(format!("(?P<{name}>{body})"))
}

/// A composite directive (`%x`, `%X`, `%c`) in terms of simple ones; their parts are known.
fn expand(fmt: &str) -> String {
    pattern(fmt).unwrap_or_default()
}

/// CPython's `TimeRE.pattern`: literal text escaped, whitespace runs as `\s+`, directives as
/// their expressions. The error is CPython's.
fn pattern(fmt: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            let Some(d) = chars.next() else {
                return Err(format!("stray % in format '{fmt}'"));
            };
            match directive_regex(d) {
                Some(re) => out.push_str(&re),
                None if matches!(d, 'U' | 'W' | 'V' | 'G' | 'u' | 'z' | 'Z') => {
                    return Err(format!(
                        "'%{d}' is not supported by hs's strptime (naive dates without week \
                         numbers or time zones)"
                    ));
                }
                None => return Err(format!("'{d}' is a bad directive in format '{fmt}'")),
            }
        } else if c.is_whitespace() {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            out.push_str(r"\s+");
        } else {
            out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
        }
    }
    Ok(out)
}

/// `dt.datetime.strptime(text, fmt)`: missing fields default to 1900-01-01 00:00:00.
pub fn strptime(text: &str, fmt: &str) -> Result<NaiveDateTime, String> {
    let body = pattern(fmt)?;
    let re = regex::RegexBuilder::new(&format!("^(?:{body})"))
        .case_insensitive(true)
        .build()
        .map_err(|_| format!("format '{fmt}' repeats a directive, which strptime refuses"))?;
    let caps = re.captures(text).ok_or_else(|| {
        format!(
            "time data {} does not match format {}",
            super::value::repr_str(text),
            super::value::repr_str(fmt)
        )
    })?;
    let end = caps.get(0).map_or(0, |m| m.end());
    if end != text.len() {
        return Err(format!("unconverted data remains: {}", &text[end..]));
    }
    let num = |name: &str| -> Option<u32> {
        caps.name(name).and_then(|m| m.as_str().trim().parse().ok())
    };
    let word = |name: &str| caps.name(name).map(|m| m.as_str().to_lowercase());
    let position = |name: &str, list: &[&str]| {
        word(name).and_then(|w| list.iter().position(|n| n.starts_with(&w)))
    };
    let year = match (num("Y"), num("y")) {
        (Some(y), _) => y as i32,
        (None, Some(y)) if y <= 68 => 2000 + y as i32,
        (None, Some(y)) => 1900 + y as i32,
        (None, None) => 1900,
    };
    let month = num("m").or_else(|| {
        position("B", &MONTHS)
            .or_else(|| position("b", &MONTHS))
            .map(|i| i as u32 + 1)
    });
    let mut hour = num("H").unwrap_or(0);
    if let Some(h12) = num("I") {
        let pm = word("p").as_deref() == Some("pm");
        hour = match (h12, pm) {
            (12, false) => 0,
            (12, true) => 12,
            (h, false) => h,
            (h, true) => h + 12,
        };
    }
    let micro = caps
        .name("f")
        .map(|m| format!("{:0<6}", m.as_str()).parse::<u32>().unwrap_or(0))
        .unwrap_or(0);
    let date = match (num("j"), month, num("d")) {
        (Some(j), None, None) => NaiveDate::from_yo_opt(year, j),
        (_, m, d) => {
            let (m, d) = (m.unwrap_or(1), d.unwrap_or(1));
            NaiveDate::from_ymd_opt(year, m, d)
        }
    }
    .ok_or_else(|| String::from("day is out of range for month"))?;
    let (minute, second) = (num("M").unwrap_or(0), num("S").unwrap_or(0));
    if second > 59 {
        return Err(String::from("second must be in 0..59"));
    }
    date.and_hms_micro_opt(hour, minute, second, micro)
        .ok_or_else(|| String::from("time out of range"))
}

/// `fromisoformat`: `YYYY-MM-DD` or `YYYYMMDD`, then optionally any one separator character and
/// `HH[:MM[:SS[.f…]]]` (or without colons). Time zones are refused: hs datetimes are naive.
pub fn fromisoformat(text: &str, date_only: bool) -> Result<NaiveDateTime, String> {
    let invalid = || format!("Invalid isoformat string: {}", super::value::repr_str(text));
    let digits = |s: &str| -> Option<u32> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let (date_len, y, m, d) = if text.get(4..5) == Some("-") {
        (
            10,
            text.get(0..4),
            text.get(5..7),
            text.get(8..10).filter(|_| text.get(7..8) == Some("-")),
        )
    } else {
        (8, text.get(0..4), text.get(4..6), text.get(6..8))
    };
    let part = |p: Option<&str>| p.and_then(digits).ok_or_else(invalid);
    let (y, m, d) = (part(y)?, part(m)?, part(d)?);
    let date = NaiveDate::from_ymd_opt(y as i32, m, d)
        .filter(|_| y >= 1)
        .ok_or_else(|| String::from("month must be in 1..12, or day is out of range for month"))?;
    let rest = text.get(date_len..).ok_or_else(invalid)?;
    if rest.is_empty() {
        return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default());
    }
    if date_only {
        return Err(invalid());
    }
    let mut chars = rest.chars();
    chars.next();
    let time = chars.as_str();
    if time.contains(['+', 'Z', 'z']) || time.get(2..).is_some_and(|t| t.contains('-')) {
        return Err(String::from(
            "time zones are not supported: hs datetimes are naive (local time)",
        ));
    }
    let (clock, fraction) = match time.find(['.', ',']) {
        Some(i) => (&time[..i], Some(&time[i + 1..])),
        None => (time, None),
    };
    let fields: Vec<&str> = if clock.contains(':') {
        clock.split(':').collect()
    } else {
        (0..clock.len())
            .step_by(2)
            .filter_map(|i| clock.get(i..i + 2))
            .collect()
    };
    if fields.is_empty() || fields.len() > 3 || fields.iter().any(|f| f.len() != 2) {
        return Err(invalid());
    }
    let field = |i: usize| {
        fields
            .get(i)
            .map_or(Some(0), |f| digits(f))
            .ok_or_else(invalid)
    };
    let micro = match fraction {
        None => 0,
        Some(f) if fields.len() == 3 && digits(f).is_some() => {
            format!("{:0<6}", &f[..f.len().min(6)]).parse().unwrap_or(0)
        }
        Some(_) => return Err(invalid()),
    };
    date.and_hms_micro_opt(field(0)?, field(1)?, field(2)?, micro)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        fromisoformat(s, false).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// Expected values are CPython 3.11's on Linux.
    #[test]
    fn strftime_follows_cpython_on_linux() {
        let d = at("2024-05-01 12:34:56.000789");
        let f = |fmt: &str| strftime(&d, fmt, || 0);
        assert_eq!(f("%Y-%m-%d %H:%M:%S.%f"), "2024-05-01 12:34:56.000789");
        assert_eq!(
            f("%a %A %b %B %j %I%p %y %e"),
            "Wed Wednesday May May 122 12PM 24  1"
        );
        assert_eq!(f("%-d/%-m %z%Z %% %Q %"), "1/5  % %Q %");
        assert_eq!(
            f("%c|%x|%X|%F|%T"),
            "Wed May  1 12:34:56 2024|05/01/24|12:34:56|2024-05-01|12:34:56"
        );
    }

    #[test]
    fn strptime_follows_cpython() {
        let p = |t: &str, f: &str| strptime(t, f).map(|d| d.to_string());
        assert_eq!(p("20240501", "%Y%m%d"), Ok("2024-05-01 00:00:00".into()));
        assert_eq!(
            p("1 May 2024", "%d %b %Y"),
            Ok("2024-05-01 00:00:00".into())
        );
        assert_eq!(
            p("1   may   2024", "%d %B %Y"),
            Ok("2024-05-01 00:00:00".into())
        );
        assert_eq!(p("07:05 pm", "%I:%M %p"), Ok("1900-01-01 19:05:00".into()));
        assert_eq!(
            p("99 032 1.5", "%y %j %S.%f"),
            Ok("1999-02-01 00:00:01.500".into())
        );
        assert_eq!(
            p("abc", "%Y"),
            Err("time data 'abc' does not match format '%Y'".into())
        );
        assert_eq!(
            p("2024-05-01x", "%Y-%m-%d"),
            Err("unconverted data remains: x".into())
        );
        assert_eq!(
            p("2023-02-29", "%Y-%m-%d"),
            Err("day is out of range for month".into())
        );
        assert_eq!(
            p("1", "%Q"),
            Err("'Q' is a bad directive in format '%Q'".into())
        );
        assert_eq!(p("1", "%"), Err("stray % in format '%'".into()));
    }

    #[test]
    fn fromisoformat_accepts_pythons_common_forms() {
        assert_eq!(at("2024-05-01").to_string(), "2024-05-01 00:00:00");
        assert_eq!(at("20240501T1230").to_string(), "2024-05-01 12:30:00");
        assert_eq!(
            at("2024-05-01 12:00:00.5").to_string(),
            "2024-05-01 12:00:00.500"
        );
        assert_eq!(
            at("2024-05-01T12:00:00.1234567").to_string(),
            "2024-05-01 12:00:00.123456"
        );
        for bad in [
            "2024-5-1",
            "2024-05-01T1",
            "x",
            "2024-05-01T12:00:00.",
            "2024-13-01",
        ] {
            assert!(fromisoformat(bad, false).is_err(), "{bad}");
        }
        assert!(fromisoformat("2024-05-01 12:00", true).is_err());
        assert!(
            fromisoformat("2024-05-01T12:00+01:00", false)
                .expect_err("tz")
                .contains("time zones")
        );
    }
}
