//! Captured task output (`--capture`) and a monitored task's samples (`--monitor`) on their way
//! from an engine to its controller, when the engine's task folder is not the controller's.
//!
//! One upload per task and file kind ([`FileKind`]): the engine opens it with
//! [`OutputOpen`] (how many bytes it will send), the controller answers [`OutputAck`] with the
//! offset it already holds (0, or more when the upload resumes after a reconnect or a restart),
//! and the engine sends [`OutputData`] chunks of at most [`CHUNK_BYTES`] from there, each
//! acknowledged once it is written to the controller's file. [`OutputRefused`] ends an upload
//! the controller will not take. These are sealed like every message of the session; a chunk's
//! bytes travel in its JSON body as base64 (a chunk and its encoding stay far below the
//! controller's `server.maxmessage`, and the payload is cut into 16 KiB frames as any other).

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::message::Body;

/// Most bytes of output in one [`OutputData`]: 256 KiB (about 342 KiB once encoded, 22
/// frames). Large enough that a 100 MB output is 400 round trips, small enough that the few
/// chunks an engine keeps in flight cost the controller a megabyte or two.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Default for the largest captured file a controller keeps per task and kind
/// (`server.maxoutput`): 1 GiB.
pub const DEFAULT_MAX_OUTPUT: u64 = 1 << 30;

/// Which of a task's files an upload carries; also the file's extension (`<id>.out`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Out,
    Err,
    /// `--monitor`'s samples (`time,cores,memory`).
    Csv,
}

impl FileKind {
    pub const ALL: [FileKind; 3] = [FileKind::Out, FileKind::Err, FileKind::Csv];

    /// The extension of its file, `<task id>.<ext>`.
    pub fn ext(self) -> &'static str {
        match self {
            FileKind::Out => "out",
            FileKind::Err => "err",
            FileKind::Csv => "csv",
        }
    }

    /// How a log line names it.
    pub fn stream(self) -> &'static str {
        match self {
            FileKind::Out => "stdout",
            FileKind::Err => "stderr",
            FileKind::Csv => "samples",
        }
    }
}

/// What a controller that takes uploads says in its welcome.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputOffer {
    /// A random token the controller wrote into its capture folder, in `.hs-controller-<id>`.
    /// An engine that finds the same token in its own capture folder shares the folder (an
    /// in-process engine, or one on the same host and site) and sends nothing: its files are
    /// already where the controller looks.
    pub mark: String,
    /// The most bytes the controller keeps of one file (`server.maxoutput`).
    pub max_bytes: u64,
}

/// Engine → controller: the captured file `kind` of task `id` is `size` bytes (already cut to
/// the offer's `max_bytes`); where shall it start?
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputOpen {
    pub id: Uuid,
    pub kind: FileKind,
    pub size: u64,
    /// The file's whole size, when it is larger than the offer's `max_bytes` and `size` is
    /// that limit: both sides log that the file was cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_from: Option<u64>,
}

/// Engine → controller: `data` goes at `offset` of the file, which must be exactly what the
/// controller holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputData {
    pub id: Uuid,
    pub kind: FileKind,
    pub offset: u64,
    #[serde(serialize_with = "to_base64", deserialize_with = "from_base64")]
    pub data: Vec<u8>,
}

/// Controller → engine: the controller holds `offset` bytes of the file; with `done`, all of
/// it (the engine may delete its copy).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputAck {
    pub id: Uuid,
    pub kind: FileKind,
    pub offset: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub done: bool,
}

/// Controller → engine: this upload will not be taken (a task this engine did not run, an
/// offset that does not follow, data past the limit). The engine keeps its file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutputRefused {
    pub id: Uuid,
    pub kind: FileKind,
    pub reason: String,
}

impl Body for OutputOpen {
    const KIND: &'static str = "output_open";
}
impl Body for OutputData {
    const KIND: &'static str = "output_data";
}
impl Body for OutputAck {
    const KIND: &'static str = "output_ack";
}
impl Body for OutputRefused {
    const KIND: &'static str = "output_refused";
}

fn to_base64<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(data))
}

fn from_base64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{FromEngine, Message, Mode, Opener, Sealer};

    #[test]
    fn a_full_chunk_travels_sealed_within_the_message_limit() {
        let (key, session) = ([1u8; 32], [2u8; 16]);
        let mut sealer = Sealer::new(&key, &session, Mode::Sealed);
        let mut opener = Opener::new(&key, &session, Mode::Sealed);
        let data: Vec<u8> = (0..CHUNK_BYTES).map(|i| (i % 251) as u8).collect();
        let chunk = OutputData {
            id: Uuid::new_v4(),
            kind: FileKind::Err,
            offset: 7,
            data,
        };
        let frames = sealer.seal(&FromEngine::from(chunk.clone()));
        let size: usize = frames.iter().map(Vec::len).sum();
        assert!(size < 2 * CHUNK_BYTES, "{size}");
        let env = opener.open(frames).unwrap();
        match env.decode::<FromEngine>().unwrap() {
            FromEngine::OutputData(back) => assert_eq!(back, chunk),
            other => panic!("{}", other.kind()),
        }
    }

    #[test]
    fn data_that_is_not_base64_is_malformed() {
        let body = format!(
            r#"{{"id":"{}","kind":"out","offset":0,"data":"!!"}}"#,
            Uuid::nil()
        );
        assert!(FromEngine::decode("output_data", body.as_bytes()).is_err());
        let body = format!(r#"{{"id":"{}","kind":"log","size":0}}"#, Uuid::nil());
        assert!(FromEngine::decode("output_open", body.as_bytes()).is_err());
    }
}
