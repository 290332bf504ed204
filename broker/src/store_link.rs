//! The controller's hold on its store through outages: a PostgreSQL server restarting, a network
//! cut, a SQLite file busy or failing with I/O errors.
//!
//! Every store call of the core goes through [`StoreLink`]. A [transient] error starts an
//! outage; while it lasts, calls fail at once with [`StoreError::Unavailable`] (the run loop must
//! not block: it keeps answering engines) except one attempt at a time, backing off from
//! [`FIRST_RETRY`] to [`LAST_RETRY`] apart, which first asks the store to
//! [reconnect](TaskStore::reconnect). The first call that succeeds ends the outage. What the core
//! does meanwhile (results held unacknowledged, input held, nothing handed out) is in
//! `reactor/outage.rs`; the run loop ends the run once an outage has lasted `db_wait`.
//!
//! [transient]: StoreError::is_transient

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::store::{
    Change, Completion, EngineRecord, Handout, InputProgress, Pending, Query, Result, Scheduler,
    StoreError, TaskRecord, TaskStore,
};

/// The wait before the first attempt after a failure: a restarting PostgreSQL is often back
/// within a second.
const FIRST_RETRY: Duration = Duration::from_millis(250);
/// The longest wait between attempts, so a store that is back is used again within this.
const LAST_RETRY: Duration = Duration::from_secs(4);

/// An outage under way.
#[derive(Clone, Debug)]
pub(crate) struct Outage {
    pub since: Instant,
    /// The last failure, for the log and the final error.
    pub reason: String,
    next_try: Instant,
    backoff: Duration,
}

/// A store and the state of the controller's connection to it (see the module docs). It
/// dereferences to the store, so callers use it as one.
pub(crate) struct StoreLink {
    guarded: Guarded,
}

struct Guarded {
    store: Box<dyn TaskStore>,
    outage: Option<Outage>,
}

impl StoreLink {
    pub fn new(store: Box<dyn TaskStore>) -> Self {
        StoreLink {
            guarded: Guarded {
                store,
                outage: None,
            },
        }
    }

    /// The outage under way, if any.
    pub fn outage(&self) -> Option<&Outage> {
        self.guarded.outage.as_ref()
    }

    /// Whether a call now would reach the store (no outage, or it is time to try again). On
    /// the real clock, as the outage itself.
    pub fn may_try(&self) -> bool {
        let now = Instant::now();
        self.guarded
            .outage
            .as_ref()
            .is_none_or(|o| now >= o.next_try)
    }
}

impl Deref for StoreLink {
    type Target = dyn TaskStore;
    fn deref(&self) -> &Self::Target {
        &self.guarded
    }
}

impl DerefMut for StoreLink {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.guarded
    }
}

impl Guarded {
    /// Run `op` on the store, unless an outage says to wait; see the module docs.
    fn guard<T>(&mut self, op: impl FnOnce(&mut dyn TaskStore) -> Result<T>) -> Result<T> {
        let now = Instant::now();
        if let Some(o) = &self.outage {
            if now < o.next_try {
                return Err(StoreError::Unavailable(o.reason.clone()));
            }
            if let Err(e) = self.store.reconnect() {
                return Err(self.failed(e, now));
            }
        }
        match op(&mut *self.store) {
            Ok(v) => {
                if let Some(o) = self.outage.take() {
                    tracing::warn!(
                        "the database answers again after {:.1}s",
                        now.duration_since(o.since).as_secs_f64()
                    );
                }
                Ok(v)
            }
            Err(e) => Err(self.failed(e, now)),
        }
    }

    /// Note a failure: a transient one starts or prolongs the outage.
    fn failed(&mut self, e: StoreError, now: Instant) -> StoreError {
        if !e.is_transient() {
            return e;
        }
        let reason = e.to_string();
        match &mut self.outage {
            Some(o) => {
                o.backoff = (o.backoff * 2).min(LAST_RETRY);
                o.next_try = now + o.backoff;
                o.reason = reason;
            }
            None => {
                tracing::warn!(
                    "{reason}: engines keep running, their results are held until it is back, \
                     and nothing new is handed out meanwhile"
                );
                self.outage = Some(Outage {
                    since: now,
                    reason,
                    next_try: now + FIRST_RETRY,
                    backoff: FIRST_RETRY,
                });
            }
        }
        e
    }
}

/// Every call through [`Guarded::guard`].
impl TaskStore for Guarded {
    fn initialize(&mut self) -> Result<()> {
        self.guard(|s| s.initialize())
    }
    fn check(&mut self) -> Result<()> {
        self.guard(|s| s.check())
    }
    fn claim_controller(&mut self, owner: &str) -> Result<()> {
        self.guard(|s| s.claim_controller(owner))
    }
    fn truncate(&mut self) -> Result<()> {
        self.guard(|s| s.truncate())
    }
    fn vacuum(&mut self) -> Result<()> {
        self.guard(|s| s.vacuum())
    }
    fn backup(&mut self, path: &Path) -> Result<()> {
        self.guard(|s| s.backup(path))
    }
    fn submit(&mut self, tasks: &[TaskRecord]) -> Result<()> {
        self.guard(|s| s.submit(tasks))
    }
    fn submit_lines(&mut self, tasks: &[TaskRecord], progress: &InputProgress) -> Result<()> {
        self.guard(|s| s.submit_lines(tasks, progress))
    }
    fn input_done(&mut self, submission: &Uuid) -> Result<()> {
        self.guard(|s| s.input_done(submission))
    }
    fn unfinished_inputs(&mut self) -> Result<Vec<InputProgress>> {
        self.guard(|s| s.unfinished_inputs())
    }
    fn mark_handed_out(&mut self, handouts: &[Handout]) -> Result<()> {
        self.guard(|s| s.mark_handed_out(handouts))
    }
    fn reconnect(&mut self) -> Result<()> {
        self.store.reconnect()
    }
    fn schedule(&mut self, limit: usize, by: &Scheduler) -> Result<Vec<TaskRecord>> {
        self.guard(|s| s.schedule(limit, by))
    }
    fn complete(&mut self, done: &[Completion]) -> Result<Vec<Uuid>> {
        self.guard(|s| s.complete(done))
    }
    fn cancel(&mut self, ids: &[Uuid]) -> Result<Vec<TaskRecord>> {
        self.guard(|s| s.cancel(ids))
    }
    fn unschedule(&mut self, ids: &[Uuid]) -> Result<()> {
        self.guard(|s| s.unschedule(ids))
    }
    fn interrupted(&mut self, limit: usize) -> Result<Vec<TaskRecord>> {
        self.guard(|s| s.interrupted(limit))
    }
    fn get(&mut self, id: &Uuid) -> Result<Option<TaskRecord>> {
        self.guard(|s| s.get(id))
    }
    fn finished_among(&mut self, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        self.guard(|s| s.finished_among(ids))
    }
    fn pending(&mut self, max_retries: u32) -> Result<Pending> {
        self.guard(|s| s.pending(max_retries))
    }
    fn search(&mut self, query: &Query) -> Result<Vec<TaskRecord>> {
        self.guard(|s| s.search(query))
    }
    fn count(&mut self, query: &Query) -> Result<u64> {
        self.guard(|s| s.count(query))
    }
    fn update(&mut self, query: &Query, changes: &[Change]) -> Result<u64> {
        self.guard(|s| s.update(query, changes))
    }
    fn delete(&mut self, query: &Query) -> Result<u64> {
        self.guard(|s| s.delete(query))
    }
    fn tag_keys(&mut self) -> Result<Vec<String>> {
        self.guard(|s| s.tag_keys())
    }
    fn tag_values(&mut self, key: &str) -> Result<Vec<serde_json::Value>> {
        self.guard(|s| s.tag_values(key))
    }
    fn engine_connected(&mut self, client: &EngineRecord) -> Result<()> {
        self.guard(|s| s.engine_connected(client))
    }
    fn engine_disconnected(&mut self, id: &Uuid, evicted: bool) -> Result<()> {
        self.guard(|s| s.engine_disconnected(id, evicted))
    }
}

#[cfg(test)]
pub(crate) mod flaky {
    //! A store that fails with an outage on demand, for tests of what rides one out.

    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;
    use crate::store::MemoryStore;

    /// A memory store that fails every call as unavailable while its switch is on.
    pub(crate) struct Flaky {
        pub inner: MemoryStore,
        pub down: Arc<AtomicBool>,
        pub reconnects: Arc<AtomicUsize>,
    }

    impl Flaky {
        pub fn new(inner: MemoryStore) -> Self {
            Flaky {
                inner,
                down: Arc::default(),
                reconnects: Arc::default(),
            }
        }

        fn up(&self) -> Result<()> {
            if self.down.load(Ordering::SeqCst) {
                Err(StoreError::Unavailable("test outage".into()))
            } else {
                Ok(())
            }
        }
    }

    impl TaskStore for Flaky {
        fn initialize(&mut self) -> Result<()> {
            self.up()
        }
        fn check(&mut self) -> Result<()> {
            self.up()
        }
        fn claim_controller(&mut self, _: &str) -> Result<()> {
            self.up()
        }
        fn truncate(&mut self) -> Result<()> {
            self.up()
        }
        fn vacuum(&mut self) -> Result<()> {
            self.up()
        }
        fn backup(&mut self, _: &Path) -> Result<()> {
            self.up()
        }
        fn submit(&mut self, tasks: &[TaskRecord]) -> Result<()> {
            self.up()?;
            self.inner.submit(tasks)
        }
        fn mark_handed_out(&mut self, h: &[Handout]) -> Result<()> {
            self.up()?;
            self.inner.mark_handed_out(h)
        }
        fn reconnect(&mut self) -> Result<()> {
            self.reconnects.fetch_add(1, Ordering::SeqCst);
            self.up()
        }
        fn schedule(&mut self, limit: usize, by: &Scheduler) -> Result<Vec<TaskRecord>> {
            self.up()?;
            self.inner.schedule(limit, by)
        }
        fn complete(&mut self, done: &[Completion]) -> Result<Vec<Uuid>> {
            self.up()?;
            self.inner.complete(done)
        }
        fn cancel(&mut self, ids: &[Uuid]) -> Result<Vec<TaskRecord>> {
            self.up()?;
            self.inner.cancel(ids)
        }
        fn unschedule(&mut self, ids: &[Uuid]) -> Result<()> {
            self.up()?;
            self.inner.unschedule(ids)
        }
        fn interrupted(&mut self, limit: usize) -> Result<Vec<TaskRecord>> {
            self.up()?;
            self.inner.interrupted(limit)
        }
        fn get(&mut self, id: &Uuid) -> Result<Option<TaskRecord>> {
            self.up()?;
            self.inner.get(id)
        }
        fn finished_among(&mut self, ids: &[Uuid]) -> Result<Vec<Uuid>> {
            self.up()?;
            self.inner.finished_among(ids)
        }
        fn search(&mut self, q: &Query) -> Result<Vec<TaskRecord>> {
            self.up()?;
            self.inner.search(q)
        }
        fn count(&mut self, q: &Query) -> Result<u64> {
            self.up()?;
            self.inner.count(q)
        }
        fn update(&mut self, q: &Query, c: &[Change]) -> Result<u64> {
            self.up()?;
            self.inner.update(q, c)
        }
        fn delete(&mut self, q: &Query) -> Result<u64> {
            self.up()?;
            self.inner.delete(q)
        }
        fn tag_keys(&mut self) -> Result<Vec<String>> {
            self.up()?;
            self.inner.tag_keys()
        }
        fn tag_values(&mut self, key: &str) -> Result<Vec<serde_json::Value>> {
            self.up()?;
            self.inner.tag_values(key)
        }
        fn engine_connected(&mut self, c: &EngineRecord) -> Result<()> {
            self.up()?;
            self.inner.engine_connected(c)
        }
        fn engine_disconnected(&mut self, id: &Uuid, e: bool) -> Result<()> {
            self.up()?;
            self.inner.engine_disconnected(id, e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::flaky::Flaky;
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn an_outage_fails_calls_at_once_until_a_retry_succeeds() {
        use std::sync::atomic::Ordering;
        let flaky = Flaky::new(MemoryStore::new());
        let (down, reconnects) = (flaky.down.clone(), flaky.reconnects.clone());
        let mut link = StoreLink::new(Box::new(flaky));
        let row = TaskRecord::new("t".into(), Uuid::new_v4(), None);
        link.submit(std::slice::from_ref(&row)).unwrap();
        assert!(link.outage().is_none());

        down.store(true, Ordering::SeqCst);
        assert!(link.get(&row.id).unwrap_err().is_transient());
        assert!(link.outage().is_some());
        assert!(!link.may_try(), "the next try waits");
        // Within the backoff the store is not touched: no reconnect is tried.
        assert!(matches!(link.get(&row.id), Err(StoreError::Unavailable(_))));
        assert_eq!(reconnects.load(Ordering::SeqCst), 0);

        down.store(false, Ordering::SeqCst);
        std::thread::sleep(FIRST_RETRY);
        assert!(link.may_try());
        assert_eq!(link.get(&row.id).unwrap().map(|r| r.id), Some(row.id));
        assert_eq!(reconnects.load(Ordering::SeqCst), 1, "reconnected first");
        assert!(link.outage().is_none());

        // Other errors are the caller's: no outage.
        let bad = Query {
            conditions: Vec::new(),
            tags: Vec::new(),
            order: None,
            limit: None,
        };
        link.count(&bad).unwrap();
        assert!(link.outage().is_none());
    }
}
