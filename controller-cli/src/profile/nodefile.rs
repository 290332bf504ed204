//! Nodefiles: one host per line, `host [slots]` or MPI's `host slots=N`; `#` starts a comment.
//! The same file is given to `mpirun --hostfile`, so hs reads what Open MPI reads.

use std::path::Path;

use crate::exit::{Failure, Status};
use crate::launch::hostlist::is_host_name;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub host: String,
    /// Slots named on the line, if any.
    pub slots: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum NodefileError {
    #[error("cannot read nodefile {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("nodefile {path}, line {line}: {reason}")]
    Line {
        path: String,
        line: usize,
        reason: String,
    },
    #[error("nodefile {path} names no host: add one `host [slots]` line per host")]
    Empty { path: String },
}

/// Every nodefile is one the user named or wrote, so whatever is wrong with it (missing, a bad
/// line, no host) is a usage error: callers write `nodefile::read(path).map_err(Failure::from)?`.
impl From<NodefileError> for Failure {
    fn from(e: NodefileError) -> Failure {
        Failure {
            status: Status::Usage,
            message: e.to_string(),
        }
    }
}

/// The host names of a nodefile, in order (one per line, slots aside).
pub fn hosts(path: &Path) -> Result<Vec<String>, NodefileError> {
    Ok(read(path)?.into_iter().map(|n| n.host).collect())
}

pub fn read(path: &Path) -> Result<Vec<Node>, NodefileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| NodefileError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown)
}

pub fn parse(text: &str, path: &str) -> Result<Vec<Node>, NodefileError> {
    let mut nodes = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fail = |reason: String| NodefileError::Line {
            path: path.to_string(),
            line: i + 1,
            reason,
        };
        let mut words = line.split_whitespace();
        let host = words.next().unwrap_or_default();
        if !is_host_name(host) {
            return Err(fail(format!("{host:?} is not a host name")));
        }
        let slots = match words.next() {
            None => None,
            Some(w) => {
                let n = w.strip_prefix("slots=").unwrap_or(w);
                match n.parse::<u32>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => {
                        return Err(fail(format!(
                            "{w:?} is not a slot count: write `{host} 4` or `{host} slots=4`"
                        )));
                    }
                }
            }
        };
        if let Some(extra) = words.next() {
            return Err(fail(format!(
                "unexpected {extra:?}: a line is `host [slots]`"
            )));
        }
        nodes.push(Node {
            host: host.to_string(),
            slots,
        });
    }
    if nodes.is_empty() {
        return Err(NodefileError::Empty {
            path: path.to_string(),
        });
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_slots_and_comments() {
        let nodes = parse("# cluster\nh1\nh2 4\nh3 slots=2  # gpu\n\n", "nf").unwrap();
        assert_eq!(
            nodes,
            [
                Node {
                    host: "h1".into(),
                    slots: None
                },
                Node {
                    host: "h2".into(),
                    slots: Some(4)
                },
                Node {
                    host: "h3".into(),
                    slots: Some(2)
                },
            ]
        );
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("h1\nh2 many\n", "nf").unwrap_err().to_string();
        assert_eq!(
            e,
            "nodefile nf, line 2: \"many\" is not a slot count: write `h2 4` or `h2 slots=4`"
        );
        assert!(
            parse("h1 2 3\n", "nf")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
        assert!(
            parse("h$x\n", "nf")
                .unwrap_err()
                .to_string()
                .contains("not a host name")
        );
        assert!(matches!(
            parse("# none\n", "nf"),
            Err(NodefileError::Empty { .. })
        ));
        assert!(parse("h1 0\n", "nf").is_err());
    }
}
