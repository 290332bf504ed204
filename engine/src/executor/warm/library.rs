//! The slot shells' builtin, built from slot_builtin.c by build.rs and embedded in hs: written
//! once per executor to an anonymous memory file, which each slot shell loads through
//! `/proc/self/fd/1` (the file is its stdout until the builtin has loaded).

use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::FromRawFd;

/// The shared object's bytes.
const BUILTIN: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hs_warm.so"));

/// The builtin in a memfd.
#[derive(Debug)]
pub(super) struct Library {
    file: File,
}

impl Library {
    pub(super) fn create() -> io::Result<Self> {
        // SAFETY: a constant NUL-terminated name; the result is checked before use.
        let fd = unsafe { libc::memfd_create(c"hs-warm-builtin".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a descriptor just returned to us and owned by nothing else.
        let mut file = unsafe { File::from_raw_fd(fd) };
        file.write_all(BUILTIN)?;
        Ok(Library { file })
    }

    /// A descriptor of the file, for a slot shell's stdout.
    pub(super) fn descriptor(&self) -> io::Result<File> {
        self.file.try_clone()
    }
}
