//! `hs cluster` with launched engines: ssh to the namespace hosts (each a real sshd), a real
//! mpirun, a real srun on a three-node Slurm, autoscaled local engines, and launches that fail.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::helpers::*;

/// The ssh client config of the namespace hosts' sshds, when scripts/test started them.
fn ssh_config() -> Option<String> {
    infra_var(
        "HS_SSH_CONFIG",
        "sshd in the namespace hosts was not started (as root)",
    )
}

/// A variable scripts/test sets for a part it started (`what` says which, when it did not):
/// `None`, with a visible skip (a failure in CI), without it.
pub(crate) fn infra_var(name: &str, what: &str) -> Option<String> {
    let value = std::env::var(name).ok().filter(|v| !v.is_empty());
    if value.is_none() {
        skip_or_fail(&format!("{name} is not set: {what} by scripts/test"));
    }
    value
}

/// Variables of an `export K=V` file (the MPI and Slurm recipes write them).
fn exports(path: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

fn hosts_in(out: &str) -> BTreeSet<String> {
    out.lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
        .collect()
}

#[test]
fn ssh_cluster_runs_tasks_on_every_namespace_host() {
    let _hold = hold_netns_hosts(false);
    let Some(cfg) = ssh_config() else { return };
    let s = Scratch::new();
    let port = free_ports().to_string();
    let ssh_args = format!("-F {cfg}");
    let mut cmd = s.hs(&[
        "cluster",
        "--no-db",
        "--ssh",
        "h[1-3]",
        "--ssh-args",
        &ssh_args,
        "-H",
        "10.77.0.1",
        "-p",
        &port,
        "-N",
        "2",
        "-t",
        "sleep 0.05; echo {} $(hostname)",
    ]);
    let input: String = (1..=90).map(|i| format!("{i}\n")).collect();
    cmd.env("HYPERSHELL_LOGGING_LEVEL", "warning");
    let out = run_with_input(cmd, &input, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 90, "{text}");
    let hosts = hosts_in(&text);
    assert_eq!(
        hosts,
        BTreeSet::from(["h1".into(), "h2".into(), "h3".into()]),
        "{text}"
    );
}

#[test]
fn an_unreachable_ssh_host_and_a_bad_host_list_are_clear_errors() {
    let _hold = hold_netns_hosts(false);
    let Some(cfg) = ssh_config() else { return };
    let s = Scratch::new();
    let ssh_args = format!("-F {cfg} -o ConnectTimeout=2");
    // An address on the test network with no host behind it: the connection times out there.
    let out = run_with_input(
        s.hs(&[
            "cluster",
            "--no-db",
            "--ssh",
            "10.77.0.99",
            "--ssh-args",
            &ssh_args,
            "-H",
            "10.77.0.1",
        ]),
        "echo never\n",
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("no engine ever registered") && err.contains("10.77.0.99"),
        "{err}"
    );
    assert!(!stdout(&out).contains("never"));

    let out = run_with_input(
        s.hs(&["cluster", "--ssh", "h[1-"]),
        "",
        Duration::from_secs(10),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("bad host list"), "{}", stderr(&out));
}

#[test]
fn a_launcher_that_exits_at_once_ends_the_run_with_its_words() {
    let s = Scratch::new();
    let out = run_with_input(
        s.hs(&[
            "cluster",
            "--no-db",
            "--launcher",
            "bash -c 'echo no allocation >&2; exit 3'",
        ]),
        "echo never\n",
        Duration::from_secs(20),
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("no engine ever registered") && err.contains("no allocation"),
        "{err}"
    );
}

#[test]
fn mpirun_starts_one_engine_per_rank() {
    let Some(env_file) = infra_var("HS_MPIRUN_ENV", "Open MPI was not checked") else {
        return;
    };
    let s = Scratch::new();
    let nodefile = s.write("nodefile", "localhost slots=3\n");
    let port = free_ports().to_string();
    let mut cmd = s.hs(&[
        "cluster",
        "--no-db",
        "--mpi",
        "--nodefile",
        nodefile.to_str().unwrap(),
        "-t",
        "sleep 0.2; echo {}",
        "-p",
        &port,
    ]);
    cmd.envs(exports(&env_file));
    let input: String = (1..=30).map(|i| format!("{i}\n")).collect();
    let out = run_with_input(cmd, &input, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 30);
    let engines = stderr(&out).matches("registered with controller").count();
    assert_eq!(engines, 3, "three ranks, three engines:\n{}", stderr(&out));
}

#[test]
fn srun_launches_engines_on_the_slurm_nodes() {
    let _hold = hold_netns_hosts(false);
    let Some(conf) = infra_var("HS_SLURM_CONF", "Slurm was not started") else {
        return;
    };
    let s = Scratch::new();
    let port = free_ports().to_string();
    let mut cmd = s.hs(&[
        "cluster",
        "--no-db",
        "--launcher",
        "srun --nodes=3 --ntasks=3",
        "-H",
        "10.77.0.1",
        "-p",
        &port,
        "-t",
        "sleep 0.2; echo {} $(hostname)",
    ]);
    cmd.env("SLURM_CONF", conf)
        .env("HYPERSHELL_LOGGING_LEVEL", "warning");
    let input: String = (1..=60).map(|i| format!("{i}\n")).collect();
    let out = run_with_input(cmd, &input, Duration::from_secs(90));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 60, "{text}");
    let hosts = hosts_in(&text);
    let slurm_nodes = BTreeSet::from(["h1".to_string(), "h2".into(), "h3".into()]);
    assert!(
        hosts.is_subset(&slurm_nodes) && hosts.len() >= 2,
        "{hosts:?}"
    );
}

/// `autoscale.launcher` is the command prefix autoscaled engines start through: here `env`,
/// which gives the engine a variable it exports to its task.
#[test]
fn autoscaled_engines_start_through_the_configured_launcher() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.path("site")).unwrap();
    s.write(
        "site/config.toml",
        "[autoscale]\nlauncher = \"env HYPERSHELL_EXPORT_VIA=prefix\"\n",
    );
    let out = run_with_input(
        s.hs(&[
            "cluster",
            "--no-db",
            "-A",
            "fixed",
            "-I",
            "1",
            "-T",
            "1",
            "-p",
            &free_ports().to_string(),
        ]),
        "echo \"via $VIA\"\n",
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "via prefix\n");
}

#[test]
fn autoscaling_grows_from_zero_to_max_and_shrinks_back_to_zero() {
    let s = Scratch::new();
    // -T 1.7 marks this test's engines among other processes on the machine.
    let mut child = s
        .hs(&[
            "cluster",
            "--no-db",
            "-A",
            "dynamic",
            "-P",
            "0.5",
            "-I",
            "0",
            "-Y",
            "3",
            "-T",
            "1.7",
            "-p",
            &free_ports().to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hs");
    let mut stdin = child.stdin.take().unwrap();
    let engines = || processes_with("-T 1.7 --reconnect-limit").len();
    assert_eq!(engines(), 0);
    for _ in 0..30 {
        writeln!(stdin, "sleep 0.4").unwrap();
    }
    stdin.flush().unwrap();
    let mut most = 0;
    let grew = wait_until(Duration::from_secs(20), || {
        most = most.max(engines());
        most == 3
    });
    assert!(grew, "never reached 3 engines (most {most})");
    assert!(
        wait_until(Duration::from_secs(30), || engines() == 0),
        "engines did not leave after the work was done"
    );
    drop(stdin);
    let out = wait_output(child, Duration::from_secs(20));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("30 done, 30 succeeded"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn ssh_group_from_config_forwards_hypershell_variables_and_runs_the_remote_exe() {
    let _hold = hold_netns_hosts(false);
    let Some(cfg) = ssh_config() else { return };
    let s = Scratch::new();
    std::fs::create_dir_all(s.path("site")).unwrap();
    s.write("site/config.toml", "[ssh.nodelist]\npair = \"h[1-2]\"\n");
    // The program engines run on the remote hosts: it leaves a mark per host, then is hs.
    let mark = s.path("ran-on");
    let wrapper = s.write(
        "hs-remote",
        &format!(
            "#!/bin/sh\ntouch {}-$(hostname)\nexec {} \"$@\"\n",
            mark.display(),
            hs_bin().display()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_ports().to_string();
    let ssh_args = format!("-F {cfg}");
    let mut cmd = s.hs(&[
        "cluster",
        "--no-db",
        "--ssh-group",
        "pair",
        "--ssh-args",
        &ssh_args,
        "-E",
        "--remote-exe",
        wrapper.to_str().unwrap(),
        "-H",
        "10.77.0.1",
        "-p",
        &port,
        "-t",
        "sleep 0.1; echo {} $(hostname) $GREETING",
    ]);
    // -E sends HYPERSHELL_* along; an engine exports HYPERSHELL_EXPORT_X to its tasks as X.
    cmd.env("HYPERSHELL_EXPORT_GREETING", "hello-remote")
        .env("HYPERSHELL_LOGGING_LEVEL", "warning");
    let input: String = (1..=20).map(|i| format!("{i}\n")).collect();
    let out = run_with_input(cmd, &input, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 20, "{text}");
    assert!(text.lines().all(|l| l.ends_with(" hello-remote")), "{text}");
    let pair = BTreeSet::from(["h1".to_string(), "h2".into()]);
    assert!(hosts_in(&text).is_subset(&pair), "{text}");
    for host in ["h1", "h2"] {
        let ran = s.path(&format!("ran-on-{host}"));
        assert!(ran.exists(), "--remote-exe did not run on {host}");
    }
    assert!(!s.path("ran-on-h3").exists(), "h3 is not in the group");
}

#[test]
fn stream_jobs_run_on_the_namespace_host_they_name() {
    let _hold = hold_netns_hosts(false);
    let Some(cfg) = ssh_config() else { return };
    let s = Scratch::new();
    let lan = StartedProfile::start(
        &s,
        "lan",
        &["--launcher", "ssh", "--hosts", "h[1-3]", "-H", "10.77.0.1"],
        // The namespace hosts' sshd needs its own client configuration: `ssh.config`.
        &[
            ("[server]\n", "[server]\nhostwait = 2\n".into()),
            ("# config = \"\"", format!("config = \"{cfg}\"")),
        ],
        None,
        &[],
    );
    // h2 by its short name and by a name with a domain; then a host nobody runs on.
    let mut jobs: Vec<String> = (0..8)
        .map(|i| format!(r#"{{"cmd":"hostname","host":["h2"],"id":{i}}}"#))
        .collect();
    jobs.push(r#"{"cmd":"hostname","host":["H2.cluster.example"],"id":8}"#.into());
    jobs.push(r#"{"cmd":"hostname","host":["h9"],"id":9}"#.into());
    let out = run_with_input(
        s.hs(&["stream", "--profile", "lan", "--keep-order"]),
        &(jobs.join("\n") + "\n"),
        Duration::from_secs(60),
    );
    drop(lan);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rs = json_lines(&out);
    assert_eq!(rs.len(), 10, "{}", stdout(&out));
    for r in &rs[..9] {
        assert_eq!(r["result"]["status"], "ok", "{r}");
        assert_eq!(r["result"]["host"], "h2", "{r}");
    }
    assert_eq!(rs[9]["result"]["status"], "error", "{}", rs[9]);
    let error = rs[9]["result"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("h9"), "{error}");
}

/// A profile made with `hs profile create NAME ARGS`, its configuration edited (each pair: text
/// replaced once) and given free ports, its nodefile replaced when `nodefile` says, and started with `hs start --daemonize` — which returns
/// only once every engine its launcher should start has registered. Stopped when dropped, also
/// when the test fails.
struct StartedProfile<'a> {
    s: &'a Scratch,
    name: &'static str,
}

impl<'a> StartedProfile<'a> {
    fn start(
        s: &'a Scratch,
        name: &'static str,
        create: &[&str],
        edits: &[(&str, String)],
        nodefile: Option<&str>,
        envs: &[(String, String)],
    ) -> Self {
        let mut args = vec!["profile", "create", name];
        args.extend(create);
        let out = run_with_input(s.hs(&args), "", Duration::from_secs(10));
        assert!(out.status.success(), "{}", stderr(&out));
        let config = s.path(&format!("site/profile_{name}/config.toml"));
        let mut text = std::fs::read_to_string(&config).unwrap();
        let port = free_ports();
        for (from, to) in std::iter::once(("port = 0", format!("port = {port}")))
            .chain(edits.iter().map(|(from, to)| (*from, to.clone())))
        {
            assert!(
                text.contains(from),
                "{from:?} is not in {}",
                config.display()
            );
            text = text.replacen(from, &to, 1);
        }
        std::fs::write(&config, text).unwrap();
        if let Some(nodes) = nodefile {
            std::fs::write(config.with_file_name("nodefile"), nodes).unwrap();
        }
        let profile = StartedProfile { s, name };
        let mut start = s.hs(&[
            "start",
            "--profile",
            name,
            "--daemonize",
            "--startup-timeout",
            "30",
        ]);
        start.envs(envs.iter().cloned());
        let out = run_with_input(start, "", Duration::from_secs(40));
        assert!(out.status.success(), "{}", stderr(&out));
        profile
    }

    /// `hs stream --profile NAME` of `jobs` (one JSON object each); must succeed.
    fn stream(&self, jobs: &[String]) -> Vec<serde_json::Value> {
        let out = run_with_input(
            self.s.hs(&["stream", "--profile", self.name]),
            &(jobs.join("\n") + "\n"),
            Duration::from_secs(60),
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        json_lines(&out)
    }
}

impl Drop for StartedProfile<'_> {
    fn drop(&mut self) {
        let _ = run_with_input(
            self.s.hs(&["stop", "--profile", self.name]),
            "",
            Duration::from_secs(30),
        );
    }
}

/// The hosts the results of `hostname` jobs name.
fn hosts_answering(results: &[serde_json::Value]) -> BTreeSet<String> {
    results
        .iter()
        .map(|r| r["result"]["host"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_slurm_profile_starts_its_engines_with_srun() {
    let _hold = hold_netns_hosts(false);
    let Some(conf) = infra_var("HS_SLURM_CONF", "Slurm was not started") else {
        return;
    };
    let s = Scratch::new();
    // srun is not told how many tasks: the profile's count (3) is added as --ntasks.
    let profile = StartedProfile::start(
        &s,
        "sl",
        &["--launcher", "slurm", "-n", "3", "-H", "10.77.0.1"],
        &[(
            "# command = \"srun --nodes=3 --ntasks=3\"",
            "command = \"srun --nodes=3\"".into(),
        )],
        None,
        &[("SLURM_CONF".into(), conf)],
    );
    let jobs: Vec<String> = (0..30)
        .map(|i| format!(r#"{{"cmd":"sleep 0.2; hostname","id":{i}}}"#))
        .collect();
    let results = profile.stream(&jobs);
    assert_eq!(results.len(), 30);
    let hosts = hosts_answering(&results);
    let slurm_nodes = BTreeSet::from(["h1".to_string(), "h2".into(), "h3".into()]);
    assert!(
        hosts.is_subset(&slurm_nodes) && hosts.len() >= 2,
        "{hosts:?}"
    );
}

#[test]
fn an_mpi_profile_starts_one_engine_per_rank() {
    let Some(env_file) = infra_var("HS_MPIRUN_ENV", "Open MPI was not checked") else {
        return;
    };
    let s = Scratch::new();
    // Started at all means 3 engines registered (hs start waits for the launcher's count).
    let profile = StartedProfile::start(
        &s,
        "mp",
        &["--launcher", "mpi", "-n", "3"],
        &[],
        Some("localhost slots=3\n"),
        &exports(&env_file),
    );
    let jobs: Vec<String> = (0..12)
        .map(|i| format!(r#"{{"cmd":"sleep 0.2; echo {i}","id":{i}}}"#))
        .collect();
    let results = profile.stream(&jobs);
    assert_eq!(results.len(), 12);
    let engines: BTreeSet<&str> = results
        .iter()
        .filter_map(|r| r["result"]["engine_id"].as_str())
        .collect();
    assert!(engines.len() >= 2, "ranks share the work: {engines:?}");
}
