//! `--monitor` (samples of each running task's cores and memory) and `-R/--ratelimit` (most
//! task starts per second), end to end. Only lower bounds: a shared machine may run anything
//! slower, never faster.

use std::time::Duration;

use crate::helpers::*;

const LIMIT: Duration = Duration::from_secs(90);

/// Burns a core and holds 60 MiB (written, so resident) for three seconds.
const HEAVY: &str = "python3 -c \"import time; x = b'x' * (60 << 20); t = time.time(); \
                     exec('while time.time() - t < 3: pass')\"";

/// `hs list` of `fields` for every task, one row of plain words per task.
fn rows(s: &Scratch, fields: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["list"];
    args.extend(fields);
    args.extend(["-f", "plain"]);
    let out = s.hs(&args).output().expect("hs list");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn a_monitored_task_gets_samples_peaks_and_a_warning_and_a_short_one_gets_none() {
    let s = Scratch::new();
    let input = format!("{HEAVY} # HYPERSHELL: cores:1 memory:10M\ntrue\n");
    let out = run_with_input(s.hs(&["cluster", "-N", "2", "--monitor"]), &input, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = stderr(&out);
    assert!(
        log.contains("resource limit exceeded: memory"),
        "one warning for 60 MiB against 10M: {log}"
    );
    assert!(!log.contains("accepted but not applied"), "{log}");

    // `args` last: it is several words.
    let table = rows(&s, &["id", "cores_max", "memory_max", "csvpath", "args"]);
    let heavy = table
        .iter()
        .find(|r| r[4] == "python3")
        .expect("the heavy task");
    let (id, cores_max, memory_max, csvpath) = (&heavy[0], &heavy[1], &heavy[2], &heavy[3]);
    let cores: f64 = cores_max.parse().expect("cores_max recorded");
    let memory: f64 = memory_max.parse().expect("memory_max recorded");
    assert!(cores > 0.05, "a busy loop uses a core: {cores}");
    assert!(
        memory >= (60 << 20) as f64,
        "60 MiB were resident: {memory}"
    );
    assert_eq!(
        std::path::Path::new(csvpath),
        s.path("site/lib/task").join(format!("{id}.csv"))
    );

    let perf = s.hs(&["info", id, "--perf"]).output().expect("hs info");
    assert_eq!(perf.status.code(), Some(0), "{}", stderr(&perf));
    let text = stdout(&perf);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("time,cores,memory"));
    let samples: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(!samples.is_empty(), "a 3 s task is sampled: {text}");
    for row in &samples {
        assert_eq!(row.len(), 3, "{row:?}");
        assert!(
            row[1].parse::<f64>().is_ok() && row[2].parse::<u64>().is_ok(),
            "{row:?}"
        );
    }

    let short = table
        .iter()
        .find(|r| r[4] == "true")
        .expect("the short task");
    assert_eq!(&short[1..4], ["null", "null", "null"], "{short:?}");
    let none = s
        .hs(&["info", &short[0], "--perf"])
        .output()
        .expect("hs info");
    assert_ne!(none.status.code(), Some(0));
    assert!(
        stderr(&none).contains("no resource samples"),
        "{}",
        stderr(&none)
    );

    // Gone from this host: the error names the file.
    std::fs::remove_file(csvpath).expect("remove the samples");
    let gone = s.hs(&["info", id, "--perf"]).output().expect("hs info");
    assert_ne!(gone.status.code(), Some(0));
    assert!(
        stderr(&gone).contains(csvpath.as_str()),
        "{}",
        stderr(&gone)
    );
    // Written on another host: one line says where they are.
    let moved = s
        .hs(&["update", id, "client_host", "far-away", "--no-confirm"])
        .output()
        .expect("hs update");
    assert_eq!(moved.status.code(), Some(0), "{}", stderr(&moved));
    let there = s.hs(&["info", id, "--perf"]).output().expect("hs info");
    assert_ne!(there.status.code(), Some(0));
    let said = stderr(&there);
    assert!(
        said.contains("not on this host") && said.contains(&format!("far-away:{csvpath}")),
        "{said}"
    );
}

#[test]
fn without_monitor_nothing_is_sampled() {
    let s = Scratch::new();
    let out = run_with_input(s.hs(&["cluster"]), &format!("{HEAVY}\n"), LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = rows(&s, &["cores_max", "memory_max", "csvpath"]);
    assert_eq!(table, [["null", "null", "null"]]);
    // The task folder exists (the controller marks it as its own for uploads), without samples.
    let csvs = std::fs::read_dir(s.path("site/lib/task"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "csv"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(csvs, 0);
}

/// The span between the first and last of 15 starts of `hs cluster -N 4` given `rate` (extra
/// arguments, e.g. `-R 5`) and `env`.
fn start_span(rate: &[&str], env: &[(&str, &str)]) -> f64 {
    let s = Scratch::new();
    let input: String = (1..=15).map(|i| format!("{i}\n")).collect();
    let mut cmd = s.hs(&["cluster", "-N", "4", "--no-db", "-t", "date +%s.%N"]);
    cmd.args(rate).envs(env.iter().copied());
    let out = run_with_input(cmd, &input, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut starts: Vec<f64> = stdout(&out)
        .lines()
        .map(|l| l.parse().expect("a time"))
        .collect();
    assert_eq!(starts.len(), 15);
    starts.sort_by(f64::total_cmp);
    starts[14] - starts[0]
}

#[test]
fn a_rate_limited_engine_spaces_its_starts() {
    let span = start_span(&["-R", "5"], &[]);
    // 15 starts at most 5 a second: 14 gaps of 0.2 s (HyperShell's executors give 2.4 s).
    assert!(span >= 2.4, "15 tasks at 5/s started within {span:.2} s");
}

#[test]
fn client_ratelimit_in_the_configuration_paces_a_cluster_too() {
    // HyperShell's `hs cluster` reads a key that does not exist (defect D12); hs reads the
    // documented one.
    let span = start_span(&[], &[("HYPERSHELL_CLIENT_RATELIMIT", "5")]);
    assert!(span >= 2.4, "15 tasks at 5/s started within {span:.2} s");
}

#[test]
fn a_rate_must_be_positive() {
    let s = Scratch::new();
    for bad in ["0", "-1", "x", "inf"] {
        let flag = format!("--ratelimit={bad}");
        let out = run_with_input(s.hs(&["cluster", "--no-db", &flag]), "", LIMIT);
        assert_eq!(out.status.code(), Some(2), "{flag}: {}", stderr(&out));
        assert!(stderr(&out).contains("ratelimit"), "{}", stderr(&out));
    }
    let mut cmd = s.hs(&["cluster", "--no-db"]);
    cmd.env("HYPERSHELL_CLIENT_RATELIMIT", "-3");
    let out = run_with_input(cmd, "", LIMIT);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("client.ratelimit"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_engine_joined_by_hand_monitors_and_its_controller_records_the_samples() {
    let s = Scratch::new();
    let port = free_ports().to_string();
    let file = s.write("tasks.txt", &format!("{HEAVY}\n"));
    let server = spawn_piped(s.hs(&["server", file.to_str().unwrap(), "-p", &port]));
    s.wait_for_server(&port);
    let client = wait_output(
        spawn_piped(s.hs(&["client", "-p", &port, "--monitor", "-R", "2"])),
        LIMIT,
    );
    assert_eq!(client.status.code(), Some(0), "{}", stderr(&client));
    let out = wait_output(server, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = rows(&s, &["id", "cores_max", "memory_max", "csvpath"]);
    let [id, cores, memory, csvpath] = table[0].as_slice() else {
        panic!("{table:?}");
    };
    assert!(cores.parse::<f64>().expect("cores_max") > 0.05, "{cores}");
    assert!(
        memory.parse::<f64>().expect("memory_max") >= (60 << 20) as f64,
        "{memory}"
    );
    let text = std::fs::read_to_string(csvpath).expect("the engine's samples file");
    assert!(text.starts_with("time,cores,memory\n"), "{text}");
    assert!(csvpath.ends_with(&format!("{id}.csv")));
}
