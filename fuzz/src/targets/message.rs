//! `message`: the message decoder of every direction (`FromEngine`, `ToEngine`, `FromClient`,
//! `ToClient`) and the heartbeat body.
//!
//! An input is a kind, a newline, then the body (JSON on the wire). Every decoder answers it,
//! refusals are one line, and a message that decodes is encoded and decoded again to the same
//! message under the same kind: decode(encode(x)) == x, compared as the JSON both give.

use hs_protocol::protocol::{FromClient, FromEngine, Message, Ping, ToClient, ToEngine};

use crate::check;

pub const KINDS: &[&str] = &[
    "register",
    "welcome",
    "tasks",
    "results",
    "ack",
    "ping",
    "pong",
    "drain",
    "leaving",
    "cancel",
    "bye",
    "give_back",
    "given_back",
    "reregister",
    "output_open",
    "output_data",
    "output_ack",
    "output_refused",
    "submit",
    "submitted",
    "status",
    "status_reply",
    "drain_request",
    "drained",
    "cancel_reply",
    "finished",
    "refused",
];

pub fn run(data: &[u8]) -> String {
    let (kind, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let kind = String::from_utf8_lossy(kind);
    [
        direction::<FromEngine>("FromEngine", &kind, body),
        direction::<ToEngine>("ToEngine", &kind, body),
        direction::<FromClient>("FromClient", &kind, body),
        direction::<ToClient>("ToClient", &kind, body),
        direction::<Ping>("Ping", &kind, body),
    ]
    .join(" ")
}

fn direction<M: Message>(name: &str, kind: &str, body: &[u8]) -> String {
    let decoded = M::decode(kind, body);
    let label = check::outcome(name, &decoded);
    if let Ok(message) = decoded {
        assert_eq!(message.kind(), kind, "{name}: decoded under another kind");
        let json = message.to_json();
        let again = M::decode(kind, &json).unwrap_or_else(|e| {
            panic!(
                "{name}: {kind} does not decode what it encodes ({e}): {}",
                String::from_utf8_lossy(&json)
            )
        });
        assert_eq!(
            String::from_utf8_lossy(&again.to_json()),
            String::from_utf8_lossy(&json),
            "{name}: {kind} changed in a round trip"
        );
    }
    label
}
