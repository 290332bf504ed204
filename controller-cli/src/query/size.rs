//! Sizes such as `-m/--memory 8G`.
//!
//! HyperShell's documented pattern is `\d+(\.\d+)?\s*[KMGT]B?` with powers of 1024, but 2.8.2
//! read a missing `B` as bytes (`8G` → 8) and ignored unknown suffixes (`10x` → 10) (D10).
//! Here `8G` = `8GB` = `8GiB` = 8 × 1024³, any case, whitespace allowed before the unit;
//! fractions are allowed and the result is truncated to whole bytes; anything else is an
//! error rather than a silent guess. The arithmetic is exact (no floating point).

use super::QueryError;

/// Bytes for `text` (see the module docs). A plain number is bytes.
pub fn parse_bytes(text: &str) -> Result<i64, QueryError> {
    let bad = || QueryError::BadSize {
        text: text.to_string(),
    };
    let too_large = || QueryError::SizeTooLarge {
        text: text.to_string(),
    };
    let t = text.trim();
    let (int_part, rest) = t.split_at(digits_len(t));
    let (frac_part, rest) = match rest.strip_prefix('.') {
        Some(after) => after.split_at(digits_len(after)),
        None => ("", rest),
    };
    let has_point = int_part.len() < t.len() && t[int_part.len()..].starts_with('.');
    if int_part.is_empty() || (has_point && frac_part.is_empty()) {
        return Err(bad());
    }
    let power: u32 = match rest.trim_start().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 1,
        "M" | "MB" | "MIB" => 2,
        "G" | "GB" | "GIB" => 3,
        "T" | "TB" | "TIB" => 4,
        _ => return Err(bad()),
    };
    // More than 19 significant integer digits overflow i64 whatever the unit.
    if int_part.trim_start_matches('0').len() > 19 {
        return Err(too_large());
    }
    let whole: u128 = int_part.parse().map_err(|_| bad())?;
    let bytes = (whole << (10 * power)) + fraction_bytes(frac_part, power);
    i64::try_from(bytes).map_err(|_| too_large())
}

fn digits_len(s: &str) -> usize {
    s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len())
}

/// `floor(0.DIGITS × 1024^power)`, exactly: the decimal fraction is doubled once per bit and
/// what carries past the point is collected. 40 digits resolve 2^-40, so later ones cannot
/// change the result.
fn fraction_bytes(digits: &str, power: u32) -> u128 {
    let mut frac: Vec<u8> = digits.bytes().take(40).map(|b| b - b'0').collect();
    let mut whole: u128 = 0;
    for _ in 0..10 * power {
        let mut carry = 0;
        for d in frac.iter_mut().rev() {
            let doubled = *d * 2 + carry;
            *d = doubled % 10;
            carry = doubled / 10;
        }
        whole = whole * 2 + u128::from(carry);
    }
    whole
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_with_or_without_b_any_case_d10() {
        let g = 1i64 << 30;
        assert_eq!(parse_bytes("8G").unwrap(), 8 * g);
        assert_eq!(parse_bytes("8GB").unwrap(), 8 * g);
        assert_eq!(parse_bytes("8gb").unwrap(), 8 * g);
        assert_eq!(parse_bytes("8 g").unwrap(), 8 * g);
        assert_eq!(parse_bytes("2 gb").unwrap(), 2 * g);
        assert_eq!(parse_bytes("8GiB").unwrap(), 8 * g);
        assert_eq!(parse_bytes("512M").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("4k").unwrap(), 4096);
        assert_eq!(parse_bytes("1T").unwrap(), 1 << 40);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert_eq!(parse_bytes("100B").unwrap(), 100);
        assert_eq!(parse_bytes(" 7 ").unwrap(), 7);
        assert_eq!(parse_bytes("0").unwrap(), 0);
    }

    #[test]
    fn fractions_truncate_exactly() {
        assert_eq!(parse_bytes("1.5G").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("0.5K").unwrap(), 512);
        assert_eq!(parse_bytes("0.1K").unwrap(), 102);
        assert_eq!(parse_bytes("1.5").unwrap(), 1);
        assert_eq!(
            parse_bytes("1.0000000000000000000000001T").unwrap(),
            1 << 40
        );
        // 2^-40 T is exactly one byte; a float or an 18-digit cut would give 0.
        assert_eq!(
            parse_bytes("0.0000000000009094947017729282379150390625T").unwrap(),
            1
        );
        assert_eq!(
            parse_bytes("0.0000000000009094947017729282379150390624T").unwrap(),
            0
        );
    }

    #[test]
    fn rejects_everything_else() {
        for text in [
            "", "G", "10x", "8Gb2", "-1G", "1.G", ".5G", "1..5", "1.5.5", "8 GBB", "8 P", "1e3",
        ] {
            assert_eq!(
                parse_bytes(text).unwrap_err().to_string(),
                format!(
                    "size {text:?} is not understood: write a number with an optional unit K, M, G or T (B optional, powers of 1024), e.g. 512M or 8GB"
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_overflow() {
        for text in [
            "8388608T",
            "9223372036854775808",
            "99999999999999999999999999999999999",
        ] {
            assert_eq!(
                parse_bytes(text).unwrap_err().to_string(),
                format!("size {text:?} is too large (at most 8 EiB)"),
                "{text}"
            );
        }
        assert_eq!(parse_bytes("9223372036854775807").unwrap(), i64::MAX);
        assert_eq!(parse_bytes("8388607T").unwrap(), 8388607 << 40);
    }
}
