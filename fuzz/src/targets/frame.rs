//! `frame`: the session frame decoder (`Opener::open`, `PingOpener::open`).
//!
//! The first byte picks the mode (bit 0: `--no-tls`) and one of three ways to use the rest:
//! - raw frames (see [`crate::frames`]) opened as they are: whatever they hold, the decoder
//!   answers, and every refusal is one line;
//! - a counter (8 bytes) and a plaintext payload, sealed here by the layout docs/protocol.md
//!   gives, under a key the target knows: the decoder must open it (a format mismatch shows as
//!   a bad seal) and take the kind and body apart exactly, or call the payload malformed;
//! - a kind (its length, then its bytes) and a body, sealed by the real sealer and opened again:
//!   decode(encode(x)) == x, counters in order, and a replay refused.

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use hmac::{Hmac, Mac};
use hs_protocol::fuzzing::session;
use hs_protocol::protocol::{FrameError, Mode, PROTOCOL, PingOpener};
use sha2::Sha256;

use crate::check;
use crate::frames;

const KEY: [u8; 32] = [0x5a; 32];
const SESSION: [u8; 16] = [0x17; 16];
const EPOCH: [u8; 16] = [0x42; 16];
/// The longest kind the sealer keeps whole.
const MAX_KIND: usize = 32;

pub fn run(data: &[u8]) -> String {
    let Some((&head, rest)) = data.split_first() else {
        return "empty".into();
    };
    let mode = Mode::from_no_tls(head & 1 == 1);
    match (head >> 1) % 3 {
        0 => raw(mode, rest),
        1 => authentic(mode, rest),
        _ => round_trip(mode, rest),
    }
}

fn tag(mode: Mode) -> &'static [u8] {
    match mode {
        Mode::Sealed => b"sealed",
        Mode::Clear => b"clear",
    }
}

fn raw(mode: Mode, data: &[u8]) -> String {
    let frames = frames::split(data);
    let (_, mut opener) = session(&KEY, &SESSION, mode);
    let session_label = check::outcome("open", &opener.open(frames.clone()));
    let mut ping = PingOpener::new(&KEY, mode, EPOCH);
    let mut with_epoch = frames;
    with_epoch.push(EPOCH.to_vec());
    let ping_label = check::outcome("ping", &ping.open(with_epoch));
    format!("raw {session_label} {ping_label}")
}

/// Seal `payload` under `counter` as docs/protocol.md describes, independently of the sealer.
fn seal_by_the_book(mode: Mode, counter: u64, mut payload: Vec<u8>) -> Vec<Vec<u8>> {
    let ad = [PROTOCOL, &SESSION, tag(mode)].concat();
    match mode {
        Mode::Sealed => {
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&counter.to_be_bytes());
            let aead = ChaCha20Poly1305::new(&KEY.into());
            let t = aead
                .encrypt_in_place_detached(&nonce.into(), &ad, &mut payload)
                .expect("small payloads seal");
            payload.extend_from_slice(&t);
        }
        Mode::Clear => {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&KEY).expect("any key length");
            mac.update(&ad);
            mac.update(&counter.to_be_bytes());
            mac.update(&payload);
            payload.extend_from_slice(&mac.finalize().into_bytes());
        }
    }
    vec![
        PROTOCOL.to_vec(),
        tag(mode).to_vec(),
        counter.to_be_bytes().to_vec(),
        payload,
    ]
}

fn authentic(mode: Mode, data: &[u8]) -> String {
    let (counter, payload) = data.split_at(data.len().min(8));
    let mut c = [0u8; 8];
    c[8 - counter.len()..].copy_from_slice(counter);
    let counter = u64::from_be_bytes(c);
    let (_, mut opener) = session(&KEY, &SESSION, mode);
    let result = opener.open(seal_by_the_book(mode, counter, payload.to_vec()));
    let label = check::outcome("authentic", &result);
    if counter == 0 {
        assert!(
            matches!(result, Err(FrameError::Replay { seq: 0, last: 0 })),
            "counter 0 must be refused as a replay: {result:?}"
        );
        return label;
    }
    let whole = payload
        .first()
        .map(|&n| usize::from(n))
        .filter(|&n| payload.len() > n)
        .and_then(|n| std::str::from_utf8(&payload[1..1 + n]).ok().map(|k| (n, k)));
    match (whole, result) {
        (Some((n, kind)), Ok(envelope)) => {
            assert_eq!(envelope.seq, counter);
            assert_eq!(envelope.kind, kind);
            assert_eq!(envelope.body, &payload[1 + n..]);
        }
        (None, Err(FrameError::Malformed(..))) => {}
        (expected, got) => panic!(
            "a payload sealed by the documented layout: expected {}, got {got:?}",
            if expected.is_some() {
                "it to open"
            } else {
                "a malformed-payload refusal"
            }
        ),
    }
    label
}

fn round_trip(mode: Mode, data: &[u8]) -> String {
    let n = data.first().map_or(0, |&n| usize::from(n) % 48);
    let rest = data.get(1..).unwrap_or_default();
    let (kind, body) = rest.split_at(n.min(rest.len()));
    let kind = String::from_utf8_lossy(kind).into_owned();
    let (mut sealer, mut opener) = session(&KEY, &SESSION, mode);
    let first = sealer.seal_raw(&kind, body);
    let second = sealer.seal_raw(&kind, body);
    let mut label = "round-trip".to_string();
    for (seq, frames) in [(1u64, first.clone()), (2, second)] {
        match opener.open(frames) {
            Ok(envelope) => {
                assert_eq!(envelope.seq, seq);
                assert_eq!(envelope.body, body);
                if kind.len() <= MAX_KIND {
                    assert_eq!(envelope.kind, kind);
                } else {
                    assert!(kind.starts_with(&envelope.kind), "kind cut elsewhere");
                    label = "round-trip long-kind".into();
                }
            }
            // A kind longer than the sealer keeps is cut at a byte count, maybe inside a
            // character; only kinds hs never uses are that long.
            Err(FrameError::Malformed(..)) if kind.len() > MAX_KIND => {
                label = "round-trip cut-kind".into();
            }
            Err(e) => panic!("a sealed message did not open: {e}"),
        }
    }
    assert!(
        matches!(
            opener.open(first),
            Err(FrameError::Replay { seq: 1, last: 2 })
        ),
        "a replay was not refused"
    );
    label
}
