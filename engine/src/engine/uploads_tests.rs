//! The engine's side of uploads: what it sends, how far ahead, and what an answer changes.

use super::*;

fn offer(max_bytes: u64) -> Option<OutputOffer> {
    Some(OutputOffer {
        mark: "m".into(),
        max_bytes,
    })
}

/// A captured file of `len` known bytes.
fn file(dir: &Path, len: usize) -> (Uuid, PathBuf, Vec<u8>) {
    let id = Uuid::new_v4();
    let path = dir.join(format!("{id}.out"));
    let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    (id, path, data)
}

fn ack(id: Uuid, offset: u64, done: bool) -> OutputAck {
    OutputAck {
        id,
        kind: FileKind::Out,
        offset,
        done,
    }
}

fn refusal(id: Uuid) -> OutputRefused {
    OutputRefused {
        id,
        kind: FileKind::Out,
        reason: "no".into(),
    }
}

/// (offset, length) of each chunk among `msgs`; an open is (u64::MAX, size).
fn shape(msgs: &[FromEngine]) -> Vec<(u64, usize)> {
    msgs.iter()
        .map(|m| match m {
            FromEngine::OutputOpen(o) => (u64::MAX, o.size as usize),
            FromEngine::OutputData(d) => (d.offset, d.data.len()),
            other => panic!("{other:?}"),
        })
        .collect()
}

const C: u64 = CHUNK_BYTES as u64;

#[test]
fn a_file_goes_in_chunks_never_more_than_the_window_ahead_and_is_deleted_when_held() {
    let tmp = tempfile::tempdir().unwrap();
    let (id, path, data) = file(tmp.path(), 5 * CHUNK_BYTES + 10);
    let mut up = Uploads::default();
    up.welcomed(offer(1 << 30));
    up.add(id, FileKind::Out, &path);
    assert_eq!(shape(&up.next()), vec![(u64::MAX, data.len())]);
    assert!(up.next().is_empty(), "nothing before the open is answered");
    up.acked(&ack(id, 0, false));
    let first = up.next();
    assert_eq!(
        shape(&first),
        vec![
            (0, CHUNK_BYTES),
            (C, CHUNK_BYTES),
            (2 * C, CHUNK_BYTES),
            (3 * C, CHUNK_BYTES)
        ]
    );
    match &first[1] {
        FromEngine::OutputData(d) => assert_eq!(d.data, data[CHUNK_BYTES..2 * CHUNK_BYTES]),
        other => panic!("{other:?}"),
    }
    assert!(up.next().is_empty(), "the window is full");
    up.acked(&ack(id, C, false));
    assert_eq!(shape(&up.next()), vec![(4 * C, CHUNK_BYTES)]);
    up.acked(&ack(id, 2 * C, false));
    assert_eq!(shape(&up.next()), vec![(5 * C, 10)]);
    assert!(up.next().is_empty(), "all sent");
    assert!(path.exists(), "kept until the controller holds all of it");
    up.acked(&ack(id, 5 * C + 10, true));
    assert!(up.is_empty());
    assert!(!path.exists());
}

#[test]
fn a_new_session_opens_again_and_goes_on_from_what_the_controller_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let (id, path, _) = file(tmp.path(), 3 * CHUNK_BYTES);
    let mut up = Uploads::default();
    up.welcomed(offer(1 << 30));
    up.add(id, FileKind::Out, &path);
    up.next();
    up.acked(&ack(id, 0, false));
    assert_eq!(up.next().len(), 3);
    // The link was lost with chunks in flight; the controller had written one.
    up.welcomed(offer(1 << 30));
    assert_eq!(shape(&up.next()), vec![(u64::MAX, 3 * CHUNK_BYTES)]);
    // A late answer from the old session is not the open's answer... unless it is one: both
    // tell what the controller holds, so either is a safe place to go on from.
    up.acked(&ack(id, C, false));
    assert_eq!(
        shape(&up.next()),
        vec![(C, CHUNK_BYTES), (2 * C, CHUNK_BYTES)]
    );
    // Stale acknowledgements for chunks of before do not move the window.
    up.acked(&ack(id, 3 * C, false));
    assert!(up.next().is_empty());
}

#[test]
fn a_file_over_the_limit_is_sent_up_to_it_and_kept_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let (id, path, _) = file(tmp.path(), 100);
    let mut up = Uploads::default();
    up.welcomed(offer(40));
    up.add(id, FileKind::Out, &path);
    match &up.next()[..] {
        [FromEngine::OutputOpen(o)] => assert_eq!((o.size, o.cut_from), (40, Some(100))),
        other => panic!("{other:?}"),
    }
    up.acked(&ack(id, 0, false));
    assert_eq!(shape(&up.next()), vec![(0, 40)]);
    up.acked(&ack(id, 40, true));
    assert!(up.is_empty());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 100, "kept whole");
}

#[test]
fn a_refused_open_gives_up_and_refused_chunks_open_again_a_few_times() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, a_path, _) = file(tmp.path(), 10);
    let (b, b_path, _) = file(tmp.path(), 10);
    let mut up = Uploads::default();
    up.welcomed(offer(1 << 30));
    up.add(a, FileKind::Out, &a_path);
    up.add(b, FileKind::Out, &b_path);
    up.next();
    up.refused(&refusal(a));
    assert!(a_path.exists(), "a refused file stays");
    // The next upload goes on.
    assert_eq!(shape(&up.next()), vec![(u64::MAX, 10)]);
    up.acked(&ack(b, 0, false));
    for _ in 1..MAX_REFUSALS {
        assert_eq!(shape(&up.next()), vec![(0, 10)]);
        up.refused(&refusal(b));
        assert_eq!(shape(&up.next()), vec![(u64::MAX, 10)], "opened again");
        up.acked(&ack(b, 0, false));
    }
    up.next();
    up.refused(&refusal(b));
    assert!(up.is_empty(), "given up");
    assert!(b_path.exists());
}

#[test]
fn without_an_offer_nothing_is_uploaded_and_queued_files_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let (id, path, _) = file(tmp.path(), 10);
    let mut up = Uploads::default();
    up.add(id, FileKind::Out, &path);
    assert!(up.is_empty() && !up.uploading());
    up.welcomed(offer(1 << 30));
    up.add(id, FileKind::Out, &path);
    up.welcomed(None);
    assert!(up.is_empty() && path.exists());
}

#[test]
fn a_missing_file_is_sent_as_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let mut up = Uploads::default();
    up.welcomed(offer(1 << 30));
    let id = Uuid::new_v4();
    up.add(id, FileKind::Out, &tmp.path().join("gone.out"));
    assert_eq!(shape(&up.next()), vec![(u64::MAX, 0)]);
    up.acked(&ack(id, 0, true));
    assert!(up.is_empty());
}

#[test]
fn a_folder_is_shared_only_with_the_controller_whose_mark_it_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let controller = Uuid::new_v4();
    assert!(!shares_folder(tmp.path(), controller, "m"));
    std::fs::write(tmp.path().join(format!(".hs-controller-{controller}")), "m").unwrap();
    assert!(shares_folder(tmp.path(), controller, "m"));
    assert!(!shares_folder(tmp.path(), controller, "another"));
    assert!(!shares_folder(tmp.path(), Uuid::new_v4(), "m"));
}
