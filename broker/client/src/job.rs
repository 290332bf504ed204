//! What a client submits: a command line and, optionally, where and how it runs.

use std::path::Path;

use hs_protocol::protocol::TaskSpec;
use hs_protocol::task::JobOptions;

/// One job: a shell command (run with `bash -o pipefail -c`) plus what Bakapara's jobs may say
/// (`cd`, `out`, `err`, an environment), tags and a walltime.
///
/// By default the job is *watched*: its final result is pushed to this client as soon as the
/// controller has recorded it, and [`Client::results`](super::Client::results) yields it.
/// [`JobSpec::unwatched`] submits and forgets (the result is still in the controller's store).
///
/// ```
/// use hs_client::JobSpec;
/// let job = JobSpec::new("wc -l data.txt")
///     .cwd("/work/project")
///     .stdout("data.txt.out")
///     .env("LC_ALL", "C")
///     .tag("part", "1")
///     .timeout_secs(600);
/// assert_eq!(job.command(), "wc -l data.txt");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct JobSpec(TaskSpec);

impl JobSpec {
    /// A watched job running `command`.
    pub fn new(command: impl Into<String>) -> Self {
        JobSpec(TaskSpec {
            args: command.into(),
            watch: true,
            ..TaskSpec::default()
        })
    }

    pub fn command(&self) -> &str {
        &self.0.args
    }

    fn options(&mut self) -> &mut JobOptions {
        self.0.job.get_or_insert_with(JobOptions::default)
    }

    /// Run in this directory (the engine never changes its own; relative paths are relative
    /// to the engine's working directory).
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Self {
        self.options().cwd = Some(dir.as_ref().to_string_lossy().into_owned());
        self
    }

    /// Write the command's stdout to this file (created or truncated; relative to `cwd`).
    pub fn stdout(mut self, file: impl AsRef<Path>) -> Self {
        self.options().stdout = Some(file.as_ref().to_string_lossy().into_owned());
        self
    }

    /// Write the command's stderr to this file (created or truncated; relative to `cwd`).
    pub fn stderr(mut self, file: impl AsRef<Path>) -> Self {
        self.options().stderr = Some(file.as_ref().to_string_lossy().into_owned());
        self
    }

    /// Add a variable to this job's environment.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options().env.push((name.into(), value.into()));
        self
    }

    /// Replace all of the job's run settings at once (what a JSON job's `cd`, `out`, `err`,
    /// `env`… parsed into).
    pub fn with_options(mut self, options: JobOptions) -> Self {
        self.0.job = (options != JobOptions::default()).then_some(options);
        self
    }

    /// A tag (`TASK_TAG_<NAME>` in the job's environment; searchable with `hs list -t`).
    pub fn tag(mut self, name: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.0.tags.insert(name.into(), value.into());
        self
    }

    /// Several tags at once.
    pub fn tags(mut self, tags: serde_json::Map<String, serde_json::Value>) -> Self {
        self.0.tags.extend(tags);
        self
    }

    /// Stop the job (SIGINT, SIGTERM, SIGKILL to its process group) after this many seconds.
    pub fn timeout_secs(mut self, seconds: u64) -> Self {
        self.0.timeout = (seconds > 0).then_some(seconds);
        self
    }

    /// Do not push this job's result to this client.
    pub fn unwatched(mut self) -> Self {
        self.0.watch = false;
        self
    }

    pub fn is_watched(&self) -> bool {
        self.0.watch
    }

    /// The job as it travels on the wire.
    pub fn into_task(self) -> TaskSpec {
        self.0
    }
}

impl From<TaskSpec> for JobSpec {
    fn from(spec: TaskSpec) -> Self {
        JobSpec(spec)
    }
}
