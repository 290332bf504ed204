//! Where a controller listens and what engines dial: the bind address (`-H`/`server.bind`),
//! the ports (the first free trio from 50001 when none is given) and the address written into
//! connection files.

use std::net::{TcpListener, ToSocketAddrs};

use hs_broker::BindSet;

use crate::exit::Failure;

/// The address to bind for `-H`, and whether it is loopback only.
pub fn bind_address(bind: &str) -> anyhow::Result<(String, bool)> {
    match bind {
        "localhost" | "127.0.0.1" => Ok(("127.0.0.1".into(), true)),
        "0.0.0.0" | "*" => Ok(("*".into(), false)),
        other => {
            let addr = (other, 0)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.find(|a| a.is_ipv4()))
                .ok_or_else(|| {
                    Failure::usage(format!(
                        "cannot resolve bind address {other:?} to an IPv4 address"
                    ))
                })?;
            Ok((addr.ip().to_string(), addr.ip().is_loopback()))
        }
    }
}

/// The address engines and clients dial for a controller bound to `address`.
pub fn dial_address(address: &str, loopback: bool) -> String {
    if loopback {
        "127.0.0.1".to_string()
    } else if address == "*" {
        hs_engine::engine::short_hostname()
    } else {
        address.to_string()
    }
}

/// `port`, or with `None`/0 the first port from 50001 whose trio (engines, heartbeats,
/// clients) is free on `address` — other software may hold some of that range.
pub fn choose_port(address: &str, port: Option<u16>) -> anyhow::Result<u16> {
    match port {
        Some(p) if p != 0 => {
            p.checked_add(2)
                .ok_or_else(|| Failure::usage("-p must leave room for PORT+1 and PORT+2"))?;
            Ok(p)
        }
        _ => {
            let host = if address == "*" { "0.0.0.0" } else { address };
            (50001..60000u16)
                .step_by(3)
                .find(|p| (0..3).all(|i| TcpListener::bind((host, p + i)).is_ok()))
                .ok_or_else(|| Failure::runtime("no three free ports between 50001 and 60000"))
        }
    }
}

/// TCP binds for a controller on `address:port` (+1 heartbeats, +2 clients).
pub fn tcp_binds(address: &str, port: u16) -> BindSet {
    BindSet {
        engines: vec![format!("tcp://{address}:{port}")],
        heartbeat: vec![format!("tcp://{address}:{}", port + 1)],
        clients: vec![format!("tcp://{address}:{}", port + 2)],
    }
}
