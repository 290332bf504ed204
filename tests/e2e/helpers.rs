//! Running the binaries, finding free ports, waiting with bounds, skipping visibly.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// The `hs` binary cargo built for these tests (this package's own, never a stale copy).
pub fn hs_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hs"))
}

/// `hsx`, a link to `hs` as the install script makes it (hs is `hs cluster` under that name).
pub fn hsx_bin() -> PathBuf {
    link_to_hs("hsx")
}

/// `hyper-shell`, the name HyperShell's guides use: a link to `hs`.
pub fn hyper_shell_bin() -> PathBuf {
    link_to_hs("hyper-shell")
}

/// A symbolic link named `name` to the built `hs`, in a folder of links beside it (made once;
/// tests running at the same time may race to make it, which is harmless).
fn link_to_hs(name: &str) -> PathBuf {
    let hs = hs_bin();
    let dir = hs.with_file_name("hs-links");
    let link = dir.join(name);
    // A target directory copied from another checkout keeps links to that checkout's hs: point
    // them here, through a rename so that tests running at the same time never see no link.
    if std::fs::read_link(&link).ok().as_deref() != Some(hs.as_path()) {
        let _ = std::fs::create_dir_all(&dir);
        let tmp = dir.join(format!(
            ".{name}.{}.{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_file(&tmp);
        let _ = std::os::unix::fs::symlink(&hs, &tmp);
        let _ = std::fs::rename(&tmp, &link);
    }
    assert!(link.exists(), "cannot make {}", link.display());
    link
}

/// A scratch folder that also serves as the site (HYPERSHELL_SITE) of the commands run in it.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write scratch file");
        p
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    /// Waits (at most `limit`) until the scratch file `name` holds `text`; panics with the
    /// file's content, and `what` it would have shown, if it never does.
    pub fn await_text(&self, name: &str, text: &str, limit: Duration, what: &str) {
        assert!(
            wait_until(limit, || self.read(name).contains(text)),
            "{what}: {}",
            self.read(name)
        );
    }

    /// A quiet `hs server --forever --no-db` on `port` with `key`, up when this returns.
    pub fn serve_forever(&self, port: &str, key: &str) -> Child {
        let mut server = self.hs(&["server", "--forever", "--no-db", "-p", port, "-k", key]);
        server.stdout(Stdio::null()).stderr(Stdio::null());
        let server = server.spawn().expect("spawn hs server");
        self.wait_for_server(port);
        server
    }

    /// Wait (at most 10 s) until a server on `port` with this site is up, and return its
    /// connection file.
    pub fn wait_for_server(&self, port: &str) -> PathBuf {
        let conn = self
            .path("site/lib/security")
            .join(format!("server-{port}.json"));
        assert!(
            wait_until(Duration::from_secs(10), || conn.exists()),
            "no server came up on port {port}"
        );
        conn
    }

    /// `hs ARGS` with this scratch folder as site and working directory.
    pub fn hs(&self, args: &[&str]) -> Command {
        let mut c = Command::new(hs_bin());
        c.args(args)
            .current_dir(self.dir.path())
            .env("HYPERSHELL_SITE", self.path("site"))
            .env_remove("HYPERSHELL_LOGGING_LEVEL")
            .env_remove("HYPERSHELL_LOGGING_STYLE");
        c
    }
}

/// A child killed and reaped when dropped, also when the test fails before it ends.
pub struct Reaped(Option<Child>);

impl Reaped {
    pub fn new(child: Child) -> Reaped {
        Reaped(Some(child))
    }

    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("a child until it is waited for")
    }

    /// Its output, once it ends by itself (at most `limit`).
    pub fn output(mut self, limit: Duration) -> Output {
        wait_output(self.0.take().expect("a child"), limit)
    }

    /// Its output, once it ends after SIGTERM (at most `limit`).
    pub fn stop(mut self, limit: Duration) -> Output {
        signal(self.child().id(), libc::SIGTERM);
        self.output(limit)
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Start `cmd` with stdin closed and stdout/stderr piped, for [`wait_output`].
pub fn spawn_piped(mut cmd: Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("spawn hs")
}

/// Start `cmd` with stdin, stdout and stderr piped, and hand back its stdin: the caller writes
/// the input, and may keep it open (a live stream) while it does something else.
pub fn spawn_fed(mut cmd: Command) -> (Child, ChildStdin) {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn hs");
    let stdin = child.stdin.take().expect("stdin");
    (child, stdin)
}

/// Stdout as JSON lines (`hs stream`'s results); fails on a line that is not JSON.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    stdout(out)
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("stdout is not JSON-lines ({e}): {l}"))
        })
        .collect()
}

/// An interrupted `hs stream` exited 4 and answered each of its `jobs` jobs `cancelled`.
pub fn assert_stream_cancelled(out: &Output, jobs: usize) {
    assert_eq!(out.status.code(), Some(4), "{}", stderr(out));
    let rs = json_lines(out);
    assert_eq!(rs.len(), jobs, "every job answered: {}", stdout(out));
    assert!(
        rs.iter().all(|r| r["result"]["status"] == "cancelled"),
        "{}",
        stdout(out)
    );
}

/// A stream result of a job that ran and succeeded, with every field Bakapara's has.
pub fn assert_ok_result(r: &serde_json::Value) {
    assert_eq!((&r["status"], &r["code"]), (&"ok".into(), &0.into()), "{r}");
    for key in [
        "submitted",
        "started",
        "completed",
        "received",
        "elapsed",
        "engine_id",
        "host",
        "msg_id",
        "attempt",
    ] {
        assert!(!r[key].is_null(), "result has {key}: {r}");
    }
}

/// The stream job `{"cmd":"pwd > where.txt; echo text; echo oops >&2","cd":DIR,"out":"o.txt",
/// "err":"e.txt"}` ran in `dir`, its output in the files it named.
pub fn assert_ran_in(dir: &Path) {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    assert_eq!(read("where.txt").trim(), dir.display().to_string());
    assert_eq!(read("o.txt"), "text\n");
    assert_eq!(read("e.txt"), "oops\n");
}

/// Run with `input` on stdin, bounded by `limit`; kill and fail if it takes longer.
pub fn run_with_input(cmd: Command, input: &str, limit: Duration) -> Output {
    run_with_bytes(cmd, input.as_bytes(), limit)
}

/// [`run_with_input`] for input that need not be UTF-8.
pub fn run_with_bytes(mut cmd: Command, input: &[u8], limit: Duration) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn hs");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = wait_output(child, limit);
    let _ = writer.join();
    out
}

/// Wait for a spawned child with piped output, bounded by `limit`.
pub fn wait_output(child: Child, limit: Duration) -> Output {
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let watchdog = std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < limit {
            if flag.load(Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: kill has no memory-safety preconditions; pid is our own child.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        true
    });
    let out = child.wait_with_output().expect("wait for hs");
    done.store(true, Ordering::SeqCst);
    let timed_out = watchdog.join().unwrap_or(false);
    assert!(
        !timed_out,
        "hs did not finish within {limit:?}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Three consecutive free TCP ports (engine, heartbeat, client), free on every address (a
/// profile may bind the namespace LAN's address), all below Linux's ephemeral range (from
/// 32768), where outgoing connections — ssh to the namespace hosts among them — take theirs.
pub fn free_ports() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20000 + (std::process::id() % 300) as u16 * 40;
    loop {
        let p = base + NEXT.fetch_add(3, Ordering::SeqCst) % 699;
        let free = (0..3).all(|i| TcpListener::bind(("0.0.0.0", p + i)).is_ok());
        if free {
            return p;
        }
    }
}

/// Poll `cond` every 20 ms for at most `limit`.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Skip a test whose component is missing, loudly; in CI (`HS_REQUIRE_ALL=1`) fail instead.
pub fn skip_or_fail(reason: &str) {
    if std::env::var_os("HS_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("required component missing (HS_REQUIRE_ALL=1): {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// The process exists and is not a zombie (a zombie is dead; only its reaping is pending).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| !rest.trim_start().starts_with(['Z', 'X']))
    })
}

/// Every live process but this test's own.
pub fn live_pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|&pid| pid != std::process::id() && alive(pid))
        .collect()
}

/// A process's command line, its words joined by spaces.
pub fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

/// Processes whose command line contains `marker` (to prove nothing was left behind).
/// A number of seconds no other test's processes show in their command lines: `sleep` it (or
/// put it in a command) and find that test's processes with [`processes_with`]. Unique per call
/// (a counter) and per test process (its pid, at fixed width so that one is never part of
/// another); large enough that nothing ends by itself while a test looks.
pub fn unique_seconds() -> String {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let n = 100 + NEXT.fetch_add(1, Ordering::SeqCst) % 900;
    format!("9{n:03}.{:07}", std::process::id())
}

/// Fails unless every process showing `marker` is gone within `limit` (the kernel may take a
/// moment to end a process it has already sent SIGKILL to).
pub fn assert_none_left(marker: &str, limit: Duration) {
    assert!(
        wait_until(limit, || processes_with(marker).is_empty()),
        "left behind: {:?}",
        processes_with(marker)
    );
}

pub fn processes_with(marker: &str) -> Vec<u32> {
    live_pids()
        .into_iter()
        .filter(|&pid| cmdline(pid).contains(marker))
        .collect()
}

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions; pid is a process this test started.
    unsafe { libc::kill(pid as i32, sig) };
}

/// Lines of a file as a sorted list of integers (tasks that append `{}` to it).
pub fn numbers_in(text: &str) -> Vec<u64> {
    let mut v: Vec<u64> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    v.sort_unstable();
    v
}

/// A hold on the namespace hosts h1-h3, which every e2e run on this machine shares (other test
/// threads, other checkouts): tests that need them reachable hold it shared, a test that cuts a
/// host's link (scripts/infra/netns-link.sh) holds it exclusively. An flock on a file in the
/// temp folder, so it works across processes too; released on drop, also on a panic.
pub struct NetnsHold {
    _file: std::fs::File,
}

pub fn hold_netns_hosts(exclusive: bool) -> NetnsHold {
    use std::os::unix::io::AsRawFd;
    let path = std::env::temp_dir().join("hs-e2e-netns-hosts.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("netns lock file");
    let how = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    // SAFETY: flock has no memory-safety preconditions; the descriptor is open for the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), how) };
    assert_eq!(rc, 0, "flock {}", path.display());
    NetnsHold { _file: file }
}

/// Complete the hs/2 handshake on `socket` (a DEALER connected to a controller) as a peer of
/// `role` holding `key`; the link then seals and opens that connection's messages.
pub fn handshake(
    socket: &zmq::Socket,
    key: &str,
    role: hs_engine::protocol::Role,
) -> hs_engine::protocol::PeerLink {
    use hs_engine::protocol::{Incoming, Mode, PeerLink};
    let mut link = PeerLink::new(key.as_bytes(), role, Mode::Sealed, uuid::Uuid::new_v4());
    socket.send_multipart(link.hello(), 0).unwrap();
    let challenge = socket.recv_multipart(0).unwrap();
    let Ok(Incoming::Opened(proof)) = link.receive(challenge) else {
        panic!("the handshake failed");
    };
    socket.send_multipart(proof, 0).unwrap();
    link
}
