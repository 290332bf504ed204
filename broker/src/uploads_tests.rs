//! The controller's side of uploads: who may send what, where it goes, and what is refused.

use super::*;

fn uploads(max_bytes: u64) -> (tempfile::TempDir, Uploads) {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = UploadConfig {
        dir: tmp.path().join("lib/task"),
        max_bytes,
    };
    let u = Uploads::new(&cfg, Uuid::new_v4()).unwrap();
    (tmp, u)
}

fn none(_: &Uuid) -> Option<Recorded> {
    None
}

fn open(id: Uuid, size: u64) -> OutputOpen {
    OutputOpen {
        id,
        kind: FileKind::Out,
        size,
        cut_from: None,
    }
}

fn chunk(id: Uuid, offset: u64, data: &[u8]) -> OutputData {
    OutputData {
        id,
        kind: FileKind::Out,
        offset,
        data: data.to_vec(),
    }
}

fn ack(msg: &ToEngine) -> (u64, bool) {
    match msg {
        ToEngine::OutputAck(a) => (a.offset, a.done),
        other => panic!("not an ack: {other:?}"),
    }
}

fn refused(msg: &ToEngine) -> bool {
    matches!(msg, ToEngine::OutputRefused(_))
}

#[test]
fn an_announced_upload_is_written_chunk_by_chunk_and_renamed_when_whole() {
    let (_tmp, mut u) = uploads(1 << 20);
    let (engine, id) = (Uuid::new_v4(), Uuid::new_v4());
    u.expect(id, FileKind::Out, engine);
    assert_eq!(ack(&u.open(engine, open(id, 6), &mut none)), (0, false));
    assert_eq!(ack(&u.data(engine, chunk(id, 0, b"abc"))), (3, false));
    let path = u.dir().join(format!("{id}.out"));
    assert!(!path.exists(), "not whole yet: only the .part file");
    assert_eq!(ack(&u.data(engine, chunk(id, 3, b"def"))), (6, true));
    assert_eq!(std::fs::read(&path).unwrap(), b"abcdef");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(u.dir()).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    assert_eq!((u.completed, u.refused()), (1, 0));
    // Opened again (its acknowledgement was lost): the store says whose it is, and it is
    // already whole.
    let ours = path.display().to_string();
    let mut store = |_: &Uuid| {
        Some(Recorded {
            engine: Some(engine),
            outpath: Some(ours.clone()),
            errpath: None,
            csvpath: None,
        })
    };
    assert!(refused(&u.open(engine, open(id, 6), &mut none)), "nobody's");
    assert_eq!(ack(&u.open(engine, open(id, 6), &mut store)), (6, true));
}

#[test]
fn an_empty_file_is_whole_at_once() {
    let (_tmp, mut u) = uploads(10);
    let (engine, id) = (Uuid::new_v4(), Uuid::new_v4());
    u.expect(id, FileKind::Out, engine);
    assert_eq!(ack(&u.open(engine, open(id, 0), &mut none)), (0, true));
    assert_eq!(
        std::fs::read(u.dir().join(format!("{id}.out"))).unwrap(),
        b""
    );
}

#[test]
fn an_upload_opened_again_goes_on_from_what_was_received() {
    let (_tmp, mut u) = uploads(1 << 20);
    let (engine, id) = (Uuid::new_v4(), Uuid::new_v4());
    u.expect(id, FileKind::Out, engine);
    u.open(engine, open(id, 6), &mut none);
    u.data(engine, chunk(id, 0, b"abcd"));
    // The engine reconnected: it opens again and is told where to go on.
    assert_eq!(ack(&u.open(engine, open(id, 6), &mut none)), (4, false));
    assert_eq!(ack(&u.data(engine, chunk(id, 4, b"ef"))), (6, true));
}

#[test]
fn an_engine_that_left_comes_back_through_the_store() {
    let (_tmp, mut u) = uploads(1 << 20);
    let (engine, id) = (Uuid::new_v4(), Uuid::new_v4());
    u.expect(id, FileKind::Out, engine);
    u.open(engine, open(id, 4), &mut none);
    u.data(engine, chunk(id, 0, b"ab"));
    u.forget(engine);
    assert!(
        refused(&u.data(engine, chunk(id, 2, b"cd"))),
        "no longer open"
    );
    assert!(refused(&u.open(engine, open(id, 4), &mut none)));
    let ours = u.dir().join(format!("{id}.out")).display().to_string();
    let mut store = |_: &Uuid| {
        Some(Recorded {
            engine: Some(engine),
            outpath: Some(ours.clone()),
            errpath: None,
            csvpath: None,
        })
    };
    assert_eq!(ack(&u.open(engine, open(id, 4), &mut store)), (2, false));
}

#[test]
fn after_a_restart_the_store_says_who_may_upload() {
    let (_tmp, mut u) = uploads(1 << 20);
    let (engine, other, id) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let ours = u.dir().join(format!("{id}.out")).display().to_string();
    // A .part file left by the previous run of this controller.
    std::fs::write(u.dir().join(format!("{id}.out.part")), b"ab").unwrap();
    let mut store = |_: &Uuid| {
        Some(Recorded {
            engine: Some(engine),
            outpath: Some(ours.clone()),
            errpath: None,
            csvpath: None,
        })
    };
    assert!(refused(&u.open(other, open(id, 4), &mut store)));
    assert_eq!(ack(&u.open(engine, open(id, 4), &mut store)), (2, false));
    assert_eq!(ack(&u.data(engine, chunk(id, 2, b"cd"))), (4, true));
    // The stderr path was not recorded as this controller's: nothing to take.
    let err = OutputOpen {
        kind: FileKind::Err,
        ..open(id, 1)
    };
    assert!(refused(&u.open(engine, err, &mut store)));
}

#[test]
fn uploads_nobody_announced_and_chunks_out_of_turn_are_refused_and_counted() {
    let (_tmp, mut u) = uploads(8);
    let (engine, other, id) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    // Never leased to anyone here.
    assert!(refused(&u.open(engine, open(Uuid::new_v4(), 1), &mut none)));
    u.expect(id, FileKind::Out, engine);
    // Another engine cannot take it over, nor send data before an open.
    assert!(refused(&u.open(other, open(id, 4), &mut none)));
    assert!(refused(&u.data(engine, chunk(id, 0, b"ab"))));
    // Over the limit: refused.
    assert!(refused(&u.open(engine, open(id, 9), &mut none)));
    assert_eq!(ack(&u.open(engine, open(id, 4), &mut none)), (0, false));
    assert!(
        refused(&u.data(other, chunk(id, 0, b"ab"))),
        "not its upload"
    );
    assert!(
        refused(&u.data(engine, chunk(id, 1, b"ab"))),
        "offset ahead"
    );
    assert!(
        refused(&u.data(engine, chunk(id, 0, b"abcde"))),
        "past the size"
    );
    assert!(refused(&u.data(engine, chunk(id, 0, b""))), "nothing");
    assert_eq!(u.refused(), 8);
    // None of it was written; the upload goes on where it was.
    assert_eq!(ack(&u.data(engine, chunk(id, 0, b"abcd"))), (4, true));
    assert_eq!(
        std::fs::read(u.dir().join(format!("{id}.out"))).unwrap(),
        b"abcd"
    );
}

#[test]
fn the_mark_is_in_the_folder_while_the_controller_runs() {
    let (_tmp, u) = uploads(8);
    let offer = u.offer();
    let marks: Vec<_> = std::fs::read_dir(u.dir())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".hs-controller-")
        })
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert_eq!(marks, vec![offer.mark]);
    let dir = u.dir().to_path_buf();
    drop(u);
    assert_eq!(
        std::fs::read_dir(dir).unwrap().count(),
        0,
        "removed at the end"
    );
}
