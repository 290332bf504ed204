//! Uploads through the core: the welcome offers them, a recorded result announces them, and
//! only the engine that ran the task may send its files.

use hs_engine::protocol::{FileKind, OutputData, OutputOpen, Results, ToEngine};

use super::rig::{Rig, leased, result, to};
use crate::uploads::UploadConfig;

#[test]
fn the_engine_that_ran_a_task_uploads_its_output_and_no_other_engine_can() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lib/task");
    let mut rig = Rig::with(|c| {
        c.uploads = Some(UploadConfig {
            dir: dir.clone(),
            max_bytes: 1 << 20,
        })
    });
    let engine = rig.join(1, "a");
    let welcome = rig.core.take_effects();
    match to(&welcome, engine).as_slice() {
        [ToEngine::Welcome(w)] => assert_eq!(w.output.as_ref().unwrap().max_bytes, 1 << 20),
        other => panic!("{other:?}"),
    }
    let other = rig.join(1, "b");
    rig.submit(1);
    let jobs = leased(&rig.turn(), engine);
    let id = jobs[0].task.id;
    let mut done = result(id, jobs[0].lease, 0);
    done.outpath = Some(format!("/elsewhere/lib/task/{id}.out"));
    done.upload = true;
    rig.engine_says(
        engine,
        Results {
            results: vec![done],
        },
    );
    rig.turn();
    let open = OutputOpen {
        id,
        kind: FileKind::Out,
        size: 2,
        cut_from: None,
    };
    rig.engine_says(other, open.clone());
    rig.engine_says(engine, open);
    rig.engine_says(
        engine,
        OutputData {
            id,
            kind: FileKind::Out,
            offset: 0,
            data: b"hi".to_vec(),
        },
    );
    let effects = rig.core.take_effects();
    assert!(matches!(
        to(&effects, other).as_slice(),
        [ToEngine::OutputRefused(_)]
    ));
    match to(&effects, engine).as_slice() {
        [ToEngine::OutputAck(opened), ToEngine::OutputAck(whole)] => {
            assert_eq!((opened.offset, opened.done), (0, false));
            assert_eq!((whole.offset, whole.done), (2, true));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(dir.join(format!("{id}.out"))).unwrap(), b"hi");
    assert_eq!(rig.core.uploads_refused(), 1);
}
