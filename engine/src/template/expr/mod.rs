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
}
