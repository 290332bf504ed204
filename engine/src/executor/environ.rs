//! A task's environment as the `envp` array execve(2) takes, built cheaply.
//!
//! std's `Command` rebuilds the whole environment for every spawn as soon as one variable is
//! set: a map of every inherited variable, then a C string for each. With the dozen `TASK_*`
//! variables every task gets, that was ~20 µs of CPU per task, taken from the cores the tasks
//! run on. Here the inherited environment becomes C strings once, when the executor is made;
//! each task adds only its own variables.

use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;

/// The environment every task inherits (the engine's own, as it was when the executor was made).
#[derive(Debug)]
pub(crate) struct Inherited {
    /// `(NAME, "NAME=value")` for each variable.
    vars: Vec<(Box<[u8]>, CString)>,
}

impl Inherited {
    /// This process's environment with `extra` added (or overriding): what every task of an
    /// engine shares, its `HYPERSHELL_EXPORT_*` exports included.
    pub(crate) fn capture(extra: &[(String, String)]) -> Self {
        let own = std::env::vars_os()
            .filter(|(name, _)| !extra.iter().any(|(n, _)| n.as_bytes() == name.as_bytes()));
        let extra = extra.iter().map(|(n, v)| (n.into(), v.into()));
        let vars = own
            .chain(extra)
            .filter_map(|(name, value): (std::ffi::OsString, std::ffi::OsString)| {
                // Neither the process's own environment nor a validated export holds a NUL or
                // a name with `=`; skip rather than fail if one ever does.
                let entry = entry(name.as_bytes(), value.as_bytes())?;
                Some((name.as_bytes().into(), entry))
            })
            .collect();
        Inherited { vars }
    }

    /// The inherited variables not in `set`, as (name, value), then `set` itself: for std's
    /// `Command` (the fallback where hs may not clone on its own), which applies repeated names
    /// in order.
    pub(crate) fn pairs_with<'s>(
        &'s self,
        set: &'s [(String, String)],
    ) -> impl Iterator<Item = (&'s OsStr, &'s OsStr)> {
        self.vars
            .iter()
            .filter(|(name, _)| !set.iter().any(|(n, _)| n.as_bytes() == &name[..]))
            .map(|(name, entry)| {
                // An entry is NAME=value.
                let value = &entry.as_bytes()[name.len() + 1..];
                (OsStr::from_bytes(name), OsStr::from_bytes(value))
            })
            .chain(set.iter().map(|(n, v)| (OsStr::new(n), OsStr::new(v))))
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
            let entry = entry(name.as_bytes(), value.as_bytes())
                .ok_or_else(|| format!("environment variable {name} holds a NUL byte"))?;
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

/// `NAME=value` as one C string (`None` if a NUL is in the way), allocated once.
fn entry(name: &[u8], value: &[u8]) -> Option<CString> {
    if name.is_empty() || name.contains(&b'=') {
        return None;
    }
    let mut bytes = Vec::with_capacity(name.len() + value.len() + 2);
    bytes.extend_from_slice(name);
    bytes.push(b'=');
    bytes.extend_from_slice(value);
    CString::new(bytes).ok()
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

    /// The entries as text, for tests: what the pointers point at.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> Vec<String> {
        self.pointers
            .iter()
            .take_while(|p| !p.is_null())
            // SAFETY: every non-null pointer points into a CString owned by `self` or by the
            // `Inherited` it borrows, both alive for this borrow.
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
        let inherited = Inherited::capture(&[("HS_EXTRA".into(), "x".into())]);
        let envp = inherited.with(&[]).expect("valid");
        let entries = envp.entries();
        let path = std::env::var("PATH").expect("tests run with a PATH");
        assert_eq!(find(&entries, "PATH"), [path.as_str()]);
        assert_eq!(find(&entries, "HS_EXTRA"), ["x"]);
    }

    #[test]
    fn pairs_for_std_leave_out_what_the_task_sets() {
        let base = inherited(&[("A", "1"), ("B", "2=two")]);
        let own = set(&[("A", "x")]);
        let pairs: Vec<(String, String)> = base
            .pairs_with(&own)
            .map(|(n, v)| (n.to_string_lossy().into(), v.to_string_lossy().into()))
            .collect();
        assert_eq!(pairs, set(&[("B", "2=two"), ("A", "x")]));
    }
}
