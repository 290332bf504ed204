//! Seeded random mutations of byte strings, in the style of coverage-guided fuzzers but without
//! the coverage: bit flips, byte changes, deleted, inserted and copied ranges, the target's
//! dictionary words, numbers at the edges of their types, awkward Unicode, and splices of other
//! corpus inputs. Everything comes from one seeded RNG, so a run is repeated exactly by its seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Bytes that tend to matter to parsers.
const BYTES: &[u8] = b"\0\x01\x7f\x80\xff\n\r\t \"'\\{}[]()=:,.-+#@%$~<>!*/_";

/// Text at the edges of numeric types, and the spellings of nothing.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "255",
    "256",
    "65536",
    "2147483647",
    "-2147483648",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "1e309",
    "-1e-324",
    "0.5",
    "NaN",
    "inf",
    "null",
    "1h",
    "-1d",
    "1G",
    "99999999999999999999999",
];

/// Characters that are more than one byte, invisible, or ends of lines in some readers.
const UNICODE: &[&str] = &[
    "é",
    "\u{FFFD}",
    "\u{2028}",
    "\u{200B}",
    "\u{FEFF}",
    "𝄞",
    "\u{0301}",
    "\u{10FFFF}",
];

pub struct Mutator {
    rng: StdRng,
    dictionary: &'static [&'static str],
}

impl Mutator {
    pub fn new(seed: u64, dictionary: &'static [&'static str]) -> Self {
        Mutator {
            rng: StdRng::seed_from_u64(seed),
            dictionary,
        }
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.gen_range(0..n)
    }

    /// Apply one to eight mutations to `data` (which may be empty), drawing splices from
    /// `others`, and keep it at most `max_len` bytes long.
    pub fn mutate(&mut self, data: &mut Vec<u8>, others: &[Vec<u8>], max_len: usize) {
        let rounds = 1 << self.rng.gen_range(0..4);
        for _ in 0..rounds {
            self.once(data, others);
        }
        data.truncate(max_len);
    }

    fn pos(&mut self, data: &[u8]) -> usize {
        self.rng.gen_range(0..=data.len())
    }

    /// A range of `data`, at most 32 bytes long (empty when `data` is).
    fn range(&mut self, data: &[u8]) -> std::ops::Range<usize> {
        let start = self.pos(data);
        let len = self.rng.gen_range(0..=(data.len() - start).min(32));
        start..start + len
    }

    fn word(&mut self) -> &'static [u8] {
        let pick = self.rng.gen_range(0..3);
        let list = match pick {
            0 if !self.dictionary.is_empty() => self.dictionary,
            1 => NUMBERS,
            _ => UNICODE,
        };
        list[self.rng.gen_range(0..list.len())].as_bytes()
    }

    fn once(&mut self, data: &mut Vec<u8>, others: &[Vec<u8>]) {
        match self.rng.gen_range(0..12) {
            0 if !data.is_empty() => {
                let i = self.rng.gen_range(0..data.len());
                data[i] ^= 1 << self.rng.gen_range(0..8);
            }
            1 if !data.is_empty() => {
                let i = self.rng.gen_range(0..data.len());
                data[i] = self.rng.r#gen();
            }
            2 if !data.is_empty() => {
                let i = self.rng.gen_range(0..data.len());
                data[i] = BYTES[self.rng.gen_range(0..BYTES.len())];
            }
            3 => {
                let r = self.range(data);
                data.drain(r);
            }
            4 => {
                let at = self.pos(data);
                let n = self.rng.gen_range(1..=8);
                let bytes: Vec<u8> = (0..n).map(|_| self.rng.r#gen()).collect();
                data.splice(at..at, bytes);
            }
            5 => {
                let r = self.range(data);
                let chunk = data[r].to_vec();
                let at = self.pos(data);
                data.splice(at..at, chunk);
            }
            6 | 7 => {
                let word = self.word();
                let at = self.pos(data);
                data.splice(at..at, word.iter().copied());
            }
            8 => {
                let word = self.word();
                let r = self.range(data);
                data.splice(r, word.iter().copied());
            }
            9 if !others.is_empty() => {
                let other = &others[self.rng.gen_range(0..others.len())];
                let r = self.range(other);
                let at = self.pos(data);
                data.splice(at..at, other[r].iter().copied());
            }
            10 => {
                let at = self.pos(data);
                data.truncate(at);
            }
            11 => {
                // Repeat a range many times: long runs find quadratic work and size limits.
                let r = self.range(data);
                let chunk = data[r].to_vec();
                let times = 1 << self.rng.gen_range(1..8);
                let at = self.pos(data);
                data.splice(at..at, chunk.repeat(times));
            }
            _ => {
                let at = self.pos(data);
                data.insert(at, BYTES[self.rng.gen_range(0..BYTES.len())]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_repeats_its_mutations_and_lengths_stay_bounded() {
        let run = |seed| {
            let mut m = Mutator::new(seed, &["{=", "=}"]);
            let mut out = Vec::new();
            let mut data = b"echo {}".to_vec();
            for _ in 0..200 {
                m.mutate(&mut data, &[b"{%  %}".to_vec()], 64);
                assert!(data.len() <= 64);
                out.push(data.clone());
            }
            out
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
