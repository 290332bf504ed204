//! Multipart messages as fuzz inputs: each frame is a 2-byte big-endian length and that many
//! bytes; a length past the end takes what is left. Any byte string is a message this way, and
//! a mutated length only moves bytes between neighbouring frames.

/// At most this many frames: ZeroMQ messages of hs have three to five.
pub const MAX_FRAMES: usize = 8;

/// The frames of `data`.
pub fn split(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    while data.len() >= 2 && frames.len() < MAX_FRAMES {
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        let end = (2 + len).min(data.len());
        frames.push(data[2..end].to_vec());
        data = &data[end..];
    }
    frames
}

/// The input that [`split`] reads as `frames` (for seed corpora).
pub fn join(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        let len = u16::try_from(f.len()).expect("seed frames are under 64 KiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_then_split_gives_the_frames_back() {
        let frames = vec![b"hs/2".to_vec(), vec![], vec![7; 300]];
        assert_eq!(split(&join(&frames)), frames);
        assert_eq!(split(&[0, 9, 1, 2]), vec![vec![1, 2]]);
        assert!(split(&[5]).is_empty());
    }
}
