//! [`Watch`]: the one poll(2) loop a spawned task's slot waits in, on the leader's pidfd, the
//! relay pipes and the slot's stop eventfd, with the walltime or the next escalation step as its
//! timeout; and the stop escalation (SIGINT, SIGTERM, SIGKILL `signalwait` apart) it drives.

use super::pipes::{PipePool, RelayPipe};
use super::relay::{Destination, Lost, Pipe, StreamRelay};
use super::spawn::BASH;
use super::stop::LEASE_STOP_WAIT;
use super::subreaper::{self, GroupState, Leftovers};
use super::sys;
use super::vfork::Started;
use super::{Exit, Leftover, OutputTarget, RunSpec, StopReason, StopSignal};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

/// How long to wait for the group leader after SIGKILL, and for the rest of a killed group to
/// die, before giving up and leaving them to [`Leftovers`]. Only a process stuck in the kernel
/// (uninterruptible sleep) takes more than a few milliseconds.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// Without a pidfd (kernel < 5.3, or out of fds) the leader's exit cannot be polled; the loop
/// then checks it at this interval.
const NO_PIDFD_TICK: Duration = Duration::from_millis(10);

/// Size of the buffer output is read through (the default pipe capacity).
const READ_CHUNK: usize = 64 * 1024;

thread_local! {
    /// The buffer a slot thread reads task output through, made once per thread: zeroing one on
    /// the stack for every task cost more than most tasks' output takes to read.
    static READ_BUF: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// Reads per stream per wake-up while the task runs (then the loop checks the leader and the
/// stop signal again), and for the final drain once the leader has exited.
const READS_PER_WAKE: usize = 16;

/// Signals sent to a group being stopped, `signalwait` apart.
const ESCALATION: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGKILL];

/// A stop in progress.
struct Stopping {
    reason: StopReason,
    /// How many signals of [`ESCALATION`] have been sent.
    sent: usize,
    /// When to send the next one (or, after SIGKILL, to stop waiting); `None` when that is
    /// further away than an [`Instant`] can say (a `signalwait` of centuries): never.
    next_at: Option<Instant>,
}

impl Stopping {
    /// The last signal sent: what a leader that exits by itself afterwards answered.
    fn last_sent(&self) -> libc::c_int {
        ESCALATION[self.sent.clamp(1, ESCALATION.len()) - 1]
    }
}

/// Between two signals of a stop: `signalwait`, or less for a lost lease, whose stop must be over
/// before the controller can requeue the task.
fn pause(signalwait: Duration, reason: StopReason) -> Duration {
    match reason {
        StopReason::LeaseLost => signalwait.min(LEASE_STOP_WAIT),
        _ => signalwait,
    }
}

/// `now + wait`, or `None` (never) when that instant cannot be represented: a walltime or a
/// `signalwait` too large for the clock saturates instead of panicking the slot.
fn after(now: Instant, wait: Duration) -> Option<Instant> {
    now.checked_add(wait)
}

/// Whether a stop can still make progress.
#[derive(PartialEq, Eq)]
enum Escalation {
    Waiting,
    /// SIGKILL was sent [`KILL_WAIT`] ago and the leader is still there.
    Exhausted,
}

/// How the wait for the leader ended.
enum Ended {
    /// It exited; the status is known if it was already collected (no-pidfd fallback).
    Exited(Option<ExitStatus>),
    /// It survived SIGKILL for [`KILL_WAIT`]; it is left to [`Leftovers`].
    Unresponsive,
}

/// Everything one run waits on.
pub(super) struct Watch<'a> {
    pgid: libc::pid_t,
    pidfd: Option<OwnedFd>,
    relays: [Option<StreamRelay>; 2],
    stop: &'a StopSignal,
    walltime: Option<Instant>,
    signalwait: Duration,
    stopping: Option<Stopping>,
    leftovers: Leftover,
    /// Why output of the task was lost, from the first relay that lost some.
    lost: Option<Lost>,
    /// The leader's status, if it was collected before the watch began.
    exited: Option<ExitStatus>,
}

/// Positions in the poll set (absent entries have fd -1, which poll(2) skips).
const PIDFD: usize = 0;
const STOPFD: usize = 1;
const RELAYS: usize = 2;

impl<'a> Watch<'a> {
    /// `pipes` are the stdout and stderr pipes, where those are relayed.
    pub(super) fn new(
        child: Started,
        pipes: [Option<RelayPipe>; 2],
        spec: &RunSpec<'_>,
        stop: &'a StopSignal,
    ) -> Self {
        let Started { pid, pidfd, exited } = child;
        let [out, err] = pipes;
        // Without a pidfd the pipes' hang-up is the early sign of the task's end.
        let keep_open = pidfd.is_some();
        let relay = |target: &OutputTarget, pipe: Option<RelayPipe>| match (target, pipe) {
            (OutputTarget::Relay(sink), Some(pipe)) => Some(StreamRelay::new(
                pipe,
                Destination::Lines(sink.clone()),
                keep_open,
            )),
            (OutputTarget::Capture(capture), Some(pipe)) => Some(StreamRelay::new(
                pipe,
                Destination::Capture(capture.clone()),
                keep_open,
            )),
            _ => None,
        };
        Self {
            pgid: pid,
            pidfd,
            relays: [relay(&spec.stdout, out), relay(&spec.stderr, err)],
            stop,
            walltime: spec.timeout.and_then(|t| after(Instant::now(), t)),
            signalwait: spec.signalwait,
            stopping: None,
            leftovers: spec.leftovers,
            lost: None,
            exited,
        }
    }

    /// Waits for the leader while relaying output and escalating a stop, then collects the
    /// leader and whatever of its group hs is responsible for. Its relay pipes go back to `pipes`
    /// when nothing of the group is left to write to them. Also says why output the task wrote
    /// was lost, if it was.
    pub(super) fn run(self, leftovers: &Leftovers, pipes: &PipePool) -> (Exit, Option<Lost>) {
        READ_BUF.with_borrow_mut(|buf| self.run_with(buf, leftovers, pipes))
    }

    /// Ends `relay`, keeping the first loss it reports; returns its pipe if the engine held it.
    fn end_relay(&mut self, relay: StreamRelay) -> Option<RelayPipe> {
        let (pipe, lost) = relay.finish();
        if let Some(why) = lost {
            self.lost.get_or_insert(why);
        }
        pipe
    }

    fn run_with(
        mut self,
        buf: &mut [u8],
        leftovers: &Leftovers,
        pipes: &PipePool,
    ) -> (Exit, Option<Lost>) {
        let exit = self.wait_and_collect(buf, leftovers, pipes);
        (exit, self.lost)
    }

    fn wait_and_collect(
        &mut self,
        buf: &mut [u8],
        leftovers: &Leftovers,
        pipes: &PipePool,
    ) -> Exit {
        let ended = self.wait_leader(buf);
        let stopping = self.stopping.take();
        let killed = stopping.is_some() || self.leftovers == Leftover::Kill;
        if killed {
            // Kill the rest of the group while the unreaped leader still pins its pgid.
            subreaper::signal_group(self.pgid, libc::SIGKILL);
        }
        // What left the group (setsid, daemons) is killed too, or moved out to outlive it.
        super::cgroup::settle_slot(killed, self.pgid, leftovers);
        let status = match ended {
            Ended::Exited(Some(status)) => Ok(Some(status)),
            Ended::Exited(None) => sys::wait_exit(self.pgid).map(Some),
            Ended::Unresponsive => Ok(None),
        };
        let left = match (killed, &ended, &status) {
            (_, Ended::Unresponsive, _) | (_, _, Err(_)) => GroupState::Alive,
            (true, _, _) => subreaper::reap_group_within(self.pgid, KILL_WAIT),
            (false, _, _) => subreaper::reap_group(self.pgid),
        };
        if left == GroupState::Alive {
            leftovers.add(self.pgid);
        }
        // Nothing of the task is left to write to its pipes once its group is empty (the leader
        // is reaped, so its pgid names a group again only once a new process takes the number).
        // Not a subreaper, the engine would not see its group's orphans as `Alive`: hence the
        // second look. A process that left the group is not seen: see pipes.rs.
        let reusable = left == GroupState::Empty && !subreaper::group_exists(self.pgid);
        // Take what the group wrote, but do not wait for an end of file: background processes
        // may hold the pipes open indefinitely. Whatever a finished member wrote is in the
        // pipe by now, so a pipe found empty here can be kept.
        let relays: Vec<StreamRelay> = self.relays.iter_mut().filter_map(Option::take).collect();
        for mut relay in relays {
            let state = relay.pump(buf, READS_PER_WAKE);
            if let Some(pipe) = self.end_relay(relay)
                && reusable
                && state == Pipe::Empty
            {
                pipes.give_back(pipe);
            }
        }
        let status = match status {
            Ok(status) => status,
            Err(e) => return Exit::SpawnFailed(format!("lost track of {BASH} ({e})")),
        };
        match (stopping, status) {
            (Some(s), Some(status)) => {
                let mut exit = stopped(s.reason, Some(status));
                if let Exit::Stopped { signal, .. } = &mut exit {
                    // A leader that exited with a code after the stop answered hs's signal:
                    // the run is recorded as stopped by it, whatever the code.
                    signal.get_or_insert(s.last_sent());
                }
                exit
            }
            (Some(s), None) => Exit::Stopped {
                reason: s.reason,
                signal: Some(libc::SIGKILL),
                code: None,
            },
            (None, Some(status)) => match (status.code(), status.signal()) {
                (Some(code), _) => Exit::Code(code),
                (None, Some(signal)) => Exit::Signal(signal),
                (None, None) => Exit::Code(-1),
            },
            // Unresponsive only happens after a stop.
            (None, None) => Exit::Code(-1),
        }
    }

    /// The poll loop: returns once the leader has exited or ignored SIGKILL for too long.
    fn wait_leader(&mut self, buf: &mut [u8]) -> Ended {
        if let Some(status) = self.exited.take() {
            return Ended::Exited(Some(status));
        }
        loop {
            let now = Instant::now();
            if self.escalate(now) == Escalation::Exhausted {
                return Ended::Unresponsive;
            }
            if self.pidfd.is_none() {
                match sys::try_wait(self.pgid) {
                    Ok(Some(status)) => return Ended::Exited(Some(status)),
                    Ok(None) => {}
                    Err(_) => return Ended::Exited(None),
                }
            }

            let mut fds = [libc::pollfd {
                fd: -1,
                events: libc::POLLIN,
                revents: 0,
            }; RELAYS + 2];
            if let Some(pidfd) = &self.pidfd {
                fds[PIDFD].fd = pidfd.as_raw_fd();
            }
            if self.stopping.is_none() {
                // Once stopping, the (still readable) eventfd has nothing more to say.
                fds[STOPFD].fd = self.stop.fd().as_raw_fd();
            }
            for (i, relay) in self.relays.iter().enumerate() {
                if let Some(relay) = relay {
                    fds[RELAYS + i].fd = relay.raw_fd();
                }
            }
            match sys::poll(&mut fds, self.poll_timeout(now)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Cannot happen with valid fds; fall back to the pidfd-less tick.
                    tracing::debug!(error = %e, "poll failed");
                    self.pidfd = None;
                    std::thread::sleep(NO_PIDFD_TICK);
                    continue;
                }
            }

            for i in 0..self.relays.len() {
                if fds[RELAYS + i].revents != 0
                    && let Some(relay) = &mut self.relays[i]
                    && relay.pump(buf, READS_PER_WAKE) == Pipe::Closed
                    && let Some(relay) = self.relays[i].take()
                {
                    // Its writers are gone, or reading failed: such a pipe is not kept.
                    drop(self.end_relay(relay));
                }
            }
            if self.stopping.is_none() && self.relays.iter().flatten().any(|r| r.overflowed()) {
                self.begin_stop(StopReason::OutputLimit, Instant::now());
            }
            // An exit seen with a stop goes first: the leader had ended by itself (a slot held
            // in a write of its output can see both at once, long after it ended), and a run
            // that was over is not stopped, nor run again as if it had been.
            if fds[PIDFD].revents != 0 {
                return Ended::Exited(None);
            }
            // The time limit, for the same reason, only for a leader still running now (this
            // wake's readiness may be from before a long write of its output).
            if self.stopping.is_none() && self.walltime.is_some_and(|t| Instant::now() >= t) {
                if self.leader_ended() {
                    return Ended::Exited(None);
                }
                self.begin_stop(StopReason::Timeout, Instant::now());
            }
            if fds[STOPFD].revents != 0 && self.stopping.is_none() {
                // Readable means triggered; the reason is set before the eventfd is written.
                let reason = self.stop.reason().unwrap_or(StopReason::Cancel);
                self.begin_stop(reason, Instant::now());
            }
        }
    }

    /// Whether the leader has ended, as its pidfd says now (without one, the loop's `try_wait`
    /// has just looked).
    fn leader_ended(&self) -> bool {
        let Some(pidfd) = &self.pidfd else {
            return false;
        };
        let mut fds = [libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        sys::poll(&mut fds, Some(Duration::ZERO)).is_ok() && fds[0].revents != 0
    }

    /// Sends SIGINT at once; the loop sends the rest of [`ESCALATION`] as `next_at` passes.
    fn begin_stop(&mut self, reason: StopReason, now: Instant) {
        subreaper::signal_group(self.pgid, ESCALATION[0]);
        self.stopping = Some(Stopping {
            reason,
            sent: 1,
            next_at: after(now, pause(self.signalwait, reason)),
        });
    }

    /// Sends the next signal of a stop whose current step has timed out.
    fn escalate(&mut self, now: Instant) -> Escalation {
        let Some(s) = &mut self.stopping else {
            return Escalation::Waiting;
        };
        if s.next_at.is_none_or(|t| now < t) {
            return Escalation::Waiting;
        }
        if s.sent == ESCALATION.len() {
            return Escalation::Exhausted;
        }
        subreaper::signal_group(self.pgid, ESCALATION[s.sent]);
        s.sent += 1;
        let pause = if s.sent == ESCALATION.len() {
            KILL_WAIT
        } else {
            pause(self.signalwait, s.reason)
        };
        s.next_at = after(now, pause);
        Escalation::Waiting
    }

    /// Until the next timer: the walltime, or the next escalation step while stopping.
    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        let wake = match &self.stopping {
            Some(s) => s.next_at,
            None => self.walltime,
        };
        let timeout = wake.map(|t| t.saturating_duration_since(now));
        match (&self.pidfd, timeout) {
            (Some(_), timeout) => timeout,
            (None, Some(t)) => Some(t.min(NO_PIDFD_TICK)),
            (None, None) => Some(NO_PIDFD_TICK),
        }
    }
}

/// The [`Exit`] of a run stopped for `reason`, with the leader's status if it was collected.
pub(super) fn stopped(reason: StopReason, status: Option<ExitStatus>) -> Exit {
    Exit::Stopped {
        reason,
        signal: status.and_then(|s| s.signal()),
        code: status.and_then(|s| s.code()),
    }
}
