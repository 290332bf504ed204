//! The LAN case: a server in one network namespace, engines in two others.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::*;

const KEY: &str = "lan-test-key-0123456789abcdef";

/// Whether hosts h1-h3 are up (else the test skips, or fails under `HS_REQUIRE_ALL=1`).
pub fn netns_ready() -> bool {
    let Some(hosts) = std::env::var_os("HS_NETNS_HOSTS") else {
        skip_or_fail("network-namespace hosts h1-h3 are not up (run scripts/test as root)");
        return false;
    };
    let hosts = hosts.to_string_lossy().to_string();
    if !["h1", "h2", "h3"]
        .iter()
        .all(|h| hosts.contains(h) && std::path::Path::new(&format!("/var/run/netns/{h}")).exists())
    {
        skip_or_fail("HS_NETNS_HOSTS is set but namespaces h1-h3 are missing");
        return false;
    }
    true
}

/// `hs ARGS` in namespace `host`, with `site-<host>` of the scratch folder as its site.
pub fn in_host(host: &str, s: &Scratch, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", host]).arg(hs_bin()).args(args);
    c.current_dir(s.dir.path())
        .env("HYPERSHELL_SITE", s.path(&format!("site-{host}")));
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

#[test]
fn server_in_one_namespace_engines_in_two_others() {
    let _hold = hold_netns_hosts(false);
    if !netns_ready() {
        return;
    }
    let s = Scratch::new();
    let tasks: String = (1..=40)
        .map(|i| {
            format!("sleep 0.05; echo {i} $(ip -4 -o addr show dev eth0 | awk '{{print $4}}')\n")
        })
        .collect();
    let file = s.write("tasks.txt", &tasks);
    let server = in_host(
        "h1",
        &s,
        &[
            "server",
            file.to_str().unwrap(),
            "-H",
            "0.0.0.0",
            "-p",
            "50001",
            "-k",
            KEY,
        ],
    )
    .spawn()
    .unwrap();
    let engines: Vec<_> = ["h2", "h3"]
        .iter()
        .map(|h| {
            in_host(
                h,
                &s,
                &[
                    "client",
                    "-H",
                    "10.77.0.11",
                    "-p",
                    "50001",
                    "-k",
                    KEY,
                    "-N2",
                ],
            )
            .spawn()
            .unwrap()
        })
        .collect();
    let out = wait_output(server, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("tasks: 40 done, 40 succeeded"),
        "{}",
        stderr(&out)
    );
    let mut seen = Vec::new();
    for (engine, addr) in engines.into_iter().zip(["10.77.0.12/24", "10.77.0.13/24"]) {
        let o = wait_output(engine, Duration::from_secs(20));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(!text.is_empty(), "engine at {addr} ran nothing");
        for line in text.lines() {
            let (n, a) = line.split_once(' ').unwrap();
            assert_eq!(a, addr, "task ran in the engine's own namespace");
            seen.push(n.parse::<u32>().unwrap());
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=40).collect::<Vec<_>>());
}
