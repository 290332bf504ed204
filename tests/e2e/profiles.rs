//! Profiles: `hs profile create|list|show`, `hs start|status|stop --profile`, engines that join a
//! profile's cluster by hand (on this host and from a network namespace), and bad profiles.
//!
//! Every test has its own site (a scratch folder) and its own ports (`[server] port` in the
//! profile), and a [`Running`] guard that stops whatever the test started, also when it fails.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::*;

/// Bound on any single hs command here.
pub(crate) const LIMIT: Duration = Duration::from_secs(30);

/// A profile in a scratch site of its own. On drop: the engines started by hand are stopped,
/// `hs stop` runs, and any process still carrying this site in its environment is killed.
pub(crate) struct Running {
    pub(crate) s: Scratch,
    pub(crate) name: String,
    port: u16,
    /// Engines started by hand with `hs engine`.
    hand: Vec<Child>,
}

impl Running {
    /// `hs profile create NAME ARGS...`, then `[server] port` set to free ports.
    pub(crate) fn create(name: &str, args: &[&str]) -> Running {
        let s = Scratch::new();
        let mut argv = vec!["profile", "create", name];
        argv.extend_from_slice(args);
        let out = run_with_input(s.hs(&argv), "", LIMIT);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let p = Running {
            s,
            name: name.to_string(),
            port: free_ports(),
            hand: Vec::new(),
        };
        assert_eq!(stdout(&out).trim(), p.dir().to_string_lossy());
        p.edit("port = 0", &format!("port = {}", p.port));
        p
    }

    pub(crate) fn site(&self) -> PathBuf {
        self.s.path("site")
    }

    pub(crate) fn dir(&self) -> PathBuf {
        self.site().join(format!("profile_{}", self.name))
    }

    pub(crate) fn security(&self, file: &str) -> PathBuf {
        self.dir().join("security").join(file)
    }

    /// Replace `from` (which must be there) in the profile's config.toml.
    pub(crate) fn edit(&self, from: &str, to: &str) {
        let path = self.dir().join("config.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(from),
            "{from:?} not in {}:\n{text}",
            path.display()
        );
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    pub(crate) fn hs(&self, args: &[&str]) -> Command {
        self.s.hs(args)
    }

    /// `hs ARGS` with empty stdin, bounded.
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        run_with_input(self.hs(args), "", LIMIT)
    }

    /// `hs CMD --profile NAME ARGS`.
    pub(crate) fn with_profile(&self, cmd: &str, args: &[&str]) -> Output {
        let mut argv = vec![cmd, "--profile", &self.name];
        argv.extend_from_slice(args);
        self.run(&argv)
    }

    pub(crate) fn start_daemon(&self, args: &[&str]) -> Output {
        let mut argv = vec!["--daemonize", "--startup-timeout", "20"];
        argv.extend_from_slice(args);
        self.with_profile("start", &argv)
    }

    /// `hs status --profile NAME --json`, or `None` when it fails.
    pub(crate) fn status(&self) -> Option<Value> {
        let out = self.with_profile("status", &["--json"]);
        if out.status.code() != Some(0) {
            return None;
        }
        Some(serde_json::from_str(stdout(&out).trim()).expect("status --json is JSON"))
    }

    pub(crate) fn engines(&self) -> Vec<Value> {
        self.status()
            .and_then(|s| s["engines"].as_array().cloned())
            .unwrap_or_default()
    }

    pub(crate) fn submit(&self, lines: &str) {
        let mut cmd = self.hs(&["submit", "--profile", &self.name]);
        cmd.env("HYPERSHELL_LOGGING_LEVEL", "warning");
        let out = run_with_input(cmd, lines, LIMIT);
        assert_eq!(out.status.code(), Some(0), "submit: {}", stderr(&out));
    }

    /// `hs list --profile NAME -c FLAGS...`.
    pub(crate) fn count(&self, flags: &[&str]) -> u64 {
        let mut argv = vec!["-c"];
        argv.extend_from_slice(flags);
        let out = self.with_profile("list", &argv);
        assert_eq!(out.status.code(), Some(0), "list -c: {}", stderr(&out));
        stdout(&out).trim().parse().expect("a count")
    }

    /// Wait (bounded) until `n` tasks have finished.
    pub(crate) fn wait_completed(&self, n: u64, limit: Duration) {
        let mut last = 0;
        let done = wait_until(limit, || {
            last = self.count(&["--completed"]);
            last >= n
        });
        assert!(
            done,
            "{last} of {n} tasks finished within {limit:?}; controller log:\n{}",
            self.log()
        );
    }

    /// Every task as JSON objects with these fields.
    pub(crate) fn tasks(&self, fields: &[&str]) -> Vec<Value> {
        let mut argv = fields.to_vec();
        argv.extend_from_slice(&["--format", "json"]);
        let out = self.with_profile("list", &argv);
        assert_eq!(out.status.code(), Some(0), "list: {}", stderr(&out));
        serde_json::from_str::<Vec<Value>>(&stdout(&out)).expect("list --format json")
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("log/controller.log")).unwrap_or_default()
    }

    /// A copy of the running cluster's engine connection file, with this mode.
    pub(crate) fn engine_file_copy(&self, name: &str, mode: u32) -> PathBuf {
        let copy = self.s.path(name);
        std::fs::copy(self.security("hs-engine.json"), &copy).expect("hs-engine.json");
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(mode)).unwrap();
        copy
    }

    /// Start `hs ARGS` by hand (an engine), its output in `<scratch>/<name>.out`.
    pub(crate) fn spawn_engine(&mut self, name: &str, args: &[&str]) {
        let out = std::fs::File::create(self.s.path(&format!("{name}.out"))).unwrap();
        let mut cmd = self.hs(args);
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        self.hand.push(cmd.spawn().expect("spawn hs engine"));
    }

    /// Processes started by this test's hs commands, at any depth (their environment names
    /// this scratch folder).
    pub(crate) fn processes(&self) -> Vec<(u32, String)> {
        processes_with_env(&format!("HYPERSHELL_SITE={}", self.s.dir.path().display()))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.security("cluster.json").exists() {
            let mut stop = self.hs(&["stop", "--profile", &self.name, "--timeout", "10"]);
            stop.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if let Ok(mut child) = stop.spawn()
                && !wait_quietly(&mut child, Duration::from_secs(15))
            {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        for child in &mut self.hand {
            signal(child.id(), libc::SIGTERM);
            if !wait_quietly(child, Duration::from_secs(5)) {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        for (pid, _) in self.processes() {
            signal(pid, libc::SIGKILL);
        }
    }
}

/// Wait for a child without panicking (for `Drop`); false if it still runs after `limit`.
fn wait_quietly(child: &mut Child, limit: Duration) -> bool {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if start.elapsed() >= limit => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Live processes with `entry` at the start of a variable in their environment, with their
/// command lines.
fn processes_with_env(entry: &str) -> Vec<(u32, String)> {
    live_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .unwrap_or_default()
                .split(|b| *b == 0)
                .any(|var| var.starts_with(entry.as_bytes()))
        })
        .map(|pid| (pid, cmdline(pid)))
        .collect()
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn controller_pid(p: &Running) -> u32 {
    let text = std::fs::read_to_string(p.security("cluster.json")).expect("cluster.json");
    let state: Value = serde_json::from_str(&text).expect("cluster.json is JSON");
    state["pid"].as_u64().expect("pid in cluster.json") as u32
}

#[test]
fn create_list_and_show() {
    let p = Running::create("mezcal", &["-n", "3", "-N", "2"]);
    let dir = p.dir();
    assert!(dir.join("config.toml").is_file());
    assert!(dir.join("nodefile").is_file());
    assert!(dir.join("log").is_dir());
    assert!(dir.join("security").is_dir());
    assert_eq!(
        mode_of(&dir.join("security")),
        0o700,
        "security/ is private"
    );

    let out = p.run(&["profile", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = stdout(&out);
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words,
        ["mezcal", "stopped", &dir.to_string_lossy()],
        "{line}"
    );

    let out = p.run(&["profile", "show", "mezcal"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let show = stdout(&out);
    assert!(show.contains("launcher  local, 3 engines"), "{show}");
    assert!(show.contains("slots     2 per engine"), "{show}");
    assert!(show.contains("state     stopped"), "{show}");

    // Twice: refused, and the first profile is left as it was.
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    let out = p.run(&["profile", "create", "mezcal", "-n", "9"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(dir.join("config.toml")).unwrap(),
        config
    );

    // An unknown profile, for every command that takes one: exit 2, and how to make it.
    for args in [
        ["start", "--profile", "tequila"],
        ["status", "--profile", "tequila"],
        ["stop", "--profile", "tequila"],
        ["engine", "--profile", "tequila"],
        ["profile", "show", "tequila"],
    ] {
        let out = p.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("hs profile create tequila"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = p.run(&["profile", "create", "no good"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!p.site().join("profile_no good").exists());
}

#[test]
fn start_status_submit_list_stop() {
    let p = Running::create("mezcal", &["-n", "3", "-N", "2"]);
    let out = p.start_daemon(&[]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    assert!(
        stderr(&out).contains("3 engines registered"),
        "{}",
        stderr(&out)
    );

    // Registered at return: no waiting needed.
    let status = p.status().expect("status --json");
    let engines = status["engines"].as_array().unwrap();
    assert_eq!(engines.len(), 3, "{status}");
    assert!(engines.iter().all(|e| e["slots"] == 2), "{status}");
    assert_eq!(status["launcher"], "local", "{status}");
    assert_eq!(
        status["address"],
        format!("127.0.0.1:{}", p.port),
        "{status}"
    );
    let out = p.with_profile("status", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("engines: 3"), "{}", stdout(&out));

    for file in ["hs-engine.json", "hs-client.json", "cluster.json"] {
        assert_eq!(mode_of(&p.security(file)), 0o600, "{file}");
    }
    let pid = controller_pid(&p);
    assert!(alive(pid));
    // The engines' warm slot shells carry it too; they are not counted here.
    let cluster: Vec<_> = p
        .processes()
        .into_iter()
        .filter(|(_, cmd)| !cmd.contains("hs_warm"))
        .collect();
    assert_eq!(
        cluster.len(),
        4,
        "the controller and 3 engines carry the site: {cluster:?}"
    );
    assert!(cluster.iter().any(|(q, _)| *q == pid), "{cluster:?}");
    let out = p.run(&["profile", "list"]);
    assert!(stdout(&out).contains("running"), "{}", stdout(&out));

    // A second start is refused while the first runs, and changes nothing.
    let out = p.start_daemon(&[]);
    assert_eq!(out.status.code(), Some(10), "{}", stderr(&out));
    assert!(stderr(&out).contains("already running"), "{}", stderr(&out));
    assert_eq!(controller_pid(&p), pid);
    assert_eq!(p.engines().len(), 3);

    // 50 tasks; each appends its number to a file.
    let ran = p.s.path("ran.txt");
    let tasks: String = (1..=50)
        .map(|i| format!("echo {i} >> {}\n", ran.display()))
        .collect();
    p.submit(&tasks);
    p.wait_completed(50, Duration::from_secs(30));
    assert_eq!(p.count(&["--completed"]), 50);
    assert_eq!(p.count(&["--succeeded"]), 50);
    assert_eq!(p.count(&[]), 50, "no task was added or retried");
    let ran_text = std::fs::read_to_string(&ran).unwrap();
    assert_eq!(
        numbers_in(&ran_text),
        (1..=50).collect::<Vec<_>>(),
        "every task ran exactly once"
    );
    let rows = p.tasks(&["args", "exit_status", "attempt"]);
    assert_eq!(rows.len(), 50);
    assert!(
        rows.iter()
            .all(|r| r["exit_status"] == 0 && r["attempt"] == 1),
        "{rows:?}"
    );
    let status = p.status().unwrap();
    assert_eq!(status["tasks"]["succeeded"], 50, "{status}");
    let done: u64 = status["engines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["done"].as_u64().unwrap())
        .sum();
    assert_eq!(done, 50, "{status}");
    let out = p.with_profile("list", &["args", "exit_status", "--format", "table"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 52, "header, rule, 50 rows");

    // The client connection file, copied elsewhere, finds the same tasks.
    let copy = p.s.path("client-copy.json");
    std::fs::copy(p.security("hs-client.json"), &copy).unwrap();
    let out = p.run(&[
        "list",
        "--file",
        copy.to_str().unwrap(),
        "-c",
        "--succeeded",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "50");

    // Stop: everything it started ends, and its files go.
    let out = p.with_profile("stop", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!alive(pid), "the controller {pid} still runs after hs stop");
    let left = p.processes();
    assert!(left.is_empty(), "left after hs stop: {left:?}");
    for file in ["hs-engine.json", "hs-client.json", "cluster.json"] {
        assert!(!p.security(file).exists(), "{file} is left after hs stop");
    }
    let out = p.with_profile("stop", &[]);
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no running cluster"),
        "{}",
        stderr(&out)
    );
    let out = p.with_profile("status", &[]);
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
    let out = p.run(&["profile", "list"]);
    assert!(stdout(&out).contains("stopped"), "{}", stdout(&out));
    // The tasks stay in the profile's database.
    assert_eq!(p.count(&["--succeeded"]), 50);
}

/// An idle profile stops in well under a second. It took 2–3.4 s when `hs stop` came while the
/// launcher was asking the controller for its status: the controller ended without answering,
/// and the launcher waited out its request and its client's linger before stopping engines.
/// Stopping about when that status is asked (each second from the start) used to hit it most
/// times; the bound is loose (a debug build stops 20 engines in 0.05–0.2 s).
#[test]
fn a_profiles_engines_capture_and_monitor_when_its_config_says() {
    let p = Running::create("anejo", &["-n", "1", "-N", "1"]);
    p.edit("[engines]", "[engines]\ncapture = true\nmonitor = true");
    let out = p.start_daemon(&[]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    let engines: Vec<_> = p
        .processes()
        .into_iter()
        .filter(|(_, cmd)| cmd.contains(" client "))
        .collect();
    assert_eq!(engines.len(), 1, "{engines:?}");
    assert!(
        engines[0].1.contains("--capture") && engines[0].1.contains("--monitor"),
        "{engines:?}"
    );
    p.submit("echo captured\n");
    p.wait_completed(1, LIMIT);
    let id = p.tasks(&["id"])[0]["id"].as_str().unwrap().to_string();
    let out = p.with_profile("info", &[&id, "--stdout"]);
    assert_eq!(stdout(&out), "captured\n", "{}", stderr(&out));
    let out = p.with_profile("stop", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn an_idle_profile_stops_in_well_under_a_second() {
    let p = Running::create("quick", &["-n", "20", "-N", "1"]);
    for round in 0..3 {
        let out = p.start_daemon(&[]);
        assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
        std::thread::sleep(Duration::from_millis(700 + 300 * round));
        let started = std::time::Instant::now();
        let out = p.with_profile("stop", &[]);
        let took = started.elapsed();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            took < Duration::from_millis(1500),
            "round {round}: hs stop of an idle profile took {took:?}: {}\n{}",
            stderr(&out),
            p.log()
        );
    }
}

/// `-n 0`: a controller alone, for engines that join by hand.
#[test]
fn a_profile_with_no_engines_stays_up_for_engines_that_join_by_hand() {
    let mut p = Running::create("solo", &["-n", "0"]);
    let out = p.start_daemon(&[]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    assert!(
        stderr(&out).contains("0 engines registered"),
        "{}",
        stderr(&out)
    );
    // Still up a moment later, with no engine.
    std::thread::sleep(Duration::from_millis(1500));
    let out = p.with_profile("status", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the controller of a profile with 0 engines ended on its own: {}\ncontroller log:\n{}",
        stderr(&out),
        p.log()
    );
    assert!(stdout(&out).contains("engines: 0"), "{}", stdout(&out));

    p.spawn_engine("joined", &["engine", "--profile", "solo", "-N", "2"]);
    assert!(
        wait_until(Duration::from_secs(10), || p.engines().len() == 1),
        "the engine did not join"
    );
    p.submit("echo one\necho two\necho three\n");
    p.wait_completed(3, Duration::from_secs(15));
    assert_eq!(p.count(&["--succeeded"]), 3);
    let out = p.with_profile("stop", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn engines_join_by_hand_with_the_profile_or_a_copied_file() {
    let mut p = Running::create("joinme", &["-n", "1", "-N", "1"]);
    let out = p.start_daemon(&[]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());

    // A copy others can read is refused, and says how to fix it.
    let exposed = p.engine_file_copy("engine-copy.json", 0o644);
    let out = p.run(&["engine", "--file", exposed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));

    // The right address with a wrong key: an authentication failure.
    let port = p.port.to_string();
    let out = p.run(&[
        "engine",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
        "-k",
        "not-the-key-0123456789",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(stderr(&out).contains("key"), "{}", stderr(&out));
    assert_eq!(p.engines().len(), 1, "refused engines did not register");

    // By profile name, and by the copy once it is private.
    let copy = p.engine_file_copy("engine-copy.json", 0o600);
    p.spawn_engine("by-profile", &["engine", "--profile", "joinme", "-N", "2"]);
    p.spawn_engine(
        "by-file",
        &["engine", "--file", copy.to_str().unwrap(), "-N", "2"],
    );
    assert!(
        wait_until(Duration::from_secs(10), || p.engines().len() == 3),
        "the engines did not join: {:?}",
        p.engines()
    );
    let tasks: String = (1..=30)
        .map(|i| format!("sleep 0.1; echo task-{i}\n"))
        .collect();
    p.submit(&tasks);
    p.wait_completed(30, Duration::from_secs(20));
    assert_eq!(p.count(&["--succeeded"]), 30);

    // Each engine printed the output of the tasks it ran: both hand-joined engines took work,
    // and across all three engines every task ran once.
    let by_profile = p.s.read("by-profile.out");
    let by_file = p.s.read("by-file.out");
    let task_lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("task-"))
            .map(String::from)
            .collect()
    };
    assert!(!task_lines(&by_profile).is_empty(), "{by_profile}");
    assert!(!task_lines(&by_file).is_empty(), "{by_file}");
    let mut all: Vec<String> = [by_profile, by_file, p.log()]
        .iter()
        .flat_map(|t| task_lines(t))
        .collect();
    all.sort();
    let mut expected: Vec<String> = (1..=30).map(|i| format!("task-{i}")).collect();
    expected.sort();
    assert_eq!(all, expected);

    // hs stop ends the engines that joined by hand too.
    let out = p.with_profile("stop", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let limit = Instant::now() + Duration::from_secs(10);
    for child in &mut p.hand {
        let pid = child.id();
        let gone = wait_quietly(child, limit.saturating_duration_since(Instant::now()));
        assert!(
            gone,
            "engine {pid} (joined by hand) still runs after hs stop"
        );
    }
    let left = p.processes();
    assert!(left.is_empty(), "left after hs stop: {left:?}");
}

/// Cuts a namespace host off the bridge; reconnects it on drop, whatever happened.
struct LinkCut(&'static str);

impl LinkCut {
    fn new(host: &'static str) -> LinkCut {
        let cut = LinkCut(host);
        let out = netns_link(host, "down");
        assert!(out.status.success(), "netns-link.sh {host} down: {out:?}");
        cut
    }
}

impl Drop for LinkCut {
    fn drop(&mut self) {
        let out = netns_link(self.0, "up");
        if !out.status.success() {
            eprintln!(
                "netns-link.sh {} up failed: {}",
                self.0,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

fn netns_link(host: &str, state: &str) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/infra/netns-link.sh");
    Command::new(script)
        .args([host, state])
        .output()
        .expect("run netns-link.sh")
}

fn netns_h2_ready() -> bool {
    let Some(hosts) = std::env::var_os("HS_NETNS_HOSTS") else {
        skip_or_fail("network-namespace hosts h1-h3 are not up (run scripts/test as root)");
        return false;
    };
    if !hosts.to_string_lossy().contains("h2") || !Path::new("/var/run/netns/h2").exists() {
        skip_or_fail("HS_NETNS_HOSTS is set but namespace h2 is missing");
        return false;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip_or_fail("cutting a namespace host's link (netns-link.sh) needs root");
        return false;
    }
    if !Command::new("unshare")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        skip_or_fail("unshare (util-linux) is missing: the h2 engine needs its own host name");
        return false;
    }
    true
}

/// The engine in h2 runs with its own host name (all namespaces share the UTS name otherwise).
const H2_NAME: &str = "h2-profile";

/// A profile listening on the bridge (10.77.0.1) with one local engine; an engine in h2 joins
/// with a copy of the engine file, runs tasks, is cut off while it runs some: they finish on
/// the local engine, each task completes once, and h2 rejoins when its link comes back.
#[test]
fn an_engine_in_another_namespace_joins_and_its_tasks_survive_a_cut() {
    if !netns_h2_ready() {
        return;
    }
    let _hold = hold_netns_hosts(true);
    let mut p = Running::create("lan", &["-n", "1", "-N", "2", "-H", "10.77.0.1"]);
    let out = p.start_daemon(&["--heartrate", "0.5", "--evict", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    let status = p.status().unwrap();
    assert_eq!(
        status["address"],
        format!("10.77.0.1:{}", p.port),
        "{status}"
    );

    let copy = p.engine_file_copy("h2-engine.json", 0o600);
    let log = std::fs::File::create(p.s.path("h2.out")).unwrap();
    let mut h2 = Command::new("unshare");
    h2.args(["--uts", "sh", "-c"])
        .arg(r#"hostname "$1" && exec ip netns exec h2 "$2" engine --file "$3" -N 2"#)
        .arg("sh")
        .arg(H2_NAME)
        .arg(hs_bin())
        .arg(&copy)
        .current_dir(p.s.dir.path())
        .env("HYPERSHELL_SITE", p.s.path("site-h2"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    p.hand.push(h2.spawn().expect("spawn the h2 engine"));
    let h2_engine =
        |p: &Running| -> Option<Value> { p.engines().into_iter().find(|e| e["host"] == H2_NAME) };
    assert!(
        wait_until(Duration::from_secs(10), || h2_engine(&p).is_some()),
        "the engine in h2 did not join: {:?}\n{}",
        p.engines(),
        p.s.read("h2.out")
    );
    assert_eq!(p.engines().len(), 2);

    // It takes work.
    let quick: String = (1..=12).map(|i| format!("sleep 0.2; echo {i}\n")).collect();
    p.submit(&quick);
    p.wait_completed(12, Duration::from_secs(15));
    let rows = p.tasks(&["args", "client_host"]);
    assert!(
        rows.iter().any(|r| r["client_host"] == H2_NAME),
        "no task ran in h2: {rows:?}"
    );

    // Cut h2 off while it runs tasks.
    let slow: String = (101..=104)
        .map(|i| format!("sleep 2; echo {i}\n"))
        .collect();
    p.submit(&slow);
    assert!(
        wait_until(Duration::from_secs(5), || {
            h2_engine(&p).is_some_and(|e| e["busy"].as_u64().unwrap_or(0) > 0)
        }),
        "h2 took none of the slow tasks: {:?}",
        p.engines()
    );
    let cut = LinkCut::new("h2");
    p.wait_completed(16, Duration::from_secs(20));
    let rows = p.tasks(&["args", "client_host"]);
    let slow_hosts: Vec<&Value> = rows
        .iter()
        .filter(|r| r["args"].as_str().unwrap().starts_with("sleep 2"))
        .map(|r| &r["client_host"])
        .collect();
    assert_eq!(slow_hosts.len(), 4);
    assert!(
        slow_hosts.iter().all(|h| *h != H2_NAME),
        "a result came from h2 while it was cut off: {rows:?}"
    );
    assert!(
        h2_engine(&p).is_none(),
        "h2 is still listed while cut off: {:?}",
        p.engines()
    );

    // Heal: h2 rejoins, and what it finished while cut off changes nothing.
    drop(cut);
    assert!(
        wait_until(Duration::from_secs(15), || h2_engine(&p).is_some()),
        "h2 did not rejoin after its link came back: {:?}\n{}",
        p.engines(),
        p.s.read("h2.out")
    );
    std::thread::sleep(Duration::from_secs(2));
    let rows = p.tasks(&["args", "exit_status", "attempt", "client_host"]);
    let mut args: Vec<&str> = rows.iter().map(|r| r["args"].as_str().unwrap()).collect();
    args.sort_unstable();
    let mut expected: Vec<String> = quick
        .lines()
        .chain(slow.lines())
        .map(String::from)
        .collect();
    expected.sort_unstable();
    assert_eq!(args, expected, "every task once, none lost, none added");
    assert!(
        rows.iter()
            .all(|r| r["exit_status"] == 0 && r["attempt"] == 1),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .filter(|r| r["args"].as_str().unwrap().starts_with("sleep 2"))
            .all(|r| r["client_host"] != H2_NAME),
        "a stale result from h2 replaced the one recorded: {rows:?}"
    );
    assert_eq!(p.count(&["--succeeded"]), 16);
    let out = p.with_profile("stop", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_malformed_nodefile_is_refused_naming_its_line() {
    let p = Running::create("hosts", &["--launcher", "ssh"]);
    std::fs::write(p.dir().join("nodefile"), "h1 many\n").unwrap();
    let out = p.with_profile("start", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 1"), "{}", stderr(&out));
    assert!(stderr(&out).contains("many"), "{}", stderr(&out));
    assert!(!p.security("cluster.json").exists());
    let out = p.run(&["profile", "show", "hosts"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("line 1"), "{}", stderr(&out));
}

#[test]
fn an_unknown_launcher_is_a_usage_error() {
    let p = Running::create("odd", &[]);
    p.edit("launcher = \"local\"", "launcher = \"pbs\"");
    let out = p.with_profile("start", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("\"pbs\"") && err.contains("local, ssh, mpi"),
        "{err}"
    );
    assert!(!p.security("cluster.json").exists());
}

/// A delay no duration can hold is a configuration error (exit 3) naming the key, found before
/// the controller binds or writes anything, in the foreground and with `--daemonize`.
#[test]
fn an_impossible_engine_delay_is_refused_before_anything_starts() {
    let p = Running::create("late", &[]);
    p.edit("delay_start = 0", "delay_start = -1e300");
    for out in [p.with_profile("start", &[]), p.start_daemon(&[])] {
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("engines.delay_start"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!p.security("cluster.json").exists());
        assert!(p.processes().is_empty());
    }
}

/// A bad profile is a usage error (exit 2) whether or not the cluster is to run in the
/// background.
#[test]
fn usage_errors_keep_exit_status_2_with_daemonize() {
    let p = Running::create("hosts", &["--launcher", "ssh"]);
    std::fs::write(p.dir().join("nodefile"), "h1 many\n").unwrap();
    let out = p.start_daemon(&[]);
    assert!(stderr(&out).contains("line 1"), "{}", stderr(&out));
    assert_eq!(
        out.status.code(),
        Some(2),
        "a malformed nodefile, --daemonize: {}",
        stderr(&out)
    );
    p.edit("launcher = \"ssh\"", "launcher = \"pbs\"");
    let out = p.start_daemon(&[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown launcher, --daemonize: {}",
        stderr(&out)
    );
    assert!(p.processes().is_empty());
}

#[test]
fn engines_that_never_come_fail_the_start_and_leave_nothing_behind() {
    let p = Running::create("nothing", &[]);
    p.edit(
        "launcher = \"local\"",
        "launcher = \"command\"\ncommand = \"false\"",
    );
    let started = Instant::now();
    let out = p.start_daemon(&[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no engine ever registered"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a launch that failed at once took {:?}",
        started.elapsed()
    );
    let mut left = Vec::new();
    let gone = wait_until(Duration::from_secs(2), || {
        left = p.processes();
        left.is_empty()
    });
    assert!(gone, "left after a failed start: {left:?}");
    for file in ["cluster.json", "hs-engine.json", "hs-client.json"] {
        assert!(
            !p.security(file).exists(),
            "{file} is left after a failed start"
        );
    }
    let out = p.with_profile("status", &[]);
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
}

#[test]
fn stop_drain_finishes_the_queue_and_a_stale_engine_file_is_refused() {
    let p = Running::create("drainme", &["-n", "1", "-N", "1"]);
    let out = p.start_daemon(&[]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    // The engine file of this run, copied away (as one copies it to another host).
    let stale = p.engine_file_copy("old-engine.json", 0o600);
    let tasks: String = (1..=6)
        .map(|i| format!("sleep 0.3; echo d-{i}\n"))
        .collect();
    p.submit(&tasks);
    // --drain: queued work finishes before the cluster stops.
    let out = p.with_profile("stop", &["--drain"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!p.security("cluster.json").exists());
    assert_eq!(p.count(&["--succeeded"]), 6, "{}", p.log());

    // A new start has a new key: the old file names a controller that is gone.
    let out = p.start_daemon(&[]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    let out = p.run(&[
        "engine",
        "--file",
        stale.to_str().unwrap(),
        "--connect-timeout",
        "5",
    ]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(stderr(&out).contains("key"), "{}", stderr(&out));
    assert_eq!(p.engines().len(), 1, "the stale engine did not register");
}

/// `hs engine --profile NAME` joins that profile's running cluster; the files of a cluster
/// that died without cleaning up are not dialled but removed, with exit 11.
#[test]
fn an_engine_joins_a_profile_by_name_and_not_a_dead_one() {
    use std::os::unix::fs::PermissionsExt;
    let p = Running::create("joiner", &["-n", "1", "-N", "1"]);
    let out = p.start_daemon(&[]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    let out = p.run(&["engine", "--profile", "joiner", "-T", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("registered with controller"),
        "{}",
        stderr(&out)
    );
    // Its files as a controller killed with SIGKILL would leave them.
    let files = ["cluster.json", "hs-engine.json"];
    let kept: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(p.security(f)).unwrap())
        .collect();
    let out = p.with_profile("stop", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for (file, bytes) in files.iter().zip(kept) {
        std::fs::write(p.security(file), bytes).unwrap();
        std::fs::set_permissions(p.security(file), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let out = p.run(&["engine", "--profile", "joiner", "--connect-timeout", "5"]);
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no running cluster"),
        "{}",
        stderr(&out)
    );
    assert!(!p.security("cluster.json").exists(), "stale files removed");
}

#[test]
fn a_stream_runs_its_jobs_on_a_running_profile() {
    let p = Running::create("streamer", &["-n", "2", "-N", "1"]);
    // Jobs for a host no engine runs on fail after this wait, on the profile's controller.
    p.edit("[server]\n", "[server]\nhostwait = 1\n");
    let out = p.start_daemon(&[]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", stderr(&out), p.log());
    let work = p.s.path("work");
    std::fs::create_dir_all(&work).unwrap();
    let jobs = format!(
        "{}\n{}\n{}\n",
        r#"{"cmd":"echo one","id":1}"#,
        format_args!(
            r#"{{"cmd":"pwd","cd":"{}","out":"where.txt","id":2}}"#,
            work.display()
        ),
        r#"{"cmd":"true","host":["nosuchhost"],"id":3}"#,
    );
    let out = run_with_input(
        p.hs(&["stream", "--profile", "streamer", "--keep-order"]),
        &jobs,
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rs = json_lines(&out);
    assert_eq!(rs.len(), 3, "{}", stdout(&out));
    assert_eq!(rs[0]["result"]["status"], "ok", "{}", rs[0]);
    assert_eq!(rs[1]["result"]["status"], "ok", "{}", rs[1]);
    assert_eq!(
        std::fs::read_to_string(work.join("where.txt"))
            .unwrap()
            .trim(),
        work.to_str().unwrap()
    );
    assert_eq!(rs[2]["result"]["status"], "error", "{}", rs[2]);
    let error = rs[2]["result"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("nosuchhost"), "{error}");
    // The jobs are tasks of the profile, kept in its database.
    assert_eq!(p.count(&[]), 3);
    // A stopped profile: a clear error, exit 11.
    let out = p.with_profile("stop", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run_with_input(p.hs(&["stream", "--profile", "streamer"]), "", LIMIT);
    assert_eq!(out.status.code(), Some(11), "{}", stderr(&out));
}
