//! `{= expr =}`: hs's own small expression language.
//!
//! HyperShell evaluates `{= =}` with Python's `eval`, which cannot be carried over (and would
//! be a code-execution hole in a tool that expands templates on many hosts). hs instead has a
//! language that looks like the Python subset people actually write in templates (`x*2`,
//! `x/2`, `x.split('_')[0]`, `'a' if x else 'b'`) and is safe by construction: no I/O, no
//! variables besides `x` and `args`, no loops, bounded nesting, capped string sizes, and every
//! failure is an error message instead of a panic. docs/templates.md is the reference.
//!
//! Pipeline: [`lexer`] → [`parser`] (at `Template::parse`) → [`eval`] (per task) → Python
//! `str()` formatting from [`value`].

mod ast;
mod eval;
mod functions;
mod lexer;
mod modules;
mod ops;
mod parser;
mod value;

pub use value::Value;

/// A parsed expression, ready to evaluate for any args.
#[derive(Clone, Debug)]
pub struct Expression {
    root: ast::Expr,
}

impl Expression {
    /// Parses the body of `{= … =}`. `first_column` is the template column of the body's first
    /// character; syntax errors name template columns.
    pub fn parse(body: &str, first_column: usize) -> Result<Expression, String> {
        parser::parse(body, first_column).map(|root| Expression { root })
    }

    /// Evaluates for one task and formats the result like Python's `str()`. `x` is
    /// [`Value::coerce`] of `args`, computed once per expansion by the caller.
    pub fn eval(&self, x: &Value, args: &str) -> Result<String, String> {
        let env = eval::Env { x, args };
        eval::eval(&self.root, &env).map(|v| v.to_str())
    }
}

/// The args as quoted in evaluation error messages: Python `repr` style, shortened if long.
pub fn repr_args(args: &str) -> String {
    value::repr_str(&crate::template::error::abbreviate(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluates `text` for `args`, panicking with the message on errors.
    fn ev(text: &str, args: &str) -> String {
        try_ev(text, args).unwrap_or_else(|e| panic!("{text} on {args:?}: {e}"))
    }

    fn try_ev(text: &str, args: &str) -> Result<String, String> {
        let e = Expression::parse(text, 1)?;
        e.eval(&Value::coerce(args), args)
    }

    #[test]
    fn reference_examples() {
        assert_eq!(ev("x*2", "3"), "6");
        assert_eq!(ev("x/2", "3"), "1.5");
        assert_eq!(ev("x + 1", "1.5"), "2.5");
        assert_eq!(ev("x / 1", "3"), "3.0");
        assert_eq!(ev("x", "true"), "True");
        assert_eq!(ev("x", "none"), "None");
        assert_eq!(ev("x", "hello"), "hello");
    }

    #[test]
    fn literals_and_types_print_like_python() {
        assert_eq!(ev("1e20", ""), "1e+20");
        assert_eq!(ev("0.1 + 0.2", ""), "0.30000000000000004");
        assert_eq!(ev("10 // 4", ""), "2");
        assert_eq!(ev("10.0 // 4", ""), "2.0");
        assert_eq!(ev("-7 % 3", ""), "2");
        assert_eq!(ev("true", ""), "True");
        assert_eq!(ev("False", ""), "False");
        assert_eq!(ev("null", ""), "None");
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(ev("1 + 2 * 3", ""), "7");
        assert_eq!(ev("(1 + 2) * 3", ""), "9");
        assert_eq!(ev("2 ** 3 ** 2", ""), "512");
        assert_eq!(ev("(2 ** 3) ** 2", ""), "64");
        assert_eq!(ev("-2 ** 2", ""), "-4");
        assert_eq!(ev("2 ** -1", ""), "0.5");
        assert_eq!(ev("10 - 4 - 3", ""), "3");
        assert_eq!(ev("100 / 10 / 5", ""), "2.0");
        assert_eq!(ev("2 * 3 % 4", ""), "2");
        assert_eq!(ev("not 1 == 2", ""), "True");
        assert_eq!(ev("1 < 2 < 3", ""), "True");
        assert_eq!(ev("1 < 3 < 2", ""), "False");
        assert_eq!(ev("3 > 2 == 2", ""), "True");
        assert_eq!(ev("1 + 1 if x > 1 else 0", "5"), "2");
        assert_eq!(ev("1 + 1 if x > 1 else 0", "0"), "0");
        assert_eq!(ev("True or False and False", ""), "True");
    }

    #[test]
    fn and_or_return_operands_and_short_circuit() {
        assert_eq!(ev("x or 'default'", ""), "default");
        assert_eq!(ev("x or 'default'", "given"), "given");
        assert_eq!(ev("x and 1/0", "0"), "0");
        assert_eq!(ev("x or 1/0", "1"), "1");
        assert_eq!(ev("1/0 if False else 'ok'", ""), "ok");
        assert_eq!(ev("not x", ""), "True");
    }

    #[test]
    fn strings_index_slice_and_functions() {
        assert_eq!(ev("x + '.bak'", "file"), "file.bak");
        assert_eq!(ev("x * 3", "ab"), "ababab");
        assert_eq!(ev("'-' * 3", ""), "---");
        assert_eq!(ev("x[0]", "hello"), "h");
        assert_eq!(ev("x[-1]", "hello"), "o");
        assert_eq!(ev("x[1:3]", "hello"), "el");
        assert_eq!(ev("x[::-1]", "héllo"), "olléh");
        assert_eq!(ev("x[:None]", "abc"), "abc");
        assert_eq!(ev("upper(x)", "abc"), "ABC");
        assert_eq!(ev("x.upper()", "abc"), "ABC");
        assert_eq!(ev("lower('ABC')", ""), "abc");
        assert_eq!(ev("strip(x)", "  a  "), "a");
        assert_eq!(ev("replace(x, '_', '-')", "a_b_c"), "a-b-c");
        assert_eq!(ev("split(x, '_')[1]", "a_b_c"), "b");
        assert_eq!(ev("split(x)", "a b"), "['a', 'b']");
        assert_eq!(ev("split(x, '_')[-2:]", "a_b_c"), "['b', 'c']");
        assert_eq!(ev("join('+', split(x, '_'))", "a_b_c"), "a+b+c");
        assert_eq!(ev("'+'.join(x.split('_')[::-1])", "a_b_c"), "c+b+a");
        assert_eq!(ev("len(x)", "hello"), "5");
        assert_eq!(ev("len(split(x))", "a b c"), "3");
        assert_eq!(ev("zfill(x, 4)", "7"), "0007");
        assert_eq!(ev("zfill(args, 4)", "07"), "0007");
        assert_eq!(ev("args", "007"), "007");
        assert_eq!(ev("x", "007"), "7");
        assert_eq!(ev("str(x) + '!'", "3"), "3!");
        assert_eq!(ev("int(x) + 1", "41"), "42");
        assert_eq!(ev("int('41') + 1", ""), "42");
        assert_eq!(ev("float(x)", "2"), "2.0");
        assert_eq!(ev("round(x)", "2.5"), "2");
        assert_eq!(ev("round(x, 1)", "2.25"), "2.2");
        assert_eq!(ev("abs(x)", "-4"), "4");
        assert_eq!(ev("min(x, 10)", "12"), "10");
        assert_eq!(ev("max(split(x))", "b c a"), "c");
        assert_eq!(ev("'b' in x", "abc"), "True");
        assert_eq!(ev("'z' not in x", "abc"), "True");
        assert_eq!(ev("'a' in split(x)", "a b"), "True");
        assert_eq!(ev("sqrt(x)", "2.25"), "1.5");
        assert_eq!(ev("floor(x)", "-1.5"), "-2");
        assert_eq!(ev("ceil(x / 2)", "5"), "3");
        assert_eq!(ev("pow(x, 2)", "3"), "9");
    }

    #[test]
    fn path_functions() {
        let p = "/x/y/file.tar.gz";
        assert_eq!(ev("basename(x)", p), "file.tar.gz");
        assert_eq!(ev("dirname(x)", p), "/x/y");
        assert_eq!(ev("dirname(dirname(x))", p), "/x");
        assert_eq!(ev("stem(x)", p), "file.tar");
        assert_eq!(ev("ext(x)", p), "gz");
        assert_eq!(ev("stem(stem(x)) + '.zip'", p), "file.zip");
    }

    #[test]
    fn evaluation_errors_are_clear() {
        assert_eq!(try_ev("x / 0", "3"), Err("division by zero".into()));
        assert_eq!(
            try_ev("x // 0", "3"),
            Err("integer division by zero".into())
        );
        assert_eq!(
            try_ev("x % 0", "3.5"),
            Err("float modulo or floor division by zero".into())
        );
        assert_eq!(
            try_ev("x[5]", "abc"),
            Err(
                "index 5 is out of range for str 'abc' of length 3 (valid: 0 to 2, or -3 to -1)"
                    .into()
            )
        );
        assert!(
            try_ev("x[0]", "12")
                .expect_err("int")
                .contains("use args[…]")
        );
        assert!(
            try_ev("x[::0]", "abc")
                .expect_err("step")
                .contains("cannot be zero")
        );
        assert!(
            try_ev("x['a']", "abc")
                .expect_err("type")
                .contains("must be an integer")
        );
        assert!(
            try_ev("x[1:'a']", "abc")
                .expect_err("type")
                .contains("slice stop")
        );
        assert!(
            try_ev("x + 1", "abc")
                .expect_err("type")
                .contains("unsupported operand")
        );
        assert!(try_ev("x * 2", "none").expect_err("null").contains("null"));
        assert!(
            try_ev("x < 'a'", "1")
                .expect_err("type")
                .contains("cannot compare")
        );
        assert_eq!(
            try_ev("int(x)", "abc"),
            Err(
                "int(): cannot convert str 'abc' to an integer; for a decimal use int(float(…))"
                    .into()
            )
        );
        assert!(
            try_ev("x ** 100", "10")
                .expect_err("overflow")
                .contains("integer overflow")
        );
        assert!(try_ev("-x", "abc").expect_err("neg").contains("unary `-`"));
    }

    /// `{= =}` with HyperShell's `math`, `path` and `os` globals: each expected value is what
    /// HyperShell 2.8.2 printed for `echo ARGS | hs cluster --no-db -t 'echo {= EXPR =}'`.
    #[test]
    fn module_globals_print_what_hypershell_prints() {
        let cases: &[(&str, &str, &str)] = &[
            ("3", "x*2", "6"),
            ("3", "x/2", "1.5"),
            ("16", "math.sqrt(x)", "4.0"),
            ("2.5", "math.floor(x)", "2"),
            ("2.5", "math.ceil(x)", "3"),
            ("8", "math.log2(x)", "3.0"),
            ("1000", "math.log10(x)", "3.0"),
            ("8", "math.log(x, 2)", "3.0"),
            ("1", "math.exp(x)", "2.718281828459045"),
            ("2", "math.pow(x, 3)", "8.0"),
            ("0", "math.sin(x)", "0.0"),
            ("0", "math.cos(x)", "1.0"),
            ("2", "math.pi * x", "6.283185307179586"),
            ("1", "math.e * x", "2.718281828459045"),
            ("-3.5", "math.fabs(x)", "3.5"),
            ("-3.7", "math.trunc(x)", "-3"),
            ("5", "math.factorial(x)", "120"),
            ("12", "math.gcd(x, 18)", "6"),
            ("3", "math.hypot(x, 4)", "5.0"),
            ("0.1", "math.isclose(x + 0.2, 0.3)", "True"),
            ("180", "math.radians(x)", "3.141592653589793"),
            ("1", "math.atan2(x, 1)", "0.7853981633974483"),
            ("2", "math.isnan(x)", "False"),
            ("10", "math.tau / x", "0.6283185307179586"),
            ("/x/y/file.tar.gz", "path.basename(x)", "file.tar.gz"),
            ("/x/y/file.tar.gz", "path.dirname(x)", "/x/y"),
            ("/x/y/file.tar.gz", "path.splitext(x)[0]", "/x/y/file.tar"),
            ("/x/y/file.tar.gz", "os.path.splitext(x)[1]", ".gz"),
            ("a", "path.join(x, 'b', 'c.txt')", "a/b/c.txt"),
            ("a", "os.path.join('/r', x)", "/r/a"),
            ("/tmp", "path.isdir(x)", "True"),
            ("/tmp", "path.isfile(x)", "False"),
            ("/nonexistent", "path.exists(x)", "False"),
            ("/a/b/../c", "path.normpath(x)", "/a/c"),
            ("/a/./b", "os.path.abspath(x)", "/a/b"),
            ("NO_SUCH_VAR_X", "os.getenv(x, 'dflt')", "dflt"),
            ("2", "x ** 62", "4611686018427387904"),
            ("7", "math.sqrt(x) > 2", "True"),
        ];
        for (args, expr, hypershell) in cases {
            assert_eq!(ev(expr, args), *hypershell, "{expr} on {args:?}");
        }
    }

    #[test]
    fn module_errors_are_pythons() {
        assert_eq!(
            try_ev("math.sqrt(x)", "-1"),
            Err("sqrt(): math domain error".into())
        );
        assert_eq!(
            try_ev("math.log(x)", "0"),
            Err("log(): math domain error".into())
        );
        assert_eq!(
            try_ev("math.exp(x)", "1000"),
            Err("exp(): math range error".into())
        );
        assert!(
            try_ev("math.factorial(x)", "21")
                .expect_err("too big")
                .contains("integer overflow: factorial(21) exceeds 64 bits")
        );
        assert!(
            Expression::parse("math.sqr(x)", 1)
                .expect_err("unknown")
                .starts_with("`math.sqr` is not available; math has: pi, e, tau")
        );
        assert!(
            Expression::parse("math.sqrt", 1)
                .expect_err("not called")
                .contains("must be called")
        );
        assert!(
            Expression::parse("math.pow(x)", 1)
                .expect_err("arity")
                .contains("`pow` takes 2 arguments but 1 was given")
        );
    }
}
