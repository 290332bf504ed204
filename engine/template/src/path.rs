//! Path helpers behind `{.}`, `{..}`, `{/}`, `{/-}`, `{-}`, `{+}`, `{++}` and the expression
//! functions `dirname`, `basename`, `stem` and `ext`.
//!
//! They follow Python's `os.path` (POSIX flavour) exactly, because HyperShell users know these
//! patterns from `os.path.dirname`/`basename`/`splitext`. They are pure string operations: the
//! file system is never consulted, and only `/` separates components.

/// `os.path.dirname`: everything before the last `/`, with trailing slashes removed unless the
/// result is only slashes. No slash at all gives the empty string (`file` → ``).
pub fn dirname(path: &str) -> &str {
    let head = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => return "",
    };
    let trimmed = head.trim_end_matches('/');
    if trimmed.is_empty() { head } else { trimmed }
}

/// `os.path.basename`: everything after the last `/` (empty if the path ends with `/`).
pub fn basename(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// `os.path.splitext`: splits off the last extension of the last component. Leading dots of the
/// last component do not start an extension (`.bashrc` has none), a trailing dot is an extension
/// of its own (`a.` → `a`, `.`).
pub fn splitext(path: &str) -> (&str, &str) {
    let name_start = path.rfind('/').map_or(0, |i| i + 1);
    let Some(dot) = path.rfind('.') else {
        return (path, "");
    };
    if dot < name_start {
        return (path, "");
    }
    // Only an extension if some non-dot character precedes the dot within the last component.
    if path[name_start..dot].bytes().any(|b| b != b'.') {
        (&path[..dot], &path[dot..])
    } else {
        (path, "")
    }
}

/// The path without its last extension (`{-}`).
pub fn without_ext(path: &str) -> &str {
    splitext(path).0
}

/// The last extension including its dot, or empty (`{+}`).
pub fn ext_with_dot(path: &str) -> &str {
    splitext(path).1
}

/// The last extension without its dot, or empty (`{++}`, `ext()`).
pub fn ext_without_dot(path: &str) -> &str {
    let ext = splitext(path).1;
    ext.strip_prefix('.').unwrap_or(ext)
}

/// The basename without its last extension (`{/-}`, `stem()`).
pub fn stem(path: &str) -> &str {
    splitext(basename(path)).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_example() {
        let p = "/x/y/file.tar.gz";
        assert_eq!(dirname(p), "/x/y");
        assert_eq!(dirname(dirname(p)), "/x");
        assert_eq!(basename(p), "file.tar.gz");
        assert_eq!(stem(p), "file.tar");
        assert_eq!(without_ext(p), "/x/y/file.tar");
        assert_eq!(ext_with_dot(p), ".gz");
        assert_eq!(ext_without_dot(p), "gz");
    }

    /// Expected values come from Python 3.11 `os.path` (`posixpath`).
    #[test]
    fn dirname_matches_python() {
        for (input, expected) in [
            ("file", ""),
            ("", ""),
            ("/", "/"),
            ("//", "//"),
            ("/file", "/"),
            ("//a", "//"),
            ("a/b", "a"),
            ("a//b", "a"),
            ("/x/y/", "/x/y"),
            ("x/", "x"),
            ("./a", "."),
            ("../a/b", "../a"),
        ] {
            assert_eq!(dirname(input), expected, "dirname({input:?})");
        }
    }

    #[test]
    fn basename_matches_python() {
        for (input, expected) in [
            ("file", "file"),
            ("", ""),
            ("/", ""),
            ("/x/y/", ""),
            ("a/b.c", "b.c"),
            ("/é/ü.txt", "ü.txt"),
        ] {
            assert_eq!(basename(input), expected, "basename({input:?})");
        }
    }

    #[test]
    fn splitext_matches_python() {
        for (input, root, ext) in [
            ("file", "file", ""),
            ("file.txt", "file", ".txt"),
            ("file.tar.gz", "file.tar", ".gz"),
            (".bashrc", ".bashrc", ""),
            ("..bashrc", "..bashrc", ""),
            ("...", "...", ""),
            ("a.", "a", "."),
            (".a.b", ".a", ".b"),
            ("dir.d/file", "dir.d/file", ""),
            ("dir.d/.hidden", "dir.d/.hidden", ""),
            ("/x.y/z.w", "/x.y/z", ".w"),
            ("", "", ""),
        ] {
            assert_eq!(splitext(input), (root, ext), "splitext({input:?})");
        }
    }

    #[test]
    fn no_extension_or_no_slash_inputs() {
        assert_eq!(stem("README"), "README");
        assert_eq!(ext_without_dot("README"), "");
        assert_eq!(ext_with_dot("README"), "");
        assert_eq!(without_ext("README"), "README");
        assert_eq!(stem(".profile"), ".profile");
        assert_eq!(ext_without_dot("a."), "");
        assert_eq!(dirname(dirname("file")), "");
    }
}
