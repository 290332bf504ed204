//! Two fixed tasks for the golden tests: one finished, one fresh with awkward text.

use chrono::{TimeZone, Utc};
use hs_broker::store::TaskRecord;
use serde_json::json;
use uuid::Uuid;

fn id(n: u8) -> Uuid {
    Uuid::parse_str(&format!("0190a8e0-0000-7000-8000-0000000000{n:02}")).unwrap()
}

/// A task that ran on `node1` and succeeded.
pub(crate) fn done() -> TaskRecord {
    let at = |s, ms| {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, s).unwrap() + chrono::TimeDelta::milliseconds(ms)
    };
    let mut r = TaskRecord::new("echo hello".into(), id(2), Some("login1".into()));
    r.id = id(1);
    r.submit_time = at(0, 0);
    r.cores = Some(2);
    r.memory = Some(8 << 30);
    r.cores_max = Some(1.5);
    r.memory_max = Some(536_870_912.0);
    r.timeout = Some(3600);
    r.server_id = Some(id(3));
    r.server_host = Some("login1".into());
    r.schedule_time = Some(at(1, 0));
    r.client_id = Some(id(4));
    r.client_host = Some("node1".into());
    r.command = Some("echo hello".into());
    r.start_time = Some(at(2, 500));
    r.completion_time = Some(at(5, 0));
    r.exit_status = Some(0);
    r.outpath = Some("/tmp/o".into());
    r.waited = Some(2);
    r.duration = Some(2);
    r.tag = json!({"part": 0, "site": "a"}).as_object().unwrap().clone();
    r
}

/// A task not yet scheduled, whose args hold a comma, a tab, quotes and a newline.
pub(crate) fn fresh() -> TaskRecord {
    let mut r = TaskRecord::new("printf 'a,b\t\"c\"\n'".into(), id(2), None);
    r.id = id(5);
    r.submit_time = Utc.with_ymd_and_hms(2024, 5, 1, 13, 0, 0).unwrap();
    r.attempt = 2;
    r.previous_id = Some(id(6));
    r.tag = json!({"flag": ""}).as_object().unwrap().clone();
    r
}
