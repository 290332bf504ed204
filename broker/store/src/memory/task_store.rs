//! [`TaskStore`] for [`MemoryStore`]: every store operation over the indexed rows.

use super::*;

impl TaskStore for MemoryStore {
    fn initialize(&mut self) -> Result<()> {
        Ok(())
    }

    fn check(&mut self) -> Result<()> {
        Ok(())
    }

    fn claim_controller(&mut self, _owner: &str) -> Result<()> {
        Ok(())
    }

    fn truncate(&mut self) -> Result<()> {
        *self = MemoryStore::default();
        Ok(())
    }

    fn vacuum(&mut self) -> Result<()> {
        self.rows.shrink_to_fit();
        self.clients.shrink_to_fit();
        Ok(())
    }

    fn backup(&mut self, _path: &std::path::Path) -> Result<()> {
        Err(StoreError::Backend(
            "backup is for SQLite databases only: --no-db keeps nothing to back up".into(),
        ))
    }

    fn submit(&mut self, tasks: &[TaskRecord]) -> Result<()> {
        let mut seen = foldhash::HashSet::with_capacity_and_hasher(tasks.len(), Default::default());
        for t in tasks {
            if self.rows.contains_key(&t.id) || !seen.insert(t.id) {
                return Err(StoreError::Backend(format!("task {} already exists", t.id)));
            }
        }
        for t in tasks {
            let mut r = t.clone();
            truncate_times(&mut r);
            self.put(r);
        }
        Ok(())
    }

    fn schedule(&mut self, limit: usize, by: &Scheduler) -> Result<Vec<TaskRecord>> {
        let attempts = i64::from(by.max_retries) + 1;
        self.attempts = Some(attempts);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let at = now();
        loop {
            let Some(group) = self
                .active_group(by)
                .or_else(|| self.next_group(None, attempts, by))
            else {
                return Ok(Vec::new());
            };
            let mut out;
            if by.eager {
                out = self.take_retries(group, attempts, limit, by, at);
                let more = self.take_new(group, limit - out.len(), by, at);
                out.extend(more);
            } else {
                out = self.take_new(group, limit, by, at);
                let more = self.take_retries(group, attempts, limit - out.len(), by, at);
                out.extend(more);
            }
            if !out.is_empty() {
                self.set_active_group(by, group);
                return Ok(out);
            }
            if self.group_holds(group, attempts, by) {
                return Ok(Vec::new());
            }
            match self.next_group(Some(group), attempts, by) {
                Some(next) => self.set_active_group(by, next),
                None => return Ok(Vec::new()),
            }
        }
    }

    fn complete(&mut self, done: &[Completion]) -> Result<Vec<Uuid>> {
        let mut recorded = Vec::with_capacity(done.len());
        // Only the first completion of an id counts, as in the SQL stores: it leaves the row
        // final (or gone), so `take_open` skips any later one.
        for c in done {
            let Some(mut r) = self.take_open(&c.id) else {
                continue;
            };
            if c.exit_status == 0 {
                // A success is final and `put` would let the row go: no need to fill it in.
                recorded.push(c.id);
                continue;
            }
            let (start, end, waited, duration) = completion_fields(c, r.submit_time);
            r.client_id = c.client_id;
            r.client_host = c.client_host.clone();
            r.command = c.command.clone();
            r.start_time = start;
            r.completion_time = Some(end);
            r.exit_status = Some(c.exit_status);
            r.signal = c.signal;
            r.outpath = c.outpath.clone();
            r.errpath = c.errpath.clone();
            r.cores_max = c.cores_max;
            r.memory_max = c.memory_max;
            r.csvpath = c.csvpath.clone();
            r.waited = waited;
            r.duration = duration;
            self.put(r);
            recorded.push(c.id);
        }
        Ok(recorded)
    }

    fn cancel(&mut self, ids: &[Uuid]) -> Result<Vec<TaskRecord>> {
        let mut cancelled = Vec::new();
        for id in ids {
            if let Some(mut r) = self.take_open(id) {
                cancel_row(&mut r);
                cancelled.push(r.clone());
                // A cancelled row is final: `put` lets it go.
                self.put(r);
            }
        }
        Ok(cancelled)
    }

    fn unschedule(&mut self, ids: &[Uuid]) -> Result<()> {
        for id in ids {
            if let Some(mut r) = self.take_open(id) {
                r.schedule_time = None;
                r.server_id = None;
                r.server_host = None;
                r.client_id = None;
                r.client_host = None;
                r.command = None;
                r.start_time = None;
                self.put(r);
            }
        }
        Ok(())
    }

    fn mark_handed_out(&mut self, handouts: &[Handout]) -> Result<()> {
        for h in handouts {
            if let Some(r) = self.rows.get_mut(&h.task)
                && r.completion_time.is_none()
            {
                r.client_id = Some(h.engine);
                r.client_host = Some(h.host.clone());
            }
        }
        Ok(())
    }

    fn interrupted(&mut self, limit: usize) -> Result<Vec<TaskRecord>> {
        let mut found: Vec<&TaskRecord> = self
            .rows
            .values()
            .filter(|r| r.completion_time.is_none() && r.schedule_time.is_some())
            .collect();
        found.sort_by_key(|r| (r.schedule_time, r.id));
        Ok(found.into_iter().take(limit).cloned().collect())
    }

    fn get(&mut self, id: &Uuid) -> Result<Option<TaskRecord>> {
        Ok(self.rows.get(id).cloned())
    }

    /// Final rows are dropped from memory, so only rows cancelled while kept here (or unknown
    /// ids, which no longer wait for anything) count as finished.
    fn finished_among(&mut self, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        Ok(ids
            .iter()
            .filter(|id| {
                self.rows
                    .get(id)
                    .is_none_or(|r| r.completion_time.is_some())
            })
            .copied()
            .collect())
    }

    fn search(&mut self, query: &Query) -> Result<Vec<TaskRecord>> {
        Ok(self.matching(query)?.into_iter().cloned().collect())
    }

    fn count(&mut self, query: &Query) -> Result<u64> {
        Ok(self.matching(query)?.len() as u64)
    }

    fn update(&mut self, query: &Query, changes: &[Change]) -> Result<u64> {
        // Check every change before touching anything (all or nothing).
        let mut sets = Vec::with_capacity(changes.len());
        for c in changes {
            sets.push(match c {
                Change::Set(f, v) => {
                    let p = coerce(*f, v, true)?;
                    check_settable(*f, &p)?;
                    Some(p)
                }
                Change::SetTag(k, _) | Change::RemoveTag(k) => {
                    check_tag_key(k)?;
                    None
                }
                Change::Cancel | Change::Revert => None,
            });
        }
        let ids: Vec<Uuid> = self.matching(query)?.into_iter().map(|r| r.id).collect();
        for (c, p) in changes.iter().zip(&sets) {
            for id in &ids {
                self.apply(id, c, p.as_ref());
            }
        }
        Ok(ids.len() as u64)
    }

    fn delete(&mut self, query: &Query) -> Result<u64> {
        let ids: Vec<Uuid> = self.matching(query)?.into_iter().map(|r| r.id).collect();
        for id in &ids {
            self.take(id);
        }
        if !ids.is_empty() && self.rows.is_empty() {
            self.active = None;
            self.run_active = None;
        }
        Ok(ids.len() as u64)
    }

    fn tag_keys(&mut self) -> Result<Vec<String>> {
        let keys: BTreeSet<&String> = self.rows.values().flat_map(|r| r.tag.keys()).collect();
        Ok(keys.into_iter().cloned().collect())
    }

    fn tag_values(&mut self, key: &str) -> Result<Vec<serde_json::Value>> {
        check_tag_key(key)?;
        Ok(sort_json(
            self.rows
                .values()
                .filter_map(|r| r.tag.get(key).cloned())
                .collect(),
        ))
    }

    fn engine_connected(&mut self, client: &EngineRecord) -> Result<()> {
        self.clients.insert(client.id, client.clone());
        Ok(())
    }

    fn engine_disconnected(&mut self, id: &Uuid, _evicted: bool) -> Result<()> {
        self.clients.remove(id);
        Ok(())
    }
}
