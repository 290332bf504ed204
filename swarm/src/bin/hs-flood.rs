//! hs-flood: unauthenticated connections sending garbage to a controller's engine port, for
//! measuring what a flood costs a legitimate run (scripts/flood-bench).
//!
//! Each connection is a DEALER that never handshakes and sends, over and over, a message whose
//! last frame is the largest a controller's socket takes, filled with garbage. What it offers
//! at the controller's door (`--credential`):
//!
//! - `none`: no credential, as any ZeroMQ peer that is not hs: refused in the ZMTP handshake.
//! - `forged`: a made-up PLAIN credential: refused by the controller's ZAP handler.
//! - `replayed`: a genuine credential seen on the wire, offered by every connection. It is made
//!   here from `--key-file` and first used by one connection of its own that is let in and
//!   closed, standing in for the key holder the wiretapper watched; the door admits a credential
//!   once, so every replay is refused as used.
//!
//! A connection that is refused is opened again (`--knock-every-ms` after it was last opened,
//! at the next round by default), as an attacker that keeps knocking would. Runs until the
//! given number of seconds has passed (or it is killed). Loopback only: the address is always
//! 127.0.0.1.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hs_protocol::protocol::door;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Credential {
    None,
    Forged,
    Replayed,
}

#[derive(Parser, Debug)]
#[command(
    name = "hs-flood",
    about = "Flood a controller's engine port with garbage"
)]
struct Cli {
    /// The controller's engine port on 127.0.0.1.
    #[arg(long)]
    port: u16,
    /// Connections to hold open (at most 1,000: one ZeroMQ context's socket limit).
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Pause between two rounds of sends over every connection, in milliseconds.
    #[arg(long, default_value_t = 5)]
    pause_ms: u64,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// What each connection offers at the controller's door.
    #[arg(long, value_enum, default_value_t = Credential::None)]
    credential: Credential,
    /// Open a refused connection again no sooner than this many milliseconds after it was
    /// last opened (0: at the next round).
    #[arg(long, default_value_t = 0)]
    knock_every_ms: u64,
    /// The controller's key file, for `--credential replayed`.
    #[arg(long)]
    key_file: Option<PathBuf>,
}

/// One flooding connection as `how` makes it.
fn open(
    ctx: &zmq::Context,
    port: u16,
    how: Credential,
    replayed: &(String, String),
) -> Result<zmq::Socket, zmq::Error> {
    let d = ctx.socket(zmq::DEALER)?;
    d.set_linger(0)?;
    d.set_sndhwm(4)?;
    match how {
        Credential::None => {}
        Credential::Forged => {
            d.set_plain_username(Some(&"0".repeat(32)))?;
            d.set_plain_password(Some(&"0".repeat(64)))?;
        }
        Credential::Replayed => door::knock_with(&d, replayed)?,
    }
    d.connect(&format!("tcp://127.0.0.1:{port}"))?;
    Ok(d)
}

/// Use `credential` as the key holder it stands for did, before anyone could have seen it: one
/// connection, let in, then closed.
fn use_first(ctx: &zmq::Context, port: u16, credential: &(String, String)) -> anyhow::Result<()> {
    let owner = ctx.socket(zmq::DEALER)?;
    owner.set_linger(0)?;
    door::knock_with(&owner, credential)?;
    let watch = door::DoorWatch::watching(ctx, &owner, door::SHUT_EVENTS)?;
    owner.connect(&format!("tcp://127.0.0.1:{port}"))?;
    let until = Instant::now() + Duration::from_secs(10);
    while !watch.opened() {
        anyhow::ensure!(
            Instant::now() < until,
            "the controller at port {port} never let the credential's owner in: is --key-file its key?"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::ensure!(
        (1..=1000).contains(&cli.connections),
        "--connections must be 1 to 1,000"
    );
    let key = match (cli.credential, &cli.key_file) {
        (Credential::Replayed, Some(file)) => std::fs::read_to_string(file)?.trim().to_string(),
        (Credential::Replayed, None) => anyhow::bail!("--credential replayed needs --key-file"),
        _ => String::new(),
    };
    let replayed = door::credential(key.as_bytes());
    let ctx = zmq::Context::new();
    if cli.credential == Credential::Replayed {
        use_first(&ctx, cli.port, &replayed)?;
    }
    let knock_every = Duration::from_millis(cli.knock_every_ms);
    let garbage = vec![0xA5u8; hs_protocol::protocol::MAX_FRAME_BYTES];
    // Each connection, when it was opened, and whether it was refused (then it sends nothing
    // until it knocks again: a flooder spinning on closed connections would only measure its
    // own CPU).
    let mut sockets = (0..cli.connections)
        .map(|_| {
            Ok((
                open(&ctx, cli.port, cli.credential, &replayed)?,
                Instant::now(),
                false,
            ))
        })
        .collect::<Result<Vec<(zmq::Socket, Instant, bool)>, zmq::Error>>()?;
    let until = Instant::now() + Duration::from_secs(cli.seconds);
    let (mut sent, mut bytes, mut reopened) = (0u64, 0u64, 0u64);
    while Instant::now() < until {
        for (s, opened, refused) in sockets.iter_mut() {
            if *refused {
                if opened.elapsed() < knock_every {
                    continue;
                }
                // Knock again on a new connection (the old socket is closed once the new one
                // replaces it; one more socket than --connections stays under the context's
                // limit of 1,023).
                if let Ok(fresh) = open(&ctx, cli.port, cli.credential, &replayed) {
                    (*s, *opened, *refused) = (fresh, Instant::now(), false);
                    reopened += 1;
                }
                continue;
            }
            let frames = [
                b"hs/2".to_vec(),
                b"sealed".to_vec(),
                vec![0; 8],
                garbage.clone(),
            ];
            match s.send_multipart(frames, zmq::DONTWAIT) {
                Ok(()) => {
                    sent += 1;
                    bytes += garbage.len() as u64;
                }
                // No pipe left (the controller closed this connection, and libzmq does not
                // open a refused one again), or its queue is full while the handshake is
                // still going: either way the door has not let it in.
                Err(zmq::Error::EAGAIN) => {
                    *refused = true;
                }
                Err(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(cli.pause_ms));
    }
    eprintln!(
        "hs-flood: {sent} messages ({:.1} GB of garbage) over {} connections, {reopened} \
         connections opened again after a refusal",
        bytes as f64 / 1e9,
        cli.connections
    );
    Ok(())
}
