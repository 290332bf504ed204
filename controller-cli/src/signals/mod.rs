//! Ctrl-C, SIGTERM and SIGHUP: the first asks the running command to stop cleanly (running tasks
//! get SIGINT → SIGTERM → SIGKILL), later ones say it is still stopping. SIGUSR1 and SIGUSR2
//! wind engines and controllers down in order ([`stop`]).

pub mod relay;
mod stop;

pub use stop::{StopRequest, on_stop_signal, stop_requested};

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

type Handler = Box<dyn Fn() + Send>;

static COUNT: AtomicU32 = AtomicU32::new(0);

/// Run `on_first` on the first interrupt. Installs the process-wide handler once.
pub fn on_interrupt(on_first: impl Fn() + Send + 'static) -> anyhow::Result<()> {
    let handler: Arc<Mutex<Option<Handler>>> = Arc::new(Mutex::new(Some(Box::new(on_first))));
    ctrlc::set_handler(move || {
        let n = COUNT.fetch_add(1, Ordering::SeqCst) + 1;
        if n == 1 {
            tracing::warn!("interrupted: stopping running tasks (interrupt again to hurry)");
            if let Some(h) = handler.lock().unwrap_or_else(|p| p.into_inner()).take() {
                h();
            }
        } else if n == 2 {
            tracing::warn!("still stopping tasks; interrupt once more to exit at once");
        } else {
            std::process::exit(crate::exit::Status::Interrupted as i32);
        }
    })
    .map_err(|e| anyhow::anyhow!("cannot install the interrupt handler: {e}"))
}

/// Whether an interrupt arrived.
pub fn interrupted() -> bool {
    COUNT.load(Ordering::SeqCst) > 0
}
