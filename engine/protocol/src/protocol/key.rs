//! Shared keys: generation and the strength rules every key must pass.

use rand::RngCore;

/// Shortest key accepted. 16 characters is HyperShell's floor; generated keys are 64.
pub const MIN_KEY_LEN: usize = 16;

/// Why a key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error(
        "the key is too short ({0} characters): use at least {MIN_KEY_LEN}, or let hs generate one"
    )]
    TooShort(usize),
    #[error(
        "the key is a placeholder, not a secret: pass a real key with -k or let hs generate one"
    )]
    Placeholder,
    #[error("the key contains {0:?}: use only letters, digits and . _ + / = -")]
    BadCharacter(char),
}

/// A fresh 256-bit key, hex-encoded (64 characters), from the operating system's RNG.
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Refuse keys that are short, placeholders, or carry characters that break shells and config
/// files. The key text itself (not a decoding of it) is the HMAC key, as in IPython parallel.
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key == "<not-secure>" || key.eq_ignore_ascii_case("changeme") {
        return Err(KeyError::Placeholder);
    }
    if let Some(c) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._+/=-".contains(*c)))
    {
        return Err(KeyError::BadCharacter(c));
    }
    if key.len() < MIN_KEY_LEN {
        return Err(KeyError::TooShort(key.len()));
    }
    if key.chars().all(|c| c == key.chars().next().unwrap_or('a')) {
        return Err(KeyError::Placeholder);
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
            Err(KeyError::BadCharacter(' '))
        );
        assert_eq!(validate_key("Abcdefgh12345678"), Ok(()));
    }
}
