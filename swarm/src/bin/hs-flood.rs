//! hs-flood: unauthenticated connections sending garbage to a controller's engine port, for
//! measuring what a flood costs a legitimate run (scripts/flood-bench).
//!
//! Each connection is a DEALER that never handshakes and sends, over and over, a message whose
//! last frame is the largest a controller's socket takes, filled with garbage. Runs until the
//! given number of seconds has passed (or it is killed). Loopback only: the address is always
//! 127.0.0.1.

use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "hs-flood",
    about = "Flood a controller's engine port with garbage"
)]
struct Cli {
    /// The controller's engine port on 127.0.0.1.
    #[arg(long)]
    port: u16,
    /// Connections to open (at most 1,000: one ZeroMQ context's socket limit).
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Pause between two rounds of sends over every connection, in milliseconds.
    #[arg(long, default_value_t = 5)]
    pause_ms: u64,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::ensure!(
        (1..=1000).contains(&cli.connections),
        "--connections must be 1 to 1,000"
    );
    let ctx = zmq::Context::new();
    let sockets = (0..cli.connections)
        .map(|_| {
            let d = ctx.socket(zmq::DEALER)?;
            d.set_linger(0)?;
            d.set_sndhwm(4)?;
            d.connect(&format!("tcp://127.0.0.1:{}", cli.port))?;
            Ok(d)
        })
        .collect::<Result<Vec<_>, zmq::Error>>()?;
    let garbage = vec![0xA5u8; hs_protocol::protocol::MAX_FRAME_BYTES];
    let until = Instant::now() + Duration::from_secs(cli.seconds);
    let (mut sent, mut bytes) = (0u64, 0u64);
    while Instant::now() < until {
        for s in &sockets {
            let frames = [
                b"hs/2".to_vec(),
                b"sealed".to_vec(),
                vec![0; 8],
                garbage.clone(),
            ];
            if s.send_multipart(frames, zmq::DONTWAIT).is_ok() {
                sent += 1;
                bytes += garbage.len() as u64;
            }
        }
        std::thread::sleep(Duration::from_millis(cli.pause_ms));
    }
    eprintln!(
        "hs-flood: {sent} messages ({:.1} GB of garbage) over {} connections",
        bytes as f64 / 1e9,
        cli.connections
    );
    Ok(())
}
