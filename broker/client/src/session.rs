//! [`Client`]: requests and answers, results pushed as they are recorded, and knowing when the
//! controller has gone.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use hs_protocol::bundle::{self, BUNDLE_BYTES, MAX_TASK_BYTES};
use hs_protocol::protocol::{
    Cancel, CancelReply, DrainRequest, Drained, FinishedTask, FromClient, Message, StatusReply,
    StatusRequest, Submit, Submitted, TaskSpec, ToClient,
};
use uuid::Uuid;

use super::error::ClientError;
use super::job::JobSpec;
use super::link::Link;
use hs_protocol::connection::ConnectionInfo;

/// Most tasks per `submit` message: well under the controller's limit (100,000). A message also
/// stops growing at [`BUNDLE_BYTES`], so it always fits a frame.
const SUBMIT_BUNDLE: usize = 20_000;
/// Ids per `cancel` message.
const CANCEL_BUNDLE: usize = 20_000;

/// `jobs` as the tasks of `submit` messages: in order, each message within [`SUBMIT_BUNDLE`]
/// tasks and [`BUNDLE_BYTES`]; a job too large for any message refuses them all.
fn submit_bundles(jobs: Vec<JobSpec>) -> Result<Vec<Vec<TaskSpec>>, ClientError> {
    let tasks: Vec<TaskSpec> = jobs.into_iter().map(JobSpec::into_task).collect();
    if let Some((index, spec)) = tasks
        .iter()
        .enumerate()
        .find(|(_, t)| !bundle::spec_fits(t))
    {
        return Err(ClientError::TooLarge {
            index,
            bytes: bundle::spec_bytes(spec),
            limit: MAX_TASK_BYTES,
        });
    }
    // Each job counts at least 1/SUBMIT_BUNDLE of a message, so none holds more jobs.
    let size = |t: &TaskSpec| bundle::spec_bytes(t).max(BUNDLE_BYTES.div_ceil(SUBMIT_BUNDLE));
    Ok(bundle::split(tasks, size))
}

/// How long a client waits, and how it notices a controller that went away.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// How long [`Client::connect`] waits for the controller's first answer.
    pub connect_timeout: Duration,
    /// How long one request (submit, cancel, status, drain) may wait for its answer.
    pub request_timeout: Duration,
    /// While waiting for results, ask for the controller's status after this much silence…
    pub probe_after: Duration,
    /// …and declare it lost when that question goes unanswered this long.
    pub silence_limit: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            probe_after: Duration::from_secs(1),
            silence_limit: Duration::from_secs(15),
        }
    }
}

/// A connection to a running controller (`hs server`, `hs start`): submit jobs, follow their
/// results as they finish, cancel them, ask for status, ask for a drain.
///
/// One `Client` is one ZeroMQ socket and is used from one thread. Every message it sends is
/// signed with the key from the connection file, and every message it receives is verified
/// (signature, sequence number, and that it comes from the controller the file names) before it
/// is believed.
///
/// ```no_run
/// use std::time::Duration;
/// use hs_client::{Client, JobSpec, locate};
///
/// let info = locate("/home/me/.hs/lib/security/server-50001.json")?;
/// let mut client = Client::connect(&info)?;
/// let ids = client.submit(vec![
///     JobSpec::new("hostname"),
///     JobSpec::new("sort big.txt").cwd("/data").stdout("big.sorted"),
/// ])?;
/// for result in client.results() {
///     let r = result?;
///     println!("{} {} on {:?}", r.id, r.status(), r.host);
/// }
/// # let _ = (ids, Duration::ZERO);
/// # Ok::<(), hs_client::ClientError>(())
/// ```
pub struct Client {
    link: Link,
    opts: ClientOptions,
    host: String,
    /// Results received and not yet handed out.
    arrived: VecDeque<FinishedTask>,
    /// Watched tasks whose result has not arrived yet.
    watching: HashSet<Uuid>,
    /// Status requests sent to check the controller is alive, not yet answered (their answers
    /// come before the answer to anything sent after them).
    probes: u32,
    probe_sent: Option<Instant>,
    last_heard: Instant,
    /// Set once the controller is lost: a late answer must never be taken for a new one.
    lost: bool,
}

impl Client {
    /// Connect with [`ClientOptions::default`] (5 s to answer).
    pub fn connect(info: &ConnectionInfo) -> Result<Client, ClientError> {
        Client::connect_with(info, ClientOptions::default())
    }

    /// Connect and wait for the controller's first answer, so that a stopped controller or a
    /// wrong key is reported here, by [`ClientError::Unreachable`] or
    /// [`ClientError::Unanswered`], rather than by a later call that waits in vain.
    pub fn connect_with(info: &ConnectionInfo, opts: ClientOptions) -> Result<Client, ClientError> {
        let mut client = Client {
            link: Link::open(info)?,
            host: hs_protocol::host::short_hostname(),
            arrived: VecDeque::new(),
            watching: HashSet::new(),
            probes: 0,
            probe_sent: None,
            last_heard: Instant::now(),
            lost: false,
            opts,
        };
        let waited = client.opts.connect_timeout;
        match client.request_within::<StatusReply>(StatusRequest {}.into(), waited) {
            Ok(_) => Ok(client),
            Err(ClientError::Lost { .. }) => Err(client.link.silence(waited)),
            Err(e) => Err(e),
        }
    }

    /// The controller this client talks to.
    pub fn controller_id(&self) -> Uuid {
        self.link.controller_id
    }

    /// Submit jobs; returns their task ids, in order. Watched jobs' results will come from
    /// [`Client::recv_timeout`] or [`Client::results`].
    ///
    /// The jobs are committed to the controller's store before this returns. Large lists (by
    /// count or by size) go in several messages; if one is refused (the controller is draining,
    /// or this client already waits for too many results), the error says why and the earlier
    /// messages' jobs stand. A job carrying more than 8 MiB of text (command, settings, tags)
    /// is [`ClientError::TooLarge`] and nothing is submitted.
    pub fn submit(&mut self, jobs: Vec<JobSpec>) -> Result<Vec<Uuid>, ClientError> {
        let mut ids = Vec::with_capacity(jobs.len());
        for tasks in submit_bundles(jobs)? {
            let watched: Vec<bool> = tasks.iter().map(|t| t.watch).collect();
            let submit = Submit {
                tasks,
                host: Some(self.host.clone()),
                ..Submit::default()
            };
            let answer: Submitted = self.request(submit.into())?;
            if answer.ids.len() != watched.len() {
                return Err(ClientError::Malformed {
                    kind: answer.kind().into(),
                    reason: format!("{} ids for {} tasks", answer.ids.len(), watched.len()),
                });
            }
            for (id, watch) in answer.ids.iter().zip(watched) {
                if watch {
                    self.watching.insert(*id);
                }
            }
            ids.extend(answer.ids);
        }
        Ok(ids)
    }

    /// Cancel tasks: waiting ones at once, running ones by stopping their process groups
    /// (SIGINT, SIGTERM, SIGKILL). Watched tasks still yield a result, `cancelled` (or whatever
    /// they ended with, if they finished first).
    pub fn cancel(&mut self, ids: &[Uuid]) -> Result<CancelReply, ClientError> {
        let mut total = CancelReply::default();
        for part in ids.chunks(CANCEL_BUNDLE) {
            let reply: CancelReply = self.request(Cancel { ids: part.to_vec() }.into())?;
            total.cancelled += reply.cancelled;
            total.stopping += reply.stopping;
            total.unknown += reply.unknown;
        }
        Ok(total)
    }

    /// The controller's queue and engines right now.
    pub fn status(&mut self) -> Result<StatusReply, ClientError> {
        self.request(StatusRequest {}.into())
    }

    /// Ask the controller to accept no more work, finish what it has, and stop.
    pub fn drain(&mut self) -> Result<(), ClientError> {
        let _: Drained = self.request(DrainRequest {}.into())?;
        Ok(())
    }

    /// Watched tasks whose results have not been handed out yet.
    pub fn outstanding(&self) -> usize {
        self.watching.len() + self.arrived.len()
    }

    /// The next result, waiting at most `timeout`; `Ok(None)` if none came in that time.
    ///
    /// While it waits it checks that the controller is still there (a status request after
    /// [`ClientOptions::probe_after`] of silence), and fails with [`ClientError::Lost`] when
    /// it is not; results already received are handed out first.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<FinishedTask>, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.arrived.pop_front() {
                return Ok(Some(r));
            }
            self.check_alive()?;
            // Looks at the socket at least once, even with no time to wait.
            let until = deadline.min(Instant::now() + self.opts.probe_after);
            match self.recv(until)? {
                Some(msg) => self.take_unasked(msg),
                None if Instant::now() >= deadline => return Ok(None),
                None => {}
            }
        }
    }

    /// Every watched result, as it arrives, until none is outstanding. An error (the
    /// controller lost) ends the iteration after it is yielded.
    pub fn results(&mut self) -> Results<'_> {
        Results {
            client: self,
            failed: false,
        }
    }

    /// Send a request and wait for its answer (or a refusal).
    fn request<A: TryFrom<ToClient, Error = ToClient>>(
        &mut self,
        q: FromClient,
    ) -> Result<A, ClientError> {
        let limit = self.opts.request_timeout;
        self.request_within(q, limit)
    }

    /// Answers come in the order of the requests: the first message that is neither pushed
    /// results nor the answer to an earlier liveness probe answers `q`, as an `A` or a refusal.
    fn request_within<A: TryFrom<ToClient, Error = ToClient>>(
        &mut self,
        q: FromClient,
        limit: Duration,
    ) -> Result<A, ClientError> {
        self.fail_if_lost()?;
        self.link.send(&q)?;
        let deadline = Instant::now() + limit;
        loop {
            let Some(msg) = self.recv(deadline)? else {
                self.lost = true;
                return Err(self.lost_error());
            };
            self.last_heard = Instant::now();
            match msg {
                ToClient::Finished(_) => self.take_unasked(msg),
                ToClient::StatusReply(_) if self.probes > 0 => self.take_unasked(msg),
                ToClient::Refused(r) => return Err(ClientError::Refused(r.reason)),
                answer => {
                    return A::try_from(answer).map_err(|other| ClientError::Malformed {
                        kind: other.kind().into(),
                        reason: format!("not an answer to {}", q.kind()),
                    });
                }
            }
        }
    }

    /// A message nobody is waiting on: pushed results, or the answer to a liveness probe.
    fn take_unasked(&mut self, msg: ToClient) {
        self.last_heard = Instant::now();
        match msg {
            ToClient::Finished(finished) => {
                for r in finished.results {
                    self.watching.remove(&r.id);
                    self.arrived.push_back(r);
                }
            }
            ToClient::StatusReply(_) if self.probes > 0 => {
                self.probes -= 1;
                if self.probes == 0 {
                    self.probe_sent = None;
                }
            }
            other => tracing::debug!(
                "ignoring an unasked {} message from the controller",
                other.kind()
            ),
        }
    }

    /// Ask whether the controller is still there after a silence; fail once it has not said
    /// anything for too long since being asked.
    fn check_alive(&mut self) -> Result<(), ClientError> {
        self.fail_if_lost()?;
        let now = Instant::now();
        let heard_since_probe = self.probe_sent.is_none_or(|sent| self.last_heard > sent);
        if heard_since_probe && now.duration_since(self.last_heard) >= self.opts.probe_after {
            self.link.send(&StatusRequest {}.into())?;
            self.probes += 1;
            self.probe_sent = Some(now);
        } else if let Some(sent) = self.probe_sent
            && !heard_since_probe
            && now.duration_since(sent) >= self.opts.silence_limit
        {
            self.lost = true;
            return Err(self.lost_error());
        }
        Ok(())
    }

    /// The next verified message; a replaced controller makes this client unusable.
    fn recv(&mut self, until: Instant) -> Result<Option<ToClient>, ClientError> {
        let received = self.link.recv(until);
        if received.as_ref().is_err_and(ClientError::is_lost) {
            self.lost = true;
        }
        received
    }

    fn fail_if_lost(&self) -> Result<(), ClientError> {
        if self.lost {
            return Err(self.lost_error());
        }
        Ok(())
    }

    fn lost_error(&self) -> ClientError {
        ClientError::Lost {
            endpoint: self.link.endpoint.clone(),
            silent: self.last_heard.elapsed(),
        }
    }
}

/// The iterator of [`Client::results`].
pub struct Results<'a> {
    client: &'a mut Client,
    failed: bool,
}

impl Iterator for Results<'_> {
    type Item = Result<FinishedTask, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.client.outstanding() == 0 {
            return None;
        }
        loop {
            match self.client.recv_timeout(Duration::from_secs(1)) {
                Ok(Some(r)) => return Some(Ok(r)),
                Ok(None) => continue,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submits_are_cut_by_size_and_by_count_in_order() {
        // 14 × 5 MiB: more than one 64 MiB frame, which libzmq would drop whole.
        let big = format!(": {}", "x".repeat(5 << 20));
        let bundles = submit_bundles((0..14).map(|_| JobSpec::new(&big)).collect()).unwrap();
        let sizes: Vec<usize> = bundles.iter().map(Vec::len).collect();
        assert_eq!(sizes, [5, 5, 4]);
        // Counted as JSON writes them: 5 MiB of control characters is 30 MiB there.
        let escaped = "\u{1}".repeat(5 << 20);
        let bundles = submit_bundles((0..3).map(|_| JobSpec::new(&escaped)).collect()).unwrap();
        assert_eq!(bundles.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1, 1]);
        let small =
            submit_bundles((0..45_000).map(|i| JobSpec::new(i.to_string())).collect()).unwrap();
        assert_eq!(small.len(), 3);
        assert!(small.iter().all(|b| b.len() <= SUBMIT_BUNDLE));
        let args: Vec<String> = small.into_iter().flatten().map(|t| t.args).collect();
        assert_eq!(args, (0..45_000).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn a_job_too_large_for_a_message_refuses_the_submit() {
        let too_big = JobSpec::new("true").env("A", "y".repeat(MAX_TASK_BYTES));
        match submit_bundles(vec![JobSpec::new("true"), too_big]) {
            Err(ClientError::TooLarge { index, limit, .. }) => {
                assert_eq!((index, limit), (1, MAX_TASK_BYTES))
            }
            other => panic!("{other:?}"),
        }
    }
}
