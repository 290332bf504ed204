//! Capturing a command's output into memory, with a bound.
//!
//! A `{% %}` substitution needs its command's stdout as a value, and its stderr for the error
//! message. Both come through the same relay pipes as task output, but land in a [`Capture`]
//! instead of a shared sink. A capture holds at most its limit: a command that writes more is
//! stopped by the executor (with [`StopReason::OutputLimit`](super::StopReason::OutputLimit)),
//! so `{% yes %}` costs a bounded amount of memory and time, not all of them.

use std::sync::Mutex;

/// The bytes a command wrote to one stream, up to a limit.
#[derive(Debug)]
pub struct Capture {
    limit: usize,
    state: Mutex<Captured>,
}

/// What a [`Capture`] holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Captured {
    /// The first bytes written, never more than the limit.
    pub bytes: Vec<u8>,
    /// More than the limit was written.
    pub overflowed: bool,
}

impl Capture {
    /// An empty capture that holds at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Capture {
            limit,
            state: Mutex::new(Captured::default()),
        }
    }

    /// Appends what fits of `chunk`; returns false once more than the limit was offered.
    pub(crate) fn push(&self, chunk: &[u8]) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let room = self.limit.saturating_sub(state.bytes.len());
        if chunk.len() > room {
            state.bytes.extend_from_slice(&chunk[..room]);
            state.overflowed = true;
        } else {
            state.bytes.extend_from_slice(chunk);
        }
        !state.overflowed
    }

    /// Whether more than the limit was offered.
    pub(crate) fn overflowed(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .overflowed
    }

    /// Takes what was captured, leaving the capture empty.
    pub fn take(&self) -> Captured {
        std::mem::take(&mut *self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_bytes_up_to_the_limit_and_notes_the_overflow() {
        let capture = Capture::new(5);
        assert!(capture.push(b"abc"));
        assert!(capture.push(b"de"), "exactly the limit still fits");
        assert!(!capture.overflowed());
        assert!(!capture.push(b"f"));
        assert!(capture.overflowed());
        assert_eq!(
            capture.take(),
            Captured {
                bytes: b"abcde".to_vec(),
                overflowed: true
            }
        );
        assert_eq!(capture.take(), Captured::default(), "taken");
    }

    #[test]
    fn a_chunk_larger_than_the_room_is_cut() {
        let capture = Capture::new(4);
        assert!(!capture.push(b"abcdef"));
        assert_eq!(capture.take().bytes, b"abcd");
    }
}
