//! Shared keys: generation and the strength rules every key must pass.
//!
//! No message here quotes the key or any part of it: refusals end up in logs and terminals.

pub use super::strength::{MIN_KEY_BITS, estimate_bits};

/// Shortest key accepted. 16 characters is HyperShell's floor; generated keys are 64.
pub const MIN_KEY_LEN: usize = 16;

/// Why a key was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KeyError {
    #[error(
        "the key is too short ({0} characters, at least {MIN_KEY_LEN} are needed): generate one with `hs key`"
    )]
    TooShort(usize),
    #[error("the key is a placeholder, not a secret: generate one with `hs key`")]
    Placeholder,
    #[error(
        "the key holds a character hs does not take (use only letters, digits and . _ + / = -): \
         generate one with `hs key`"
    )]
    BadCharacter,
    /// Long enough, but guessable (repeats, runs, one kind of character): the one refusal an
    /// explicit opt-out (`--weak-key`) may override, for keys already in use.
    #[error(
        "the key is too easy to guess (about {bits} bits, at least {MIN_KEY_BITS} are needed): \
         generate one with `hs key`, or keep this one with --weak-key"
    )]
    Weak { bits: u32 },
}

/// A fresh 256-bit key, hex-encoded (64 characters), from the operating system's RNG.
pub fn generate_key() -> String {
    hex::encode(super::frame::random::<32>())
}

/// Refuse keys that are short, placeholders, carry characters that break shells and config
/// files, or are easy to guess ([`KeyError::Weak`], checked last, so that a caller allowing
/// weak keys still gets every other refusal). The key text itself (not a decoding of it) is
/// the HMAC key, as in IPython parallel.
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key == "<not-secure>" || key.eq_ignore_ascii_case("changeme") {
        return Err(KeyError::Placeholder);
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._+/=-".contains(c))
    {
        return Err(KeyError::BadCharacter);
    }
    if key.len() < MIN_KEY_LEN {
        return Err(KeyError::TooShort(key.len()));
    }
    if key.chars().all(|c| c == key.chars().next().unwrap_or('a')) {
        return Err(KeyError::Placeholder);
    }
    let bits = estimate_bits(key);
    if bits < MIN_KEY_BITS {
        return Err(KeyError::Weak { bits: bits as u32 });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_valid_and_distinct() {
        let a = generate_key();
        let b = generate_key();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(validate_key(&a), Ok(()));
    }

    #[test]
    fn weak_keys_are_refused() {
        assert_eq!(validate_key("short"), Err(KeyError::TooShort(5)));
        assert_eq!(validate_key("<not-secure>"), Err(KeyError::Placeholder));
        assert_eq!(
            validate_key("aaaaaaaaaaaaaaaaaaaa"),
            Err(KeyError::Placeholder)
        );
        assert_eq!(
            validate_key("with space in the key"),
            Err(KeyError::BadCharacter)
        );
        assert!(matches!(
            validate_key("passwordpassword"),
            Err(KeyError::Weak { .. })
        ));
        assert_eq!(validate_key("k3J9-xQ2m_Lp8wZr"), Ok(()));
    }

    #[test]
    fn refusals_never_quote_the_key() {
        for key in ["s3cr", "s3cr s3cr s3cr s3cr", "s3crs3crs3crs3crs3cr"] {
            let message = validate_key(key).unwrap_err().to_string();
            assert!(!message.contains("s3cr"), "{message}");
            assert!(message.contains("hs key"), "{message}");
        }
    }
}
