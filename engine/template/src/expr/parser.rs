//! Recursive-descent parser for the expression language.
//!
//! Grammar, lowest precedence first (the same levels as Python):
//!
//! ```text
//! expression := or_expr [ "if" or_expr "else" expression ]
//! or_expr    := and_expr { "or" and_expr }
//! and_expr   := not_expr { "and" not_expr }
//! not_expr   := "not" not_expr | comparison
//! comparison := sum { ( "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in" | "is" | "is" "not" ) sum }
//! sum        := term { ( "+" | "-" ) term }
//! term       := unary { ( "*" | "/" | "//" | "%" ) unary }
//! unary      := ( "-" | "+" ) unary | power
//! power      := postfix [ "**" unary ]
//! postfix    := atom { "[" subscript "]" | "." NAME [ "(" [ args ] ")" ] }
//! subscript  := expression | [ expression ] ":" [ expression ] [ ":" [ expression ] ]
//! atom       := NUMBER | STRING | "true" | "false" | "null" | "x" | "args"
//!             | NAME "(" [ args ] ")" | "(" expression ")"
//! args       := arg { "," arg }
//! arg        := expression | NAME "=" expression      (keywords: dt constructors only)
//! ```
//!
//! Function names and argument counts are checked here, so a typo fails at `Template::parse`
//! instead of on every task.

use super::ast::{Cmp, Expr, MAX_DEPTH, Node, Var};
use super::dtmodule;
use super::functions::Func;
use super::lexer::{Op, Tok, Token, tokenize};
use super::modules;
use super::value::Value;

/// Parses a `{= … =}` body whose first character is at template column `first_column`.
pub fn parse(body: &str, first_column: usize) -> Result<Expr, String> {
    let tokens = tokenize(body, first_column)?;
    if tokens.len() <= 1 {
        return Err(String::from(
            "the expression is empty; write one between `{=` and `=}`, e.g. {= x * 2 =}",
        ));
    }
    let mut parser = Parser {
        tokens,
        pos: 0,
        nesting: 0,
    };
    let expr = parser.expression()?;
    let next = parser.peek();
    if next.tok != Tok::End {
        return Err(format!(
            "unexpected {} at column {}: expected an operator or the end of the expression",
            next.tok.describe(),
            next.column
        ));
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Current recursion depth of the parser itself (parentheses, unary chains), bounded so
    /// that `((((…))))` or `- - - - x` cannot overflow the stack before any node is built.
    nesting: usize,
}

/// Keywords that can never be variable or function names.
const KEYWORDS: &[&str] = &["and", "or", "not", "if", "else", "in", "is"];

impl Parser {
    fn peek(&self) -> &Token {
        // `tokenize` always ends with `End`, and `advance` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        let i = (self.pos + ahead).min(self.tokens.len() - 1);
        &self.tokens[i].tok
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    fn at_keyword(&self, word: &str) -> bool {
        matches!(&self.peek().tok, Tok::Name(n) if n == word)
    }

    fn at(&self, tok: &Tok) -> bool {
        &self.peek().tok == tok
    }

    fn expect(&mut self, tok: &Tok, context: &str) -> Result<Token, String> {
        if self.at(tok) {
            return Ok(self.advance());
        }
        let found = self.peek();
        Err(format!(
            "expected {} {context} at column {}, found {}",
            tok.describe(),
            found.column,
            found.tok.describe()
        ))
    }

    fn node(&self, node: Node, column: usize) -> Result<Expr, String> {
        Expr::new(node).ok_or_else(|| too_deep(column))
    }

    /// Runs `f` one nesting level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        if self.nesting >= MAX_DEPTH {
            return Err(too_deep(self.peek().column));
        }
        self.nesting += 1;
        let result = f(self);
        self.nesting -= 1;
        result
    }

    fn expression(&mut self) -> Result<Expr, String> {
        self.nested(|p| {
            let then = p.or_expr()?;
            if !p.at_keyword("if") {
                return Ok(then);
            }
            let column = p.advance().column;
            let cond = p.or_expr()?;
            if !p.at_keyword("else") {
                let found = p.peek();
                return Err(format!(
                    "`if` at column {column} needs an `else`: write `a if condition else b` \
                     (found {} at column {})",
                    found.tok.describe(),
                    found.column
                ));
            }
            p.advance();
            let otherwise = p.expression()?;
            p.node(
                Node::If {
                    cond: Box::new(cond),
                    then: Box::new(then),
                    otherwise: Box::new(otherwise),
                },
                column,
            )
        })
    }

    fn or_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.and_expr()?;
        while self.at_keyword("or") {
            let column = self.advance().column;
            let right = self.and_expr()?;
            left = self.node(Node::Or(Box::new(left), Box::new(right)), column)?;
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, String> {
        let mut left = self.not_expr()?;
        while self.at_keyword("and") {
            let column = self.advance().column;
            let right = self.not_expr()?;
            left = self.node(Node::And(Box::new(left), Box::new(right)), column)?;
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Expr, String> {
        if !self.at_keyword("not") {
            return self.comparison();
        }
        let column = self.advance().column;
        let operand = self.nested(Self::not_expr)?;
        self.node(Node::Not(Box::new(operand)), column)
    }

    fn comparison(&mut self) -> Result<Expr, String> {
        let first = self.sum()?;
        let mut rest = Vec::new();
        let mut column = self.peek().column;
        loop {
            let cmp = match &self.peek().tok {
                Tok::Op(op @ (Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)) => Cmp::Op(*op),
                Tok::Name(n) if n == "in" => Cmp::In,
                Tok::Name(n)
                    if n == "not" && matches!(self.peek_at(1), Tok::Name(m) if m == "in") =>
                {
                    self.advance();
                    Cmp::NotIn
                }
                Tok::Name(n) if n == "is" => {
                    if matches!(self.peek_at(1), Tok::Name(m) if m == "not") {
                        self.advance();
                        Cmp::IsNot
                    } else {
                        Cmp::Is
                    }
                }
                _ => break,
            };
            column = self.advance().column;
            rest.push((cmp, self.sum()?));
        }
        if rest.is_empty() {
            Ok(first)
        } else {
            self.node(Node::Compare(Box::new(first), rest), column)
        }
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.term()?;
        while let Tok::Op(op @ (Op::Plus | Op::Minus)) = self.peek().tok {
            let column = self.advance().column;
            let right = self.term()?;
            left = self.node(Node::Binary(op, Box::new(left), Box::new(right)), column)?;
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while let Tok::Op(op @ (Op::Star | Op::Slash | Op::DoubleSlash | Op::Percent)) =
            self.peek().tok
        {
            let column = self.advance().column;
            let right = self.unary()?;
            left = self.node(Node::Binary(op, Box::new(left), Box::new(right)), column)?;
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        let wrap: fn(Box<Expr>) -> Node = match self.peek().tok {
            Tok::Op(Op::Minus) => Node::Neg,
            Tok::Op(Op::Plus) => Node::Pos,
            _ => return self.power(),
        };
        let column = self.advance().column;
        let operand = self.nested(Self::unary)?;
        self.node(wrap(Box::new(operand)), column)
    }

    /// `**` binds tighter than a unary minus on its left (`-2**2` is -4) and is right
    /// associative through its `unary` right operand (`2**3**2` is 2**9, `2**-1` is 0.5).
    fn power(&mut self) -> Result<Expr, String> {
        let base = self.postfix()?;
        if !self.at(&Tok::Op(Op::DoubleStar)) {
            return Ok(base);
        }
        let column = self.advance().column;
        let exponent = self.nested(Self::unary)?;
        self.node(
            Node::Binary(Op::DoubleStar, Box::new(base), Box::new(exponent)),
            column,
        )
    }

    fn postfix(&mut self) -> Result<Expr, String> {
        let mut target = self.atom()?;
        loop {
            if self.at(&Tok::LBracket) {
                let column = self.advance().column;
                target = self.subscript(target, column)?;
            } else if self.at(&Tok::Dot) {
                let column = self.advance().column;
                target = self.method_call(target, column)?;
            } else {
                return Ok(target);
            }
        }
    }

    /// After `[`: an index `[i]` or a slice `[a:b:c]` with optional parts.
    fn subscript(&mut self, target: Expr, column: usize) -> Result<Expr, String> {
        let start = if self.at(&Tok::Colon) {
            None
        } else {
            Some(Box::new(self.expression()?))
        };
        if !self.at(&Tok::Colon) {
            self.expect(&Tok::RBracket, "to close the `[` of the index")?;
            let index = start.ok_or_else(|| {
                format!("empty `[]` at column {column}: write an index or a slice")
            })?;
            return self.node(Node::Index(Box::new(target), index), column);
        }
        self.advance();
        let bound = |p: &mut Self| -> Result<Option<Box<Expr>>, String> {
            if p.at(&Tok::Colon) || p.at(&Tok::RBracket) {
                Ok(None)
            } else {
                Ok(Some(Box::new(p.expression()?)))
            }
        };
        let stop = bound(self)?;
        let step = if self.at(&Tok::Colon) {
            self.advance();
            bound(self)?
        } else {
            None
        };
        self.expect(&Tok::RBracket, "to close the `[` of the slice")?;
        self.node(
            Node::Slice {
                target: Box::new(target),
                start,
                stop,
                step,
            },
            column,
        )
    }

    /// After `.`: `receiver.f(a, b)` is sugar for `f(receiver, a, b)`.
    fn method_call(&mut self, receiver: Expr, column: usize) -> Result<Expr, String> {
        let name_token = self.advance();
        let Tok::Name(name) = &name_token.tok else {
            return Err(format!(
                "expected a function name after `.` at column {column}, found {}",
                name_token.tok.describe()
            ));
        };
        if let Some((member, is_method)) = dtmodule::member(name) {
            let func = Func::Dt(member);
            let mut args = vec![receiver];
            if is_method {
                if !self.at(&Tok::LParen) {
                    return Err(format!(
                        "`.{name}` at column {column} must be called: write .{name}()"
                    ));
                }
                self.call_args(func, &mut args, column)?;
                func.check_arity(args.len())
                    .map_err(|e| format!("{e} (method call at column {column} counts the value before `.` as the first argument)"))?;
            } else if self.at(&Tok::LParen) {
                return Err(format!(
                    "`.{name}` at column {column} is an attribute, not a method: write .{name}"
                ));
            }
            return self.node(Node::Call(func, args), column);
        }
        let func = lookup(name, name_token.column)?;
        if !self.at(&Tok::LParen) {
            return Err(format!(
                "`.{name}` at column {column} must be called: write .{name}() or {name}(…)"
            ));
        }
        let mut args = vec![receiver];
        self.call_args(func, &mut args, column)?;
        func.check_arity(args.len())
            .map_err(|e| format!("{e} (method call at column {column} counts the value before `.` as the first argument)"))?;
        self.node(Node::Call(func, args), column)
    }

    /// After a function name: `( [arg {, arg}] )`, appended to `args`, where an arg is an
    /// expression or, for functions with [`Func::keywords`], `name=expression`. Keyword
    /// arguments are bound to their positions here, and every keyword parameter left out is
    /// filled with its default of 0, so evaluation only sees positional arguments.
    fn call_args(&mut self, func: Func, args: &mut Vec<Expr>, column: usize) -> Result<(), String> {
        self.expect(&Tok::LParen, "to start the arguments")?;
        let mut named: Vec<(usize, Expr)> = Vec::new();
        while !self.at(&Tok::RParen) {
            let keyword = match (&self.peek().tok, self.peek_at(1)) {
                (Tok::Name(n), Tok::Assign) => Some((n.clone(), self.peek().column)),
                _ => None,
            };
            if let Some((name, at)) = keyword {
                self.advance();
                self.advance();
                let params = func.keywords();
                let slot = params.iter().position(|p| *p == name).ok_or_else(|| {
                    if params.is_empty() {
                        format!(
                            "`{}` at column {at} takes no keyword arguments",
                            func.name()
                        )
                    } else {
                        format!(
                            "`{}` has no parameter `{name}` (column {at}); its parameters are: {}",
                            func.name(),
                            params.join(", ")
                        )
                    }
                })?;
                if slot < args.len() || named.iter().any(|(s, _)| *s == slot) {
                    return Err(format!(
                        "`{}` got two values for `{name}` (column {at})",
                        func.name()
                    ));
                }
                named.push((slot, self.expression()?));
            } else {
                if !named.is_empty() {
                    return Err(format!(
                        "a positional argument follows a keyword argument at column {}",
                        self.peek().column
                    ));
                }
                args.push(self.expression()?);
            }
            if self.at(&Tok::Comma) {
                self.advance();
            } else {
                break;
            }
        }
        self.expect(&Tok::RParen, "to close the argument list")?;
        let params = func.keywords().len();
        if params == 0 {
            return Ok(());
        }
        let (min, _) = func.arity();
        let mut named = named.into_iter().map(Some).collect::<Vec<_>>();
        for slot in args.len()..params {
            let given = named
                .iter_mut()
                .find(|n| n.as_ref().is_some_and(|(s, _)| *s == slot))
                .and_then(Option::take);
            match given {
                Some((_, e)) => args.push(e),
                None if slot < min => {
                    return Err(format!(
                        "`{}` is missing its argument `{}` (call at column {column})",
                        func.name(),
                        func.keywords()[slot]
                    ));
                }
                None => args.push(self.node(Node::Literal(Value::Int(0)), column)?),
            }
        }
        Ok(())
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let token = self.advance();
        let column = token.column;
        match token.tok {
            Tok::Literal(value) => self.node(Node::Literal(value), column),
            Tok::LParen => {
                let inner = self.expression()?;
                self.expect(&Tok::RParen, "to close the `(`")?;
                Ok(inner)
            }
            Tok::Name(name) => self.name(&name, column),
            other => Err(format!(
                "expected a value at column {column}, found {}",
                other.describe()
            )),
        }
    }

    fn name(&mut self, name: &str, column: usize) -> Result<Expr, String> {
        let literal = match name {
            "true" | "True" => Some(Value::Bool(true)),
            "false" | "False" => Some(Value::Bool(false)),
            "null" | "None" | "none" => Some(Value::Null),
            _ => None,
        };
        if let Some(value) = literal {
            return self.node(Node::Literal(value), column);
        }
        match name {
            "x" => return self.node(Node::Var(Var::X), column),
            "args" => return self.node(Node::Var(Var::Args), column),
            _ => {}
        }
        if modules::ROOTS.contains(&name) && self.at(&Tok::Dot) {
            return self.module_member(name, column);
        }
        if KEYWORDS.contains(&name) {
            return Err(format!(
                "expected a value at column {column}, found `{name}`"
            ));
        }
        if !self.at(&Tok::LParen) {
            if Func::from_name(name).is_some() {
                return Err(format!(
                    "function `{name}` at column {column} must be called: write {name}(…)"
                ));
            }
            return Err(format!(
                "unknown name `{name}` at column {column}: the variables are `x` (the args, \
                 coerced to a number/bool/None when possible) and `args` (the args as text); \
                 quote literal text, e.g. '{name}'"
            ));
        }
        let func = lookup(name, column)?;
        let mut args = Vec::new();
        self.call_args(func, &mut args, column)?;
        func.check_arity(args.len())
            .map_err(|e| format!("{e} (call at column {column})"))?;
        self.node(Node::Call(func, args), column)
    }
}

impl Parser {
    /// `math.sqrt(…)`, `math.pi`, `os.path.join(…)`: a dotted name read whole, as long as the
    /// prefix read so far is a module, then resolved to a constant or a function call.
    fn module_member(&mut self, root: &str, column: usize) -> Result<Expr, String> {
        let mut dotted = root.to_string();
        while modules::is_module(&dotted) && self.at(&Tok::Dot) {
            self.advance();
            let token = self.advance();
            let Tok::Name(member) = &token.tok else {
                return Err(format!(
                    "expected a name after `{dotted}.` at column {}, found {}",
                    token.column,
                    token.tok.describe()
                ));
            };
            dotted.push('.');
            dotted.push_str(member);
        }
        let member = modules::resolve(&dotted).map_err(|e| format!("{e} (column {column})"))?;
        match member {
            modules::Member::Const(value) => self.node(Node::Literal(value), column),
            modules::Member::Func(f) => {
                if !self.at(&Tok::LParen) {
                    return Err(format!(
                        "`{dotted}` at column {column} must be called: write {dotted}(…)"
                    ));
                }
                let func = f;
                let mut args = Vec::new();
                self.call_args(func, &mut args, column)?;
                func.check_arity(args.len())
                    .map_err(|e| format!("{e} (call of `{dotted}` at column {column})"))?;
                self.node(Node::Call(func, args), column)
            }
        }
    }
}

fn lookup(name: &str, column: usize) -> Result<Func, String> {
    Func::from_name(name).ok_or_else(|| {
        format!(
            "unknown function `{name}` at column {column}; available: {}",
            Func::ALL
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn too_deep(column: usize) -> String {
    format!(
        "the expression is nested too deeply near column {column} (limit {MAX_DEPTH} levels); \
         split it or simplify it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders the tree fully parenthesised, to check precedence and associativity.
    fn show(e: &Expr) -> String {
        match &e.node {
            Node::Literal(v) => v.repr(),
            Node::Var(Var::X) => "x".into(),
            Node::Var(Var::Args) => "args".into(),
            Node::Neg(a) => format!("(-{})", show(a)),
            Node::Pos(a) => format!("(+{})", show(a)),
            Node::Not(a) => format!("(not {})", show(a)),
            Node::Binary(op, a, b) => format!("({} {} {})", show(a), op.symbol(), show(b)),
            Node::And(a, b) => format!("({} and {})", show(a), show(b)),
            Node::Or(a, b) => format!("({} or {})", show(a), show(b)),
            Node::Compare(first, rest) => {
                let mut s = format!("({}", show(first));
                for (cmp, e) in rest {
                    s.push_str(&format!(" {} {}", cmp.symbol(), show(e)));
                }
                s + ")"
            }
            Node::If {
                cond,
                then,
                otherwise,
            } => format!(
                "({} if {} else {})",
                show(then),
                show(cond),
                show(otherwise)
            ),
            Node::Index(t, i) => format!("{}[{}]", show(t), show(i)),
            Node::Slice {
                target,
                start,
                stop,
                step,
            } => {
                let o = |e: &Option<Box<Expr>>| e.as_deref().map(show).unwrap_or_default();
                format!("{}[{}:{}:{}]", show(target), o(start), o(stop), o(step))
            }
            Node::Call(f, args) => format!(
                "{}({})",
                f.name(),
                args.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
        }
    }

    fn p(text: &str) -> String {
        show(&parse(text, 1).unwrap_or_else(|e| panic!("{text}: {e}")))
    }

    fn err(text: &str) -> String {
        parse(text, 1).expect_err(text)
    }

    #[test]
    fn precedence_follows_python() {
        assert_eq!(p("1 + 2 * 3"), "(1 + (2 * 3))");
        assert_eq!(p("(1 + 2) * 3"), "((1 + 2) * 3)");
        assert_eq!(p("1 - 2 - 3"), "((1 - 2) - 3)");
        assert_eq!(p("8 / 4 // 2 % 3"), "(((8 / 4) // 2) % 3)");
        assert_eq!(p("-2 ** 2"), "(-(2 ** 2))");
        assert_eq!(p("2 ** -1"), "(2 ** (-1))");
        assert_eq!(p("2 ** 3 ** 2"), "(2 ** (3 ** 2))");
        assert_eq!(p("-x[0]"), "(-x[0])");
        assert_eq!(p("not x == 1"), "(not (x == 1))");
        assert_eq!(p("1 if x else 2"), "(1 if x else 2)");
        assert_eq!(p("x or x and not x"), "(x or (x and (not x)))");
        assert_eq!(p("1 < x <= 3"), "(1 < x <= 3)");
        assert_eq!(
            p("1 + 1 if x > 0 else 2 - 2"),
            "((1 + 1) if (x > 0) else (2 - 2))"
        );
        assert_eq!(
            p("1 if x else 2 if x else 3"),
            "(1 if x else (2 if x else 3))"
        );
        assert_eq!(
            p("'a' in x and 'b' not in x"),
            "(('a' in x) and ('b' not in x))"
        );
    }

    #[test]
    fn parses_postfix_forms() {
        assert_eq!(p("x[0]"), "x[0]");
        assert_eq!(p("x[1:3]"), "x[1:3:]");
        assert_eq!(p("x[::-1]"), "x[::(-1)]");
        assert_eq!(p("x[:2]"), "x[:2:]");
        assert_eq!(p("x[1:]"), "x[1::]");
        assert_eq!(p("x[:]"), "x[::]");
        assert_eq!(p("split(x)[-1]"), "split(x)[(-1)]");
        assert_eq!(p("x.split('.')[0].upper()"), "upper(split(x, '.')[0])");
        assert_eq!(p("'-'.join(split(x))"), "join('-', split(x))");
        assert_eq!(p("round(x, 2)"), "round(x, 2)");
        assert_eq!(p("max(1, 2, 3)"), "max(1, 2, 3)");
        assert_eq!(p("True and none or False"), "((True and None) or False)");
        assert_eq!(p("args"), "args");
    }

    #[test]
    fn reports_syntax_errors_with_columns() {
        assert_eq!(
            err(""),
            "the expression is empty; write one between `{=` and `=}`, e.g. {= x * 2 =}"
        );
        assert_eq!(
            err("x *"),
            "expected a value at column 4, found the end of the expression"
        );
        assert_eq!(
            err("x 1"),
            "unexpected `1` at column 3: expected an operator or the end of the expression"
        );
        assert_eq!(
            err("(x"),
            "expected `)` to close the `(` at column 3, found the end of the expression"
        );
        assert!(err("1 if x").contains("needs an `else`"));
        assert!(err("y + 1").starts_with("unknown name `y` at column 1"));
        assert!(
            err("foo(x)").starts_with("unknown function `foo` at column 1; available: len, str")
        );
        assert_eq!(
            err("len"),
            "function `len` at column 1 must be called: write len(…)"
        );
        assert!(err("x.upper").contains("must be called"));
        assert_eq!(
            err("round(1, 2, 3)"),
            "`round` takes 1 or 2 arguments but 3 were given (call at column 1)"
        );
        assert!(err("x.zfill()").contains("counts the value before `.`"));
        assert!(err("x[]").contains("expected a value"));
        assert!(err("and").contains("found `and`"));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep_parens = format!("{}x{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(err(&deep_parens).contains("nested too deeply"));
        let long_chain = vec!["1"; 10_000].join("+");
        assert!(err(&long_chain).contains("nested too deeply"));
        let negations = format!("{}x", "-".repeat(10_000));
        assert!(err(&negations).contains("nested too deeply"));
        let nots = format!("{}x", "not ".repeat(10_000));
        assert!(err(&nots).contains("nested too deeply"));
        let powers = vec!["2"; 10_000].join("**");
        assert!(err(&powers).contains("nested too deeply"));
        // Moderate expressions are fine.
        assert!(parse(&vec!["1"; 50].join("+"), 1).is_ok());
    }
}
