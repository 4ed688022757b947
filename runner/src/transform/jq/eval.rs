//! Running a planned program directly on the item's JSON, in jaq's order of outputs.
//!
//! Outputs stream through a callback, as in jaq: `l, r` gives `l`'s then `r`'s; a
//! binary operator, an object with several-valued fields and `l | r` give the
//! cartesian product with the left (first) side outermost. Any case the values
//! module declines aborts the whole evaluation; the caller then runs jaq.

use std::borrow::Cow;
use std::cmp::Ordering;

use jaq_core::ops::{Cmp, Math};

use serde_json::Value;

use super::plan::{Expr, Lit, PathStep};
use super::value::{self, Cursor, Step, V};

type Emit<'e, 'a> = dyn FnMut(V<'a>) -> Step + 'e;

impl Expr {
    /// Every output on `input`, as the runner outputs jaq's, or `None` when only jaq can
    /// tell.
    pub(super) fn outputs(&self, input: &Value) -> Option<Vec<Value>> {
        let mut outputs = Vec::new();
        self.run(&V::Json(input), &mut |v| {
            outputs.push(v.into_json());
            Ok(())
        })
        .ok()?;
        Some(outputs)
    }

    /// Whether the first output is true (no output: false), or `None` when only jaq can
    /// tell.
    pub(super) fn holds(&self, input: &Value) -> Option<bool> {
        let mut first = None;
        self.run(&V::Json(input), &mut |v| {
            first.get_or_insert(v.truthy());
            Ok(())
        })
        .ok()?;
        Some(first.unwrap_or(false))
    }

    fn run<'a>(&'a self, input: &V<'a>, emit: &mut Emit<'_, 'a>) -> Step {
        match self {
            Expr::Id => emit(input.clone()),
            Expr::Lit(lit) => emit(literal(lit)),
            Expr::Path(base, steps) => match **base {
                // Walk the input in place: only what the path reaches is copied.
                Expr::Id => walk(input.cursor(), steps, emit),
                _ => base.run(input, &mut |v| walk(v.cursor(), steps, emit)),
            },
            Expr::Arr(inner) => {
                let mut items = Vec::new();
                inner.run(input, &mut |v| {
                    items.push(v);
                    Ok(())
                })?;
                emit(V::Arr(items))
            }
            Expr::Obj { fields, distinct } => object(fields, *distinct, input, emit),
            Expr::Neg(inner) => inner.run(input, &mut |v| emit(value::negate(&v)?)),
            Expr::Pipe(l, r) => l.run(input, &mut |v| r.run(&v, emit)),
            Expr::Comma(l, r) => {
                l.run(input, emit)?;
                r.run(input, emit)
            }
            Expr::Math(l, op, r) => l.run(input, &mut |x| {
                r.run(input, &mut |y| emit(value::math(*op, &x, y)?))
            }),
            Expr::Cmp(l, op, r) => l.run(input, &mut |x| {
                r.run(input, &mut |y| {
                    let (x, y) = (x.cursor(), y.cursor());
                    emit(V::Bool(match op {
                        Cmp::Eq => value::equal(x, y)?,
                        Cmp::Ne => !value::equal(x, y)?,
                        _ => op.run(&value::order(x, y)?, &Ordering::Equal),
                    }))
                })
            }),
            Expr::Logic(l, logic, r) => l.run(input, &mut |x| {
                if x.truthy() == logic.stop() {
                    emit(V::Bool(logic.stop()))
                } else {
                    r.run(input, &mut |y| emit(V::Bool(y.truthy())))
                }
            }),
            Expr::Alt(l, r) => {
                let mut kept = Vec::new();
                l.run(input, &mut |v| {
                    if v.truthy() {
                        kept.push(v);
                    }
                    Ok(())
                })?;
                if kept.is_empty() {
                    r.run(input, emit)
                } else {
                    kept.into_iter().try_for_each(emit)
                }
            }
            Expr::If(condition, then, otherwise) => condition.run(input, &mut |c| {
                if c.truthy() { then } else { otherwise }.run(input, emit)
            }),
            Expr::Empty => Ok(()),
            Expr::Length => emit(value::length(input)?),
            Expr::Add => {
                let mut sum = V::Null;
                input.cursor().each(|x| {
                    sum = value::math(Math::Add, &sum, x.to_v())?;
                    Ok(())
                })?;
                emit(sum)
            }
        }
    }
}

fn literal(lit: &Lit) -> V<'_> {
    match lit {
        Lit::Null => V::Null,
        Lit::Bool(b) => V::Bool(*b),
        Lit::Int(i) => V::Int(*i),
        Lit::Num(n) => V::Num(n),
        Lit::Str(s) => V::Str(Cow::Borrowed(s)),
    }
}

/// The path from `at`: each output is what the last step reaches.
fn walk<'a>(at: Cursor<'_, 'a>, steps: &'a [PathStep], emit: &mut Emit<'_, 'a>) -> Step {
    let Some((step, rest)) = steps.split_first() else {
        return emit(at.to_v());
    };
    match step {
        PathStep::Field(key) => walk(at.field(key)?, rest, emit),
        PathStep::Element(index) => walk(at.element(*index)?, rest, emit),
        PathStep::Each => at.each(|child| walk(child, rest, emit)),
    }
}

/// The outputs of one field's value: usually exactly one, kept without a vector.
enum Outputs<'a> {
    None,
    One(V<'a>),
    Many(Vec<V<'a>>),
}

impl<'a> Outputs<'a> {
    fn push(&mut self, v: V<'a>) {
        *self = match std::mem::replace(self, Outputs::None) {
            Outputs::None => Outputs::One(v),
            Outputs::One(first) => Outputs::Many(vec![first, v]),
            Outputs::Many(mut all) => {
                all.push(v);
                Outputs::Many(all)
            }
        };
    }

    fn as_slice(&self) -> &[V<'a>] {
        match self {
            Outputs::None => &[],
            Outputs::One(v) => std::slice::from_ref(v),
            Outputs::Many(all) => all,
        }
    }
}

/// `{k1: f1, k2: f2, …}`: one object per combination of the fields' outputs, the first
/// field's outermost (jaq builds it as `{k1: f1} + ({k2: f2} + …)`).
fn object<'a>(
    fields: &'a [(String, Expr)],
    distinct: bool,
    input: &V<'a>,
    emit: &mut Emit<'_, 'a>,
) -> Step {
    let mut values = Vec::with_capacity(fields.len());
    for (_, expr) in fields {
        let mut outputs = Outputs::None;
        expr.run(input, &mut |v| {
            outputs.push(v);
            Ok(())
        })?;
        values.push(outputs);
    }
    let build = |chosen: &mut dyn Iterator<Item = V<'a>>| {
        let mut object = Vec::with_capacity(fields.len());
        for ((key, _), v) in fields.iter().zip(chosen) {
            if distinct {
                object.push((Cow::Borrowed(key.as_str()), v));
            } else {
                value::insert(&mut object, Cow::Borrowed(key.as_str()), v);
            }
        }
        V::Obj(object)
    };
    if values.iter().all(|v| matches!(v, Outputs::One(_))) {
        let mut chosen = values.into_iter().filter_map(|v| match v {
            Outputs::One(v) => Some(v),
            _ => None,
        });
        return emit(build(&mut chosen));
    }
    if values.iter().any(|v| matches!(v, Outputs::None)) {
        return Ok(());
    }
    // Every combination, the last field fastest.
    let mut at = vec![0; values.len()];
    loop {
        let mut chosen = at
            .iter()
            .zip(&values)
            .map(|(i, v)| v.as_slice()[*i].clone());
        emit(build(&mut chosen))?;
        let mut field = values.len();
        loop {
            if field == 0 {
                return Ok(());
            }
            field -= 1;
            at[field] += 1;
            if at[field] < values[field].as_slice().len() {
                break;
            }
            at[field] = 0;
        }
    }
}
