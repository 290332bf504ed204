//! The terminal of `hs top`: raw mode and the alternate screen while it runs, restored on every
//! way out (a key, an error, a panic), and the loop that draws and reads keys.

use std::io::{IsTerminal, Stdout, Write};
use std::sync::Arc;
use std::sync::mpsc::TryRecvError;
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};

use super::poll::{self, Update};
use super::snapshot::Snapshot;
use super::target::Dialed;
use super::view::{self, View};
use crate::exit::{Failure, Status};
use crate::signals::relay;

/// How often keys are looked at, and the clock on the title line moves, without updates.
const TICK: Duration = Duration::from_millis(250);

/// Show `dialed`'s status full-screen, asking again every `interval`, until q, Esc or Ctrl-C
/// (exit 0), or until SIGTERM, SIGHUP or SIGINT from outside (exit 4, interrupted). Either way
/// the terminal is put back. The first status is asked before the screen changes, so a
/// controller that cannot be reached is reported as any command reports it (exit 5, or 7 for a
/// wrong key).
pub fn watch(dialed: Dialed, interval: Duration) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() {
        return Err(Failure::usage(
            "the live view draws on a terminal and this output is not one: use --json for the \
             snapshot, or hs status for it as text",
        ));
    }
    let mut client = dialed.connect()?;
    let first = Snapshot::new(Dialed::ask(&mut client)?, &dialed);
    let updates = poll::spawn(dialed, client, interval);
    let mut view = View {
        snapshot: first,
        received: Instant::now(),
        error: None,
        interval,
        plain: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
    };
    watch_signals()?;
    let mut screen = Screen::enter()?;
    loop {
        if let Some(signal) = caught_signal() {
            drop(screen);
            return Err(Failure {
                status: Status::Interrupted,
                message: format!("hs top: stopped by {signal}"),
            }
            .into());
        }
        screen
            .terminal
            .draw(|frame| view::draw(frame, &view, Instant::now()))?;
        if event::poll(TICK)? {
            match event::read()? {
                Event::Key(key) if quits(&key) => return Ok(()),
                // Anything else (a resize included) just draws again.
                _ => {}
            }
        }
        loop {
            match updates.try_recv() {
                Ok(Update::Snapshot(s)) => {
                    view.snapshot = *s;
                    view.received = Instant::now();
                    view.error = None;
                }
                Ok(Update::Failed(e)) => view.error = Some(e),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    view.error = Some("no longer asking (the poller ended)".into());
                    break;
                }
            }
        }
    }
}

/// The signals that end the view from outside: a `kill`, a closed ssh session (SIGHUP, unless
/// started under `nohup`), or a SIGINT not typed on its terminal. Without a handler they would
/// end the process before the terminal is put back, leaving it raw. The loop looks for them
/// every [`TICK`].
const ENDING_SIGNALS: [(libc::c_int, &str); 3] = [
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGINT, "SIGINT"),
];

fn watch_signals() -> anyhow::Result<()> {
    for (signal, name) in ENDING_SIGNALS {
        relay::watch(signal, true, |_| {})
            .map_err(|e| anyhow::anyhow!("cannot handle {name}: {e}"))?;
    }
    Ok(())
}

/// The name of an ending signal caught so far, if any.
fn caught_signal() -> Option<&'static str> {
    ENDING_SIGNALS
        .into_iter()
        .find(|(signal, _)| relay::caught(*signal))
        .map(|(_, name)| name)
}

/// q, Esc, or Ctrl-C (in raw mode it arrives as a key, not as SIGINT).
fn quits(key: &KeyEvent) -> bool {
    if key.kind == KeyEventKind::Release {
        return false;
    }
    match key.code {
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => true,
        KeyCode::Char('c') => key.modifiers.contains(KeyModifiers::CONTROL),
        _ => false,
    }
}

type PanicHook = Arc<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync>;

/// The terminal in raw mode on the alternate screen, until dropped.
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    _restorer: Restorer,
}

impl Screen {
    fn enter() -> anyhow::Result<Screen> {
        // First, so that whatever fails after it is undone.
        let restorer = Restorer::install();
        terminal::enable_raw_mode()?;
        execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )?;
        Ok(Screen {
            terminal: Terminal::new(CrosstermBackend::new(std::io::stdout()))?,
            _restorer: restorer,
        })
    }
}

/// Puts the terminal back when dropped, and meanwhile before any panic message is printed (so
/// the message is readable and the shell usable afterwards); then the panic hook it replaced.
struct Restorer {
    previous_hook: PanicHook,
}

impl Restorer {
    fn install() -> Restorer {
        let previous_hook: PanicHook = Arc::from(std::panic::take_hook());
        let hook = previous_hook.clone();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            hook(info);
        }));
        Restorer { previous_hook }
    }
}

impl Drop for Restorer {
    fn drop(&mut self) {
        restore();
        let previous = self.previous_hook.clone();
        let _ = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| previous(info)));
    }
}

/// Leave the alternate screen, show the cursor and leave raw mode; harmless when done twice.
fn restore() {
    let mut out = std::io::stdout();
    let _ = execute!(out, terminal::LeaveAlternateScreen, cursor::Show);
    let _ = out.flush();
    let _ = terminal::disable_raw_mode();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn q_esc_and_ctrl_c_quit_and_nothing_else_does() {
        assert!(quits(&key(KeyCode::Char('q'), KeyModifiers::NONE)));
        assert!(quits(&key(KeyCode::Char('Q'), KeyModifiers::SHIFT)));
        assert!(quits(&key(KeyCode::Esc, KeyModifiers::NONE)));
        assert!(quits(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert!(!quits(&key(KeyCode::Char('c'), KeyModifiers::NONE)));
        assert!(!quits(&key(KeyCode::Char('x'), KeyModifiers::NONE)));
        let mut release = key(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert!(!quits(&release));
    }
}
