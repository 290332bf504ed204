//! A task's environment as the `envp` array execve(2) takes, built cheaply.
//!
//! std's `Command` rebuilds the whole environment for every spawn as soon as one variable is
//! set: a map of every inherited variable, then a C string for each. With the thirty-odd
//! `TASK_*` variables every task gets, that would be a few allocations per variable per task,
//! taken from the cores the tasks run on. Here the inherited environment becomes C strings once,
//! when the executor is made, and each task's own variables are written as `NAME=value` entries
//! into one buffer ([`TaskVars`]) that a slot reuses from task to task: after the first task, a
//! task's environment costs no allocation but its pointer array.

use std::ffi::{CString, OsStr};
use std::io::Write as _;
use std::os::unix::ffi::OsStrExt;

/// One task's own variables, added to (or overriding) what it inherits: `NAME=value\0` entries
/// in one buffer. A name set twice takes its last value, as with repeated `Command::env` calls.
///
/// A bad name (empty, or holding `=` or NUL) or a value holding NUL is not an entry: it is kept
/// as the reason the task cannot start, which [`Inherited::with`] returns.
#[derive(Debug, Default)]
pub struct TaskVars {
    /// The entries, each ending in NUL.
    buf: Vec<u8>,
    entries: Vec<Entry>,
    /// Whether any name does not start with `TASK_`. Only such a name can override an inherited
    /// variable other than a `TASK_*` one, so without one the inherited environment is filtered
    /// by a prefix test instead of a search of every entry.
    others: bool,
    /// Why the variables cannot be passed, for the first bad one.
    invalid: Option<String>,
}

/// Where one entry lies in [`TaskVars::buf`]: `start..end` is `NAME=value\0`.
#[derive(Clone, Copy, Debug)]
struct Entry {
    start: usize,
    name_len: usize,
    end: usize,
}

const TASK_PREFIX: &[u8] = b"TASK_";

static NO_VARS: TaskVars = TaskVars::new();

impl TaskVars {
    pub const fn new() -> Self {
        TaskVars {
            buf: Vec::new(),
            entries: Vec::new(),
            others: false,
            invalid: None,
        }
    }

    /// No variables of its own (a task that only inherits).
    pub fn none() -> &'static TaskVars {
        &NO_VARS
    }

    /// Forget every variable, keeping the buffers for the next task.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.entries.clear();
        self.others = false;
        self.invalid = None;
    }

    /// Set `name` to `value`.
    pub fn set(&mut self, name: &str, value: &str) {
        self.set_with(name, |buf| buf.extend_from_slice(value.as_bytes()));
    }

    /// Set `name` to `value`'s `Display` form.
    pub fn set_display(&mut self, name: &str, value: impl std::fmt::Display) {
        // Writing to a Vec cannot fail.
        self.set_with(name, |buf| {
            let _ = write!(buf, "{value}");
        });
    }

    /// Set `name` to whatever `write` appends to the buffer it is given (formatting straight into
    /// the entry, with no string in between).
    pub fn set_with(&mut self, name: &str, write: impl FnOnce(&mut Vec<u8>)) {
        if name.is_empty() || name.contains(['=', '\0']) {
            self.refuse(|| format!("invalid environment variable name {name:?}"));
            return;
        }
        let start = self.buf.len();
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(b'=');
        let value = self.buf.len();
        write(&mut self.buf);
        if self.buf[value..].contains(&0) {
            self.buf.truncate(start);
            self.refuse(|| format!("environment variable {name} holds a NUL byte"));
            return;
        }
        self.buf.push(0);
        self.others |= !name.as_bytes().starts_with(TASK_PREFIX);
        self.entries.push(Entry {
            start,
            name_len: name.len(),
            end: self.buf.len(),
        });
    }

    /// Whether a variable was refused (the run then fails with the reason, see [`Inherited::with`]).
    pub(super) fn has_invalid(&self) -> bool {
        self.invalid.is_some()
    }

    fn refuse(&mut self, why: impl FnOnce() -> String) {
        if self.invalid.is_none() {
            self.invalid = Some(why());
        }
    }

    fn name(&self, e: Entry) -> &[u8] {
        &self.buf[e.start..e.start + e.name_len]
    }

    /// The entries a later one of the same name does not override, in order.
    fn effective(&self) -> impl Iterator<Item = Entry> + '_ {
        self.entries.iter().enumerate().filter_map(|(i, &e)| {
            let name = self.name(e);
            let overridden = self.entries[i + 1..]
                .iter()
                .any(|&later| later.name_len == e.name_len && self.name(later) == name);
            (!overridden).then_some(e)
        })
    }

    /// Whether these variables replace the inherited variable `name`.
    fn overrides(&self, name: &[u8]) -> bool {
        (self.others || name.starts_with(TASK_PREFIX))
            && self
                .entries
                .iter()
                .any(|&e| e.name_len == name.len() && self.name(e) == name)
    }

    /// (name, value) of each effective entry.
    pub(super) fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.effective()
            .map(|e| (self.name(e), &self.buf[e.start + e.name_len + 1..e.end - 1]))
    }

    /// The value of `name`, for tests.
    #[cfg(test)]
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs()
            .find(|(n, _)| *n == name.as_bytes())
            .map(|(_, v)| std::str::from_utf8(v).expect("UTF-8 in tests"))
    }

    /// The names, in order, for tests.
    #[cfg(test)]
    pub(crate) fn names(&self) -> Vec<&str> {
        self.pairs()
            .map(|(n, _)| std::str::from_utf8(n).expect("UTF-8 in tests"))
            .collect()
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for TaskVars {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut vars = TaskVars::new();
        for (name, value) in iter {
            vars.set(name.as_ref(), value.as_ref());
        }
        vars
    }
}

/// Whether the variable `name` holds one of hs's own secrets, which no task inherits: a key
/// (`HYPERSHELL_SERVER_AUTH`, `HYPERSHELL_CLIENT_AUTH`: any `HYPERSHELL_` name holding `AUTH`)
/// or the database's password (`HYPERSHELL_DATABASE_PASSWORD`, and `HYPERSHELL_DATABASE_URL`,
/// which may carry one). A task is someone's command line, perhaps another user's
/// (`hs submit`), and needs neither to run. Names are compared ignoring case.
pub fn is_secret_var(name: &[u8]) -> bool {
    let upper = name.to_ascii_uppercase();
    let Some(rest) = upper.strip_prefix(b"HYPERSHELL_") else {
        return false;
    };
    rest.windows(4).any(|w| w == b"AUTH")
        || rest.starts_with(b"DATABASE_PASSWORD")
        || rest.starts_with(b"DATABASE_URL")
}

/// The environment every task inherits (the engine's own, as it was when the executor was made,
/// without [secrets](is_secret_var)).
#[derive(Debug)]
pub(crate) struct Inherited {
    /// `(NAME, "NAME=value")` for each variable.
    vars: Vec<(Box<[u8]>, CString)>,
}

impl Inherited {
    /// This process's environment without its secrets, with `extra` added (or overriding): what
    /// every task of an engine shares, its `HYPERSHELL_EXPORT_*` exports included.
    pub(crate) fn capture(extra: &[(String, String)]) -> Self {
        let own = std::env::vars_os()
            .filter(|(name, _)| !is_secret_var(name.as_bytes()))
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

    /// The names of the inherited variables.
    pub(super) fn names(&self) -> impl Iterator<Item = &[u8]> {
        self.vars.iter().map(|(name, _)| &name[..])
    }

    /// The inherited variables not in `set`, as (name, value), then `set` itself: for std's
    /// `Command` (the fallback where hs may not clone on its own).
    pub(crate) fn pairs_with<'s>(
        &'s self,
        set: &'s TaskVars,
    ) -> impl Iterator<Item = (&'s OsStr, &'s OsStr)> {
        self.vars
            .iter()
            .filter(|(name, _)| !set.overrides(name))
            .map(|(name, entry)| {
                // An entry is NAME=value.
                let value = &entry.as_bytes()[name.len() + 1..];
                (OsStr::from_bytes(name), OsStr::from_bytes(value))
            })
            .chain(
                set.pairs()
                    .map(|(n, v)| (OsStr::from_bytes(n), OsStr::from_bytes(v))),
            )
    }

    /// The inherited variables with `set` added or overriding them; the reason `set` cannot be
    /// passed if it holds a bad name or value.
    pub(crate) fn with<'a>(&'a self, set: &'a TaskVars) -> Result<Envp<'a>, String> {
        if let Some(why) = &set.invalid {
            return Err(why.clone());
        }
        let mut pointers = Vec::with_capacity(self.vars.len() + set.entries.len() + 1);
        pointers.extend(
            self.vars
                .iter()
                .filter(|(name, _)| !set.overrides(name))
                .map(|(_, entry)| entry.as_ptr()),
        );
        // Each entry ends in its NUL (see `TaskVars::set_with`).
        pointers.extend(
            set.effective()
                .map(|e| set.buf[e.start..e.end].as_ptr().cast::<libc::c_char>()),
        );
        pointers.push(std::ptr::null());
        Ok(Envp {
            pointers,
            _borrowed: std::marker::PhantomData,
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

/// A NULL-terminated array of `NAME=value` pointers into the strings of the [`Inherited`] and
/// the [`TaskVars`] it borrows.
pub(crate) struct Envp<'a> {
    pointers: Vec<*const libc::c_char>,
    _borrowed: std::marker::PhantomData<(&'a Inherited, &'a TaskVars)>,
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
            // SAFETY: every non-null pointer points to a NUL-terminated entry of the `Inherited`
            // or the `TaskVars` this borrows, both alive for this borrow.
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

    fn set(vars: &[(&str, &str)]) -> TaskVars {
        vars.iter().copied().collect()
    }

    #[test]
    fn set_variables_override_inherited_ones_and_the_last_wins() {
        let base = inherited(&[("PATH", "/bin"), ("HOME", "/root"), ("TASK_ID", "stale")]);
        let own = set(&[("TASK_ID", "1"), ("X", "a"), ("X", "b")]);
        let envp = base.with(&own).expect("valid");
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
        let own = set(&[("PATH", "/bin")]);
        let envp = base.with(&own).expect("valid");
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
        let envp = inherited.with(TaskVars::none()).expect("valid");
        let entries = envp.entries();
        let path = std::env::var("PATH").expect("tests run with a PATH");
        assert_eq!(find(&entries, "PATH"), [path.as_str()]);
        assert_eq!(find(&entries, "HS_EXTRA"), ["x"]);
    }

    #[test]
    fn keys_and_database_passwords_are_secrets() {
        for secret in [
            "HYPERSHELL_CLIENT_AUTH",
            "HYPERSHELL_SERVER_AUTH",
            "HYPERSHELL_CLIENT_AUTH_FILE",
            "hypershell_server_auth",
            "HYPERSHELL_DATABASE_PASSWORD",
            "HYPERSHELL_DATABASE_PASSWORD_EVAL",
            "HYPERSHELL_DATABASE_URL",
        ] {
            assert!(is_secret_var(secret.as_bytes()), "{secret}");
        }
        for plain in [
            "HYPERSHELL_SITE",
            "HYPERSHELL_DATABASE_USER",
            "HYPERSHELL_EXPORT_PATH",
            "AUTHOR",
            "PGPASSWORD",
        ] {
            assert!(!is_secret_var(plain.as_bytes()), "{plain}");
        }
    }

    #[test]
    fn pairs_for_std_leave_out_what_the_task_sets() {
        let base = inherited(&[("A", "1"), ("B", "2=two")]);
        let own = set(&[("A", "x")]);
        let pairs: Vec<(String, String)> = base
            .pairs_with(&own)
            .map(|(n, v)| (n.to_string_lossy().into(), v.to_string_lossy().into()))
            .collect();
        let expected = [("B", "2=two"), ("A", "x")].map(|(n, v)| (n.to_string(), v.to_string()));
        assert_eq!(pairs, expected);
    }

    #[test]
    fn task_names_and_other_names_both_override_what_is_inherited() {
        let base = inherited(&[("TASK_ID", "outer"), ("HOME", "/root"), ("PATH", "/bin")]);
        // Only TASK_* names: inherited TASK_* ones are still replaced.
        let entries = base.with(&set(&[("TASK_ID", "inner")])).unwrap().entries();
        assert_eq!(find(&entries, "TASK_ID"), ["inner"]);
        assert_eq!(find(&entries, "HOME"), ["/root"]);
        // A job's own variable replaces an inherited one of any name.
        let entries = base
            .with(&set(&[("TASK_ID", "inner"), ("HOME", "/job")]))
            .unwrap()
            .entries();
        assert_eq!(find(&entries, "HOME"), ["/job"]);
        assert_eq!(find(&entries, "PATH"), ["/bin"]);
        assert_eq!(entries.len(), 3);
    }

    #[test]
    fn cleared_variables_are_gone_and_values_can_be_formatted_in_place() {
        let mut vars = set(&[("TASK_A", "1"), ("B=", "bad")]);
        assert!(inherited(&[]).with(&vars).is_err());
        vars.clear();
        vars.set_display("TASK_N", 42);
        vars.set_with("TASK_W", |buf| buf.extend_from_slice(b"x y"));
        let entries = inherited(&[])
            .with(&vars)
            .expect("valid after clear")
            .entries();
        assert_eq!(entries, ["TASK_N=42", "TASK_W=x y"]);
        assert_eq!(vars.get("TASK_A"), None);
        assert_eq!(vars.names(), ["TASK_N", "TASK_W"]);
    }
}
