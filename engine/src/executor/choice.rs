//! Which executor an engine runs its tasks with (`--executor`, `task.executor`).

use std::sync::Arc;

use super::{Executor, SpawnExecutor, WarmExecutor};

/// The executor strategies an engine can be asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExecutorChoice {
    /// A pre-started bash per slot forks each task ([`WarmExecutor`]); the fresh-exec executor
    /// where this bash cannot be a slot shell.
    #[default]
    Warm,
    /// A fresh `bash -o pipefail -c` per task ([`SpawnExecutor`]).
    Spawn,
}

/// A name that is not one of [`ExecutorChoice::NAMES`].
#[derive(Debug, thiserror::Error)]
#[error("unknown executor {0:?} (expected warm or spawn)")]
pub struct UnknownExecutor(String);

impl ExecutorChoice {
    pub const NAMES: [&'static str; 2] = ["warm", "spawn"];
}

impl std::str::FromStr for ExecutorChoice {
    type Err = UnknownExecutor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "warm" => Ok(ExecutorChoice::Warm),
            "spawn" => Ok(ExecutorChoice::Spawn),
            other => Err(UnknownExecutor(other.to_string())),
        }
    }
}

/// The executor for an engine whose tasks get `exports` on top of this process's environment.
/// A warm executor that cannot start says why in one log line, and the fresh-exec one is used.
pub fn executor_for(choice: ExecutorChoice, exports: &[(String, String)]) -> Arc<dyn Executor> {
    match choice {
        ExecutorChoice::Spawn => Arc::new(SpawnExecutor::with_env(exports)),
        ExecutorChoice::Warm => match WarmExecutor::start(exports) {
            Ok(warm) => Arc::new(warm),
            Err(why) => {
                tracing::info!("warm executor unavailable ({why}); each task starts a fresh bash");
                Arc::new(SpawnExecutor::with_env(exports))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_others_are_refused() {
        for name in ExecutorChoice::NAMES {
            assert!(name.parse::<ExecutorChoice>().is_ok(), "{name}");
        }
        assert_eq!(
            "spawn".parse::<ExecutorChoice>().ok(),
            Some(ExecutorChoice::Spawn)
        );
        let err = "cold".parse::<ExecutorChoice>().expect_err("refused");
        assert!(err.to_string().contains("warm or spawn"), "{err}");
    }
}
