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
mod datetime;
mod dtmodule;
mod eval;
mod functions;
mod lexer;
mod modules;
mod ops;
mod parser;
mod printf;
mod strtime;
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
    value::repr_str(&crate::error::abbreviate(args))
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

    /// Args of more digits than Python's int() takes become a float, as smart_coerce's do.
    #[test]
    fn args_past_the_integer_digit_limit_are_a_float() {
        assert_eq!(ev("x", &"9".repeat(5000)), "inf");
        assert_eq!(ev("x + 1", &"9".repeat(30)), format!("1{}", "0".repeat(30)));
    }

    /// `is` and `is not`, as HyperShell 2.8.2 prints them for these inputs.
    #[test]
    fn identity_tests_on_singletons() {
        assert_eq!(ev("x is None", "null"), "True");
        assert_eq!(ev("x is None", "3"), "False");
        assert_eq!(ev("x is not None", "3"), "True");
        assert_eq!(ev("x is True", "true"), "True");
        assert_eq!(ev("x is True", "1"), "False");
        assert_eq!(ev("'a' if x is None else 'b'", "none"), "a");
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
            try_ev("x ** 5000", "10")
                .expect_err("too many digits")
                .contains("more than 4300 digits")
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

    /// `dt` (datetime) and integers past 64 bits: each expected value is what HyperShell 2.8.2
    /// printed for `echo ARGS | hs cluster --no-db -t 'echo {= EXPR =}'` (machine time zone
    /// UTC for the two `fromtimestamp`/`timestamp` rows). HyperShell turns args that read as an
    /// ISO datetime into a datetime before coercion and then fails, hence the `d` prefix and
    /// `x[1:]`; and it cuts `{= =}` at the first `=`, hence positional timedelta arguments.
    #[test]
    fn datetime_and_big_integers_print_what_hypershell_prints() {
        let iso = "d2024-05-01 12:00:00";
        let cases: &[(&str, &str, &str)] = &[
            (
                iso,
                "dt.datetime.fromisoformat(x[1:])",
                "2024-05-01 12:00:00",
            ),
            (
                iso,
                "dt.datetime.fromisoformat(x[1:]) + dt.timedelta(1, 7200)",
                "2024-05-02 14:00:00",
            ),
            (
                "d2024-05-01T12:00:00.5",
                "dt.datetime.fromisoformat(x[1:])",
                "2024-05-01 12:00:00.500000",
            ),
            (
                iso,
                "dt.datetime.fromisoformat(x[1:]).strftime('%d/%m/%Y %H:%M')",
                "01/05/2024 12:00",
            ),
            (
                "d2024-05-01 12:34:56.789",
                "dt.datetime.fromisoformat(x[1:]).strftime('%A %a %B %b %j %I%p %y %f %e %%')",
                "Wednesday Wed May May 122 12PM 24 789000  1 %",
            ),
            (iso, "dt.datetime.fromisoformat(x[1:]).weekday()", "2"),
            (
                "d2024-05-01 12:00:00.25",
                "dt.datetime.fromisoformat(x[1:]).isoformat()",
                "2024-05-01T12:00:00.250000",
            ),
            (
                "d2024-05-01 12:34:56.000250",
                "dt.datetime.fromisoformat(x[1:]).microsecond",
                "250",
            ),
            (
                "d2024-05-01 12:34:56",
                "dt.datetime.fromisoformat(x[1:]).year * 100 + dt.datetime.fromisoformat(x[1:]).month",
                "202405",
            ),
            ("1", "dt.timedelta(x, 3661)", "1 day, 1:01:01"),
            ("-1", "dt.timedelta(0, x)", "-1 day, 23:59:59"),
            ("1.5", "dt.timedelta(0, 0, 0, 0, 0, x)", "1:30:00"),
            ("90", "dt.timedelta(0, x).total_seconds()", "90.0"),
            ("3", "dt.timedelta(0, -x, 5)", "-1 day, 23:59:57.000005"),
            ("12", "dt.datetime(2024, 5, 1, x)", "2024-05-01 12:00:00"),
            (
                "123456",
                "dt.datetime(2024, 5, 1, 12, 0, 0, x)",
                "2024-05-01 12:00:00.123456",
            ),
            ("1", "dt.date(2024, 2, 28) + dt.timedelta(x)", "2024-02-29"),
            (
                "1",
                "(dt.date(2024, 3, 1) - dt.date(2024, 1, x)).days",
                "60",
            ),
            (
                iso,
                "dt.datetime.fromisoformat(x[1:]) < dt.datetime(2025, 1, 1)",
                "True",
            ),
            (
                iso,
                "dt.datetime.fromisoformat(x[1:]) - dt.datetime(2024, 1, 1)",
                "121 days, 12:00:00",
            ),
            (
                "1 May 2024",
                "dt.datetime.strptime(x, '%d %b %Y')",
                "2024-05-01 00:00:00",
            ),
            (iso, "dt.datetime.fromisoformat(x[1:]).date()", "2024-05-01"),
            (
                "d2024-05-01",
                "dt.date.fromisoformat(x[1:]).isoformat()",
                "2024-05-01",
            ),
            (
                "d2024-05-01",
                "dt.date.fromisoformat(x[1:]).strftime('%Y/%m/%d %H')",
                "2024/05/01 00",
            ),
            ("7", "dt.timedelta(7) // dt.timedelta(x)", "1"),
            ("7", "dt.timedelta(x) / 2", "3 days, 12:00:00"),
            (
                "3",
                "x ** 100",
                "515377520732011331036461129765621272702107522001",
            ),
            ("3", "2 ** 64 // x", "6148914691236517205"),
            ("7", "-(2 ** 70) % x", "5"),
            ("1", "2 ** 64 - 2 ** 64 + x", "1"),
            (
                "2",
                "(2 ** 64) * (2 ** 64) * x",
                "680564733841876926926749214863536422912",
            ),
            ("1", "2 ** 64 > 2 ** 63 + x", "True"),
            ("1", "float(2 ** 64 * x)", "1.8446744073709552e+19"),
            ("1", "math.factorial(25) * x", "15511210043330985984000000"),
            ("2", "2 ** 64 / x", "9.223372036854776e+18"),
            ("1", "-2 ** 63 - x", "-9223372036854775809"),
            ("3", "-(2 ** 64) // x", "-6148914691236517206"),
            ("3", "str(2 ** 100)[:x]", "126"),
            ("3", "math.sqrt(10 ** 30) * x", "3000000000000000.0"),
            (
                "3",
                "int('123456789012345678901234567890') + x",
                "123456789012345678901234567893",
            ),
        ];
        let big = "123456789012345678901234567890";
        let big_cases: &[(&str, &str)] = &[
            ("x + 1", "123456789012345678901234567891"),
            ("x // 7", "17636684144620811271604938270"),
            ("x % 1000", "890"),
            (
                "x * x",
                "15241578753238836750495351562536198787501905199875019052100",
            ),
            ("x > 1e29", "True"),
        ];
        for (args, expr, hypershell) in cases
            .iter()
            .copied()
            .chain(big_cases.iter().map(|(e, h)| (big, *e, *h)))
        {
            assert_eq!(ev(expr, args), hypershell, "{expr} on {args:?}");
        }
        assert_eq!(ev("abs(x)", "-123456789012345678901234567890"), big);
        assert_eq!(
            try_ev("dt.datetime.strptime(x, '%Y')", "abc"),
            Err("strptime(): time data 'abc' does not match format '%Y'".into())
        );
        assert_eq!(
            try_ev("dt.datetime(2024, x, 30)", "2"),
            Err("datetime(): day is out of range for month".into())
        );
    }

    /// HyperShell cannot parse `=` inside `{= =}`; hs takes Python's keyword arguments for the
    /// `dt` constructors (values from Python 3.11).
    #[test]
    fn datetime_keywords_and_errors() {
        assert_eq!(
            ev("dt.timedelta(days=1, hours=2, minutes=3, seconds=4)", ""),
            "1 day, 2:03:04"
        );
        assert_eq!(
            ev("dt.timedelta(weeks=x, milliseconds=1)", "1"),
            "7 days, 0:00:00.001000"
        );
        assert_eq!(
            ev("dt.datetime(2024, 5, 1, minute=x)", "7"),
            "2024-05-01 00:07:00"
        );
        assert_eq!(
            ev(
                "dt.datetime(year=2024, month=5, day=1) == dt.datetime(2024, 5, 1)",
                ""
            ),
            "True"
        );
        assert_eq!(
            ev("dt.date(2024, 5, 1) == dt.datetime(2024, 5, 1)", ""),
            "False"
        );
        assert_eq!(
            ev(
                "dt.datetime.strptime(str(x), '%Y%m%d').isoformat(' ')",
                "20240501"
            ),
            "2024-05-01 00:00:00"
        );
        assert_eq!(ev("-dt.timedelta(hours=x)", "1"), "-1 day, 23:00:00");
        assert_eq!(ev("dt.timedelta(0) or 'none'", ""), "none");
        assert_eq!(
            ev("dt.datetime.fromtimestamp(x).timestamp()", "1714567890.5"),
            "1714567890.5"
        );
        let parse_err = |e: &str| Expression::parse(e, 1).expect_err(e);
        assert!(parse_err("dt.timedelta(dayz=1)").contains("its parameters are: days, seconds"));
        assert!(parse_err("dt.timedelta(days=1, days=2)").contains("two values for `days`"));
        assert!(parse_err("dt.timedelta(days=1, 2)").contains("positional argument follows"));
        assert!(parse_err("round(x, ndigits=1)").contains("takes no keyword arguments"));
        assert!(parse_err("dt.datetime(2024, 5)").contains("missing its argument `day`"));
        assert!(parse_err("x = 1").contains("a single `=` only names an argument"));
        assert!(parse_err("x.year()").contains("is an attribute, not a method"));
        assert!(
            parse_err("dt.datetime.nw()")
                .starts_with("`dt.datetime.nw` is not available; dt.datetime has: now")
        );
        assert!(
            try_ev("x.year", "2024")
                .expect_err("int")
                .contains("parse the args first")
        );
        assert!(
            try_ev("dt.date(2024, 1, 1) < dt.datetime(2024, 1, 1)", "")
                .expect_err("mixed")
                .contains("cannot compare")
        );
        assert!(
            try_ev("dt.date(2024, 1, 1) + 1", "")
                .expect_err("type")
                .contains("unsupported operand")
        );
        assert!(
            try_ev("dt.date(9999, 12, 31) + dt.timedelta(1)", "")
                .expect_err("range")
                .contains("out of range")
        );
    }

    /// `now()`-based values can only be checked for their shape; HyperShell printed e.g.
    /// `2026-12-06 13:40:12.345678`, `2026-12-06` and `2026`.
    #[test]
    fn now_has_pythons_shape() {
        let now = ev("dt.datetime.now()", "");
        assert_eq!(now.len(), if now.len() == 19 { 19 } else { 26 }, "{now}");
        assert_eq!(&now[4..5], "-");
        assert_eq!(&now[10..11], " ");
        assert_eq!(ev("dt.date.today()", "").len(), 10);
        assert_eq!(ev("len(str(dt.datetime.utcnow().year))", ""), "4");
        assert_eq!(
            ev(
                "dt.datetime.now() - dt.datetime.now() < dt.timedelta(seconds=1)",
                ""
            ),
            "True"
        );
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
        assert_eq!(ev("math.factorial(x)", "21"), "51090942171709440000");
        assert!(
            try_ev("math.factorial(x)", "2000")
                .expect_err("too big")
                .contains("more than 4300 digits")
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
