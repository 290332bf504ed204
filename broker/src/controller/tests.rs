//! A whole controller in this process: the in-memory store, one in-process engine, an input
//! thread; how it ends, and that an input still blocked in a read does not hold up the end.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hs_engine::engine::{EngineConfig, OutputConfig};
use hs_engine::executor::LineSink;
use hs_engine::task::{Task, TaskResult};

use super::*;
use crate::registry::EngineInfo;

/// Exit statuses as they come; with `drain_after`, the run is told to take no more input once
/// that many results are in.
#[derive(Clone, Default)]
struct Statuses {
    seen: Arc<Mutex<Vec<i32>>>,
    drain_after: Option<(usize, Arc<RunControl>)>,
}

impl ResultSink for Statuses {
    fn task_finished(&mut self, _task: &Task, result: &TaskResult, _engine: &EngineInfo) {
        let mut seen = self.seen.lock().unwrap();
        seen.push(result.exit_status);
        if let Some((n, control)) = &self.drain_after
            && seen.len() == *n
        {
            control.drain();
        }
    }
}

fn builder() -> (ControllerBuilder, EngineConfig) {
    let key = hs_engine::protocol::generate_key();
    let mut builder =
        ControllerBuilder::new(ControllerConfig::new(key.clone(), BindSet::default()));
    let quiet = || Arc::new(LineSink::from_writer(Box::new(std::io::sink())));
    let engine = EngineConfig::new(
        builder.local_endpoints(),
        key,
        2,
        OutputConfig {
            stdout: quiet(),
            stderr: quiet(),
            capture_dir: None,
        },
    );
    (builder, engine)
}

fn rows(commands: &[&str]) -> Vec<TaskRecord> {
    let submitter = Uuid::new_v4();
    commands
        .iter()
        .map(|c| TaskRecord::new(c.to_string(), submitter, None))
        .collect()
}

#[test]
fn a_controller_with_one_engine_runs_its_input_and_returns_the_summary() {
    let (builder, engine) = builder();
    let mut controller = builder.bind().unwrap();
    controller.add_engine(engine, Duration::ZERO);
    let input = controller
        .spawn_input(|send| send(rows(&["true", "exit 3", "true"])))
        .unwrap();
    let mut sink = Statuses::default();
    let summary = controller.run(&mut sink).unwrap();

    assert_eq!(
        (
            summary.broker.submitted,
            summary.broker.succeeded,
            summary.broker.failed
        ),
        (3, 2, 1),
        "{summary:?}"
    );
    assert!(!summary.broker.aborted && !summary.broker.stopped);
    assert_eq!(summary.engines.len(), 1);
    assert_eq!(summary.engines[0].done, 3, "{summary:?}");
    let mut seen = sink.seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, [0, 0, 3]);
    assert_eq!(input.report(false), Some(true), "the input was taken whole");
}

#[test]
fn an_input_still_blocked_in_a_read_does_not_hold_up_the_end() {
    let (builder, engine) = builder();
    let mut controller = builder.bind().unwrap();
    controller.add_engine(engine, Duration::ZERO);
    // The "read" after the first bundle blocks until the test lets it go, as stdin from a
    // terminal would; then it tries to send more.
    let (release, blocked) = mpsc::channel::<()>();
    let (tell, told) = mpsc::channel::<bool>();
    let input = controller
        .spawn_input(move |send| {
            send(rows(&["true", "true", "true"]));
            let _ = blocked.recv();
            let _ = tell.send(send(rows(&["true"])));
        })
        .unwrap();
    let sink = Statuses {
        drain_after: Some((3, controller.control().clone())),
        ..Statuses::default()
    };
    let (summary, _) = controller.spawn(sink).unwrap().wait();
    let summary = summary.unwrap();
    assert_eq!(
        (summary.broker.submitted, summary.broker.succeeded),
        (3, 3),
        "{summary:?}"
    );
    assert!(input.report(true).is_none(), "the reader is still blocked");
    drop(release);
    assert!(!told.recv().unwrap(), "the feed closed with the run");
}

#[test]
fn the_run_takes_no_more_input_once_its_only_engine_has_left() {
    let (builder, mut engine) = builder();
    engine.idle_timeout = Some(Duration::from_millis(100));
    let mut controller = builder.bind().unwrap();
    controller.add_engine(engine, Duration::ZERO);
    // An input that never ends.
    let (_keep, never) = mpsc::channel::<()>();
    let _input = controller
        .spawn_input(move |_send| {
            let _ = never.recv();
        })
        .unwrap();
    let summary = controller.run(&mut Statuses::default()).unwrap();
    assert_eq!(summary.broker.submitted, 0);
    assert_eq!(summary.engines.len(), 1);
}

/// Where captured output from engines of other processes would go, and whether it was made.
fn upload_folder_made(engines: Vec<String>) -> bool {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lib/task");
    let key = hs_engine::protocol::generate_key();
    let mut cfg = ControllerConfig::new(
        key,
        BindSet {
            engines,
            ..BindSet::default()
        },
    );
    cfg.uploads = Some(crate::UploadConfig {
        dir: dir.clone(),
        max_bytes: 1 << 20,
    });
    let mut builder = ControllerBuilder::new(cfg);
    builder.local_endpoints();
    let controller = builder.bind().unwrap();
    let made = dir.exists();
    drop(controller);
    made
}

#[test]
fn only_a_controller_engines_of_other_processes_can_reach_takes_uploads() {
    assert!(!upload_folder_made(Vec::new()), "in-process engines only");
    assert!(upload_folder_made(vec!["tcp://127.0.0.1:*".into()]));
}
