//! A TCP relay that can cut every connection through it at once, as a network that drops
//! connections would: the two ends see their connection closed, and new connections are
//! relayed as before (or, for a while, closed as soon as they come: a network that is down).

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::helpers::free_ports;

pub struct Cutter {
    port: u16,
    open: Arc<Mutex<Vec<TcpStream>>>,
    /// New connections are closed at once until then.
    down_until: Arc<Mutex<Option<Instant>>>,
    stop: Arc<AtomicBool>,
    listeners: Vec<JoinHandle<()>>,
}

impl Cutter {
    /// Relay three free ports in a row on 127.0.0.1 to `target`, `target + 1` and
    /// `target + 2` (a controller's engine, heartbeat and client ports).
    pub fn start(target: u16) -> Cutter {
        let port = free_ports();
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let down_until: Arc<Mutex<Option<Instant>>> = Arc::default();
        let stop: Arc<AtomicBool> = Arc::default();
        let listeners = (0..3)
            .map(|i| {
                let listener = TcpListener::bind(("127.0.0.1", port + i)).expect("bind relay");
                listener.set_nonblocking(true).expect("nonblocking relay");
                let (open, down, stop) = (open.clone(), down_until.clone(), stop.clone());
                std::thread::spawn(move || relay(listener, target + i, &open, &down, &stop))
            })
            .collect();
        Cutter {
            port,
            open,
            down_until,
            stop,
            listeners,
        }
    }

    /// The first of the three relayed ports (the engine port's stand-in).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// [`Cutter::cut`], and close every new connection for `down` after it.
    pub fn cut_for(&self, down: Duration) -> usize {
        *self.down_until.lock().unwrap() = Some(Instant::now() + down);
        self.cut()
    }

    /// Close both ends of every connection relayed so far; returns how many there were.
    pub fn cut(&self) -> usize {
        let mut open = self.open.lock().unwrap();
        for s in open.iter() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let pairs = open.len() / 2;
        open.clear();
        pairs
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut();
        for l in self.listeners.drain(..) {
            let _ = l.join();
        }
    }
}

fn relay(
    listener: TcpListener,
    target: u16,
    open: &Mutex<Vec<TcpStream>>,
    down_until: &Mutex<Option<Instant>>,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::SeqCst) {
        let Ok((inbound, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        if down_until
            .lock()
            .unwrap()
            .is_some_and(|t| Instant::now() < t)
        {
            continue;
        }
        let _ = inbound.set_nonblocking(false);
        let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)) else {
            continue;
        };
        let (Ok(in2), Ok(out2)) = (inbound.try_clone(), outbound.try_clone()) else {
            continue;
        };
        let mut list = open.lock().unwrap();
        list.push(inbound.try_clone().expect("clone"));
        list.push(outbound.try_clone().expect("clone"));
        drop(list);
        pipe(inbound, out2);
        pipe(outbound, in2);
    }
}

/// Copy `from` into `to` until either ends, then close both.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    });
}
