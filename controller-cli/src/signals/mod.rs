//! Ctrl-C, SIGTERM and SIGHUP: the first asks the running command to stop cleanly (running tasks
//! get SIGINT → SIGTERM → SIGKILL), later ones say it is still stopping. SIGUSR1 and SIGUSR2
//! wind engines and controllers down in order ([`stop`]).

pub mod relay;
mod stop;

pub use stop::{StopRequest, on_stop_signal, stop_requested};

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

type Handler = Box<dyn Fn() + Send>;

static COUNT: AtomicU32 = AtomicU32::new(0);

/// Run `on_first` on the first interrupt. Installs the process-wide handler once.
///
/// A SIGHUP this process inherited as ignored (`nohup hs client …`) stays ignored: the user
/// asked for the command to outlive its terminal. (An inherited ignore of SIGINT, which every
/// `&` job of a script gets, is not kept: tasks would inherit it and could not be stopped by
/// their walltime's first signal.)
pub fn on_interrupt(on_first: impl Fn() + Send + 'static) -> anyhow::Result<()> {
    let hangup_ignored = ignored(libc::SIGHUP);
    *FIRST.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(on_first));
    let installed = ctrlc::set_handler(move || {
        let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
        if n == 1 {
            tracing::warn!("interrupted: stopping running tasks (interrupt again to hurry)");
            run_first();
        } else if n == 2 {
            tracing::warn!("still stopping tasks; interrupt once more to exit at once");
        } else {
            std::process::exit(crate::exit::Status::Interrupted as i32);
        }
    })
    .map_err(|e| anyhow::anyhow!("cannot install the interrupt handler: {e}"));
    if installed.is_ok() && hangup_ignored {
        // SAFETY: SIG_IGN installs no handler code; this only puts back the inherited ignore.
        unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
    }
    installed
}

/// Whether `signal`'s disposition is "ignore".
fn ignored(signal: libc::c_int) -> bool {
    // SAFETY: a zeroed sigaction is valid; sigaction(2) with a null new action only reads.
    let mut current: libc::sigaction = unsafe { std::mem::zeroed() };
    let read = unsafe { libc::sigaction(signal, std::ptr::null(), &mut current) };
    read == 0 && current.sa_sigaction == libc::SIG_IGN
}

/// What the first interrupt runs (given to [`on_interrupt`]).
static FIRST: Mutex<Option<Handler>> = Mutex::new(None);

fn run_first() {
    if let Some(h) = FIRST.lock().unwrap_or_else(|p| p.into_inner()).take() {
        h();
    }
}

/// Stop the command as the first interrupt would, for a reason other than a signal (stdout's
/// reader went away); does nothing if an interrupt came first. The exit status is 4.
pub fn interrupt(why: &str) {
    if COUNT
        .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        tracing::warn!("{why}: stopping running tasks");
        run_first();
    }
}

/// Whether an interrupt arrived.
pub fn interrupted() -> bool {
    COUNT.load(Ordering::SeqCst) > 0
}
