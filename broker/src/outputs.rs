//! Where a task's output files are, as the controller records them. `hs info ID --stdout`
//! opens the recorded path on the controller's host, so a path is never taken on an engine's
//! word: a job's own `stdout`/`stderr` files are derived from the job the controller handed
//! out, and a captured output (`--capture`, in the engine's site) or samples file
//! (`--monitor`) is taken only as an absolute plain path to a file named after the task
//! (`<id>.out`, `<id>.err`, `<id>.csv`), which no file existed as before the controller drew
//! that id. Anything else is dropped, and said once per bundle.
//!
//! A result whose captured files the engine uploads (`upload`, see `uploads.rs`) records the
//! controller's own copies instead, `<controller site>/lib/task/<id>.out`, once the engine's
//! path has passed the same check: the engine's files stay on its host until the controller
//! holds them, and `hs info ID --stdout` on the controller's host reads the controller's.

use std::path::{Component, Path};

use hs_engine::protocol::FileKind;
use hs_engine::task::{Task, TaskResult};
use uuid::Uuid;

/// The paths recorded for a task.
#[derive(Debug, Default, PartialEq)]
pub struct Recorded {
    pub outpath: Option<String>,
    pub errpath: Option<String>,
    pub csvpath: Option<String>,
    /// How many of the engine's paths were refused.
    pub refused: usize,
}

/// The stdout, stderr and samples paths to record for `result` of `task`. `uploads` is the
/// controller's folder for uploaded output, when it takes uploads.
pub fn checked(task: &Task, result: &TaskResult, uploads: Option<&Path>) -> Recorded {
    let job = task.job.as_ref();
    let derived = |p: Option<std::path::PathBuf>| p.map(|p| p.display().to_string());
    let ours = |(path, refused): (Option<String>, bool), kind: FileKind| match uploads {
        Some(dir) if result.upload && path.is_some() => (
            Some(uploaded_path(dir, task.id, kind).display().to_string()),
            refused,
        ),
        _ => (path, refused),
    };
    let (out, out_refused) = match derived(job.and_then(|j| j.stdout_path())) {
        Some(path) => (Some(path), false),
        None => ours(
            captured(result.outpath.as_deref(), task.id, "out"),
            FileKind::Out,
        ),
    };
    let (err, err_refused) = match derived(job.and_then(|j| j.stderr_path())) {
        Some(path) => (Some(path), false),
        None => ours(
            captured(result.errpath.as_deref(), task.id, "err"),
            FileKind::Err,
        ),
    };
    let reported_csv = result.usage.as_ref().and_then(|u| u.csvpath.as_deref());
    let (csv, csv_refused) = ours(captured(reported_csv, task.id, "csv"), FileKind::Csv);
    Recorded {
        outpath: out,
        errpath: err,
        csvpath: csv,
        refused: [out_refused, err_refused, csv_refused]
            .into_iter()
            .filter(|r| *r)
            .count(),
    }
}

/// Where the controller keeps the uploaded file `kind` of task `id`.
pub fn uploaded_path(dir: &Path, id: Uuid, kind: FileKind) -> std::path::PathBuf {
    dir.join(format!("{id}.{}", kind.ext()))
}

/// An engine's captured-output path, if it is one: absolute, without `.` or `..`, and named
/// `<id>.<ext>`. The flag says a path was given and refused.
fn captured(reported: Option<&str>, id: Uuid, ext: &str) -> (Option<String>, bool) {
    let Some(path) = reported else {
        return (None, false);
    };
    let p = Path::new(path);
    let plain = p.is_absolute()
        && p.components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    let named = p.file_name().and_then(|n| n.to_str()) == Some(&format!("{id}.{ext}"));
    if plain && named {
        (Some(path.to_string()), false)
    } else {
        (None, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hs_engine::task::JobOptions;

    fn result_with(task: &Task, out: &str, err: &str) -> TaskResult {
        let mut r = TaskResult::not_run(task.id, 1, hs_engine::task::Outcome::Exited, 0, None);
        r.outpath = Some(out.into());
        r.errpath = Some(err.into());
        r
    }

    #[test]
    fn an_engine_cannot_point_a_task_at_another_file() {
        let task = Task::new("true");
        for bad in [
            "/etc/passwd",
            "relative/x.out",
            &format!("/srv/task/../../etc/{}.out", task.id),
            &format!("{}.out", task.id),
        ] {
            let r = checked(&task, &result_with(&task, bad, bad), None);
            assert_eq!((r.outpath, r.refused), (None, 2), "{bad}");
        }
        let good = format!("/home/u/.local/share/hypershell/lib/task/{}.out", task.id);
        // The .out file is not the task's .err.
        let r = checked(&task, &result_with(&task, &good, &good), None);
        assert_eq!((r.outpath, r.errpath, r.refused), (Some(good), None, 1));
    }

    #[test]
    fn a_samples_file_must_be_the_tasks_own_csv() {
        let task = Task::new("true");
        let dir = "/home/u/.local/share/hypershell/lib/task";
        let with_csv = |path: &str| {
            let mut r = TaskResult::not_run(task.id, 1, hs_engine::task::Outcome::Exited, 0, None);
            r.usage = Some(hs_engine::task::Usage {
                cores_max: 1.0,
                memory_max: 1,
                csvpath: Some(path.into()),
            });
            r
        };
        let good = format!("{dir}/{}.csv", task.id);
        let r = checked(&task, &with_csv(&good), None);
        assert_eq!((r.csvpath, r.refused), (Some(good.clone()), 0));
        // Uploaded, it is recorded at the controller's copy.
        let mut uploaded = with_csv(&good);
        uploaded.upload = true;
        let r = checked(&task, &uploaded, Some(Path::new("/srv/site/lib/task")));
        assert_eq!(
            r.csvpath,
            Some(format!("/srv/site/lib/task/{}.csv", task.id))
        );
        for bad in [
            format!("{dir}/{}.out", task.id),
            format!("{dir}/../{}.csv", task.id),
            "/etc/passwd".to_string(),
        ] {
            let r = checked(&task, &with_csv(&bad), None);
            assert_eq!((r.csvpath, r.refused), (None, 1), "{bad}");
        }
    }

    #[test]
    fn an_uploaded_file_is_recorded_at_the_controller_once_the_engines_path_passes() {
        let task = Task::new("true");
        let dir = Path::new("/srv/site/lib/task");
        let good = format!("/remote/site/lib/task/{}.out", task.id);
        let mut result = result_with(&task, &good, "/etc/shadow");
        result.upload = true;
        let r = checked(&task, &result, Some(dir));
        assert_eq!(
            r.outpath,
            Some(format!("/srv/site/lib/task/{}.out", task.id))
        );
        assert_eq!(
            (r.errpath, r.refused),
            (None, 1),
            "a refused path stays refused"
        );
        // Without the flag the engine keeps its file, and its path is recorded.
        result.upload = false;
        assert_eq!(checked(&task, &result, Some(dir)).outpath, Some(good));
    }

    #[test]
    fn a_jobs_own_files_come_from_the_job() {
        let mut task = Task::new("true");
        task.job = Some(JobOptions {
            cwd: Some("/data".into()),
            stdout: Some("run.log".into()),
            stderr: Some("/tmp/run.err".into()),
            ..JobOptions::default()
        });
        let r = checked(
            &task,
            &result_with(&task, "/etc/passwd", "/etc/shadow"),
            None,
        );
        assert_eq!(r.outpath.as_deref(), Some("/data/run.log"));
        assert_eq!(r.errpath.as_deref(), Some("/tmp/run.err"));
        assert_eq!(r.refused, 0);
    }
}
