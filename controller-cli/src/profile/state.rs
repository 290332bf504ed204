//! The state of a profile's running cluster, kept in `security/cluster.json` (mode 0600): which
//! process runs its controller and how it launches engines, so `hs stop` and `hs status` find
//! it and a second `hs start` is refused while the first still runs.
//!
//! A pid alone is not proof of life: a pid can be reused, and a dead child stays a zombie until
//! reaped (on some machines init reaps orphans only every second or two). So the state keeps
//! the process's start time from `/proc/PID/stat` and [`alive`] checks both, counting a zombie
//! as dead.

use std::path::Path;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClusterState {
    /// The `hs start` process that runs the controller and its launchers.
    pub pid: u32,
    /// Its start time in clock ticks since boot (`/proc/PID/stat` field 22).
    pub start_ticks: u64,
    pub controller_id: uuid::Uuid,
    pub launcher: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// Engines the launcher was asked for, when it knows (`hs start --daemonize` waits for them).
    #[serde(default)]
    pub expected_engines: Option<u64>,
}

impl ClusterState {
    /// The state of this process.
    pub fn of_this_process(controller_id: uuid::Uuid, launcher: &str) -> Self {
        let pid = std::process::id();
        ClusterState {
            pid,
            start_ticks: start_ticks(pid).unwrap_or(0),
            controller_id,
            launcher: launcher.to_string(),
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            expected_engines: None,
        }
    }

    /// True while the recorded process runs (same pid, same start time, not a zombie).
    pub fn running(&self) -> bool {
        alive(self.pid) && start_ticks(self.pid) == Some(self.start_ticks)
    }
}

/// The state file, if there is one and it can be read.
pub fn read(path: &Path) -> Option<ClusterState> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Write the state with mode 0600 (through a rename, so a reader never sees half of it).
pub fn write(path: &Path, state: &ClusterState) -> anyhow::Result<()> {
    hs_broker::connection::write_private(path, &serde_json::to_vec_pretty(state)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match stat_fields(pid) {
        Some(fields) => fields
            .first()
            .is_some_and(|state| state != "Z" && state != "X"),
        None => false,
    }
}

fn start_ticks(pid: u32) -> Option<u64> {
    // Fields after the command name: state is field 3, starttime field 22.
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// `/proc/PID/stat` from field 3 on (the command name, which may hold spaces, is skipped).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_a_record_of_another_start_does_not() {
        let state = ClusterState::of_this_process(uuid::Uuid::new_v4(), "local");
        assert!(state.running());
        let reused = ClusterState {
            start_ticks: state.start_ticks + 1,
            ..state.clone()
        };
        assert!(!reused.running());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.json");
        write(&path, &state).unwrap();
        assert_eq!(read(&path), Some(state));
    }

    #[test]
    fn zombies_count_as_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(!alive(pid), "an exited, unreaped child is a zombie");
        child.wait().unwrap();
        assert!(!alive(pid));
    }
}
