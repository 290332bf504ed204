//! One enum per direction of travel, so that each receiver decodes a message once, where it
//! arrives, and then matches on a variant: a new kind that a receiver does not handle is a
//! compile error there, not a string that falls through to a default arm.
//!
//! - [`FromEngine`]: engine → controller (engine ROUTER).
//! - [`ToEngine`]: controller → one engine (engine ROUTER).
//! - [`FromClient`]: client → controller (client ROUTER).
//! - [`ToClient`]: controller → one client (client ROUTER).
//!
//! The heartbeat [`Ping`](super::Ping) travels alone on its own socket and stays a plain body.
//! On the wire nothing changes: a variant is sent as its body's kind and JSON, exactly as the
//! body alone would be.

use serde::Serialize;

use super::frame::{Envelope, FrameError};
use super::message::*;
use super::output::{OutputAck, OutputData, OutputOpen, OutputRefused};

/// What can be sealed and opened: a single [`Body`], or one of the direction enums.
pub trait Message: Sized {
    /// The kind frame this message travels under.
    fn kind(&self) -> &'static str;
    /// The body frame (JSON).
    fn to_json(&self) -> Vec<u8>;
    /// Decode an authenticated `kind` and `body`. An unknown kind and a body of the wrong shape
    /// are both refusals ([`FrameError::UnknownKind`], [`FrameError::Malformed`]).
    fn decode(kind: &str, body: &[u8]) -> Result<Self, FrameError>;
}

fn json<T: Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(body).expect("message bodies serialise")
}

/// serde's message can quote a character of the body, a line break included; a refusal is
/// logged on one line, so control characters are written as escapes.
fn parse<B: Body>(body: &[u8]) -> Result<B, FrameError> {
    serde_json::from_slice(body).map_err(|e| {
        let mut why = String::new();
        for c in e.to_string().chars() {
            if c.is_control() {
                why.extend(c.escape_default());
            } else {
                why.push(c);
            }
        }
        FrameError::Malformed(B::KIND.into(), why)
    })
}

impl<B: Body> Message for B {
    fn kind(&self) -> &'static str {
        B::KIND
    }

    fn to_json(&self) -> Vec<u8> {
        json(self)
    }

    fn decode(kind: &str, body: &[u8]) -> Result<Self, FrameError> {
        if kind != B::KIND {
            return Err(FrameError::UnknownKind(kind.to_string()));
        }
        parse(body)
    }
}

/// Declares a direction enum: one variant per body type, its [`Message`] implementation, and
/// conversions both ways between each body and the enum.
macro_rules! direction {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident($ty:ty)),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub enum $name {
            $($(#[$vdoc])* $variant($ty)),*
        }

        impl Message for $name {
            fn kind(&self) -> &'static str {
                match self {
                    $($name::$variant(_) => <$ty as Body>::KIND),*
                }
            }

            fn to_json(&self) -> Vec<u8> {
                match self {
                    $($name::$variant(b) => json(b)),*
                }
            }

            fn decode(kind: &str, body: &[u8]) -> Result<Self, FrameError> {
                $(if kind == <$ty as Body>::KIND {
                    return parse::<$ty>(body).map($name::$variant);
                })*
                Err(FrameError::UnknownKind(kind.to_string()))
            }
        }

        $(
            impl From<$ty> for $name {
                fn from(body: $ty) -> Self {
                    $name::$variant(body)
                }
            }

            impl TryFrom<$name> for $ty {
                type Error = $name;

                /// The body, if the message is of this kind; else the message itself.
                fn try_from(msg: $name) -> Result<Self, $name> {
                    match msg {
                        $name::$variant(b) => Ok(b),
                        #[allow(unreachable_patterns)]
                        other => Err(other),
                    }
                }
            }
        )*
    };
}

direction! {
    /// Engine → controller.
    FromEngine {
        Register(Register),
        Results(Results),
        Pong(Pong),
        Leaving(Leaving),
        Bye(Bye),
        GivenBack(GivenBack),
        OutputOpen(OutputOpen),
        OutputData(OutputData),
    }
}

direction! {
    /// Controller → engine (direct messages; pings go separately).
    ToEngine {
        Welcome(Welcome),
        Tasks(Tasks),
        Ack(Ack),
        Cancel(Cancel),
        Drain(Drain),
        Reregister(Reregister),
        GiveBack(GiveBack),
        OutputAck(OutputAck),
        OutputRefused(OutputRefused),
    }
}

direction! {
    /// Client → controller: requests, each answered in order by a [`ToClient`].
    FromClient {
        Submit(Submit),
        Status(StatusRequest),
        Cancel(Cancel),
        Drain(DrainRequest),
    }
}

direction! {
    /// Controller → client: answers, refusals, and results pushed unasked.
    ToClient {
        Submitted(Submitted),
        StatusReply(StatusReply),
        CancelReply(CancelReply),
        Drained(Drained),
        Refused(Refused),
        Finished(Finished),
    }
}

impl Envelope {
    /// Decode the body as `M` (a direction enum, or one body type whose kind it must carry).
    /// The envelope is already authenticated, so the error may name the kind.
    pub fn decode<M: Message>(&self) -> Result<M, FrameError> {
        M::decode(&self.kind, &self.body)
    }

    /// [`decode`](Self::decode) as one body type.
    pub fn parse<B: Body>(&self) -> Result<B, FrameError> {
        self.decode::<B>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Mode, Opener, Sealer};

    fn pair() -> (Sealer, Opener) {
        let (key, session) = ([5u8; 32], [6u8; 16]);
        (
            Sealer::new(&key, &session, Mode::Clear),
            Opener::new(&key, &session, Mode::Clear),
        )
    }

    #[test]
    fn a_variant_travels_exactly_as_its_body_alone() {
        let (mut a, _) = pair();
        let (mut b, _) = pair();
        let body = Ack {
            ids: vec![uuid::Uuid::nil()],
        };
        // In clear mode the payload is kind and body as they are, then the MAC.
        let by_body = a.seal(&body);
        let by_enum = b.seal(&ToEngine::from(body));
        assert_eq!(by_body[3], by_enum[3], "payload");
        assert!(by_enum[3].starts_with(b"\x03ack{"));
    }

    #[test]
    fn each_direction_decodes_its_own_kinds_and_refuses_the_rest() {
        let (mut s, mut o) = pair();
        let env = o.open(s.seal(&Pong {})).unwrap();
        assert!(matches!(
            env.decode::<FromEngine>(),
            Ok(FromEngine::Pong(_))
        ));
        assert_eq!(
            env.decode::<ToEngine>().unwrap_err(),
            FrameError::UnknownKind("pong".into())
        );
        assert!(env.parse::<Pong>().is_ok());
        assert!(env.parse::<Ping>().is_err());
    }

    #[test]
    fn a_body_of_the_wrong_shape_is_malformed() {
        let (mut s, mut o) = pair();
        let env = o.open(s.seal_raw("results", b"{\"results\": 3}")).unwrap();
        assert!(matches!(
            env.decode::<FromEngine>(),
            Err(FrameError::Malformed(kind, _)) if kind == "results"
        ));
    }

    #[test]
    fn a_malformed_body_is_refused_in_one_line() {
        let (mut s, mut o) = pair();
        let env = o
            .open(s.seal_raw("ack", b"{\"ids\": [\"0190a1b2-c3d4-7e5f-8a9b\r\"]}"))
            .unwrap();
        let err = env.decode::<ToEngine>().unwrap_err();
        assert!(matches!(err, FrameError::Malformed(..)), "{err:?}");
        assert!(!err.to_string().contains(['\r', '\n']), "{err}");
    }

    #[test]
    fn try_from_gives_the_body_or_the_message_back() {
        let msg = ToClient::from(Drained {});
        let back = Submitted::try_from(msg).unwrap_err();
        assert!(Drained::try_from(back).is_ok());
    }
}
