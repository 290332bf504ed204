//! [`TaskStore`] for [`SqlCore`]: every store operation, over the SQL of [`super::build`]
//! and the helpers of [`SqlCore`].

use super::*;

impl<C: Conn> TaskStore for SqlCore<C> {
    fn initialize(&mut self) -> Result<()> {
        self.tx(|s| {
            s.refuse_newer()?;
            s.create_tables()?;
            s.ensure_job_column()
        })
    }

    fn check(&mut self) -> Result<()> {
        for t in schema::TABLES {
            if !self.conn.table_exists(t)? {
                return Err(StoreError::Uninitialized);
            }
        }
        self.refuse_newer()
    }

    fn claim_controller(&mut self, owner: &str) -> Result<()> {
        match self.conn.claim(owner)? {
            Claimed::Done => Ok(()),
            Claimed::RecordOwner => self.record_owner(owner),
            Claimed::TakenSeeRecord => Err(StoreError::Locked {
                owner: self
                    .recorded_owner()
                    .unwrap_or_else(|| "another hs controller".into()),
            }),
        }
    }

    fn truncate(&mut self) -> Result<()> {
        self.conn.forget_statements();
        self.insert_sql.clear();
        self.job_column = None;
        self.run_group = None;
        let r = self.tx(|s| {
            s.refuse_newer()?;
            s.conn.batch("DROP TABLE IF EXISTS task")?;
            s.conn.batch("DROP TABLE IF EXISTS client")?;
            if s.conn.table_exists("hs_meta")? {
                s.conn
                    .batch("DELETE FROM hs_meta WHERE \"key\" = 'active_group'")?;
            }
            s.create_tables()
        });
        self.conn.forget_statements();
        r
    }

    fn vacuum(&mut self) -> Result<()> {
        self.conn.vacuum()
    }

    fn backup(&mut self, path: &Path) -> Result<()> {
        self.conn.backup(path)
    }

    fn submit(&mut self, tasks: &[TaskRecord]) -> Result<()> {
        if tasks.is_empty() {
            return Ok(());
        }
        if tasks.iter().any(|r| r.job.is_some()) {
            self.ensure_job_column()?;
        }
        self.tx(|s| s.insert_rows(tasks))
    }

    fn submit_lines(&mut self, tasks: &[TaskRecord], progress: &InputProgress) -> Result<()> {
        if tasks.iter().any(|r| r.job.is_some()) {
            self.ensure_job_column()?;
        }
        let key = input_key(&progress.submission);
        let value = serde_json::to_string(progress)
            .map_err(|e| StoreError::Backend(format!("input progress: {e}")))?;
        self.tx(|s| {
            s.insert_rows(tasks)?;
            s.meta_set(&key, &value)
        })
    }

    fn input_done(&mut self, submission: &Uuid) -> Result<()> {
        let mut b = Bind::new(self.d());
        let k = b.bind(Param::Text(Some(input_key(submission))));
        let sql = format!("DELETE FROM hs_meta WHERE \"key\" = {k}");
        self.conn.exec(&sql, &b.params).map(|_| ())
    }

    fn unfinished_inputs(&mut self) -> Result<Vec<InputProgress>> {
        let rows = self.conn.query(
            &format!(
                "SELECT \"value\" FROM hs_meta WHERE \"key\" LIKE '{INPUT_KEY}%' ORDER BY \"key\""
            ),
            &[],
            &[FieldKind::Text],
        )?;
        let mut found = Vec::new();
        for row in rows {
            if let Some(Param::Text(Some(text))) = row.into_iter().next() {
                match serde_json::from_str::<InputProgress>(&text) {
                    Ok(p) => found.push(p),
                    Err(e) => tracing::warn!("hs_meta holds an unreadable input record: {e}"),
                }
            }
        }
        Ok(found)
    }

    fn mark_handed_out(&mut self, handouts: &[Handout]) -> Result<()> {
        if handouts.is_empty() {
            return Ok(());
        }
        let rows = handouts
            .iter()
            .map(|h| {
                vec![
                    Param::Uuid(Some(h.task)),
                    Param::Uuid(Some(h.engine)),
                    Param::Text(Some(h.host.clone())),
                ]
            })
            .collect();
        self.tx(|s| {
            s.update_from_values(
                "\"client_id\" = v.column2, \"client_host\" = v.column3",
                " AND task.\"completion_time\" IS NULL",
                rows,
                false,
            )
            .map(|_| ())
        })
    }

    fn reconnect(&mut self) -> Result<()> {
        self.conn.reconnect()
    }

    fn schedule(&mut self, limit: usize, by: &Scheduler) -> Result<Vec<TaskRecord>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // A retry row carries the command its first attempt ran (see `retry_of`).
        if by.max_retries > 0 {
            self.ensure_job_column()?;
        }
        self.tx(|s| s.schedule_in_tx(limit, by))
    }

    fn complete(&mut self, done: &[Completion]) -> Result<Vec<Uuid>> {
        let firsts = first_of_each(done);
        if firsts.is_empty() {
            return Ok(Vec::new());
        }
        let d = self.d();
        self.tx(|s| {
            let mut recorded = HashSet::new();
            for part in firsts.chunks(ID_CHUNK) {
                let mut b = Bind::new(d);
                let p = b.bind(Param::Ids(part.iter().map(|c| c.id).collect()));
                let sql = format!(
                    "SELECT \"id\", \"submit_time\" FROM task WHERE {} AND \"completion_time\" IS NULL",
                    d.in_ids("\"id\"", &p)
                );
                let mut submitted = HashMap::new();
                for r in s.conn.query(&sql, &b.params, &[FieldKind::Uuid, FieldKind::Time])? {
                    if let [Param::Uuid(Some(id)), Param::Time(Some(t))] = r.as_slice() {
                        submitted.insert(*id, *t);
                    }
                }
                let rows: Vec<Vec<Param>> = part
                    .iter()
                    .filter_map(|c| {
                        let submit = submitted.get(&c.id)?;
                        let (start, end, waited, duration) = completion_fields(c, *submit);
                        Some(vec![
                            Param::Uuid(Some(c.id)),
                            Param::Uuid(c.client_id),
                            Param::Text(c.client_host.clone()),
                            Param::Text(c.command.clone()),
                            Param::Time(start),
                            Param::Time(Some(end)),
                            Param::Int(Some(i64::from(c.exit_status))),
                            Param::Int(c.signal.map(i64::from)),
                            Param::Text(c.outpath.clone()),
                            Param::Text(c.errpath.clone()),
                            Param::Int(waited),
                            Param::Int(duration),
                            Param::Float(c.cores_max),
                            Param::Float(c.memory_max),
                            Param::Text(c.csvpath.clone()),
                        ])
                    })
                    .collect();
                let set = "\"client_id\" = v.column2, \"client_host\" = v.column3, \
                           \"command\" = v.column4, \"start_time\" = v.column5, \
                           \"completion_time\" = v.column6, \"exit_status\" = v.column7, \
                           \"signal\" = v.column8, \"outpath\" = v.column9, \"errpath\" = v.column10, \
                           \"waited\" = v.column11, \"duration\" = v.column12, \
                           \"cores_max\" = v.column13, \"memory_max\" = v.column14, \
                           \"csvpath\" = v.column15";
                let ids = s.update_from_values(set, " AND task.\"completion_time\" IS NULL", rows, true)?;
                recorded.extend(ids);
            }
            Ok(firsts.iter().map(|c| c.id).filter(|id| recorded.contains(id)).collect())
        })
    }

    fn cancel(&mut self, ids: &[Uuid]) -> Result<Vec<TaskRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let d = self.d();
        self.tx(|s| {
            let mut cancelled = Vec::new();
            for part in ids.chunks(ID_CHUNK) {
                let mut b = Bind::new(d);
                let t = b.bind(Param::Time(Some(now())));
                let p = b.bind(Param::Ids(part.to_vec()));
                let sql = format!(
                    "UPDATE task SET \"schedule_time\" = {t}, \"completion_time\" = {t}, \
                     \"exit_status\" = -1 WHERE {} AND \"completion_time\" IS NULL RETURNING {}",
                    d.in_ids("\"id\"", &p),
                    *COLUMNS
                );
                cancelled.extend(s.tasks(&sql, &b.params)?);
            }
            Ok(cancelled)
        })
    }

    fn unschedule(&mut self, ids: &[Uuid]) -> Result<()> {
        let d = self.d();
        self.tx(|s| {
            for part in ids.chunks(ID_CHUNK) {
                let mut b = Bind::new(d);
                let p = b.bind(Param::Ids(part.to_vec()));
                let sql = format!(
                    "UPDATE task SET \"schedule_time\" = NULL, \"server_id\" = NULL, \"server_host\" = NULL, \
                     \"client_id\" = NULL, \"client_host\" = NULL, \"command\" = NULL, \"start_time\" = NULL \
                     WHERE {} AND \"completion_time\" IS NULL",
                    d.in_ids("\"id\"", &p)
                );
                s.conn.exec(&sql, &b.params)?;
            }
            Ok(())
        })
    }

    fn interrupted(&mut self, limit: usize) -> Result<Vec<TaskRecord>> {
        let mut b = Bind::new(self.d());
        let l = b.bind(limit_param(limit as u64));
        let sql = format!(
            "SELECT {}, {} FROM task WHERE \"completion_time\" IS NULL AND \"schedule_time\" IS NOT NULL \
             ORDER BY \"schedule_time\", \"id\" LIMIT {l}",
            *COLUMNS,
            self.job_select()?
        );
        self.tasks_with_job(&sql, &b.params)
    }

    fn get(&mut self, id: &Uuid) -> Result<Option<TaskRecord>> {
        let mut b = Bind::new(self.d());
        let p = b.bind(Param::Uuid(Some(*id)));
        let sql = format!("SELECT {} FROM task WHERE \"id\" = {p}", *COLUMNS);
        Ok(self.tasks(&sql, &b.params)?.into_iter().next())
    }

    fn finished_among(&mut self, ids: &[Uuid]) -> Result<Vec<Uuid>> {
        let d = self.d();
        let mut found = Vec::new();
        for part in ids.chunks(ID_CHUNK) {
            let mut b = Bind::new(d);
            let p = b.bind(Param::Ids(part.to_vec()));
            let sql = format!(
                "SELECT \"id\" FROM task WHERE {} AND \"completion_time\" IS NOT NULL",
                d.in_ids("\"id\"", &p)
            );
            for row in self.conn.query(&sql, &b.params, &[FieldKind::Uuid])? {
                if let Some(Param::Uuid(Some(id))) = row.into_iter().next() {
                    found.push(id);
                }
            }
        }
        Ok(found)
    }

    fn search(&mut self, query: &Query) -> Result<Vec<TaskRecord>> {
        let d = self.d();
        let mut b = Bind::new(d);
        let sql = select_sql(d, &mut b, &COLUMNS, query)?;
        self.tasks(&sql, &b.params)
    }

    fn count(&mut self, query: &Query) -> Result<u64> {
        let d = self.d();
        let mut b = Bind::new(d);
        let sql = if query.limit.is_some() {
            let inner = select_sql(d, &mut b, "\"id\"", query)?;
            format!("SELECT count(*) FROM ({inner}) AS matched")
        } else {
            format!(
                "SELECT count(*) FROM task WHERE {}",
                where_sql(d, &mut b, query)?
            )
        };
        Ok(self.scalar_int(&sql, &b.params)?.unwrap_or(0).max(0) as u64)
    }

    fn update(&mut self, query: &Query, changes: &[Change]) -> Result<u64> {
        self.tx(|s| {
            let ids = s.matching_ids(query)?;
            if !ids.is_empty() {
                for c in changes {
                    s.apply_change(&ids, c)?;
                }
            }
            Ok(ids.len() as u64)
        })
    }

    fn delete(&mut self, query: &Query) -> Result<u64> {
        let d = self.d();
        let mut b = Bind::new(d);
        let sql = if query.limit.is_some() {
            let inner = select_sql(d, &mut b, "\"id\"", query)?;
            format!("DELETE FROM task WHERE \"id\" IN ({inner})")
        } else {
            format!("DELETE FROM task WHERE {}", where_sql(d, &mut b, query)?)
        };
        self.tx(|s| {
            let n = s.conn.exec(&sql, &b.params)?;
            // An empty table has no "most recently scheduled task": start again from the lowest
            // group, as HyperShell does on an empty database.
            if n > 0 && s.scalar_int("SELECT 1 FROM task LIMIT 1", &[])?.is_none() {
                s.conn
                    .batch("DELETE FROM hs_meta WHERE \"key\" = 'active_group'")?;
                s.run_group = None;
            }
            Ok(n)
        })
    }

    fn tag_keys(&mut self) -> Result<Vec<String>> {
        let sql = match self.d() {
            Dialect::Sqlite => {
                "SELECT DISTINCT j.key FROM task, json_each(task.\"tag\") AS j ORDER BY 1"
            }
            Dialect::Postgres => {
                "SELECT DISTINCT k COLLATE \"C\" FROM task, jsonb_object_keys(task.\"tag\") AS k ORDER BY 1"
            }
        };
        self.texts(sql, &[])
    }

    fn tag_values(&mut self, key: &str) -> Result<Vec<serde_json::Value>> {
        let d = self.d();
        let mut b = Bind::new(d);
        let get = d.tag_get(&mut b, key)?;
        let sql = match d {
            Dialect::Sqlite => format!("SELECT DISTINCT {get} FROM task WHERE {get} IS NOT NULL"),
            Dialect::Postgres => {
                format!("SELECT DISTINCT {get}::text FROM task WHERE {get} IS NOT NULL")
            }
        };
        let mut values = Vec::new();
        for t in self.texts(&sql, &b.params)? {
            let v: serde_json::Value = serde_json::from_str(&t)
                .map_err(|_| StoreError::Backend(format!("tag {key:?} holds bad JSON")))?;
            values.push(v);
        }
        Ok(sort_json(values))
    }

    fn engine_connected(&mut self, c: &EngineRecord) -> Result<()> {
        let mut b = Bind::new(self.d());
        let id = b.bind(Param::Uuid(Some(c.id)));
        let host = b.bind(Param::Text(Some(c.host.clone())));
        let sid = b.bind(Param::Uuid(Some(c.server_id)));
        let sh = b.bind(Param::Text(Some(c.server_host.clone())));
        let at = b.bind(Param::Time(Some(micros(c.connected_at))));
        let sql = format!(
            "INSERT INTO client (\"id\", \"host\", \"server_id\", \"server_host\", \"connected_at\", \
             \"disconnected_at\", \"evicted\") VALUES ({id}, {host}, {sid}, {sh}, {at}, NULL, FALSE) \
             ON CONFLICT (\"id\") DO UPDATE SET \"host\" = excluded.\"host\", \
             \"server_id\" = excluded.\"server_id\", \"server_host\" = excluded.\"server_host\", \
             \"connected_at\" = excluded.\"connected_at\", \"disconnected_at\" = NULL, \"evicted\" = FALSE"
        );
        self.conn.exec(&sql, &b.params).map(|_| ())
    }

    fn engine_disconnected(&mut self, id: &Uuid, evicted: bool) -> Result<()> {
        let mut b = Bind::new(self.d());
        let t = b.bind(Param::Time(Some(now())));
        let e = b.bind(Param::Bool(evicted));
        let i = b.bind(Param::Uuid(Some(*id)));
        let sql = format!(
            "UPDATE client SET \"disconnected_at\" = {t}, \"evicted\" = {e} WHERE \"id\" = {i}"
        );
        self.conn.exec(&sql, &b.params).map(|_| ())
    }
}
