//! One ZeroMQ context per worker process, sized for thousands of sockets.
//!
//! libzmq allows 1023 sockets per context unless `ZMQ_MAX_SOCKETS` is raised, and the zmq crate
//! has no setter for it, so the context is made through zmq-sys and its sockets are handed to the
//! zmq crate with `Socket::from_raw`.

use std::ffi::c_void;

pub struct Context {
    raw: *mut c_void,
}

// libzmq contexts are thread safe (zmq(7)); sockets are not, and each stays in one thread.
unsafe impl Send for Context {}
unsafe impl Sync for Context {}

impl Context {
    /// A context that can hold `sockets` sockets, with `io_threads` I/O threads.
    pub fn new(sockets: usize, io_threads: i32) -> anyhow::Result<Context> {
        // SAFETY: plain constructor; a null return is checked below.
        let raw = unsafe { zmq_sys::zmq_ctx_new() };
        anyhow::ensure!(!raw.is_null(), "cannot create a ZeroMQ context");
        let set = |opt: u32, value: i32| {
            // SAFETY: `raw` is a live context and both options take an int.
            let rc = unsafe { zmq_sys::zmq_ctx_set(raw, opt as _, value) };
            anyhow::ensure!(rc == 0, "zmq_ctx_set({opt}, {value}) failed");
            Ok(())
        };
        set(zmq_sys::ZMQ_MAX_SOCKETS, i32::try_from(sockets + 16)?)?;
        set(zmq_sys::ZMQ_IO_THREADS, io_threads)?;
        Ok(Context { raw })
    }

    pub fn socket(&self, kind: zmq::SocketType) -> anyhow::Result<zmq::Socket> {
        let raw_kind = match kind {
            zmq::DEALER => zmq_sys::ZMQ_DEALER,
            zmq::SUB => zmq_sys::ZMQ_SUB,
            other => anyhow::bail!("socket type {other:?} is not used by the swarm"),
        };
        // SAFETY: `self.raw` is a live context (never terminated: the process exits instead, so
        // no socket outlives it).
        let sock = unsafe { zmq_sys::zmq_socket(self.raw, raw_kind as _) };
        if sock.is_null() {
            anyhow::bail!(
                "cannot create a socket: {}",
                zmq::Error::from_raw(unsafe { zmq_sys::zmq_errno() })
            );
        }
        // SAFETY: a socket just created by libzmq, owned by nothing else.
        Ok(unsafe { zmq::Socket::from_raw(sock) })
    }
}
