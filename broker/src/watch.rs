//! Who watches which task: the only client state the controller keeps.
//!
//! A client that submits tasks with `watch` gets each one's final result pushed to it once the
//! store has recorded it. All the controller remembers for that is, per unfinished watched task,
//! which client (ROUTER identity) to tell, interned so that a hundred thousand tasks of one
//! client cost one identity plus a map entry each. An entry goes away when its task finishes,
//! whether or not the push reached anyone: a client that has gone finds its results in the store.

use std::collections::HashMap;

use uuid::Uuid;

/// Most unfinished watched tasks one client may have by default (`ControllerConfig`); more is
/// refused until some finish.
pub const MAX_WATCHED_PER_CLIENT: usize = 100_000;

struct Watcher {
    identity: Vec<u8>,
    open: usize,
}

/// Unfinished watched tasks and the clients waiting for them.
pub struct Watchers {
    by_task: HashMap<Uuid, u32>,
    clients: HashMap<u32, Watcher>,
    by_identity: HashMap<Vec<u8>, u32>,
    next: u32,
    limit: usize,
}

impl Watchers {
    pub fn with_limit(limit: usize) -> Self {
        Watchers {
            by_task: HashMap::new(),
            clients: HashMap::new(),
            by_identity: HashMap::new(),
            next: 0,
            limit,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// How many more tasks `identity` may watch.
    pub fn room(&self, identity: &[u8]) -> usize {
        let open = self
            .by_identity
            .get(identity)
            .and_then(|n| self.clients.get(n))
            .map_or(0, |w| w.open);
        self.limit.saturating_sub(open)
    }

    pub fn is_empty(&self) -> bool {
        self.by_task.is_empty()
    }

    /// `identity` watches `ids` (the caller checked [`Watchers::room`]).
    pub fn watch(&mut self, identity: &[u8], ids: impl IntoIterator<Item = Uuid>) {
        let n = match self.by_identity.get(identity) {
            Some(n) => *n,
            None => {
                let n = self.fresh_number();
                self.by_identity.insert(identity.to_vec(), n);
                self.clients.insert(
                    n,
                    Watcher {
                        identity: identity.to_vec(),
                        open: 0,
                    },
                );
                n
            }
        };
        let mut added = 0;
        for id in ids {
            if self.by_task.insert(id, n).is_none() {
                added += 1;
            }
        }
        if let Some(w) = self.clients.get_mut(&n) {
            w.open += added;
        }
    }

    /// `id` has its final result: forget it and say who was watching, if anyone.
    pub fn finished(&mut self, id: &Uuid) -> Option<Vec<u8>> {
        let n = self.by_task.remove(id)?;
        let w = self.clients.get_mut(&n)?;
        w.open -= 1;
        if w.open > 0 {
            return Some(w.identity.clone());
        }
        let w = self.clients.remove(&n)?;
        self.by_identity.remove(&w.identity);
        Some(w.identity)
    }

    /// Every watched, unfinished task.
    pub fn ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.by_task.keys().copied()
    }

    /// Whether anyone watches `id`.
    pub fn is_watched(&self, id: &Uuid) -> bool {
        self.by_task.contains_key(id)
    }

    fn fresh_number(&mut self) -> u32 {
        loop {
            let n = self.next;
            self.next = self.next.wrapping_add(1);
            if !self.clients.contains_key(&n) {
                return n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_task_is_told_once_to_its_own_client() {
        let mut w = Watchers::with_limit(MAX_WATCHED_PER_CLIENT);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        w.watch(b"client-1", [a]);
        w.watch(b"client-2", [b]);
        assert_eq!(w.finished(&b), Some(b"client-2".to_vec()));
        assert_eq!(w.finished(&b), None, "told once");
        assert_eq!(w.finished(&a), Some(b"client-1".to_vec()));
        assert!(w.is_empty());
        assert!(
            w.clients.is_empty() && w.by_identity.is_empty(),
            "no client kept"
        );
    }

    #[test]
    fn room_shrinks_with_open_tasks_and_comes_back() {
        let mut w = Watchers::with_limit(3);
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        w.watch(b"c", ids.clone());
        assert_eq!(w.room(b"c"), 0);
        assert_eq!(w.room(b"other"), 3);
        w.finished(&ids[0]);
        assert_eq!(w.room(b"c"), 1);
        // Watching the same task twice does not count twice.
        w.watch(b"c", [ids[1]]);
        assert_eq!(w.room(b"c"), 1);
    }
}
