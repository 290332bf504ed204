//! A cgroup v2 per slot, so that nothing a task starts outlives it or its engine.
//!
//! A process group does not hold a task's tree: `setsid`, `setpgid` and daemons leave it, and
//! killpg misses them. A cgroup does hold it: every process a task starts stays in the task's
//! cgroup whatever it does to its group or session, and `cgroup.kill` kills them all at once.
//!
//! Layout, under the cgroup the engine process was started in (`base`):
//!
//! ```text
//! base/                 the engine itself; what --keep-daemons keeps is moved here
//! base/hs-PID/          this process's tasks (PID = the engine's pid)
//! base/hs-PID/slot-N/   one per slot thread, reused task after task
//! ```
//!
//! - A task's shell joins its slot's cgroup before it execs (the spawned bash writes itself into
//!   `cgroup.procs`; a warm task is cloned straight into it with `CLONE_INTO_CGROUP`).
//! - When a task ends (by itself or stopped) whatever is left in the slot's cgroup is killed
//!   with `cgroup.kill`, or, for a task whose leftovers may stay ([`Leftover::Linger`],
//!   `--keep-daemons`), moved to `base`, where it outlives the engine.
//! - The engine may die without a chance to clean up (`kill -9`, the OOM killer): a watchdog
//!   (`/bin/sh`, its own process group, deaf to terminal signals) waits for the end of a pipe
//!   only the engine holds, and then kills `hs-PID` with `cgroup.kill` and removes it. An
//!   engine that ends in order removes its cgroups itself. An engine killed with its watchdog
//!   (a batch system ending their job step) leaves its empty cgroups, which the next engine
//!   started under the same `base` removes ([`sweep_stale`]).
//!
//! Where no cgroup can be made (cgroup v2 not mounted, not delegated to this user, a parent with
//! controllers enabled, Linux before 5.14 without `cgroup.kill`) the engine falls back, with one
//! debug log line: the task's shell still dies with the engine (parent-death signal), stops and
//! task ends kill the task's process group, and the subreaper reaps what comes back to it.
//! What left the process group (`setsid`, double-forked daemons) is then not killed.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Leftover;
use super::subreaper::Leftovers;

/// What the watchdog runs: `$0` is this process's cgroup. It ignores the signals a terminal or
/// a batch system sends a job (the engine handles those itself), waits for the end of its
/// stdin, kills everything left and removes the cgroups (gone already after an orderly end:
/// see [`release`]).
const WATCHDOG: &str = r#"trap '' INT TERM HUP QUIT USR1 USR2
while read -r _; do :; done
[ -d "$0" ] || exit 0
echo 1 > "$0/cgroup.kill" 2>/dev/null
n=0
while [ $n -lt 100 ]; do
  for d in "$0"/*/; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  rmdir "$0" 2>/dev/null && exit 0
  [ -d "$0" ] || exit 0
  n=$((n+1)); sleep 0.05
done"#;

/// This process's cgroup for tasks, and the watchdog that removes it.
struct EngineGroup {
    /// Where the engine runs and kept leftovers go.
    base: PathBuf,
    /// `base/hs-PID`.
    root: PathBuf,
    /// For slot cgroup names.
    next_slot: AtomicUsize,
    /// The watchdog's stdin: closed only when this process ends.
    _lifeline: OwnedFd,
}

/// One slot thread's cgroup.
pub(crate) struct SlotGroup {
    dir: PathBuf,
    /// The directory, for `CLONE_INTO_CGROUP`.
    dirfd: OwnedFd,
    /// `cgroup.procs`, open for writing and reading: a child writes "0" to it to join, and
    /// the members are read back from it after each task with `pread` (one call, where opening
    /// the file each time cost an `openat` and a `close` a task; the children's writes move
    /// the shared offset, which `pread` does not use).
    procs: File,
}

thread_local! {
    /// The calling slot thread's cgroup: made as the thread starts ([`prepare_slot`]);
    /// `Some(None)` where none can be.
    static SLOT: RefCell<Option<Option<SlotGroup>>> = const { RefCell::new(None) };
}

/// Runs `f` with the calling thread's slot cgroup (made on first use), or `None` where cgroups
/// cannot be used.
pub(crate) fn with_slot<T>(f: impl FnOnce(Option<&SlotGroup>) -> T) -> T {
    SLOT.with_borrow_mut(|slot| {
        let slot = slot.get_or_insert_with(|| {
            let engine = engine_group()?;
            SlotGroup::create(engine)
                .map_err(|e| tracing::debug!("cannot make a slot cgroup: {e}"))
                .ok()
        });
        f(slot.as_ref())
    })
}

/// Makes the calling slot thread's cgroup (and, the first time, the engine's and its watchdog)
/// before its first task, so that no task waits for them: a slot thread calls it as it starts.
pub(crate) fn prepare_slot() {
    with_slot(|_| ());
}

/// After an engine's slot threads have ended (each removed its slot's cgroup): removes this
/// process's cgroup, unless the slots of another engine of the process are still in it. So an
/// orderly end leaves nothing behind even where the watchdog never got to start; a slot that
/// starts later makes it again ([`SlotGroup::create`]).
pub(crate) fn release() {
    let engine = ENGINE.get().and_then(Option::as_ref);
    if let Some(engine) = engine {
        let _ = std::fs::remove_dir(&engine.root);
    }
}

/// The calling slot thread's cgroup, if it has one now: after a task's shell started, the
/// cgroup that task runs in (for `--monitor`, which lists its processes there).
pub(crate) fn slot_dir() -> Option<PathBuf> {
    SLOT.with(|slot| {
        let slot = slot.try_borrow().ok()?;
        slot.as_ref()?.as_ref().map(|group| group.dir.clone())
    })
}

/// After a task's shell has ended: what is left in the calling thread's slot cgroup is killed
/// (`killed`, the task was stopped or leaves nothing behind) or moved out to outlive it. The
/// killed processes' groups go to `leftovers`, so the subreaper reaps them, but for the task's
/// own group `pgid`: its leader is not reaped yet, and another slot reaping `leftovers` would
/// take the leader's exit status from under the task's watch (which reaps its own group, and
/// hands it to `leftovers` itself if members outlive the leader).
///
/// A slot cgroup that was killed is not used again: the next task gets a fresh one. Linux (6.14
/// and later at least) compares a cgroup's kill count with the forking parent's cgroup's when a
/// child is cloned straight into it (`CLONE_INTO_CGROUP`), so every task a warm slot shell clones
/// into a cgroup that has ever been killed would be SIGKILLed at birth.
pub(crate) fn settle_slot(killed: bool, pgid: libc::pid_t, leftovers: &Leftovers) {
    SLOT.with_borrow_mut(|slot| {
        let Some(Some(group)) = slot else {
            return;
        };
        let leftover = if killed {
            Leftover::Kill
        } else {
            Leftover::Linger
        };
        match group.settle(leftover, pgid, leftovers) {
            Ok(Settled::Killed) => *slot = None,
            Ok(Settled::Empty | Settled::Moved) => {}
            Err(e) => {
                tracing::debug!(cgroup = %group.dir.display(), "cannot settle a slot cgroup: {e}");
            }
        }
    });
}

/// What [`SlotGroup::settle`] did.
enum Settled {
    /// Nothing was left.
    Empty,
    /// What was left was killed through `cgroup.kill`.
    Killed,
    /// What was left was moved out to outlive the task.
    Moved,
}

/// This process's cgroup for tasks, made at the first slot's start; `None` where none can be.
static ENGINE: OnceLock<Option<EngineGroup>> = OnceLock::new();

fn engine_group() -> Option<&'static EngineGroup> {
    ENGINE
        .get_or_init(|| match EngineGroup::create() {
            Ok(group) => Some(group),
            Err(e) => {
                tracing::debug!(
                    "no cgroup for tasks ({e}): what leaves a task's process group is not killed"
                );
                None
            }
        })
        .as_ref()
}

impl EngineGroup {
    fn create() -> io::Result<Self> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
        let membership = std::fs::read_to_string("/proc/self/cgroup")?;
        let base = own_cgroup_dir(&mountinfo, &membership)
            .ok_or_else(|| io::Error::other("cgroup v2 is not mounted"))?;
        let root = base.join(format!("hs-{}", std::process::id()));
        // The watchdog first: no cgroup of this process exists without one watching it, so an
        // engine killed at any moment leaves none behind. On an error below, its lifeline
        // closes with the function, and it ends finding no cgroup.
        let lifeline = start_watchdog(&root)?;
        match std::fs::create_dir(&root) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        sweep_stale(&base);
        // (The root cgroup has none, so it is looked for in the one just made.)
        if !root.join("cgroup.kill").exists() {
            let _ = std::fs::remove_dir(&root);
            return Err(io::Error::other(
                "no cgroup.kill (Linux 5.14 or later has it)",
            ));
        }
        Ok(EngineGroup {
            base,
            root,
            next_slot: AtomicUsize::new(1),
            _lifeline: lifeline,
        })
    }
}

/// Removes the empty task cgroups that engines now dead left under `base`.
///
/// An engine and its watchdog can be killed together, by a batch system ending the job step
/// they ran in (Slurm kills every process of a step): then nobody removes the engine's
/// `hs-PID`. The next engine started under the same `base` does, for every `hs-PID` whose
/// process is gone. Only empty cgroups are removed (`rmdir` fails on one with processes), and
/// nothing is killed: a cgroup that still holds processes is left as it is.
fn sweep_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("hs-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = entry.path();
        if let Ok(slots) = std::fs::read_dir(&dir) {
            for slot in slots.flatten() {
                if slot.file_type().is_ok_and(|t| t.is_dir()) {
                    let _ = std::fs::remove_dir(slot.path());
                }
            }
        }
        if std::fs::remove_dir(&dir).is_ok() {
            tracing::debug!("removed {}, left by an engine that is gone", dir.display());
        }
    }
}

/// Starts the watchdog on `root`; returns the end of its stdin that only this process holds
/// (close-on-exec, so no task inherits it).
///
/// It is started as the slots start ([`prepare_slot`]), while the engine registers: started on
/// the first task's path, its start-up (about a millisecond of CPU, the parent waiting for the
/// exec) was most of what a one-task run took beyond bash itself. Its environment is `PATH`
/// alone: it carries none of the engine's settings or secrets for its life.
fn start_watchdog(root: &Path) -> io::Result<OwnedFd> {
    let (reader, writer) = io::pipe()?;
    watchdog_command(root, reader).spawn()?;
    Ok(OwnedFd::from(writer))
}

/// The watchdog of `root`, reading `stdin`.
fn watchdog_command(root: &Path, stdin: io::PipeReader) -> Command {
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(WATCHDOG)
        .arg(root)
        .env_clear()
        // For its `rmdir` and `sleep`, wherever this system keeps them.
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        )
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    // Not waited for: it outlives this process by design; while the engine lives it is the
    // subreaper's child, reaped with the task leftovers' zombies or by init after.
    command
}

impl SlotGroup {
    fn create(engine: &EngineGroup) -> io::Result<Self> {
        let n = engine.next_slot.fetch_add(1, Ordering::Relaxed);
        let dir = engine.root.join(format!("slot-{n}"));
        match std::fs::create_dir(&dir) {
            // Released by an engine of this process that ended before this one started.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir(&engine.root)?;
                std::fs::create_dir(&dir)?;
            }
            made => made?,
        }
        let opened = File::open(&dir).and_then(|d| {
            let procs = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(dir.join("cgroup.procs"))?;
            Ok((OwnedFd::from(d), procs))
        });
        match opened {
            Ok((dirfd, procs)) => Ok(SlotGroup { dir, dirfd, procs }),
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                Err(e)
            }
        }
    }

    /// The cgroup's directory, for a clone straight into it.
    pub(crate) fn dir_fd(&self) -> BorrowedFd<'_> {
        self.dirfd.as_fd()
    }

    /// Its `cgroup.procs`, where a child about to exec writes "0" to join.
    pub(crate) fn procs_fd(&self) -> BorrowedFd<'_> {
        self.procs.as_fd()
    }

    fn members(&self) -> io::Result<Vec<libc::pid_t>> {
        use std::os::unix::fs::FileExt;
        let mut text = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.procs.read_at(&mut chunk, text.len() as u64)?;
            if n == 0 {
                break;
            }
            text.extend_from_slice(&chunk[..n]);
        }
        Ok(String::from_utf8_lossy(&text)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect())
    }

    fn settle(
        &self,
        leftover: Leftover,
        own: libc::pid_t,
        leftovers: &Leftovers,
    ) -> io::Result<Settled> {
        let members = self.members()?;
        if members.is_empty() {
            return Ok(Settled::Empty);
        }
        match leftover {
            Leftover::Kill => {
                // Their groups, taken before they die, so the subreaper reaps the ones that
                // came back to it (a daemon's group is not the task's).
                for &pid in &members {
                    // SAFETY: getpgid takes a pid and reads no memory of ours.
                    let pgid = unsafe { libc::getpgid(pid) };
                    if pgid > 0 && pgid != own {
                        leftovers.add(pgid);
                    }
                }
                std::fs::write(self.dir.join("cgroup.kill"), b"1")?;
                Ok(Settled::Killed)
            }
            Leftover::Linger => {
                let Some(engine) = engine_group() else {
                    return Ok(Settled::Empty);
                };
                let mut procs = std::fs::OpenOptions::new()
                    .write(true)
                    .open(engine.base.join("cgroup.procs"))?;
                for pid in members {
                    // One that ended meanwhile is not an error.
                    if let Err(e) = procs.write_all(pid.to_string().as_bytes())
                        && e.raw_os_error() != Some(libc::ESRCH)
                    {
                        return Err(e);
                    }
                }
                Ok(Settled::Moved)
            }
        }
    }
}

impl Drop for SlotGroup {
    /// The slot thread ends: nothing of its tasks may stay, and its cgroup goes (a member still
    /// dying keeps it until the watchdog removes it with the rest when the process ends).
    fn drop(&mut self) {
        if self.members().is_ok_and(|m| !m.is_empty()) {
            let _ = std::fs::write(self.dir.join("cgroup.kill"), b"1");
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The directory of this process's cgroup v2, from `/proc/self/mountinfo` (where the unified
/// hierarchy is mounted, and which of its paths the mount shows) and `/proc/self/cgroup` (the
/// `0::PATH` line).
fn own_cgroup_dir(mountinfo: &str, membership: &str) -> Option<PathBuf> {
    let path = membership
        .lines()
        .find_map(|l| l.strip_prefix("0::"))?
        .trim();
    // mountinfo: id parent major:minor root mount-point options ... - fstype source options
    let (root, mount_point) = mountinfo.lines().find_map(|line| {
        let (fields, rest) = line.split_once(" - ")?;
        if rest.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let fields: Vec<&str> = fields.split_whitespace().collect();
        Some((unescape(fields.get(3)?), unescape(fields.get(4)?)))
    })?;
    // The mount shows the hierarchy from `root` down; a path outside it cannot be reached.
    let relative = Path::new(path).strip_prefix(&root).ok()?;
    Some(Path::new(&mount_point).join(relative))
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            if let Ok(byte) = u8::from_str_radix(&code, 8) {
                out.push(byte as char);
                continue;
            }
            out.push('\\');
            out.push_str(&code);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a thread of its own, as a slot: its cgroup's directory, and whether it exists then.
    fn a_slot() -> Option<PathBuf> {
        std::thread::spawn(|| {
            prepare_slot();
            slot_dir().filter(|dir| dir.exists())
        })
        .join()
        .expect("slot thread")
    }

    #[test]
    fn slots_after_the_process_cgroup_was_released_make_it_again() {
        let Some(first) = a_slot() else {
            let reason = "no cgroup v2 for tasks here";
            assert!(
                std::env::var_os("HS_REQUIRE_ALL").is_none_or(|v| v != "1"),
                "required (HS_REQUIRE_ALL=1): {reason}"
            );
            eprintln!("skipped: {reason}");
            return;
        };
        assert!(!first.exists(), "a slot's cgroup goes with its thread");
        let root = first.parent().expect("hs-PID").to_path_buf();
        // Removed unless slots of other tests of this process are in it now.
        release();
        let second = a_slot().expect("a slot cgroup after the release");
        assert_eq!(second.parent(), Some(root.as_path()));
    }

    const HYBRID: &str = "\
24 29 0:22 / /sys rw,nosuid - sysfs sysfs rw
35 24 0:30 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
41 35 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 35 0:39 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
";

    #[test]
    fn empty_cgroups_of_engines_that_are_gone_are_swept() {
        let base = tempfile::tempdir().unwrap();
        // No process has a pid this large (pid_max is at most 2^22).
        let gone = base.path().join("hs-999999999");
        let alive = base.path().join("hs-1");
        let own = base.path().join(format!("hs-{}", std::process::id()));
        let busy = base.path().join("hs-999999998");
        let other = base.path().join("other-999999999");
        for dir in [&gone, &alive, &own, &busy, &other] {
            std::fs::create_dir_all(dir.join("slot-1")).unwrap();
        }
        // A cgroup that still holds something (here: a file) is not removed.
        std::fs::write(busy.join("slot-1/held"), b"").unwrap();
        sweep_stale(base.path());
        assert!(!gone.exists(), "an engine that is gone: swept");
        for kept in [&alive, &own, &busy, &other] {
            assert!(kept.exists(), "{} kept", kept.display());
        }
    }

    #[test]
    fn the_cgroup_directory_is_found_under_the_unified_mount() {
        let membership = "4:memory:/x\n0::/user.slice/session-1.scope\n";
        assert_eq!(
            own_cgroup_dir(HYBRID, membership),
            Some(PathBuf::from(
                "/sys/fs/cgroup/unified/user.slice/session-1.scope"
            ))
        );
        assert_eq!(
            own_cgroup_dir(HYBRID, "0::/\n"),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
    }

    #[test]
    fn a_mount_of_a_subtree_or_no_v2_mount_is_handled() {
        // A container sees its own cgroup as the mount's root.
        let container = "50 40 0:40 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            own_cgroup_dir(container, "0::/docker/abc/inner\n"),
            Some(PathBuf::from("/sys/fs/cgroup/inner"))
        );
        assert_eq!(own_cgroup_dir(container, "0::/elsewhere\n"), None);
        let v1_only = "42 35 0:39 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        assert_eq!(own_cgroup_dir(v1_only, "0::/\n"), None);
        assert_eq!(own_cgroup_dir(HYBRID, "1:cpu:/\n"), None);
    }

    #[test]
    fn escaped_mount_points_are_read_back() {
        assert_eq!(unescape(r"/mnt/my\040cgroups"), "/mnt/my cgroups");
        assert_eq!(unescape(r"/plain"), "/plain");
    }
}
