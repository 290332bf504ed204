//! What a task asks for and what an engine offers: cores, bytes of memory and GPUs.
//!
//! Both the controller and the engine need the same arithmetic: the controller leases a task
//! only to an engine whose free resources fit it, and the engine starts a queued task only when
//! it fits what its running tasks leave free. A task that asks for nothing (HyperShell's NULL
//! `cores` and `memory`) fits anywhere, so runs that never mention resources schedule exactly
//! as they did before there were any.

use serde::{Deserialize, Serialize};

use crate::task::Task;

/// What one task asks for; zero in a dimension it says nothing about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub cores: u64,
    /// Bytes.
    pub memory: u64,
    pub gpus: u64,
}

impl Request {
    /// `task`'s request: its `cores` and `memory` columns and its job's `gpus` (negative values,
    /// which nothing hs writes but SQL could, count as none).
    pub fn of(task: &Task) -> Request {
        let positive = |v: Option<i64>| v.map_or(0, |v| v.max(0) as u64);
        Request {
            cores: positive(task.cores),
            memory: positive(task.memory),
            gpus: u64::from(task.gpus()),
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Request::default()
    }

    /// Count `other` in (a task leased or started).
    pub fn add(&mut self, other: &Request) {
        self.cores = self.cores.saturating_add(other.cores);
        self.memory = self.memory.saturating_add(other.memory);
        self.gpus = self.gpus.saturating_add(other.gpus);
    }

    /// Count `other` out (a task released or finished).
    pub fn remove(&mut self, other: &Request) {
        self.cores = self.cores.saturating_sub(other.cores);
        self.memory = self.memory.saturating_sub(other.memory);
        self.gpus = self.gpus.saturating_sub(other.gpus);
    }
}

/// What an engine offers its tasks, as it says in its registration. `None` is "not limited":
/// an engine of an older hs declares nothing, and one embedded without limits fits any request
/// of cores and memory. GPUs are named devices, so an engine that names none has none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<u64>,
    /// Bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// Device names as `CUDA_VISIBLE_DEVICES` takes them (indices or UUIDs), each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<String>,
}

impl Resources {
    /// Whether `request` fits beside `used`.
    pub fn fits(&self, used: &Request, request: &Request) -> bool {
        let within = |total: Option<u64>, used: u64, asked: u64| {
            asked == 0 || total.is_none_or(|t| used.saturating_add(asked) <= t)
        };
        within(self.cores, used.cores, request.cores)
            && within(self.memory, used.memory, request.memory)
            && within(Some(self.gpus.len() as u64), used.gpus, request.gpus)
    }

    /// Whether `request` fits this engine at all, when it runs nothing else.
    pub fn holds(&self, request: &Request) -> bool {
        self.fits(&Request::default(), request)
    }

    /// Why `request` can never fit here, in a few words (`8 cores > 4`), or `None` if it can.
    pub fn shortfall(&self, request: &Request) -> Option<String> {
        let mut over = Vec::new();
        if let Some(cores) = self.cores.filter(|c| request.cores > *c) {
            over.push(format!("{} cores > {cores}", request.cores));
        }
        if let Some(memory) = self.memory.filter(|m| request.memory > *m) {
            over.push(format!("{} B of memory > {memory}", request.memory));
        }
        if request.gpus > self.gpus.len() as u64 {
            over.push(format!("{} GPUs > {}", request.gpus, self.gpus.len()));
        }
        (!over.is_empty()).then(|| over.join(", "))
    }

    /// How far `request` is from fitting beside `used`, summed over the dimensions as fractions
    /// of each total: 0 when it fits. Lets the controller pick the engine that will fit a
    /// waiting task soonest.
    pub fn distance(&self, used: &Request, request: &Request) -> f64 {
        let part = |total: Option<u64>, used: u64, asked: u64| match total {
            Some(t) if t > 0 && asked > 0 => {
                used.saturating_add(asked).saturating_sub(t) as f64 / t as f64
            }
            _ => 0.0,
        };
        part(self.cores, used.cores, request.cores)
            + part(self.memory, used.memory, request.memory)
            + part(Some(self.gpus.len() as u64), used.gpus, request.gpus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(cores: u64, memory: u64, gpus: u64) -> Request {
        Request {
            cores,
            memory,
            gpus,
        }
    }

    fn engine(cores: u64, memory: u64, gpus: &[&str]) -> Resources {
        Resources {
            cores: Some(cores),
            memory: Some(memory),
            gpus: gpus.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn a_request_fits_what_is_left_in_every_dimension() {
        let e = engine(8, 100, &["0", "1"]);
        assert!(e.fits(&req(4, 50, 1), &req(4, 50, 1)));
        assert!(!e.fits(&req(5, 0, 0), &req(4, 0, 0)), "cores");
        assert!(!e.fits(&req(0, 60, 0), &req(0, 50, 0)), "memory");
        assert!(!e.fits(&req(0, 0, 2), &req(0, 0, 1)), "gpus");
        assert!(
            e.fits(&req(8, 100, 2), &Request::default()),
            "nothing asked"
        );
    }

    #[test]
    fn an_engine_that_declares_nothing_has_any_cores_and_memory_but_no_gpus() {
        let old = Resources::default();
        assert!(old.holds(&req(1000, 1 << 40, 0)));
        assert!(!old.holds(&req(0, 0, 1)));
        assert_eq!(old.shortfall(&req(1, 1, 2)).as_deref(), Some("2 GPUs > 0"));
    }

    #[test]
    fn the_shortfall_names_every_dimension_that_is_too_small() {
        let e = engine(4, 1024, &[]);
        assert_eq!(e.shortfall(&req(4, 1024, 0)), None);
        assert_eq!(
            e.shortfall(&req(8, 2048, 1)).as_deref(),
            Some("8 cores > 4, 2048 B of memory > 1024, 1 GPUs > 0")
        );
    }

    #[test]
    fn the_distance_is_zero_when_it_fits_and_grows_with_what_must_be_freed() {
        let e = engine(16, 100, &[]);
        assert_eq!(e.distance(&req(8, 0, 0), &req(8, 0, 0)), 0.0);
        assert!(
            e.distance(&req(12, 0, 0), &req(8, 0, 0)) < e.distance(&req(14, 0, 0), &req(8, 0, 0))
        );
    }

    #[test]
    fn requests_add_and_remove_without_wrapping() {
        let mut used = req(2, 10, 1);
        used.add(&req(1, 5, 0));
        assert_eq!(used, req(3, 15, 1));
        used.remove(&req(5, 5, 5));
        assert_eq!(used, req(0, 10, 0));
    }
}
