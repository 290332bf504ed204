//! The engine swarm at smoke size: 50 simulated engines (and two pairs of buggy peers sending
//! bad input) against a real `hs server --no-db`, through `hs-swarm`, the driver that
//! `scripts/swarm` runs at 1,000-10,000 engines. Only soundness is checked here, no timing.

use std::process::Command;
use std::time::Duration;

use crate::helpers::*;

#[test]
fn a_small_swarm_with_buggy_peers_runs_every_task_exactly_once() {
    let hs = hs_bin();
    // Another package's binary: built by `cargo build --workspace --bins` (scripts/test does).
    let swarm = hs.with_file_name("hs-swarm");
    if !swarm.exists() {
        return skip_or_fail(&format!(
            "{} is not built: run `cargo build --workspace --bins`",
            swarm.display()
        ));
    }
    let mut cmd = Command::new(&swarm);
    cmd.arg("--hs")
        .arg(&hs)
        .args(["--engines", "50", "--tasks", "5000", "--procs", "2"])
        .args([
            "--threads",
            "1",
            "--hostile",
            "2",
            "--timeout",
            "60",
            "--json",
        ]);
    let out = run_with_input(cmd, "", Duration::from_secs(150));
    let text = stdout(&out);
    let row: serde_json::Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{e}: {text:?} / {}", stderr(&out)));
    assert_eq!(out.status.code(), Some(0), "{row:#}\n{}", stderr(&out));
    assert_eq!(row["done"], 5000, "{row:#}");
    assert_eq!(row["ctl_exit"], 0, "{row:#}");
    assert_eq!(row["evictions"], 0, "{row:#}");
    assert!(row["registration_s"].is_number(), "{row:#}");
    let hostile = &row["hostility"];
    assert_eq!(hostile["peers"], 2, "{row:#}");
    assert!(hostile["bad_messages_sent"].as_u64() > Some(0), "{row:#}");
    assert_eq!(hostile["missing"], 0, "every task answered: {row:#}");
    assert_eq!(
        hostile["once_a_minute"], true,
        "refusals logged at most once per peer per minute: {row:#}"
    );
}
