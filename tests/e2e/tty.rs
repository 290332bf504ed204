//! What `hs` draws on a terminal: the progress bar and coloured log lines when stderr is one,
//! plain text when it is not. Terminals are pseudo-terminals opened here, so the real binary's
//! own `isatty` checks decide, as they would for a person at a shell.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Stdio;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::helpers::*;

/// A bound against a hang, not an expected duration: a run takes about a second.
const LIMIT: Duration = Duration::from_secs(15);

/// Enough tasks, each long enough, for the bar to be drawn several times.
const TASKS: u64 = 30;

/// A pseudo-terminal: the test reads the master; the slave is what `hs` gets as stdout/stderr.
pub(crate) struct Pty {
    pub(crate) master: OwnedFd,
    pub(crate) slave: OwnedFd,
}

/// Open a pseudo-terminal 200 columns wide (the bar line fits, so it is never cut) with output
/// post-processing off, so the master reads exactly the bytes `hs` wrote (no `\n` → `\r\n`: a
/// carriage return seen there was written by `hs`). Both ends are close-on-exec: a process
/// another test thread starts meanwhile must not keep the terminal open, which would keep the
/// reader from seeing its end.
pub(crate) fn open_pty() -> Pty {
    // SAFETY: plain libc calls on descriptors this function owns; every result is checked, and
    // `name` is a NUL-terminated buffer that ptsname_r fills within its length.
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(m >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        let master = OwnedFd::from_raw_fd(m);
        assert_eq!(libc::grantpt(m), 0, "grantpt");
        assert_eq!(libc::unlockpt(m), 0, "unlockpt");
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(m, name.as_mut_ptr(), name.len()),
            0,
            "ptsname_r"
        );
        let s = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        assert!(
            s >= 0,
            "open pty slave: {}",
            std::io::Error::last_os_error()
        );
        let slave = OwnedFd::from_raw_fd(s);
        let size = libc::winsize {
            ws_row: 50,
            ws_col: 200,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        assert_eq!(libc::ioctl(m, libc::TIOCSWINSZ, &size), 0, "TIOCSWINSZ");
        let mut tio: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(s, &mut tio), 0, "tcgetattr");
        tio.c_oflag &= !libc::OPOST;
        assert_eq!(libc::tcsetattr(s, libc::TCSANOW, &tio), 0, "tcsetattr");
        Pty { master, slave }
    }
}

/// Read the master until the terminal closes (every copy of the slave is gone: EIO) or
/// `deadline`, in a thread, so `hs` never blocks on a full terminal buffer. Hands back what it
/// read and whether it saw the end.
fn read_terminal(master: OwnedFd, deadline: Instant) -> JoinHandle<(Vec<u8>, bool)> {
    std::thread::spawn(move || {
        let mut file = File::from(master);
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (seen, false);
            }
            let mut pfd = libc::pollfd {
                fd: file.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let wait_ms = left.as_millis().min(100) as libc::c_int;
            // SAFETY: one valid pollfd, for a descriptor `file` keeps open.
            match unsafe { libc::poll(&mut pfd, 1, wait_ms) } {
                0 => continue,
                n if n < 0 => {
                    if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                        continue;
                    }
                    return (seen, false);
                }
                _ => {}
            }
            match file.read(&mut buf) {
                Ok(0) => return (seen, true),
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                // EIO: no slave left open, and everything written has been read.
                Err(_) => return (seen, true),
            }
        }
    })
}

/// Which of the run's outputs go to the terminal; the others are pipes.
#[derive(Clone, Copy)]
enum OnTerminal {
    Nothing,
    Stderr,
    StdoutAndStderr,
}

/// What one run left on its pipes and on the terminal.
struct Seen {
    /// Stdout, when it was a pipe.
    stdout: String,
    /// Stderr, when it was a pipe.
    stderr: String,
    /// Everything written to the terminal, when anything was on one.
    terminal: String,
}

impl Seen {
    /// The whole run, for failure messages: escapes shown as `\u{1b}`, carriage returns as `\r`.
    fn dump(&self) -> String {
        format!(
            "stdout: {:?}\nstderr: {:?}\nterminal: {:?}",
            self.stdout, self.stderr, self.terminal
        )
    }
}

/// The template of most runs: each task sleeps 50 ms and prints its number.
const QUIET: &str = "sleep 0.05; echo {}";

/// Run `hs cluster -N2 -v -t TEMPLATE` over [`TASKS`] tasks (numbered from 1), with `where_`
/// deciding what is on a pseudo-terminal, bounded by [`LIMIT`]; the run must
/// succeed. `-v` adds debug lines, some logged while the bar is up. Configuration files and the
/// colour switches of the environment the tests run in (`NO_COLOR`, `HYPERSHELL_LOGGING_COLOR`)
/// are left out, so only the terminal decides.
fn run_cluster(where_: OnTerminal, template: &str) -> Seen {
    let s = Scratch::new();
    let mut cmd = s.hs(&["cluster", "-N2", "-v", "-t", template]);
    cmd.env("HYPERSHELL_CONFIG_FILE", "")
        .env_remove("NO_COLOR")
        .env_remove("HYPERSHELL_LOGGING_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let reader = match where_ {
        OnTerminal::Nothing => None,
        OnTerminal::Stderr | OnTerminal::StdoutAndStderr => {
            let pty = open_pty();
            if let OnTerminal::StdoutAndStderr = where_ {
                cmd.stdout(pty.slave.try_clone().expect("dup pty slave"));
            }
            cmd.stderr(pty.slave.try_clone().expect("dup pty slave"));
            // `pty.slave` is dropped here and `cmd`, holding the copies, right after the
            // spawn: from then on only `hs` holds the terminal, so its exit ends the reader.
            Some(read_terminal(pty.master, Instant::now() + LIMIT))
        }
    };
    let mut child = cmd.spawn().expect("spawn hs");
    drop(cmd);
    let input: String = (1..=TASKS).map(|i| format!("{i}\n")).collect();
    // A few dozen bytes: the pipe buffer takes them all without waiting for a reader.
    let mut stdin = child.stdin.take().expect("stdin");
    // A failed write means hs is gone early, which the status check below reports.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let out = wait_output(child, LIMIT);
    let terminal = match reader {
        None => String::new(),
        Some(reader) => {
            let (bytes, closed) = reader.join().expect("terminal reader");
            let text = String::from_utf8_lossy(&bytes).into_owned();
            assert!(closed, "the terminal stayed open after hs exited: {text:?}");
            text
        }
    };
    let seen = Seen {
        stdout: stdout(&out),
        stderr: stderr(&out),
        terminal,
    };
    assert_eq!(out.status.code(), Some(0), "{}", seen.dump());
    seen
}

/// The `POS/LEN` of every bar frame in `text`, in order (a frame reads `█░… POS/LEN tasks [`,
/// the template in controller-cli/src/progress.rs).
fn bar_frames(text: &str) -> Vec<(u64, u64)> {
    let pieces: Vec<&str> = text.split(" tasks [").collect();
    pieces[..pieces.len() - 1]
        .iter()
        .map(|before| {
            let count = before.rsplit(' ').next().unwrap_or_default();
            let parsed = count
                .split_once('/')
                .and_then(|(p, l)| Some((p.parse().ok()?, l.parse().ok()?)));
            parsed.unwrap_or_else(|| panic!("a bar frame without POS/LEN: {before:?}"))
        })
        .collect()
}

/// Where each coloured log line starts: at `ESC[3Nm` followed by its level name (the bar's own
/// escapes are `ESC[2K`, line clears).
fn coloured_log_lines(text: &str) -> Vec<usize> {
    text.match_indices("\x1b[3")
        .map(|(at, _)| at)
        .filter(|&at| {
            let b = text.as_bytes();
            b.get(at + 3).is_some_and(u8::is_ascii_digit)
                && b.get(at + 4) == Some(&b'm')
                && b.get(at + 5).is_some_and(u8::is_ascii_uppercase)
        })
        .collect()
}

/// The run's summary line, without its level and duration.
fn summary() -> String {
    format!("tasks: {TASKS} done, {TASKS} succeeded, 0 failed")
}

/// Every task's number, each once: what the tasks print, sorted.
fn every_task() -> Vec<u64> {
    (1..=TASKS).collect()
}

/// Stderr on a terminal, stdout a pipe (`hs cluster … > results`): the bar is drawn on stderr,
/// redrawn as tasks finish, and cleared at the end; log lines are coloured, and each starts on
/// a line of its own, the bar cleared out of the way first (progress.rs's log writer), so no
/// log line is glued to a bar frame. Task output still goes to the pipe, untouched.
#[test]
fn stderr_on_a_terminal_draws_the_bar_and_colours_the_logs() {
    let seen = run_cluster(OnTerminal::Stderr, QUIET);
    let term = &seen.terminal;
    let frames = bar_frames(term);
    assert!(frames.len() >= 2, "the bar was redrawn: {}", seen.dump());
    assert!(
        frames.windows(2).all(|w| w[0].0 <= w[1].0),
        "the bar only moves forward: {frames:?}"
    );
    assert!(
        frames.iter().all(|&(pos, len)| pos <= len && len <= TASKS),
        "{frames:?}"
    );
    assert_eq!(frames.last().map(|f| f.1), Some(TASKS), "{frames:?}");
    assert!(
        term.contains("\r\x1b[2K"),
        "frames are redrawn in place: {}",
        seen.dump()
    );

    let coloured = format!("\x1b[32mINFO   \x1b[0m {}", summary());
    let after_bar = term.rsplit(" tasks [").next().unwrap_or_default();
    assert!(
        after_bar.contains(&format!("\r\x1b[2K{coloured}")),
        "the bar is cleared before the coloured summary: {}",
        seen.dump()
    );
    let starts = coloured_log_lines(term);
    assert!(starts.len() >= 2, "debug and info lines: {}", seen.dump());
    assert_start_fresh_lines(term, &starts, "a log line");

    assert_eq!(numbers_in(&seen.stdout), every_task());
    assert!(!seen.stdout.contains('\x1b'), "{}", seen.dump());
}

/// Stderr a pipe (logs captured or redirected to a file): the same run draws no bar and writes
/// no escape sequence at all, so a log file reads as plain lines.
#[test]
fn stderr_not_on_a_terminal_gets_plain_lines_and_no_bar() {
    let seen = run_cluster(OnTerminal::Nothing, QUIET);
    let err = &seen.stderr;
    assert!(
        err.contains(&format!("INFO    {}", summary())),
        "{}",
        seen.dump()
    );
    assert!(
        err.contains("DEBUG   "),
        "-v logs debug lines: {}",
        seen.dump()
    );
    assert!(!err.contains('\x1b'), "no escapes: {}", seen.dump());
    assert!(!err.contains('\r'), "no redrawn line: {}", seen.dump());
    assert!(bar_frames(err).is_empty(), "no bar: {}", seen.dump());
    assert_eq!(numbers_in(&seen.stdout), every_task());
}

/// Stdout and stderr on the same terminal (`hs cluster` typed at a shell, no redirection): no
/// bar, although stderr is a terminal, because progress.rs turns it off whenever stdout is one
/// too: task output printed there would tear through a bar drawn on the same screen. Log lines
/// are still coloured (colour depends on stderr alone), and nothing is redrawn: not one
/// carriage return reaches the terminal.
#[test]
fn stdout_on_a_terminal_turns_the_bar_off_but_keeps_colour() {
    let seen = run_cluster(OnTerminal::StdoutAndStderr, QUIET);
    let term = &seen.terminal;
    assert!(bar_frames(term).is_empty(), "no bar: {}", seen.dump());
    assert!(!term.contains('\r'), "no redrawn line: {}", seen.dump());
    assert!(
        term.contains(&format!("\x1b[32mINFO   \x1b[0m {}", summary())),
        "{}",
        seen.dump()
    );
    assert_eq!(numbers_in(term), every_task());
}

/// What tasks write to stderr reaches the terminal through the same writer as the logs, so the
/// bar is cleared before each of their lines instead of leaving a frame stuck to it.
#[test]
fn task_stderr_on_a_terminal_clears_the_bar_first() {
    let seen = run_cluster(OnTerminal::Stderr, "sleep 0.05; echo {}; echo err-{} >&2");
    let term = &seen.terminal;
    assert!(
        !bar_frames(term).is_empty(),
        "a bar was drawn: {}",
        seen.dump()
    );
    let starts: Vec<usize> = term.match_indices("err-").map(|(at, _)| at).collect();
    assert_eq!(starts.len() as u64, TASKS, "{}", seen.dump());
    assert_start_fresh_lines(term, &starts, "a task's line");
    assert_eq!(numbers_in(&seen.stdout), every_task());
}

/// Every line starting at one of `starts` in `term` begins on a fresh line: at the start, after a
/// newline, or right after the bar was cleared (`\r` + erase line).
fn assert_start_fresh_lines(term: &str, starts: &[usize], what: &str) {
    for &at in starts {
        let before = &term[..at];
        assert!(
            before.is_empty() || before.ends_with('\n') || before.ends_with("\r\x1b[2K"),
            "{what} starts mid-line: {:?}",
            &term[at.saturating_sub(120)..(at + 40).min(term.len())]
        );
    }
}
