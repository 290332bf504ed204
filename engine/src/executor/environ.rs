//! A task's environment as the `envp` array execve(2) takes, built cheaply.
//!
//! std's `Command` rebuilds the whole environment for every spawn as soon as one variable is
//! set: a map of every inherited variable, then a C string for each. With the dozen `TASK_*`
//! variables every task gets, that was ~20 µs of CPU per task, taken from the cores the tasks
//! run on. Here the inherited environment becomes C strings once, when the executor is made;
//! each task adds only its own variables.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

/// The environment every task inherits (the engine's own, as it was when the executor was made).
#[derive(Debug)]
pub(crate) struct Inherited {
    /// `(NAME, "NAME=value")` for each variable.
    vars: Vec<(Box<[u8]>, CString)>,
}

impl Inherited {
    pub(crate) fn capture() -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(name, value)| {
                let name = name.as_bytes();
                let mut entry = Vec::with_capacity(name.len() + 1 + value.len());
                entry.extend_from_slice(name);
                entry.push(b'=');
                entry.extend_from_slice(value.as_bytes());
                // The process's own environment never holds a NUL; skip rather than fail.
                let entry = CString::new(entry).ok()?;
                Some((name.into(), entry))
            })
            .collect();
        Inherited { vars }
    }

    /// The inherited variables with `set` added or overriding them. A name given twice in `set`
    /// takes its last value, as with repeated `Command::env` calls.
    pub(crate) fn with(&self, set: &[(String, String)]) -> Result<Envp<'_>, String> {
        let mut own = Vec::with_capacity(set.len());
        for (i, (name, value)) in set.iter().enumerate() {
            if set[i + 1..].iter().any(|(later, _)| later == name) {
                continue;
            }
            if name.is_empty() || name.contains(['=', '\0']) {
                return Err(format!("invalid environment variable name {name:?}"));
            }
            let entry = CString::new(format!("{name}={value}"))
                .map_err(|_| format!("environment variable {name} holds a NUL byte"))?;
            own.push(entry);
        }
        let mut pointers = Vec::with_capacity(self.vars.len() + own.len() + 1);
        pointers.extend(
            self.vars
                .iter()
                .filter(|(name, _)| !set.iter().any(|(n, _)| n.as_bytes() == &name[..]))
                .map(|(_, entry)| entry.as_ptr()),
        );
        pointers.extend(own.iter().map(|entry| entry.as_ptr()));
        pointers.push(std::ptr::null());
        Ok(Envp {
            _own: own,
            pointers,
            _inherited: std::marker::PhantomData,
        })
    }
}

/// A NULL-terminated array of `NAME=value` pointers into its own strings and those of the
/// [`Inherited`] it borrows.
pub(crate) struct Envp<'a> {
    _own: Vec<CString>,
    pointers: Vec<*const libc::c_char>,
    _inherited: std::marker::PhantomData<&'a Inherited>,
}

impl Envp<'_> {
    pub(crate) fn as_ptr(&self) -> *const *const libc::c_char {
        self.pointers.as_ptr()
    }

    /// The entries, for tests.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> Vec<String> {
        self.pointers
            .iter()
            .take_while(|p| !p.is_null())
            // SAFETY: every non-null pointer points into a CString owned by `self` or by the
            // `Inherited` it was made from, both alive for this borrow.
            .map(|&p| {
                unsafe { std::ffi::CStr::from_ptr(p) }
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(entries: &'a [String], name: &str) -> Vec<&'a str> {
        entries
            .iter()
            .filter_map(|e| e.strip_prefix(name)?.strip_prefix('='))
            .collect()
    }

    fn inherited(vars: &[(&str, &str)]) -> Inherited {
        Inherited {
            vars: vars
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_bytes().into(),
                        CString::new(format!("{n}={v}")).expect("no NUL"),
                    )
                })
                .collect(),
        }
    }

    fn set(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn set_variables_override_inherited_ones_and_the_last_wins() {
        let base = inherited(&[("PATH", "/bin"), ("HOME", "/root"), ("TASK_ID", "stale")]);
        let envp = base
            .with(&set(&[("TASK_ID", "1"), ("X", "a"), ("X", "b")]))
            .expect("valid");
        let entries = envp.entries();
        assert_eq!(find(&entries, "PATH"), ["/bin"]);
        assert_eq!(find(&entries, "HOME"), ["/root"]);
        assert_eq!(find(&entries, "TASK_ID"), ["1"]);
        assert_eq!(find(&entries, "X"), ["b"]);
        assert_eq!(entries.len(), 4);
    }

    #[test]
    fn a_name_that_is_a_prefix_of_another_does_not_shadow_it() {
        let base = inherited(&[("PATHS", "x")]);
        let envp = base.with(&set(&[("PATH", "/bin")])).expect("valid");
        let entries = envp.entries();
        assert_eq!(find(&entries, "PATHS"), ["x"]);
        assert_eq!(find(&entries, "PATH"), ["/bin"]);
    }

    #[test]
    fn bad_names_and_values_are_refused_with_a_reason() {
        let base = inherited(&[]);
        for bad in [("", "v"), ("A=B", "v"), ("A\0", "v")] {
            let err = base.with(&set(&[bad])).err().expect("refused");
            assert!(err.contains("invalid environment variable name"), "{err}");
        }
        let err = base.with(&set(&[("A", "v\0w")])).err().expect("refused");
        assert!(err.contains("NUL"), "{err}");
    }

    #[test]
    fn capture_takes_the_process_environment() {
        let inherited = Inherited::capture();
        let envp = inherited.with(&[]).expect("valid");
        let path = std::env::var("PATH").unwrap_or_default();
        assert!(envp.entries().contains(&format!("PATH={path}")) || path.is_empty());
    }
}
