//! Maps and sets keyed by task and engine ids, which the core looks up several times per task.
//!
//! The standard library's SipHash is built to resist keys chosen to collide, at a cost that
//! shows in a profile of the core (a tenth of its time went to hashing ids). foldhash is several
//! times faster on a 16-byte key and still seeded at random per map, so ids sent by a peer
//! cannot be chosen to collide in advance.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

/// The hasher of [`IdMap`] and [`IdSet`].
pub type IdHasher = foldhash::fast::RandomState;

pub type IdMap<V> = HashMap<Uuid, V, IdHasher>;
pub type IdSet = HashSet<Uuid, IdHasher>;
