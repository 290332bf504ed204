//! Small helpers around ZeroMQ calls shared by the engine and the broker.

/// `zmq::poll`, except that a signal arriving during the wait (Ctrl-C) is not an error: the
/// caller's loop goes round and looks at its stop controls.
pub fn poll(items: &mut [zmq::PollItem<'_>], timeout_ms: i64) -> Result<(), zmq::Error> {
    match zmq::poll(items, timeout_ms) {
        Ok(_) | Err(zmq::Error::EINTR) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Every message waiting on `socket`, up to `limit`, without blocking: the one way the
/// controller's and the engine's loops read their sockets. The limit keeps a flood on one
/// socket from starving the rest of a loop's turn; what is left waits for the next turn.
pub fn recv_waiting(socket: &zmq::Socket, limit: usize) -> Result<Vec<Vec<Vec<u8>>>, zmq::Error> {
    let mut messages = Vec::new();
    while messages.len() < limit {
        match socket.recv_multipart(zmq::DONTWAIT) {
            Ok(frames) => messages.push(frames),
            Err(zmq::Error::EAGAIN) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(messages)
}
