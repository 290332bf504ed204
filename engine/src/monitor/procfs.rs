//! What `/proc` says about a task's processes: which processes are the task's, and the CPU
//! time and resident memory of each.
//!
//! A process can end at any moment between being listed and being read; one that did is
//! skipped without a word (its time is then simply not counted in that sample).

use std::collections::HashMap;
use std::path::Path;

/// One process, from `/proc/PID/stat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    pub ppid: i32,
    /// Its process group: a task's shell leads one, which its children join.
    pub pgrp: i32,
    /// User plus system time so far, in clock ticks (children it waited for not included, as
    /// they were counted while they ran).
    pub ticks: u64,
    /// When it started, in clock ticks after boot: with the pid, names the process even if the
    /// pid is used again.
    pub start: u64,
    /// Resident set, in pages.
    pub rss_pages: u64,
}

/// Parses the one line of `/proc/PID/stat`. The command name (field 2) is in parentheses and
/// may itself hold spaces and parentheses, so the fields after it are counted from the last
/// `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    // Field 3 (state) is index 0 here.
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let field = |n: usize| rest.get(n - 3).and_then(|f| f.parse::<i64>().ok());
    Some(ProcStat {
        pid,
        ppid: field(4)? as i32,
        pgrp: field(5)? as i32,
        ticks: (field(14)?.max(0) + field(15)?.max(0)) as u64,
        start: field(22)?.max(0) as u64,
        rss_pages: field(24)?.max(0) as u64,
    })
}

/// `pid`'s stat under `proc` (normally `/proc`); `None` when it has ended.
pub fn read_stat(proc: &Path, pid: i32) -> Option<ProcStat> {
    let text = std::fs::read_to_string(proc.join(pid.to_string()).join("stat")).ok()?;
    parse_stat(&text)
}

/// Every process under `proc` that could be read.
pub fn all_processes(proc: &Path) -> Vec<ProcStat> {
    let Ok(entries) = std::fs::read_dir(proc) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| read_stat(proc, pid))
        .collect()
}

/// The pids a cgroup v2 holds (its `cgroup.procs`); `None` when it cannot be read (removed,
/// say, after its slot was killed).
pub fn cgroup_members(dir: &Path) -> Option<Vec<i32>> {
    let text = std::fs::read_to_string(dir.join("cgroup.procs")).ok()?;
    Some(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// The processes of the task whose shell is `leader`, from a listing of all processes: those in
/// its process group, and its descendants (which may have made groups of their own).
pub fn task_tree(all: &[ProcStat], leader: i32) -> Vec<ProcStat> {
    let mut children: HashMap<i32, Vec<usize>> = HashMap::new();
    for (i, p) in all.iter().enumerate() {
        children.entry(p.ppid).or_default().push(i);
    }
    let mut member = vec![false; all.len()];
    let mut todo: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, p)| p.pid == leader || p.pgrp == leader)
        .map(|(i, _)| i)
        .collect();
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut member[i], true) {
            continue;
        }
        if let Some(kids) = children.get(&all[i].pid) {
            todo.extend(kids.iter().copied().filter(|k| !member[*k]));
        }
    }
    all.iter()
        .zip(member)
        .filter_map(|(p, m)| m.then_some(*p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(pid: i32, ppid: i32, pgrp: i32) -> ProcStat {
        ProcStat {
            pid,
            ppid,
            pgrp,
            ticks: 0,
            start: 0,
            rss_pages: 0,
        }
    }

    #[test]
    fn a_stat_line_is_read_past_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (a (b) c) R 1 4242 4242 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 1 0 \
                    987654 10000000 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0";
        let s = parse_stat(line).expect("parsed");
        assert_eq!((s.pid, s.ppid, s.pgrp), (4242, 1, 4242));
        assert_eq!(s.ticks, 300, "utime + stime, not the children's");
        assert_eq!((s.start, s.rss_pages), (987654, 300));
        assert_eq!(parse_stat("4242 (x) R 1"), None, "a cut line is no process");
    }

    #[test]
    fn this_process_is_found_and_a_missing_one_is_none() {
        let proc = Path::new("/proc");
        let me = read_stat(proc, std::process::id() as i32).expect("our own stat");
        assert!(me.rss_pages > 0);
        assert!(all_processes(proc).iter().any(|p| p.pid == me.pid));
        assert_eq!(read_stat(proc, i32::MAX), None);
    }

    #[test]
    fn a_tree_is_the_group_and_every_descendant_of_its_leader() {
        let all = [
            stat(1, 0, 1),
            stat(10, 1, 10),  // the task's shell
            stat(11, 10, 10), // its child, same group
            stat(12, 10, 12), // a child that made its own group
            stat(13, 12, 12), // and its child
            stat(14, 1, 10),  // reparented, still in the group
            stat(20, 1, 20),  // another task
            stat(21, 20, 20),
        ];
        let mut pids: Vec<i32> = task_tree(&all, 10).iter().map(|p| p.pid).collect();
        pids.sort();
        assert_eq!(pids, [10, 11, 12, 13, 14]);
        assert!(task_tree(&all, 99).is_empty());
    }
}
