//! How guessable a key is: a rough estimate, in bits, of the work a guesser who knows how
//! people make keys up has to do.
//!
//! A key is read left to right as a guesser would build it. Each character is either fresh
//! (one of the characters of every class the key uses: lower case 26, upper case 26, digits 10,
//! the symbols `._+/=-` 6, so `log2(pool)` bits), or it continues the one before it (the same
//! character, or the next or previous one: `aaaa`, `1234`, `fedc`; 2 bits, for which of a few
//! moves it is), or it starts a copy of three or more characters seen earlier
//! (`passwordpassword`; the bits to say where the copy starts and how long it is). This is the
//! core of estimators like zxcvbn without their word lists: keys made of one dictionary word
//! are still rated by their length, but repeats, runs and one-class keys are not mistaken for
//! randomness. Generated keys (64 hex digits) rate over 200 bits.

/// Least estimated strength accepted without an explicit opt-out.
pub const MIN_KEY_BITS: f64 = 64.0;

/// Bits for a character that continues a run or a sequence.
const CONTINUATION_BITS: f64 = 2.0;

/// Shortest earlier text counted as a copy.
const MIN_COPY: usize = 3;

/// The estimated strength of `key`, in bits.
pub fn estimate_bits(key: &str) -> f64 {
    let chars: Vec<char> = key.chars().collect();
    let fresh_bits = pool_size(&chars).max(2.0).log2();
    let mut bits = 0.0;
    let mut i = 0;
    while i < chars.len() {
        let copy = longest_copy(&chars, i);
        if copy >= MIN_COPY {
            // Where it starts (one of i places) and how long it is.
            bits += (i as f64).log2().max(1.0) + (copy as f64).log2() + 1.0;
            i += copy;
            continue;
        }
        bits += if i > 0 && continues(chars[i - 1], chars[i]) {
            CONTINUATION_BITS
        } else {
            fresh_bits
        };
        i += 1;
    }
    bits
}

/// A class of characters: who belongs, and how many there are.
type Class = (fn(&char) -> bool, f64);

/// How many characters a guesser picks each fresh one from: every class the key draws on.
fn pool_size(chars: &[char]) -> f64 {
    let classes: [Class; 4] = [
        (char::is_ascii_lowercase, 26.0),
        (char::is_ascii_uppercase, 26.0),
        (char::is_ascii_digit, 10.0),
        (|c| !c.is_ascii_alphanumeric(), 6.0),
    ];
    classes
        .iter()
        .filter(|(member, _)| chars.iter().any(member))
        .map(|(_, size)| size)
        .sum()
}

/// `b` repeats `a` or is the character after or before it.
fn continues(a: char, b: char) -> bool {
    (a as u32).abs_diff(b as u32) <= 1
}

/// The length of the longest text starting at `i` that also starts somewhere before `i` (the
/// copy may run into the text it copies, as `abababab` does).
fn longest_copy(chars: &[char], i: usize) -> usize {
    (0..i)
        .map(|start| {
            chars[i..]
                .iter()
                .zip(&chars[start..])
                .take_while(|(a, b)| a == b)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strong(key: &str) -> bool {
        estimate_bits(key) >= MIN_KEY_BITS
    }

    #[test]
    fn repeats_runs_and_copies_are_weak() {
        for weak in [
            "passwordpassword",
            "aaaaaaaaaaaaaaaaaaaa",
            "Abcdefgh12345678",
            "0123456789abcdef",
            "abcabcabcabcabcabc",
            "1234567890123456",
            "qwertyuiqwertyui",
        ] {
            assert!(!strong(weak), "{weak}: {} bits", estimate_bits(weak));
        }
    }

    #[test]
    fn random_looking_keys_are_strong() {
        for good in [
            "MY_SPECIAL_KEY_0123",
            "test-key-0123456789abcdef",
            "9f86d081884c7d659a2feaa0c55ad015",
            "k3J9-xQ2m_Lp8wZr",
            "correct-horse-battery-staple",
        ] {
            assert!(strong(good), "{good}: {} bits", estimate_bits(good));
        }
        let generated = super::super::generate_key();
        assert!(estimate_bits(&generated) > 200.0);
    }

    #[test]
    fn a_copy_costs_less_than_its_characters() {
        assert!(estimate_bits("passwordpassword") < estimate_bits("password") + 10.0);
        assert_eq!(estimate_bits(""), 0.0);
    }
}
