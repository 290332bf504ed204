//! Python indexing and slicing: the `{[i]}` / `{[a:b:c]}` patterns, and `[ ]` in expressions.
//!
//! HyperShell documents Python slicing but 2.8.2 rejects negative numbers (deviation D4); hs
//! implements the full semantics of `list[i]` and `slice.indices()`: negative indices count from
//! the end, bounds are clamped, negative steps walk backwards, and a step of zero is an error.

/// What one `[...]` selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selector {
    /// `[i]`: exactly one element; out of range is an error.
    Index(i64),
    /// `[start:stop:step]`: any number of elements; never out of range.
    Slice(SliceSpec),
}

/// A slice with Python's optional bounds. `step` is never zero once constructed by [`parse`] (an
/// expression can still compute a zero step; [`SliceSpec::positions`] then selects nothing and the
/// expression evaluator reports the error before getting there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceSpec {
    pub start: Option<i64>,
    pub stop: Option<i64>,
    pub step: i64,
}

impl SliceSpec {
    /// The positions selected in a sequence of `len` elements, in order: Python's
    /// `range(*slice(start, stop, step).indices(len))`. Computed in `i128` so that no combination
    /// of `i64` bounds can overflow.
    pub fn positions(&self, len: usize) -> Positions {
        let len = len as i128;
        let step = self.step as i128;
        if step == 0 {
            return Positions {
                next: 0,
                stop: 0,
                step: 1,
            };
        }
        let (lower, upper) = if step > 0 { (0, len) } else { (-1, len - 1) };
        let clamp = |bound: Option<i64>, default: i128| match bound {
            None => default,
            Some(b) => {
                let b = b as i128;
                let b = if b < 0 { b + len } else { b };
                b.clamp(lower, upper)
            }
        };
        let (start_default, stop_default) = if step > 0 {
            (lower, upper)
        } else {
            (upper, lower)
        };
        Positions {
            next: clamp(self.start, start_default),
            stop: clamp(self.stop, stop_default),
            step,
        }
    }
}

/// Iterator over the positions of a slice; see [`SliceSpec::positions`].
#[derive(Clone, Debug)]
pub struct Positions {
    next: i128,
    stop: i128,
    step: i128,
}

impl Iterator for Positions {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let more = if self.step > 0 {
            self.next < self.stop
        } else {
            self.next > self.stop
        };
        if !more {
            return None;
        }
        let current = usize::try_from(self.next).ok()?;
        self.next += self.step;
        Some(current)
    }
}

/// Resolves a Python index (negative counts from the end) against a length.
pub fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i128;
    let i = index as i128;
    let i = if i < 0 { i + len } else { i };
    if (0..len).contains(&i) {
        usize::try_from(i).ok()
    } else {
        None
    }
}

/// Describes the valid indices for a length, for error messages: `0 to 3, or -4 to -1`.
pub fn valid_range(len: usize) -> String {
    if len == 0 {
        String::from("none, it is empty")
    } else {
        format!("0 to {}, or -{len} to -1", len - 1)
    }
}

/// Parses the text between the brackets of `{[...]}`. Spaces around the numbers are allowed.
/// The error is a reason phrase for [`crate::TemplateError::InvalidSlice`].
pub fn parse(inner: &str) -> Result<Selector, String> {
    let parts: Vec<&str> = inner.split(':').map(str::trim).collect();
    match parts.as_slice() {
        [index] => {
            if index.is_empty() {
                Err(String::from("the brackets are empty"))
            } else {
                parse_int(index).map(Selector::Index)
            }
        }
        [start, stop] => Ok(Selector::Slice(SliceSpec {
            start: parse_bound(start)?,
            stop: parse_bound(stop)?,
            step: 1,
        })),
        [start, stop, step] => {
            let step = parse_bound(step)?.unwrap_or(1);
            if step == 0 {
                return Err(String::from("the step cannot be zero"));
            }
            Ok(Selector::Slice(SliceSpec {
                start: parse_bound(start)?,
                stop: parse_bound(stop)?,
                step,
            }))
        }
        _ => Err(format!(
            "`{}` has {} colons, at most two are allowed",
            inner,
            parts.len() - 1
        )),
    }
}

fn parse_bound(text: &str) -> Result<Option<i64>, String> {
    if text.is_empty() {
        Ok(None)
    } else {
        parse_int(text).map(Some)
    }
}

/// An optionally signed run of ASCII digits. Values beyond `i64` saturate, which selects exactly
/// what Python's unbounded integers would (bounds clamp, single indices are out of range anyway).
fn parse_int(text: &str) -> Result<i64, String> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not an integer"));
    }
    let mut value: i64 = 0;
    for b in digits.bytes() {
        let digit = i64::from(b - b'0');
        value = value
            .saturating_mul(10)
            .saturating_add(if negative { -digit } else { digit });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(start: Option<i64>, stop: Option<i64>, step: i64, len: usize) -> Vec<usize> {
        SliceSpec { start, stop, step }.positions(len).collect()
    }

    #[test]
    fn parses_every_documented_form() {
        assert_eq!(parse("0"), Ok(Selector::Index(0)));
        assert_eq!(parse("-1"), Ok(Selector::Index(-1)));
        assert_eq!(parse(" +2 "), Ok(Selector::Index(2)));
        let s = |start, stop, step| Ok(Selector::Slice(SliceSpec { start, stop, step }));
        assert_eq!(parse("1:3"), s(Some(1), Some(3), 1));
        assert_eq!(parse("1:3:2"), s(Some(1), Some(3), 2));
        assert_eq!(parse(":3"), s(None, Some(3), 1));
        assert_eq!(parse("::2"), s(None, None, 2));
        assert_eq!(parse("::-1"), s(None, None, -1));
        assert_eq!(parse("-2:"), s(Some(-2), None, 1));
        assert_eq!(parse(":"), s(None, None, 1));
        assert_eq!(parse("::"), s(None, None, 1));
        assert_eq!(parse(" 1 : 2 "), s(Some(1), Some(2), 1));
    }

    #[test]
    fn rejects_malformed_slices_with_a_reason() {
        assert_eq!(parse(""), Err("the brackets are empty".into()));
        assert_eq!(parse("1:x"), Err("`x` is not an integer".into()));
        assert_eq!(parse("1:2:0"), Err("the step cannot be zero".into()));
        assert_eq!(
            parse("1:2:3:4"),
            Err("`1:2:3:4` has 3 colons, at most two are allowed".into())
        );
        assert!(parse("--1").is_err());
        assert!(parse("1.5").is_err());
        assert!(parse("-").is_err());
    }

    #[test]
    fn huge_numbers_saturate() {
        assert_eq!(
            parse("99999999999999999999999"),
            Ok(Selector::Index(i64::MAX))
        );
        assert_eq!(
            parse("-99999999999999999999999"),
            Ok(Selector::Index(i64::MIN))
        );
        assert_eq!(slice(Some(i64::MIN), Some(i64::MAX), i64::MAX, 3), vec![0]);
        assert_eq!(slice(Some(i64::MAX), Some(i64::MIN), i64::MIN, 3), vec![2]);
    }

    /// Expected values from Python: `list(range(4))[a:b:c]`.
    #[test]
    fn slices_match_python() {
        assert_eq!(slice(Some(1), Some(3), 1, 4), vec![1, 2]);
        assert_eq!(slice(None, None, 2, 4), vec![0, 2]);
        assert_eq!(slice(None, None, -1, 4), vec![3, 2, 1, 0]);
        assert_eq!(slice(Some(-2), None, 1, 4), vec![2, 3]);
        assert_eq!(slice(Some(-100), Some(100), 1, 4), vec![0, 1, 2, 3]);
        assert_eq!(slice(Some(100), None, -1, 4), vec![3, 2, 1, 0]);
        assert_eq!(slice(Some(2), Some(-100), -1, 4), vec![2, 1, 0]);
        assert_eq!(slice(Some(3), Some(1), 1, 4), Vec::<usize>::new());
        assert_eq!(slice(Some(-1), Some(-3), -1, 4), vec![3, 2]);
        assert_eq!(slice(None, Some(-5), -1, 4), vec![3, 2, 1, 0]);
        assert_eq!(slice(None, Some(-4), -1, 4), vec![3, 2, 1]);
        assert_eq!(slice(None, None, 1, 0), Vec::<usize>::new());
        assert_eq!(slice(None, None, -1, 0), Vec::<usize>::new());
        assert_eq!(slice(None, None, 0, 4), Vec::<usize>::new());
    }

    #[test]
    fn indices_resolve_like_python() {
        assert_eq!(resolve_index(0, 4), Some(0));
        assert_eq!(resolve_index(-1, 4), Some(3));
        assert_eq!(resolve_index(-4, 4), Some(0));
        assert_eq!(resolve_index(-5, 4), None);
        assert_eq!(resolve_index(4, 4), None);
        assert_eq!(resolve_index(0, 0), None);
        assert_eq!(resolve_index(i64::MIN, 4), None);
        assert_eq!(valid_range(4), "0 to 3, or -4 to -1");
        assert_eq!(valid_range(0), "none, it is empty");
    }
}
