//! The processes a controller launched to run its engines, and how they end.
//!
//! Each launched process (an `hs client`, an `ssh`, an `mpirun`, an `srun` …) runs in its own
//! process group, so stopping it reaches everything it started. Its stderr is relayed line by
//! line with a prefix naming it, and its last line is kept to explain an early exit. Dropping
//! the fleet stops it: no error path leaves an engine behind.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One launched process.
struct Member {
    label: String,
    child: Child,
    /// Held open while the process runs: its end tells `--file -` engines to stop.
    stdin: Option<ChildStdin>,
    last_line: Arc<Mutex<Option<String>>>,
    started: Instant,
    /// Asked to leave ([`Fleet::retire`]) and not ended yet.
    retiring: bool,
}

/// A launched process that ended.
#[derive(Debug)]
pub struct Exited {
    pub label: String,
    pub status: ExitStatus,
    /// Its last line on stderr, which usually says why.
    pub last_line: Option<String>,
    pub lifetime: Duration,
}

impl Exited {
    /// `exit status 255` / `signal 9`.
    pub fn describe_status(&self) -> String {
        match (self.status.code(), self.status.signal()) {
            (Some(c), _) => format!("exit status {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "an unknown status".into(),
        }
    }
}

#[derive(Default)]
pub struct Fleet {
    members: Vec<Member>,
    launched: u64,
}

impl Fleet {
    pub fn new() -> Fleet {
        Fleet::default()
    }

    /// Start `argv` in its own process group with `env` added, writing `stdin_line` to its stdin
    /// (kept open) when given, otherwise with stdin from /dev/null.
    pub fn spawn(
        &mut self,
        label: String,
        argv: &[String],
        env: &[(String, String)],
        stdin_line: Option<&str>,
    ) -> std::io::Result<()> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty launcher command"))?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(if stdin_line.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run {program:?}: {e}")))?;
        let mut stdin = child.stdin.take();
        if let (Some(pipe), Some(line)) = (stdin.as_mut(), stdin_line) {
            // A process that died at once closes its end; that shows up when it is reaped.
            let _ = pipe
                .write_all(line.as_bytes())
                .and_then(|_| pipe.write_all(b"\n"));
            let _ = pipe.flush();
        }
        let last_line = Arc::new(Mutex::new(None));
        if let Some(err) = child.stderr.take() {
            relay_stderr(label.clone(), err, last_line.clone());
        }
        tracing::debug!("launched {label} (pid {})", child.id());
        self.launched += 1;
        self.members.push(Member {
            label,
            child,
            stdin,
            last_line,
            started: Instant::now(),
            retiring: false,
        });
        Ok(())
    }

    /// Processes still running.
    pub fn running(&self) -> usize {
        self.members.len()
    }

    /// Processes still running that were launched with this label (an ssh host).
    pub fn running_labelled(&self, label: &str) -> usize {
        self.members.iter().filter(|m| m.label == label).count()
    }

    /// Processes launched so far, ended or not.
    pub fn launched(&self) -> u64 {
        self.launched
    }

    /// Collect the processes that ended since the last call.
    pub fn reap(&mut self) -> Vec<Exited> {
        let mut exited = Vec::new();
        let mut i = 0;
        while i < self.members.len() {
            match self.members[i].child.try_wait() {
                Ok(Some(status)) => {
                    let m = self.members.swap_remove(i);
                    exited.push(finished(m, status));
                }
                Ok(None) => i += 1,
                Err(e) => {
                    tracing::warn!("cannot check on {}: {e}", self.members[i].label);
                    i += 1;
                }
            }
        }
        exited
    }

    /// Ask the `count` most recently launched processes that run and were not asked yet to
    /// leave, with SIGUSR1 to the process itself: an engine drains (takes no new task, hands
    /// back those not started, finishes those running, exits); mpirun and srun pass the signal
    /// to their engines; an ssh client ends, and its remote engine, seeing its stdin end, stops
    /// and hands its tasks back. They count as running until they have ended. Returns how many
    /// were asked.
    pub fn retire(&mut self, count: usize) -> usize {
        let mut newest: Vec<&mut Member> =
            self.members.iter_mut().filter(|m| !m.retiring).collect();
        newest.sort_by_key(|m| std::cmp::Reverse(m.started));
        let mut asked = 0;
        for m in newest.into_iter().take(count) {
            if let Ok(pid) = libc::pid_t::try_from(m.child.id()) {
                // SAFETY: kill only sends a signal to our own child, which is not reaped yet.
                unsafe {
                    libc::kill(pid, libc::SIGUSR1);
                }
            }
            m.retiring = true;
            tracing::info!("asked {} (pid {}) to leave", m.label, m.child.id());
            asked += 1;
        }
        asked
    }

    /// Stop everything: close stdins (engines started with `--file -` stop by themselves and
    /// hand their tasks back), wait up to `grace`, then SIGTERM and after 2 s SIGKILL every
    /// process group still there.
    pub fn stop(&mut self, grace: Duration) -> Vec<Exited> {
        for m in &mut self.members {
            m.stdin = None;
        }
        let mut exited = self.wait_all(grace);
        for (signal, wait) in [
            (libc::SIGTERM, Duration::from_secs(2)),
            (libc::SIGKILL, Duration::from_secs(2)),
        ] {
            if self.members.is_empty() {
                break;
            }
            for m in &self.members {
                signal_group(m.child.id(), signal);
            }
            exited.extend(self.wait_all(wait));
        }
        exited
    }

    fn wait_all(&mut self, limit: Duration) -> Vec<Exited> {
        let until = Instant::now() + limit;
        let mut exited = self.reap();
        while !self.members.is_empty() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
            exited.extend(self.reap());
        }
        exited
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if !self.members.is_empty() {
            self.stop(Duration::from_secs(3));
        }
    }
}

fn finished(m: Member, status: ExitStatus) -> Exited {
    let last_line = m
        .last_line
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Exited {
        label: m.label,
        status,
        last_line,
        lifetime: m.started.elapsed(),
    }
}

/// Signal the process group led by `pid` (each launched process leads its own).
fn signal_group(pid: u32, signal: libc::c_int) {
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: killpg only sends a signal; a group that is gone gives ESRCH, which is fine.
    unsafe {
        libc::killpg(pgid, signal);
    }
}

/// Copy a launched process's stderr to ours, each line prefixed with `label`, keeping the last.
fn relay_stderr(label: String, err: std::process::ChildStderr, last: Arc<Mutex<Option<String>>>) {
    let spawned = std::thread::Builder::new()
        .name("launch-stderr".into())
        .spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                eprintln!("[{label}] {line}");
                *last.lock().unwrap_or_else(|p| p.into_inner()) = Some(line);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot relay the launcher's stderr: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["bash".into(), "-c".into(), script.into()]
    }

    #[test]
    fn an_early_exit_keeps_its_last_stderr_line() {
        let mut fleet = Fleet::new();
        fleet
            .spawn(
                "t".into(),
                &sh("echo first >&2; echo 'no route to h9' >&2; exit 3"),
                &[],
                None,
            )
            .unwrap();
        let exited = fleet.wait_all(Duration::from_secs(5));
        assert_eq!(exited.len(), 1);
        assert_eq!(exited[0].status.code(), Some(3));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(exited[0].describe_status(), "exit status 3");
    }

    #[test]
    fn retire_asks_the_newest_first_and_each_only_once() {
        let mut fleet = Fleet::new();
        // Each says which process it was when asked to leave (SIGUSR1), then ends.
        let dir = tempfile::tempdir().unwrap();
        for name in ["first", "second", "third"] {
            let mark = dir.path().join(name);
            let script = format!(
                "trap 'touch {}; exit 0' USR1; while :; do sleep 0.05; done",
                mark.display()
            );
            fleet.spawn(name.into(), &sh(&script), &[], None).unwrap();
            // Distinct start times, and the trap set before any signal comes.
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(fleet.retire(2), 2);
        let asked = |name: &str| dir.path().join(name).exists();
        let until = Instant::now() + Duration::from_secs(5);
        while !(asked("second") && asked("third")) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(asked("second") && asked("third") && !asked("first"));
        assert_eq!(fleet.retire(5), 1, "only the first was not asked yet");
        assert_eq!(fleet.retire(1), 0);
        let exited = fleet.wait_all(Duration::from_secs(5));
        assert_eq!(exited.len(), 3);
        assert!(asked("first"));
    }

    #[test]
    fn stop_closes_stdin_then_kills_the_whole_group() {
        let mut fleet = Fleet::new();
        // Reads its line, then waits for the end of stdin: stops on its own.
        fleet
            .spawn(
                "polite".into(),
                &sh("read line; cat >/dev/null"),
                &[],
                Some("{}"),
            )
            .unwrap();
        // Ignores stdin and SIGTERM, with a child in its group: needs SIGKILL for both.
        fleet
            .spawn(
                "stubborn".into(),
                &sh("trap '' TERM; sleep 30 & wait"),
                &[],
                None,
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let started = Instant::now();
        let exited = fleet.stop(Duration::from_millis(300));
        assert_eq!(exited.len(), 2);
        assert_eq!(fleet.running(), 0);
        assert!(started.elapsed() < Duration::from_secs(6));
        let polite = exited.iter().find(|e| e.label == "polite").unwrap();
        assert_eq!(polite.status.code(), Some(0));
    }
}
