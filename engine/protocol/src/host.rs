//! The name a peer gives for its machine: engines in `register`, clients in their hello, the
//! controller in its status, and the `submit_host`/`server_host` columns.

/// The machine's short host name (up to the first dot).
pub fn short_hostname() -> String {
    let full = hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string());
    full.split('.').next().unwrap_or(&full).to_string()
}
