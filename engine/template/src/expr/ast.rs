//! The parsed form of an expression.
//!
//! Every node knows its depth, and the parser refuses trees deeper than [`MAX_DEPTH`]: evaluation
//! and dropping are recursive, so a bounded depth is what keeps a hostile or accidental
//! `1+1+1+…` from exhausting the stack of an engine thread.

use super::functions::Func;
use super::lexer::Op;
use super::value::Value;

/// Deepest expression tree accepted. Real templates need a handful of levels.
pub const MAX_DEPTH: usize = 100;

/// A variable the expression can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Var {
    /// `x`: the args after smart coercion.
    X,
    /// `args`: the args as the original string, never coerced.
    Args,
}

/// A comparison operator (`in` and `not in` included, as in Python's grammar).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Op(Op),
    In,
    NotIn,
    /// Python's identity test, for what templates use it on: `x is None`, `x is True`.
    Is,
    IsNot,
}

impl Cmp {
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Op(op) => op.symbol(),
            Cmp::In => "in",
            Cmp::NotIn => "not in",
            Cmp::Is => "is",
            Cmp::IsNot => "is not",
        }
    }
}

#[derive(Clone, Debug)]
pub enum Node {
    Literal(Value),
    Var(Var),
    Neg(Box<Expr>),
    Pos(Box<Expr>),
    Not(Box<Expr>),
    /// Arithmetic: `+ - * / // % **`.
    Binary(Op, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    /// A comparison chain `a < b <= c`, meaning `a < b and b <= c` with `b` evaluated once.
    Compare(Box<Expr>, Vec<(Cmp, Expr)>),
    /// `then if cond else otherwise`.
    If {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    Index(Box<Expr>, Box<Expr>),
    Slice {
        target: Box<Expr>,
        start: Option<Box<Expr>>,
        stop: Option<Box<Expr>>,
        step: Option<Box<Expr>>,
    },
    Call(Func, Vec<Expr>),
}

/// A node with its depth (1 for a leaf).
#[derive(Clone, Debug)]
pub struct Expr {
    pub node: Node,
    pub depth: usize,
}

impl Expr {
    /// Wraps a node, computing its depth; `None` if the tree would exceed [`MAX_DEPTH`].
    pub fn new(node: Node) -> Option<Expr> {
        let child = |e: &Expr| e.depth;
        let opt = |e: &Option<Box<Expr>>| e.as_deref().map_or(0, child);
        let deepest = match &node {
            Node::Literal(_) | Node::Var(_) => 0,
            Node::Neg(e) | Node::Pos(e) | Node::Not(e) => child(e),
            Node::Binary(_, a, b) | Node::And(a, b) | Node::Or(a, b) | Node::Index(a, b) => {
                child(a).max(child(b))
            }
            Node::Compare(first, rest) => rest
                .iter()
                .map(|(_, e)| child(e))
                .fold(child(first), usize::max),
            Node::If {
                cond,
                then,
                otherwise,
            } => child(cond).max(child(then)).max(child(otherwise)),
            Node::Slice {
                target,
                start,
                stop,
                step,
            } => child(target).max(opt(start)).max(opt(stop)).max(opt(step)),
            Node::Call(_, args) => args.iter().map(child).max().unwrap_or(0),
        };
        let depth = deepest + 1;
        (depth <= MAX_DEPTH).then_some(Expr { node, depth })
    }
}
