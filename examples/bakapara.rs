//! What Bakapara's Python API did on an IPython cluster, with hs: connect to a running
//! controller, submit shell jobs (with a working directory, output files and an environment),
//! and print each result as soon as its job finishes.
//!
//! ```text
//! hs server --forever &     # a controller; it writes <site>/lib/security/server-50001.json
//! hs client -N4 &           # an engine with 4 slots (on this host or any other)
//! cargo run -p hs-examples --example bakapara -- <site>/lib/security/server-50001.json
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;

use hs_client::{Client, ClientError, JobSpec, locate};

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: bakapara CONNECTION_FILE (or a profile directory)");
        return ExitCode::from(2);
    };
    match run(Path::new(&path)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("bakapara: {e}");
            ExitCode::from(if e.is_auth_failure() { 7 } else { 5 })
        }
    }
}

/// Run a few jobs; true if every one succeeded.
fn run(connection_file: &Path) -> Result<bool, ClientError> {
    let info = locate(connection_file)?;
    let mut client = Client::connect(&info)?;
    let here = std::env::current_dir().unwrap_or_else(|_| "/tmp".into());
    let jobs = vec![
        JobSpec::new("hostname"),
        JobSpec::new("sleep 1; wc -c < /etc/hostname")
            .cwd(&here)
            .stdout("bakapara.out"),
        JobSpec::new("echo \"$GREETING from $TASK_ID\"").env("GREETING", "konnichiwa"),
        JobSpec::new("ls /no/such/dir")
            .cwd(&here)
            .stderr("bakapara.err"),
        JobSpec::new("sleep 30").timeout_secs(2),
    ];
    let commands: Vec<String> = jobs.iter().map(|j| j.command().to_string()).collect();
    let ids = client.submit(jobs)?;
    let command_of: HashMap<_, _> = ids.iter().zip(&commands).collect();
    let engines = client.status()?.engine_total();
    eprintln!("total {} jobs on {engines} engines", ids.len());

    let mut all_ok = true;
    for (n, result) in client.results().enumerate() {
        let r = result?;
        all_ok &= r.succeeded();
        let took = r
            .start_time
            .map(|s| (r.completion_time - s).num_milliseconds() as f64 / 1000.0)
            .unwrap_or(0.0);
        println!(
            "[{}/{}] {} (exit {}) in {took:.3}s on {}: {}",
            n + 1,
            ids.len(),
            r.status(),
            r.exit_status,
            r.host.as_deref().unwrap_or("-"),
            command_of.get(&r.id).map_or("?", |c| c.as_str()),
        );
    }
    Ok(all_ok)
}
