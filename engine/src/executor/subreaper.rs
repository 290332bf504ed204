//! Keeping a task's whole process tree accounted for.
//!
//! A task's bash may start background children (`cmd &`, daemons that double-fork, …). When bash
//! exits, Linux reparents those orphans to the nearest ancestor marked as a *child subreaper*, or
//! to init otherwise. The engine marks itself a subreaper so that (a) orphans stay visible to it
//! and can be killed with their group when a task is stopped, and (b) their exit statuses come to
//! the engine. The price is that the engine must reap them, or every dead orphan stays a zombie
//! and holds a pid until the engine exits. [`reap_group`] does that for one task's group, without
//! ever touching another slot's children (it waits on `-pgid`, never on `-1`), and
//! [`Leftovers`] remembers groups that still had live members so they are reaped later.

use std::io;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::sys;

/// Marks the calling process a child subreaper (`prctl(PR_SET_CHILD_SUBREAPER)`), so that the
/// orphaned descendants of tasks are reparented to it instead of init. Call once at engine start;
/// the setting is per process and inherited by no one.
pub fn become_child_subreaper() -> io::Result<()> {
    sys::set_child_subreaper()
}

/// What is left of a group after reaping its dead members.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GroupState {
    /// No child of ours is left in the group (members that are not our children, e.g. when the
    /// engine is not a subreaper, are init's business).
    Empty,
    /// Some members of ours are still alive.
    Alive,
}

/// Reaps every already-dead child of ours in process group `pgid`, without blocking.
///
/// Only call it while `pgid` still names the task's group: Linux does not reuse a pid while it
/// is the pgid of any process, so that holds while the leader is unreaped or any member lives.
pub(crate) fn reap_group(pgid: libc::pid_t) -> GroupState {
    loop {
        match sys::waitpid_group_nohang(pgid) {
            Ok(Some(_)) => continue,
            Ok(None) => return GroupState::Alive,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if e.raw_os_error() != Some(libc::ECHILD) {
                    tracing::debug!(pgid, error = %e, "waitpid on process group failed");
                }
                return GroupState::Empty;
            }
        }
    }
}

/// Whether any process is still in group `pgid` (ours or not): `kill(-pgid, 0)`.
pub(crate) fn group_exists(pgid: libc::pid_t) -> bool {
    match sys::killpg(pgid, 0) {
        Ok(()) => true,
        Err(e) => e.raw_os_error() != Some(libc::ESRCH),
    }
}

/// Sends `signal` to the whole group. A group that is already gone (ESRCH) is not an error worth
/// reporting: it is the normal end of a race with the task exiting by itself.
pub(crate) fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    if let Err(e) = sys::killpg(pgid, signal)
        && e.raw_os_error() != Some(libc::ESRCH)
    {
        tracing::debug!(pgid, signal, error = %e, "killpg failed");
    }
}

/// Reaps the members of a group that was just SIGKILLed, waiting at most `bound` for them to
/// die. SIGKILL is not instantaneous (the kernel still has to tear each process down) and there is
/// no fd to poll for "a member of this group exited", so this waits with a short exponential
/// back-off; it only runs on the rare stopped path, never for tasks that end by themselves.
pub(crate) fn reap_group_within(pgid: libc::pid_t, bound: Duration) -> GroupState {
    let deadline = Instant::now() + bound;
    let mut pause = Duration::from_micros(100);
    loop {
        if reap_group(pgid) == GroupState::Empty {
            return GroupState::Empty;
        }
        let now = Instant::now();
        if now >= deadline {
            return GroupState::Alive;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Groups whose tasks have finished but which still had live members of ours (background jobs
/// of tasks that were not stopped, or members that would not die in time). Each call to
/// [`reap`](Self::reap) collects the ones that have died since and forgets emptied groups.
///
/// A pgid cannot be reused by Linux while any process still belongs to that group, and a group is
/// forgotten as soon as no child of ours is left in it, so a remembered pgid always names the
/// original task's group.
#[derive(Debug, Default)]
pub(crate) struct Leftovers {
    groups: Mutex<Vec<libc::pid_t>>,
}

impl Leftovers {
    /// Remembers `pgid` for later reaping.
    pub(crate) fn add(&self, pgid: libc::pid_t) {
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        if !groups.contains(&pgid) {
            groups.push(pgid);
        }
    }

    /// Reaps the dead members of every remembered group; cheap (one lock) when there are none.
    pub(crate) fn reap(&self) {
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        groups.retain(|&pgid| reap_group(pgid) == GroupState::Alive);
    }

    /// How many groups are still remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.groups.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    /// State letter and process group of `pid` from /proc, `None` if it no longer exists.
    fn proc_stat(pid: libc::pid_t) -> Option<(char, libc::pid_t)> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the parenthesised command name: state ppid pgrp ...
        let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
        let state = fields.next()?.chars().next()?;
        let pgrp = fields.nth(1)?.parse().ok()?;
        Some((state, pgrp))
    }

    /// A process is gone for our purposes when it no longer exists or is a zombie.
    pub(crate) fn is_dead(pid: libc::pid_t) -> bool {
        !matches!(proc_stat(pid), Some((state, _)) if state != 'Z' && state != 'X')
    }

    /// Waits up to `within` for `pid` to be dead (signals are delivered asynchronously).
    pub(crate) fn dies_within(pid: libc::pid_t, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while !is_dead(pid) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    #[test]
    fn reaps_orphans_and_tracks_live_members() {
        become_child_subreaper().expect("prctl");
        // bash starts a short and a long background sleep in its own group, prints their pids
        // and exits: both become our children (we are a subreaper).
        let out = Command::new("/bin/bash")
            .arg("-c")
            .arg("sleep 0.05 >/dev/null 2>&1 & echo $!; sleep 30 >/dev/null 2>&1 & echo $!")
            .process_group(0)
            .output()
            .expect("spawn bash");
        let text = String::from_utf8(out.stdout).expect("utf8");
        let pids: Vec<libc::pid_t> = text.lines().map(|l| l.parse().expect("pid")).collect();
        let (short, long) = (pids[0], pids[1]);
        let (_, pgid) = proc_stat(long).expect("long sleep is running");

        let leftovers = Leftovers::default();
        assert_eq!(reap_group(pgid), GroupState::Alive);
        leftovers.add(pgid);
        assert!(dies_within(short, Duration::from_secs(2)));
        leftovers.reap();
        assert!(
            proc_stat(short).is_none(),
            "the short sleep must have been reaped, not left a zombie"
        );
        assert_eq!(leftovers.len(), 1, "the long sleep is still alive");

        signal_group(pgid, libc::SIGKILL);
        assert_eq!(
            reap_group_within(pgid, Duration::from_secs(2)),
            GroupState::Empty
        );
        assert!(proc_stat(long).is_none(), "killed and reaped");
        leftovers.reap();
        assert_eq!(leftovers.len(), 0);
    }
}
