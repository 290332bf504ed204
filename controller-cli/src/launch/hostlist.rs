//! Slurm-style host lists: `a[00-04].x,b[1,3]`, `node[1-2]-ib[0-1]`.
//!
//! Commas outside brackets separate entries; every `[…]` group in an entry expands (several
//! groups give every combination, in order); a group holds numbers and inclusive ranges `n-m`
//! (a reversed range counts down); a start written with a leading zero pads every number of that
//! range to its width. A list that would name more than [`MAX_HOSTS`] hosts is refused.

/// Most hosts one list may name: a typo like `n[1-99999999]` must not exhaust memory.
pub const MAX_HOSTS: usize = 100_000;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("bad host list {list:?}: {reason}")]
pub struct HostListError {
    pub list: String,
    pub reason: String,
}

/// Expand `list` into host names, keeping their order and dropping repeats.
pub fn expand(list: &str) -> Result<Vec<String>, HostListError> {
    let fail = |reason: String| HostListError {
        list: list.to_string(),
        reason,
    };
    let mut hosts: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for entry in split_entries(list).map_err(fail)? {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        for host in expand_entry(entry).map_err(fail)? {
            if seen.insert(host.clone()) {
                hosts.push(host);
            }
            if hosts.len() > MAX_HOSTS {
                return Err(fail(format!("more than {MAX_HOSTS} hosts")));
            }
        }
    }
    if hosts.is_empty() {
        return Err(fail("no host names in it".into()));
    }
    Ok(hosts)
}

/// Split at commas that are not inside brackets.
fn split_entries(list: &str) -> Result<Vec<&str>, String> {
    let mut entries = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in list.char_indices() {
        match c {
            '[' if depth > 0 => return Err("brackets cannot nest".into()),
            '[' => depth = 1,
            ']' if depth == 0 => return Err(format!("']' without '[' at character {}", i + 1)),
            ']' => depth = 0,
            ',' if depth == 0 => {
                entries.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err("'[' is never closed".into());
    }
    entries.push(&list[start..]);
    Ok(entries)
}

/// Every name one entry stands for.
fn expand_entry(entry: &str) -> Result<Vec<String>, String> {
    let names = expand_pattern(entry)?;
    for name in &names {
        check_name(name)?;
    }
    Ok(names)
}

/// The text before the first group, each number of the group, and every expansion of the rest.
fn expand_pattern(text: &str) -> Result<Vec<String>, String> {
    let Some(open) = text.find('[') else {
        return Ok(vec![text.to_string()]);
    };
    let close = open + text[open..].find(']').ok_or("'[' is never closed")?;
    let numbers = expand_group(&text[open + 1..close])?;
    let tails = expand_pattern(&text[close + 1..])?;
    let prefix = &text[..open];
    let mut names = Vec::with_capacity(numbers.len().saturating_mul(tails.len()).min(MAX_HOSTS));
    for n in &numbers {
        for t in &tails {
            names.push(format!("{prefix}{n}{t}"));
            if names.len() > MAX_HOSTS {
                return Err(format!("more than {MAX_HOSTS} hosts"));
            }
        }
    }
    Ok(names)
}

/// `00-04,08` → `00 01 02 03 04 08`.
fn expand_group(group: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in group.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let parse = |s: &str| {
            s.parse::<u64>()
                .ok()
                .filter(|_| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
                .ok_or_else(|| format!("{part:?} in [{group}] is not a number or a range n-m"))
        };
        let (from, to) = (parse(a)?, parse(b)?);
        let width = if a.len() > 1 && a.starts_with('0') {
            a.len()
        } else {
            0
        };
        // Counted before anything is made: `[0-18446744073709551615]` is one u64 too many.
        let count = from.abs_diff(to).saturating_add(1);
        if count.saturating_add(out.len() as u64) > MAX_HOSTS as u64 {
            return Err(format!(
                "[{group}] names more than {MAX_HOSTS} hosts, the most one list may name"
            ));
        }
        let numbers: Box<dyn Iterator<Item = u64>> = if from <= to {
            Box::new(from..=to)
        } else {
            Box::new((to..=from).rev())
        };
        out.extend(numbers.map(|n| format!("{n:0width$}")));
    }
    Ok(out)
}

/// Host names: letters, digits, `.`, `-`, `_` (and `user@` in front, as ssh takes it), not
/// starting with `-` (ssh, mpirun and the like would take it for an option: `-oProxyCommand=…`
/// runs a command). No whitespace and no shell character can get through, so a name is safe on
/// any command line. The one rule for host lists and nodefiles alike.
pub fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && !name.contains("@-")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
}

fn check_name(name: &str) -> Result<(), String> {
    if is_host_name(name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a host name (letters, digits, '.', '-', '_', not starting with '-')"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(list: &str) -> Vec<String> {
        expand(list).unwrap()
    }

    #[test]
    fn plain_names_and_comma_lists() {
        assert_eq!(hosts("h1"), ["h1"]);
        assert_eq!(hosts("h1,h2, h3"), ["h1", "h2", "h3"]);
        assert_eq!(hosts("h1,h1"), ["h1"]);
    }

    #[test]
    fn ranges_with_zero_padding() {
        assert_eq!(
            hosts("a[00-04].x"),
            ["a00.x", "a01.x", "a02.x", "a03.x", "a04.x"]
        );
        assert_eq!(hosts("h[1-3]"), ["h1", "h2", "h3"]);
        assert_eq!(hosts("n[8-10]"), ["n8", "n9", "n10"]);
        assert_eq!(hosts("n[098-100]"), ["n098", "n099", "n100"]);
        assert_eq!(
            hosts("a[00-01,08].x,b[02,05].y"),
            ["a00.x", "a01.x", "a08.x", "b02.y", "b05.y"]
        );
    }

    #[test]
    fn reversed_ranges_count_down() {
        assert_eq!(hosts("h[3-1]"), ["h3", "h2", "h1"]);
    }

    #[test]
    fn several_bracket_groups_give_every_combination() {
        assert_eq!(
            hosts("r[1-2]n[01-02]"),
            ["r1n01", "r1n02", "r2n01", "r2n02"]
        );
        assert_eq!(
            hosts("r[1-2]-ib[0-1].x"),
            ["r1-ib0.x", "r1-ib1.x", "r2-ib0.x", "r2-ib1.x"]
        );
    }

    #[test]
    fn malformed_lists_say_what_is_wrong() {
        for bad in [
            "h[1-3",
            "h1-3]",
            "h[a-b]",
            "h[1-]",
            "",
            " , ",
            "h[[1]]",
            "bad host",
            "h[1-999999999]",
            "h[0-18446744073709551615]",
            "h[18446744073709551615-0]",
            "h[0-99999],g[0-99999]",
            "-oProxyCommand=touch",
            "h1,-x",
            "user@-x",
            "h1;reboot",
            "h$(id)",
        ] {
            let e = expand(bad).unwrap_err();
            assert!(!e.reason.is_empty(), "{bad}");
        }
        assert!(
            expand("h[1-3")
                .unwrap_err()
                .to_string()
                .contains("never closed")
        );
        let huge = expand("h[0-18446744073709551615]").unwrap_err().reason;
        assert!(huge.contains("100000"), "{huge}");
        let option = expand("h1,-oProxyCommand=x").unwrap_err().reason;
        assert!(option.contains("\"-oProxyCommand=x\""), "{option}");
    }
}
