//! Which jq programs the direct evaluator runs: decided once, when the program is
//! compiled, from jaq's own parse of it (never from the program's text).
//!
//! The subset is what maps and conditions are made of: `.`, paths of literal keys and
//! indices and `.[]`, literals, arrays and objects with literal keys, `|`, `,`,
//! arithmetic, comparisons, `and`/`or`/`//`, `-x`, `if … then … else … end`, and the
//! definitions `null`, `true`, `false`, `empty`, `not`, `length`, `add`, `select(f)`
//! and `map(f)`. A program with anything else (variables, `?`, `try`, `reduce`,
//! string interpolation, slices, updates, definitions, other functions) runs on jaq.

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Term};
use jaq_core::ops::{Cmp, Math};
use jaq_core::path::{Opt, Part};

use super::value::NumLit;

/// A program of the subset, as jaq would run it.
#[derive(Debug, PartialEq)]
pub(super) enum Expr {
    /// `.`
    Id,
    Lit(Lit),
    /// `f.a[0][]`: the outputs of `f`, each walked along the path.
    Path(Box<Expr>, Vec<PathStep>),
    /// `[f]` (`[]` is `Arr(Empty)`).
    Arr(Box<Expr>),
    /// `{k: f, …}`; `distinct` when no key repeats (no search on insertion).
    Obj {
        fields: Vec<(String, Expr)>,
        distinct: bool,
    },
    Neg(Box<Expr>),
    Pipe(Box<Expr>, Box<Expr>),
    Comma(Box<Expr>, Box<Expr>),
    Math(Box<Expr>, Math, Box<Expr>),
    Cmp(Box<Expr>, Cmp, Box<Expr>),
    Logic(Box<Expr>, Logic, Box<Expr>),
    /// `l // r`
    Alt(Box<Expr>, Box<Expr>),
    /// `if c then t else e end` (`elif` nests, a missing `else` is `.`).
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `empty`: no output.
    Empty,
    /// `length`
    Length,
    /// `add`: `reduce .[] as $x (null; . + $x)`.
    Add,
}

#[derive(Debug, PartialEq)]
pub(super) enum Lit {
    Null,
    Bool(bool),
    Int(isize),
    Num(NumLit),
    Str(String),
}

#[derive(Debug, PartialEq)]
pub(super) enum PathStep {
    /// `.a`, `."a b"`, `.["a"]`
    Field(String),
    /// `.[0]`, `.[-1]`
    Element(isize),
    /// `.[]`
    Each,
}

/// `and` / `or`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Logic {
    And,
    Or,
}

impl Logic {
    /// The left truth value that decides the result without the right side.
    pub(super) fn stop(self) -> bool {
        matches!(self, Logic::Or)
    }
}

/// The program as an [`Expr`], or `None` when it is outside the subset (or does not
/// parse: jaq reports that).
pub(super) fn plan(code: &str) -> Option<Expr> {
    let term = jaq_core::load::parse(code, |p| p.term())?;
    expr(term)
}

fn boxed(term: Term<&str>) -> Option<Box<Expr>> {
    expr(term).map(Box::new)
}

fn expr(term: Term<&str>) -> Option<Expr> {
    Some(match term {
        Term::Id => Expr::Id,
        Term::Num(text) => Expr::Lit(number(text)?),
        Term::Str(None, parts) => Expr::Lit(Lit::Str(text(parts)?)),
        Term::Arr(None) => Expr::Arr(Box::new(Expr::Empty)),
        Term::Arr(Some(inner)) => Expr::Arr(boxed(*inner)?),
        Term::Obj(entries) => object(entries)?,
        Term::Neg(inner) => Expr::Neg(boxed(*inner)?),
        Term::Pipe(l, None, r) => Expr::Pipe(boxed(*l)?, boxed(*r)?),
        Term::BinOp(l, op, r) => {
            let (l, r) = (boxed(*l)?, boxed(*r)?);
            match op {
                BinaryOp::Comma => Expr::Comma(l, r),
                BinaryOp::Math(op) => Expr::Math(l, op, r),
                BinaryOp::Cmp(op) => Expr::Cmp(l, op, r),
                BinaryOp::And => Expr::Logic(l, Logic::And, r),
                BinaryOp::Or => Expr::Logic(l, Logic::Or, r),
                BinaryOp::Alt => Expr::Alt(l, r),
                _ => return None,
            }
        }
        Term::IfThenElse(branches, otherwise) => {
            let otherwise = match otherwise {
                Some(term) => expr(*term)?,
                None => Expr::Id,
            };
            let mut result = otherwise;
            for (condition, then) in branches.into_iter().rev() {
                result = Expr::If(boxed(condition)?, boxed(then)?, Box::new(result));
            }
            result
        }
        Term::Call(name, args) => call(name, args)?,
        Term::Path(base, path) => {
            let steps = path
                .0
                .into_iter()
                .map(|(part, opt)| match opt {
                    Opt::Essential => step(part),
                    Opt::Optional => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Expr::Path(boxed(*base)?, steps)
        }
        _ => return None,
    })
}

/// jaq's number literals: an `isize` is an `Int`, anything else keeps its text.
fn number(text: &str) -> Option<Lit> {
    Some(match text.parse::<isize>() {
        Ok(i) => Lit::Int(i),
        Err(_) => Lit::Num(NumLit::parse(text)?),
    })
}

/// A string literal without interpolation or format.
fn text(parts: Vec<StrPart<&str, Term<&str>>>) -> Option<String> {
    let mut text = String::new();
    for part in parts {
        match part {
            StrPart::Str(s) => text.push_str(s),
            StrPart::Char(c) => text.push(c),
            StrPart::Term(_) => return None,
        }
    }
    Some(text)
}

fn key(term: Term<&str>) -> Option<String> {
    match term {
        Term::Str(None, parts) => text(parts),
        _ => None,
    }
}

fn object(entries: Vec<(Term<&str>, Option<Term<&str>>)>) -> Option<Expr> {
    let fields = entries
        .into_iter()
        .map(|(k, v)| {
            let k = key(k)?;
            let v = match v {
                Some(v) => expr(v)?,
                // `{a}` is `{a: .a}`
                None => Expr::Path(Box::new(Expr::Id), vec![PathStep::Field(k.clone())]),
            };
            Some((k, v))
        })
        .collect::<Option<Vec<_>>>()?;
    let distinct = fields
        .iter()
        .enumerate()
        .all(|(i, (k, _))| fields[..i].iter().all(|(other, _)| other != k));
    Some(Expr::Obj { fields, distinct })
}

fn step(part: Part<Term<&str>>) -> Option<PathStep> {
    match part {
        Part::Range(None, None) => Some(PathStep::Each),
        Part::Range(..) => None,
        Part::Index(Term::Str(None, parts)) => text(parts).map(PathStep::Field),
        Part::Index(Term::Num(text)) => text.parse().ok().map(PathStep::Element),
        Part::Index(Term::Neg(inner)) => match *inner {
            Term::Num(text) => text
                .parse::<isize>()
                .ok()
                .and_then(isize::checked_neg)
                .map(PathStep::Element),
            _ => None,
        },
        Part::Index(_) => None,
    }
}

/// The definitions of jaq's standard library the subset has, as jaq defines them.
fn call(name: &str, args: Vec<Term<&str>>) -> Option<Expr> {
    let mut args = args.into_iter();
    let expr = match (name, args.next(), args.next()) {
        ("null", None, _) => Expr::Lit(Lit::Null),
        ("true", None, _) => Expr::Lit(Lit::Bool(true)),
        ("false", None, _) => Expr::Lit(Lit::Bool(false)),
        ("empty", None, _) => Expr::Empty,
        ("length", None, _) => Expr::Length,
        ("add", None, _) => Expr::Add,
        // `def not: if . then false else true end;`
        ("not", None, _) => Expr::If(
            Box::new(Expr::Id),
            Box::new(Expr::Lit(Lit::Bool(false))),
            Box::new(Expr::Lit(Lit::Bool(true))),
        ),
        // `def select(f): if f then . else empty end;`
        ("select", Some(f), None) => Expr::If(boxed(f)?, Box::new(Expr::Id), Box::new(Expr::Empty)),
        // `def map(f): [.[] | f];`
        ("map", Some(f), None) => Expr::Arr(Box::new(Expr::Pipe(
            Box::new(Expr::Path(Box::new(Expr::Id), vec![PathStep::Each])),
            boxed(f)?,
        ))),
        _ => return None,
    };
    Some(expr)
}
