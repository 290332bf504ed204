//! Captured output of an engine on another host, sent back to the controller (`--capture`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hs_engine::protocol::{
    Bye, FileKind, OutputData, OutputOpen, PeerLink, Results, Role, ToEngine,
};
use uuid::Uuid;

use crate::helpers::*;
use crate::hostile::{dealer, next_to_engine, register, result};
use crate::lan::{in_host, netns_ready};

const KEY: &str = "remote-output-key-0123456789abcdef";

/// The stdout of [`pattern_task`]: this line over and over, cut at its size.
const PATTERN_LINE: &[u8] = b"hs-remote-output-0123456789abcdef\n";
const PATTERN_BYTES: usize = 100_000_000;

/// A task that writes `bytes` of the pattern to stdout and one line to stderr. `yes` ends by
/// SIGPIPE, but the task's status is its last command's.
fn pattern_task(bytes: usize) -> String {
    format!("yes hs-remote-output-0123456789abcdef | head -c {bytes}; echo err-line >&2\n")
}

/// The peak resident memory of process `pid` so far (VmHWM), in bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Compare `reader` with the pattern, returning how many bytes it held.
fn check_pattern(mut reader: impl Read) -> usize {
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0usize;
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            return at;
        }
        for (i, b) in buf[..n].iter().enumerate() {
            let want = PATTERN_LINE[(at + i) % PATTERN_LINE.len()];
            assert_eq!(*b, want, "byte {} differs", at + i);
        }
        at += n;
    }
}

/// The ids of the tasks whose `.<ext>` files are in `dir`.
fn files_in(dir: &Path, ext: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    name.strip_suffix(&format!(".{ext}")).map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `hs info ID FLAG` with `site` as the site, its stdout written to `to`.
fn info_into(site: &Path, id: &str, flag: &str, to: &Path) {
    let out = std::fs::File::create(to).unwrap();
    let status = Command::new(hs_bin())
        .args(["info", id, flag])
        .env("HYPERSHELL_SITE", site)
        .stdout(Stdio::from(out))
        .stderr(Stdio::inherit())
        .status()
        .unwrap();
    assert!(status.success(), "hs info {id} {flag}");
}

#[test]
fn a_100_mb_output_from_an_engine_on_another_host_arrives_whole_in_the_controllers_site() {
    let _hold = hold_netns_hosts(false);
    if !netns_ready() {
        return;
    }
    let s = Scratch::new();
    let file = s.write("tasks.txt", &pattern_task(PATTERN_BYTES));
    let server = in_host(
        "h1",
        &s,
        &[
            "server",
            file.to_str().unwrap(),
            "-H",
            "0.0.0.0",
            "-p",
            "50021",
            "-k",
            KEY,
        ],
    )
    .spawn()
    .unwrap();
    let engine = in_host(
        "h2",
        &s,
        &[
            "client",
            "-H",
            "10.77.0.11",
            "-p",
            "50021",
            "-k",
            KEY,
            "--capture",
        ],
    )
    .spawn()
    .unwrap();
    // `ip netns exec` becomes the command it runs: this is the controller's own memory.
    let pid = server.id();
    let mut peak = 0;
    let mut comm = String::new();
    assert!(
        wait_until(Duration::from_secs(90), || {
            peak = peak.max(peak_rss(pid).unwrap_or(0));
            // `ip` until it has execed.
            if comm.trim() != "hs" {
                comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            }
            !alive(pid)
        }),
        "the controller did not finish"
    );
    assert_eq!(comm.trim(), "hs", "the pid measured is the controller's");
    eprintln!("controller peak RSS: {} MiB", peak >> 20);
    let out = wait_output(server, Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let e = wait_output(engine, Duration::from_secs(10));
    assert_eq!(e.status.code(), Some(0), "{}", stderr(&e));
    assert!(peak > 0, "no VmHWM read for the controller");
    assert!(
        peak < 100 * 1024 * 1024,
        "controller peak RSS {} MiB",
        peak >> 20
    );

    let site = s.path("site-h1");
    let ids = files_in(&site.join("lib/task"), "out");
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(files_in(&site.join("lib/task"), "part").is_empty());
    assert!(
        files_in(&s.path("site-h2/lib/task"), "out").is_empty(),
        "the engine keeps no copy once the controller holds it"
    );
    let got: PathBuf = s.path("stdout.copy");
    info_into(&site, &ids[0], "--stdout", &got);
    let held = check_pattern(std::fs::File::open(&got).unwrap());
    assert_eq!(held, PATTERN_BYTES);
    let err = s.path("stderr.copy");
    info_into(&site, &ids[0], "--stderr", &err);
    assert_eq!(std::fs::read_to_string(err).unwrap(), "err-line\n");
}

/// A server and an engine (`hs client` with `engine_flags`) with sites of their own on this
/// host.
fn server_and_engine(
    s: &Scratch,
    tasks: &str,
    engine_site: &str,
    env: &[(&str, &str)],
    engine_flags: &[&str],
) -> (String, String) {
    let port = free_ports().to_string();
    let file = s.write("tasks.txt", tasks);
    // The key on the command line: the engine's site has no connection file to find it in.
    let mut server = s.hs(&["server", file.to_str().unwrap(), "-p", &port, "-k", KEY]);
    server.envs(env.iter().copied());
    let server = spawn_piped(server);
    s.wait_for_server(&port);
    let mut engine = s.hs(&["client", "-p", &port, "-k", KEY]);
    engine.args(engine_flags);
    engine.env("HYPERSHELL_SITE", s.path(engine_site));
    let engine = spawn_piped(engine);
    let out = wait_output(server, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let e = wait_output(engine, Duration::from_secs(10));
    assert_eq!(e.status.code(), Some(0), "{}", stderr(&e));
    (stderr(&out), stderr(&e))
}

#[test]
fn an_engine_sharing_the_controllers_site_writes_there_and_sends_nothing() {
    let s = Scratch::new();
    server_and_engine(
        &s,
        "echo hello; echo oops >&2\n",
        "site",
        &[],
        &["--capture"],
    );
    let dir = s.path("site/lib/task");
    let ids = files_in(&dir, "out");
    assert_eq!(ids.len(), 1, "{ids:?}");
    // Had it uploaded its file onto itself, the controller would have told it the file was
    // held, and the engine would have deleted it.
    assert_eq!(s.read(&format!("site/lib/task/{}.out", ids[0])), "hello\n");
    assert!(files_in(&dir, "part").is_empty());
    let out = s.path("out.copy");
    info_into(&s.path("site"), &ids[0], "--stdout", &out);
    assert_eq!(std::fs::read_to_string(out).unwrap(), "hello\n");
}

#[test]
fn a_monitored_tasks_samples_reach_the_controllers_site() {
    let s = Scratch::new();
    // Busy for 2 s: a sample a second.
    server_and_engine(
        &s,
        "timeout 2 sh -c 'while :; do :; done'; true\n",
        "engine-site",
        &[],
        &["--monitor"],
    );
    let ids = files_in(&s.path("site/lib/task"), "csv");
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = &ids[0];
    let perf = s.path("perf.copy");
    info_into(&s.path("site"), id, "--perf", &perf);
    let samples = std::fs::read_to_string(perf).unwrap();
    let mut lines = samples.lines();
    assert_eq!(lines.next(), Some("time,cores,memory"), "{samples}");
    assert!(lines.next().is_some(), "no sample: {samples}");
    assert!(
        !s.path(&format!("engine-site/lib/task/{id}.csv")).exists(),
        "the engine's copy goes once the controller holds it"
    );
}

#[test]
fn a_file_over_server_maxoutput_is_cut_at_the_controller_and_kept_whole_by_the_engine() {
    let s = Scratch::new();
    let (server_log, engine_log) = server_and_engine(
        &s,
        "seq 1 1000\n",
        "engine-site",
        &[("HYPERSHELL_SERVER_MAXOUTPUT", "1000")],
        &["--capture"],
    );
    let whole: String = (1..=1000).map(|i| format!("{i}\n")).collect();
    let ids = files_in(&s.path("site/lib/task"), "out");
    assert_eq!(ids.len(), 1, "{ids:?}");
    let id = &ids[0];
    assert_eq!(s.read(&format!("site/lib/task/{id}.out")), whole[..1000]);
    assert_eq!(s.read(&format!("engine-site/lib/task/{id}.out")), whole);
    assert_eq!(s.read(&format!("site/lib/task/{id}.err")), "");
    assert!(
        !s.path(&format!("engine-site/lib/task/{id}.err")).exists(),
        "a whole file is not kept"
    );
    for log in [&server_log, &engine_log] {
        assert!(
            log.contains("server.maxoutput") && log.contains(id.as_str()),
            "{log}"
        );
    }
    // The task's status is its own, not the upload's.
    assert!(server_log.contains("1 succeeded"), "{server_log}");
}

/// The controller's next answer to an upload, skipping anything else it says.
fn next_upload_answer(socket: &zmq::Socket, link: &mut PeerLink) -> ToEngine {
    loop {
        let msg = next_to_engine(socket, link);
        if matches!(msg, ToEngine::OutputAck(_) | ToEngine::OutputRefused(_)) {
            return msg;
        }
    }
}

#[test]
fn uploads_a_peer_has_no_right_to_send_are_refused_and_its_own_is_taken() {
    let s = Scratch::new();
    let port = free_ports();
    let p = port.to_string();
    let file = s.write("tasks.txt", "echo never-run-here\n");
    let server = spawn_piped(s.hs(&["server", file.to_str().unwrap(), "-p", &p, "-k", KEY]));
    s.wait_for_server(&p);
    let ctx = zmq::Context::new();
    let peer = dealer(&ctx, port, Some(KEY));
    let mut link = handshake(&peer, KEY, Role::Engine);
    let me = link.session().unwrap().peer_id;
    let say = |link: &mut PeerLink, msg: hs_engine::protocol::FromEngine| {
        peer.send_multipart(link.seal(&msg).unwrap(), 0).unwrap();
    };
    say(&mut link, register(me, 1).into());
    let offer = loop {
        if let ToEngine::Welcome(w) = next_to_engine(&peer, &mut link) {
            break w.output.expect("the controller takes uploads");
        }
    };
    assert_eq!(offer.max_bytes, 1 << 30);
    let leased = loop {
        if let ToEngine::Tasks(t) = next_to_engine(&peer, &mut link) {
            break t.tasks;
        }
    };
    let (id, lease) = (leased[0].task.id, leased[0].lease);
    let open = |id: Uuid, size: u64| OutputOpen {
        id,
        kind: FileKind::Out,
        size,
        cut_from: None,
    };
    let data = |offset: u64, bytes: &[u8]| OutputData {
        id,
        kind: FileKind::Out,
        offset,
        data: bytes.to_vec(),
    };
    // Before its result is recorded, and for a task it was never leased: refused.
    for (what, msg) in [
        ("before the result", open(id, 4).into()),
        ("a task never leased", open(Uuid::now_v7(), 4).into()),
    ] {
        say(&mut link, msg);
        assert!(
            matches!(
                next_upload_answer(&peer, &mut link),
                ToEngine::OutputRefused(_)
            ),
            "{what}"
        );
    }
    let mut done = result(id, lease, 0, Some(&format!("/elsewhere/lib/task/{id}.out")));
    done.upload = true;
    say(
        &mut link,
        Results {
            results: vec![done],
        }
        .into(),
    );
    say(&mut link, open(id, 4).into());
    assert!(matches!(
        next_upload_answer(&peer, &mut link),
        ToEngine::OutputAck(a) if a.offset == 0 && !a.done
    ));
    // Out of turn, past the announced size: refused, and nothing written.
    for (what, msg) in [
        ("an offset ahead", data(2, b"cd")),
        ("past the size", data(0, b"abcdef")),
    ] {
        say(&mut link, msg.into());
        assert!(
            matches!(
                next_upload_answer(&peer, &mut link),
                ToEngine::OutputRefused(_)
            ),
            "{what}"
        );
    }
    say(&mut link, data(0, b"abcd").into());
    assert!(matches!(
        next_upload_answer(&peer, &mut link),
        ToEngine::OutputAck(a) if a.offset == 4 && a.done
    ));
    say(&mut link, Bye::default().into());
    let out = wait_output(server, Duration::from_secs(20));
    let log = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        log.contains("refused: no such upload from this engine"),
        "{log}"
    );
    let copy = s.path("out.copy");
    info_into(&s.path("site"), &id.to_string(), "--stdout", &copy);
    assert_eq!(std::fs::read(copy).unwrap(), b"abcd");
}

#[test]
fn an_upload_cut_by_a_controller_crash_is_finished_with_the_restarted_controller() {
    const BYTES: usize = 60_000_000;
    let s = Scratch::new();
    let port = free_ports().to_string();
    let file = s.write("tasks.txt", &pattern_task(BYTES));
    let beat = ["-p", &port, "-k", KEY, "--heartrate", "0.2", "--evict", "1"];
    let mut first = vec!["server", file.to_str().unwrap()];
    first.extend_from_slice(&beat);
    let server = spawn_piped(s.hs(&first));
    s.wait_for_server(&port);
    let mut engine = s.hs(&["client", "-p", &port, "-k", KEY, "--capture"]);
    engine.env("HYPERSHELL_SITE", s.path("engine-site"));
    let engine = spawn_piped(engine);
    // Killed while the file is on its way.
    let dir = s.path("site/lib/task");
    assert!(
        wait_until(Duration::from_secs(60), || {
            let parts = files_in(&dir, "out.part");
            parts.first().is_some_and(|id| {
                let part = dir.join(format!("{id}.out.part"));
                std::fs::metadata(part).is_ok_and(|m| m.len() > 1 << 20)
            })
        }),
        "no upload under way"
    );
    signal(server.id(), libc::SIGKILL);
    let _ = wait_output(server, Duration::from_secs(10));
    let part_id = files_in(&dir, "out.part").remove(0);
    // `hs info` says where it stands rather than printing half a file.
    let info = run_with_input(
        s.hs(&["info", &part_id, "--stdout"]),
        "",
        Duration::from_secs(10),
    );
    assert_ne!(info.status.code(), Some(0));
    assert!(
        stderr(&info).contains("still arriving"),
        "{}",
        stderr(&info)
    );
    // A new controller on the same site and database, with a task of its own (else, with
    // nothing to do, it would end before the engine is back): the store says whose upload it
    // is, and the engine leaves only once it is done.
    let next = s.write("next.txt", "echo next\n");
    let mut second = vec!["server", next.to_str().unwrap()];
    second.extend_from_slice(&beat);
    let out = wait_output(spawn_piped(s.hs(&second)), Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let e = wait_output(engine, Duration::from_secs(20));
    assert_eq!(e.status.code(), Some(0), "{}", stderr(&e));
    assert!(files_in(&dir, "out.part").is_empty());
    assert!(files_in(&s.path("engine-site/lib/task"), "out").is_empty());
    let copy = s.path("out.copy");
    info_into(&s.path("site"), &part_id, "--stdout", &copy);
    assert_eq!(check_pattern(std::fs::File::open(&copy).unwrap()), BYTES);
}
