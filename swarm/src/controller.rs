//! The real controller under test: `hs server` on 127.0.0.1, started, watched through /proc and
//! waited for with its resource usage, and ended by its pid if it overruns.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the controller keeps its tasks.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// `--no-db`: the store-less path.
    Memory,
    /// The default SQLite file, in a scratch site folder.
    Sqlite,
}

pub struct Settings<'a> {
    pub hs: &'a Path,
    pub dir: &'a Path,
    pub port: u16,
    pub key: &'a str,
    pub heartrate: f64,
    pub evict: f64,
    pub store: Store,
}

/// CPU time and peak resident memory of a process.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub cpu_s: f64,
    /// CPU of the main thread alone: the broker loop (the rest is ZeroMQ's I/O thread and the
    /// input reader).
    pub main_cpu_s: f64,
    pub hwm_kib: u64,
}

/// utime + stime in seconds from the text of a /proc `stat` file.
fn stat_cpu_s(stat: &str) -> Option<f64> {
    // Fields after the command name, which may hold spaces: state is field 3, utime 14.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

/// CPU seconds of all children this process has waited for (the controller and the workers).
pub fn children_cpu_s() -> f64 {
    // SAFETY: rusage is plain data, filled by the kernel.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

fn secs(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

pub struct Controller {
    pid: i32,
    pub stdin: Option<ChildStdin>,
    pub log: PathBuf,
}

/// How the controller ended.
pub struct Exit {
    /// Exit code; `None` when a signal ended it (ours after a timeout, or a crash).
    pub code: Option<i32>,
    /// From getrusage at exit (the main thread's share is not known there).
    pub usage: Usage,
    /// The last /proc sample before it exited (at most 250 ms old): gives the main thread's CPU.
    pub last_sample: Usage,
    pub timed_out: bool,
}

/// A base port whose next two are free as well (engines, heartbeat, clients).
pub fn free_ports() -> anyhow::Result<u16> {
    for _ in 0..200 {
        let base = 20_000 + rand::random::<u16>() % 40_000;
        let all_free = (0..3).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if all_free {
            return Ok(base);
        }
    }
    anyhow::bail!("found no three free consecutive ports on 127.0.0.1")
}

impl Controller {
    /// Start `hs server -` reading its tasks from our pipe, and wait until it listens.
    pub fn start(s: &Settings) -> anyhow::Result<Controller> {
        let log = s.dir.join("controller.log");
        let site = s.dir.join("site");
        std::fs::create_dir_all(&site)?;
        let mut cmd = Command::new(s.hs);
        cmd.args(["server", "-", "-H", "127.0.0.1", "-k", s.key])
            .args(["-p", &s.port.to_string()])
            .args(["--heartrate", &s.heartrate.to_string()])
            .args(["--evict", &s.evict.to_string()]);
        if s.store == Store::Memory {
            cmd.arg("--no-db");
        }
        let child = cmd
            .env("HOME", s.dir)
            .env("HYPERSHELL_SITE", &site)
            .stdin(Stdio::piped())
            .stdout(File::create(s.dir.join("controller.out"))?)
            .stderr(File::create(&log)?)
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", s.hs.display()))?;
        let mut ctl = Controller {
            pid: child.id() as i32,
            stdin: child.stdin,
            log,
        };
        let until = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", s.port)).is_err() {
            if Instant::now() >= until || ctl.try_wait()?.is_some() {
                ctl.stop();
                anyhow::bail!(
                    "the controller did not start listening on port {}: see {}",
                    s.port,
                    ctl.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(ctl)
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// CPU seconds so far (utime + stime of /proc/PID/stat) and peak RSS (VmHWM of
    /// /proc/PID/status).
    pub fn sample(&self) -> Option<Usage> {
        let cpu_s = stat_cpu_s(&std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?)?;
        let main = format!("/proc/{}/task/{}/stat", self.pid, self.pid);
        let main_cpu_s = stat_cpu_s(&std::fs::read_to_string(main).ok()?)?;
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let hwm_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())?;
        Some(Usage {
            cpu_s,
            main_cpu_s,
            hwm_kib,
        })
    }

    fn try_wait(&mut self) -> anyhow::Result<Option<Exit>> {
        let mut status = 0;
        // SAFETY: rusage is plain data, filled by the kernel.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: our own child's pid; both out-pointers are valid.
        let rc = unsafe { libc::wait4(self.pid, &mut status, libc::WNOHANG, &mut ru) };
        if rc == 0 {
            return Ok(None);
        }
        anyhow::ensure!(rc == self.pid, "waiting for the controller failed");
        Ok(Some(Exit {
            code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
            usage: Usage {
                cpu_s: secs(ru.ru_utime) + secs(ru.ru_stime),
                main_cpu_s: 0.0,
                hwm_kib: ru.ru_maxrss as u64,
            },
            last_sample: Usage::default(),
            timed_out: false,
        }))
    }

    /// Wait for the controller to exit by itself until `deadline`, then end it.
    pub fn wait(mut self, deadline: Instant) -> anyhow::Result<Exit> {
        let mut last = self.sample().unwrap_or_default();
        let mut next_sample = Instant::now();
        loop {
            if let Some(mut exit) = self.try_wait()? {
                exit.last_sample = last;
                return Ok(exit);
            }
            if Instant::now() >= next_sample {
                last = self.sample().unwrap_or(last);
                next_sample = Instant::now() + Duration::from_millis(250);
            }
            if Instant::now() >= deadline {
                self.stop();
                let mut exit = self.try_wait()?.unwrap_or(Exit {
                    code: None,
                    usage: Usage::default(),
                    last_sample: last,
                    timed_out: true,
                });
                exit.timed_out = true;
                return Ok(exit);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then SIGKILL 5 s later if it is still there; waits for it.
    fn stop(&mut self) {
        self.stdin = None;
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            // SAFETY: our own child; the zombie is kept (WNOWAIT) for try_wait's rusage.
            let exited = unsafe {
                let mut info: libc::siginfo_t = std::mem::zeroed();
                libc::waitid(
                    libc::P_PID,
                    self.pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                );
                info.si_pid()
            };
            if exited == self.pid {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        std::thread::sleep(Duration::from_millis(200));
    }
}
