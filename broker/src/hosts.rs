//! Host names as host affinity compares them.
//!
//! Users write host names the way their site spells them: `h1`, `h1.cluster`, `H1`. Engines
//! register with whatever their machine calls itself (by default the short name). A task's
//! entry and an engine match when they are equal or when their short names (before the first
//! '.') are equal, ignoring case; equal names always have equal short names, so the short name
//! lower-cased is the whole comparison, and it serves as the key that waiting tasks are filed
//! under.

/// The key a host name is filed and compared under: its short name, lower-cased.
pub fn host_key(name: &str) -> String {
    let short = name.split('.').next().unwrap_or(name);
    short.to_ascii_lowercase()
}

/// Keys of `hosts`, each once, in the order given.
pub fn keys(hosts: &[String]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::with_capacity(hosts.len());
    for h in hosts {
        let key = host_key(h);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    /// May a task that names `hosts` run on an engine registered as `engine_host`? The rule
    /// dispatch applies by filing tasks under [`host_key`] and serving each engine its own key;
    /// a task that names no hosts waits in the open queue, for any engine.
    fn matches(hosts: &[String], engine_host: &str) -> bool {
        if hosts.is_empty() {
            return true;
        }
        let engine = host_key(engine_host);
        hosts.iter().any(|h| host_key(h) == engine)
    }

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn short_and_fully_qualified_names_match_both_ways() {
        assert!(matches(&list(&["h1"]), "h1"));
        assert!(matches(&list(&["h1.cluster"]), "h1"));
        assert!(matches(&list(&["h1"]), "h1.cluster"));
        assert!(matches(&list(&["h1.cluster"]), "h1.cluster"));
        assert!(matches(&list(&["h1.cluster.example.org"]), "h1.cluster"));
    }

    #[test]
    fn case_does_not_matter() {
        assert!(matches(&list(&["H1"]), "h1"));
        assert!(matches(&list(&["h1.Cluster"]), "H1"));
        assert!(matches(&list(&["gpu-NODE"]), "GPU-node.lan"));
    }

    #[test]
    fn other_hosts_do_not_match() {
        assert!(!matches(&list(&["h1"]), "h2"));
        assert!(!matches(&list(&["h1"]), "h10"));
        assert!(!matches(&list(&["h10.cluster"]), "h1.cluster"));
        assert!(!matches(&list(&["cluster"]), "h1.cluster"));
    }

    #[test]
    fn any_entry_may_match_and_no_entry_means_anywhere() {
        assert!(matches(&list(&["h9", "h2.lan"]), "h2"));
        assert!(matches(&[], "anything"));
    }

    #[test]
    fn keys_are_short_lower_case_and_unique() {
        assert_eq!(keys(&list(&["H1.lan", "h1", "h2"])), ["h1", "h2"]);
    }
}
