//! Options HyperShell 2.8 has whose mechanism hs does not share. Each is accepted so a command
//! line written for HyperShell runs unchanged, does the nearest honest thing, and says what that
//! is in its help (docs/compat.md has the table).

use std::path::PathBuf;

use clap::Args;

use crate::config::key;

/// `--no-tls` and the TLS files. HyperShell wraps its queue connections in TLS; hs encrypts
/// every message with session keys that a handshake on the shared key sets up (docs/protocol.md),
/// so there is no certificate to use. `--no-tls` keeps the handshake and the message
/// authentication but sends bodies in clear; both sides must agree.
#[derive(Args, Debug, Clone, Default)]
pub struct TlsArgs {
    /// Send messages unencrypted (still authenticated with the shared key), for a trusted
    /// network; controller and engines must all use it or none.
    #[arg(long)]
    pub no_tls: bool,
    /// Accepted for HyperShell and not used: hs encrypts with keys from the shared key, not
    /// X.509 certificates (docs/protocol.md).
    #[arg(long, value_name = "PATH", conflicts_with = "no_tls")]
    pub tls_cert: Option<PathBuf>,
    /// Accepted for HyperShell and not used: hs encrypts with keys from the shared key, not
    /// X.509 certificates (docs/protocol.md).
    #[arg(long, value_name = "PATH", conflicts_with = "no_tls")]
    pub tls_key: Option<PathBuf>,
    /// Accepted for HyperShell and not used: hs encrypts with keys from the shared key, not
    /// X.509 certificates (docs/protocol.md).
    #[arg(long, value_name = "PATH", conflicts_with = "no_tls")]
    pub tls_ca: Option<PathBuf>,
}

impl TlsArgs {
    /// Say once that certificate files were given and are not used, so nobody believes their
    /// traffic is encrypted with them.
    pub fn note_unused(&self) {
        let given = named(&[
            (self.tls_cert.is_some(), "--tls-cert"),
            (self.tls_key.is_some(), "--tls-key"),
            (self.tls_ca.is_some(), "--tls-ca"),
        ]);
        if !given.is_empty() {
            tracing::warn!(
                "{} not used: hs encrypts every message with session keys from the shared \
                 key, not certificates (docs/protocol.md)",
                given.join(", ")
            );
        }
    }

    /// The wire mode these flags ask for.
    pub fn mode(&self) -> hs_engine::protocol::Mode {
        hs_engine::protocol::Mode::from_no_tls(self.no_tls)
    }
}

/// `--no-confirm`: HyperShell's engines confirm each bundle they receive unless told not to.
/// hs leases every task to the engine it was sent to, so the controller always knows who holds
/// what and the option changes nothing.
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct ConfirmArgs {
    /// Accepted for HyperShell: hs tracks who holds each task through leases; no effect.
    #[arg(long)]
    pub no_confirm: bool,
}

/// What an engine may use and how it watches its tasks (HyperShell 2.8's resource gate). Cores,
/// memory and GPUs are declared to the controller, which leases each engine only tasks whose
/// requests fit what it has free (README, "Resources"); `-R` paces the engine's task starts and
/// `--monitor` samples its running tasks' cores and memory (README, "Monitoring").
#[derive(Args, Debug, Clone, Default)]
pub struct CapacityArgs {
    #[arg(help = key::CLIENT_CORES.help("Cores the engine's tasks may use together (default: the host's CPUs)"))]
    #[arg(short = 'C', long, value_name = "NUM")]
    pub client_cores: Option<u32>,
    #[arg(help = key::CLIENT_MEMORY.help(
        "Memory the engine's tasks may use together, e.g. 64G (default: the host's RAM)"
    ))]
    #[arg(short = 'M', long, value_name = "SIZE", value_parser = size_bytes)]
    pub client_memory: Option<i64>,
    #[arg(help = key::CLIENT_GPUS.help(
        "GPUs the engine hands out: a count, or devices such as 0,1 (default: those found)"
    ))]
    #[arg(long, value_name = "LIST|N", value_parser = gpu_list)]
    pub client_gpus: Option<GpuList>,
    #[arg(help = key::CLIENT_RATELIMIT.help(
        "Most tasks each engine starts per second, e.g. 5 or 0.5: starts are spaced 1/NUM s apart \
         (0 in the configuration: no limit)"
    ))]
    #[arg(short = 'R', long, value_name = "NUM", value_parser = positive_rate)]
    pub ratelimit: Option<f64>,
    /// Sample each running task's cores and memory about once a second: rows in
    /// <site>/lib/task/<id>.csv (`hs info ID --perf`), peaks in cores_max and memory_max, a
    /// warning when a task uses more than its -c/-m.
    #[arg(long)]
    pub monitor: bool,
}

/// The names of the options that were given, for one warning line.
fn named<'a>(options: &[(bool, &'a str)]) -> Vec<&'a str> {
    options
        .iter()
        .filter(|(given, _)| *given)
        .map(|(_, name)| *name)
        .collect()
}

/// A size such as `8G`, `512MB` or `1024` (bytes), as HyperShell's `-m`/`-M` take it.
pub fn size_bytes(text: &str) -> Result<i64, String> {
    crate::query::parse_bytes(text).map_err(|e| e.to_string())
}

/// The devices of `--gpus`/`--client-gpus` (one value, not a list of arguments).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuList(pub Vec<String>);

/// `--gpus`/`--client-gpus`: a count or a list of devices, each named once.
pub fn gpu_list(text: &str) -> Result<GpuList, String> {
    hs_engine::engine::host_resources::parse_gpus(text).map(GpuList)
}

fn positive_rate(text: &str) -> Result<f64, String> {
    super::seconds(text, |v| v > 0.0, "a positive number of tasks per second")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_rates_are_checked() {
        assert_eq!(size_bytes("8G"), Ok(8 << 30));
        assert!(size_bytes("10x").is_err());
        assert_eq!(positive_rate("2.5"), Ok(2.5));
        for bad in ["0", "-1", "inf", "x"] {
            assert!(positive_rate(bad).is_err(), "{bad}");
        }
    }
}
