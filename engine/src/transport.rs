//! Small helpers around ZeroMQ calls shared by the engine and the broker.

/// `zmq::poll`, except that a signal arriving during the wait (Ctrl-C) is not an error: the
/// caller's loop goes round and looks at its stop controls.
pub fn poll(items: &mut [zmq::PollItem<'_>], timeout_ms: i64) -> Result<(), zmq::Error> {
    match zmq::poll(items, timeout_ms) {
        Ok(_) | Err(zmq::Error::EINTR) => Ok(()),
        Err(e) => Err(e),
    }
}
