//! What this host offers an engine's tasks when the command line does not say: its CPUs, its
//! RAM, and the GPUs it can see.
//!
//! GPUs are found as CUDA and ROCm programs find them: a `CUDA_VISIBLE_DEVICES` (or
//! `ROCR_VISIBLE_DEVICES`) the engine was started with names the devices it may hand out (a
//! batch system sets it for the job); otherwise `nvidia-smi -L` lists the host's. No such
//! variable and no `nvidia-smi` means no GPUs. A probe that fails says so once and gives none,
//! rather than stop an engine that may well have CPU work to do.

use std::process::Command;

/// `--gpus`: a number N (devices `0` to `N-1`), or a comma-separated list of device names
/// (indices or UUIDs, as `CUDA_VISIBLE_DEVICES` takes them; `3,` is the one device `3`). A
/// device named twice is refused: two tasks would be given the same one.
pub fn parse_gpus(text: &str) -> Result<Vec<String>, String> {
    let text = text.trim();
    if !text.contains(',')
        && let Ok(n) = text.parse::<u32>()
    {
        return Ok((0..n).map(|i| i.to_string()).collect());
    }
    let mut names: Vec<String> = Vec::new();
    let list = text.strip_suffix(',').unwrap_or(text);
    for name in list.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(format!("{text:?} has an empty device name"));
        }
        if names.iter().any(|n| n == name) {
            return Err(format!("{text:?} names device {name} twice"));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// The host's CPUs (what `-N 0` also counts).
pub fn cpu_count() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// The host's RAM in bytes, or `None` where it cannot be read (then memory is not limited).
pub fn total_memory() -> Option<u64> {
    // SAFETY: sysconf only reads system constants.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages > 0 && size > 0).then(|| (pages as u64).saturating_mul(size as u64))
}

/// The GPUs this engine may hand out, found as the module documentation says.
pub fn probe_gpus() -> Vec<String> {
    for var in ["CUDA_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"] {
        if let Ok(value) = std::env::var(var) {
            return from_visible_devices(var, &value);
        }
    }
    // Looked for on PATH first: most hosts have none, and a spawn that fails to find it
    // still costs every engine's start a fork.
    let Some(nvidia_smi) = std::env::var_os("PATH").and_then(|p| on_path("nvidia-smi", &p)) else {
        return Vec::new();
    };
    match Command::new(nvidia_smi).arg("-L").output() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            tracing::warn!("no GPUs: nvidia-smi -L could not run: {e}");
            Vec::new()
        }
        Ok(out) if !out.status.success() => {
            let why = String::from_utf8_lossy(&out.stderr);
            tracing::warn!(
                "no GPUs: nvidia-smi -L failed ({}): {}",
                out.status,
                why.lines().next().unwrap_or("").trim()
            );
            Vec::new()
        }
        Ok(out) => from_nvidia_smi(&String::from_utf8_lossy(&out.stdout)),
    }
}

/// The first executable file called `name` in the directories of `path` (a `PATH` value).
fn on_path(name: &str, path: &std::ffi::OsStr) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Devices named by a `*_VISIBLE_DEVICES` variable: empty (or CUDA's `-1`, "none") gives none;
/// a list naming a device twice is not trusted (one warning, none).
fn from_visible_devices(var: &str, value: &str) -> Vec<String> {
    let value = value.trim();
    if value.is_empty() || value == "-1" {
        return Vec::new();
    }
    if !value.contains(',') && value.parse::<u32>().is_ok() {
        // One device index, not a count.
        return vec![value.to_string()];
    }
    match parse_gpus(value) {
        Ok(names) => names,
        Err(e) => {
            tracing::warn!("no GPUs: {var}={e}");
            Vec::new()
        }
    }
}

/// Device indices from `nvidia-smi -L` lines (`GPU 0: NVIDIA A100 (UUID: GPU-…)`).
fn from_nvidia_smi(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter_map(|line| line.strip_prefix("GPU "))
        .filter_map(|rest| rest.split(':').next())
        .filter(|index| index.parse::<u32>().is_ok())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_found_on_path_only_as_an_executable_file() {
        use std::os::unix::fs::PermissionsExt;
        let empty = tempfile::tempdir().unwrap();
        let plain = tempfile::tempdir().unwrap();
        let bin = tempfile::tempdir().unwrap();
        std::fs::write(plain.path().join("nvidia-smi"), "").unwrap();
        let tool = bin.path().join("nvidia-smi");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([empty.path(), plain.path(), bin.path()]).unwrap();
        assert_eq!(on_path("nvidia-smi", &path), Some(tool));
        let without = std::env::join_paths([empty.path(), plain.path()]).unwrap();
        assert_eq!(on_path("nvidia-smi", &without), None);
    }

    #[test]
    fn a_number_is_a_count_and_a_list_names_devices() {
        assert_eq!(parse_gpus("2"), Ok(vec!["0".to_string(), "1".to_string()]));
        assert_eq!(parse_gpus("0"), Ok(vec![]));
        assert_eq!(
            parse_gpus("1,3"),
            Ok(vec!["1".to_string(), "3".to_string()])
        );
        assert_eq!(parse_gpus("GPU-ab"), Ok(vec!["GPU-ab".to_string()]));
        assert_eq!(parse_gpus("3,"), Ok(vec!["3".to_string()]));
    }

    #[test]
    fn a_device_named_twice_or_an_empty_name_is_refused() {
        assert_eq!(
            parse_gpus("0,1,0"),
            Err("\"0,1,0\" names device 0 twice".to_string())
        );
        assert!(parse_gpus("0,,1").is_err());
    }

    #[test]
    fn visible_devices_name_devices_and_empty_means_none() {
        assert_eq!(from_visible_devices("V", "3"), ["3"]);
        assert_eq!(from_visible_devices("V", "2,5"), ["2", "5"]);
        assert!(from_visible_devices("V", "").is_empty());
        assert!(from_visible_devices("V", "-1").is_empty());
        assert!(from_visible_devices("V", "1,1").is_empty());
    }

    #[test]
    fn nvidia_smi_lines_give_indices() {
        let listing = "GPU 0: NVIDIA A100 (UUID: GPU-1)\nGPU 1: NVIDIA A100 (UUID: GPU-2)\n\
                       No devices were found\n";
        assert_eq!(from_nvidia_smi(listing), ["0", "1"]);
    }

    #[test]
    fn the_host_has_cpus_and_memory() {
        assert!(cpu_count() >= 1);
        assert!(total_memory().is_some_and(|m| m > 0));
    }
}
