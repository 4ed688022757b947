//! Values of the direct evaluator, with jaq's semantics on the item's JSON.
//!
//! A value is either a part of the input item, borrowed (`V::Json`), or one the
//! program made. Numbers behave as the jaq value the runner would have converted the
//! item into (`convert::to_val`): an integer that fits `isize` is jaq's `Int`; any
//! other number is carried by jaq as its JSON text and computes as the `f64` that text
//! parses to — for a JSON float that is its own value (the text is its shortest
//! round-trip form), for a `u64` beyond `isize` its rounding. Anything whose result
//! this module cannot tell with certainty is a [`Decline`], and the program runs on jaq.

use std::borrow::Cow;
use std::cmp::Ordering;

use jaq_core::ops::Math;
use serde_json::{Map, Number, Value};

/// The direct evaluation does not handle this case; jaq runs the program instead
/// (so runtime errors, and their messages, stay jaq's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decline;

pub(super) type Step<T = ()> = Result<T, Decline>;

/// `null`, for reads of missing fields.
static NULL: Value = Value::Null;

/// A value during the evaluation; `'a` is the lifetime of the item and the program.
#[derive(Clone, Debug)]
pub(super) enum V<'a> {
    /// A part of the input item, unchanged.
    Json(&'a Value),
    Null,
    Bool(bool),
    /// jaq's `Int`.
    Int(isize),
    /// jaq's `Float` (the result of arithmetic).
    Float(f64),
    /// A number literal of the program that is not an `isize`: jaq keeps its text.
    Num(&'a NumLit),
    Str(Cow<'a, str>),
    Arr(Vec<V<'a>>),
    /// Fields in jaq's order (first insertion), keys unique.
    Obj(Vec<(Cow<'a, str>, V<'a>)>),
}

/// A number literal jaq carries as text (`1.5`, `1e3`, `9223372036854775808`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NumLit {
    /// What the runner outputs for it: the text parsed as a JSON number.
    output: Value,
    /// What jaq computes with: the text parsed as an `f64`.
    value: f64,
}

impl NumLit {
    /// `None` when jaq would compute with something other than a finite `f64`.
    pub(super) fn parse(text: &str) -> Option<Self> {
        let value: f64 = text.parse().ok().filter(|f: &f64| f.is_finite())?;
        let output = text.parse::<Number>().map_or(Value::Null, Value::Number);
        Some(Self { output, value })
    }
}

/// A number as jaq computes with it.
#[derive(Debug, Clone, Copy)]
pub(super) enum N {
    Int(isize),
    Float(f64),
}

impl N {
    fn of(n: &Number) -> Step<Self> {
        match n.as_i64().and_then(|i| isize::try_from(i).ok()) {
            Some(i) => Ok(Self::Int(i)),
            // Always `Some` without serde_json's `arbitrary_precision`.
            None => n.as_f64().map(Self::Float).ok_or(Decline),
        }
    }

    fn float(self) -> f64 {
        match self {
            Self::Int(i) => i as f64,
            Self::Float(f) => f,
        }
    }

    fn value<'a>(self) -> V<'a> {
        match self {
            Self::Int(i) => V::Int(i),
            Self::Float(f) => V::Float(f),
        }
    }
}

/// A read-only position in a value: in the item, or in a value the program made.
#[derive(Clone, Copy, Debug)]
pub(super) enum Cursor<'r, 'a> {
    Json(&'a Value),
    Val(&'r V<'a>),
}

/// What a value is, whichever way it is held.
pub(super) enum View<'r, 'a> {
    Null,
    Bool(bool),
    Num(N),
    Str(&'r str),
    Arr(Items<'r, 'a>),
    Obj(Fields<'r, 'a>),
}

#[derive(Clone, Copy)]
pub(super) enum Items<'r, 'a> {
    Json(&'a [Value]),
    Val(&'r [V<'a>]),
}

#[derive(Clone, Copy)]
pub(super) enum Fields<'r, 'a> {
    Json(&'a Map<String, Value>),
    Val(&'r [(Cow<'a, str>, V<'a>)]),
}

impl<'r, 'a: 'r> Cursor<'r, 'a> {
    pub(super) fn view(self) -> Step<View<'r, 'a>> {
        Ok(match self {
            Cursor::Json(value) => match value {
                Value::Null => View::Null,
                Value::Bool(b) => View::Bool(*b),
                Value::Number(n) => View::Num(N::of(n)?),
                Value::String(s) => View::Str(s),
                Value::Array(items) => View::Arr(Items::Json(items)),
                Value::Object(fields) => View::Obj(Fields::Json(fields)),
            },
            Cursor::Val(value) => match value {
                V::Json(json) => return Cursor::Json(json).view(),
                V::Null => View::Null,
                V::Bool(b) => View::Bool(*b),
                V::Int(i) => View::Num(N::Int(*i)),
                V::Float(f) => View::Num(N::Float(*f)),
                V::Num(lit) => View::Num(N::Float(lit.value)),
                V::Str(s) => View::Str(s),
                V::Arr(items) => View::Arr(Items::Val(items)),
                V::Obj(fields) => View::Obj(Fields::Val(fields)),
            },
        })
    }

    /// The value here, as an owned evaluation value (parts of the item stay borrowed).
    pub(super) fn to_v(self) -> V<'a> {
        match self {
            Cursor::Json(json) => V::Json(json),
            Cursor::Val(value) => value.clone(),
        }
    }

    /// `.[key]`: a field of an object (`null` when missing); anything else is an error
    /// in jaq, `null` included.
    pub(super) fn field(self, key: &str) -> Step<Self> {
        match self.view()? {
            View::Obj(fields) => Ok(fields.get(key).unwrap_or(Cursor::Json(&NULL))),
            _ => Err(Decline),
        }
    }

    /// `.[i]`: an element of an array, counted from the end when negative, `null`
    /// outside; anything else is an error in jaq.
    pub(super) fn element(self, index: isize) -> Step<Self> {
        match self.view()? {
            View::Arr(items) => {
                let len = items.len();
                let at = if index >= 0 {
                    usize::try_from(index).ok()
                } else {
                    len.checked_sub(index.unsigned_abs())
                };
                Ok(at
                    .and_then(|at| items.get(at))
                    .unwrap_or(Cursor::Json(&NULL)))
            }
            _ => Err(Decline),
        }
    }

    /// `.[]`: the elements of an array or the values of an object, in jaq's order.
    pub(super) fn each(self, mut emit: impl FnMut(Cursor<'r, 'a>) -> Step) -> Step {
        match self.view()? {
            View::Arr(Items::Json(items)) => items.iter().try_for_each(|i| emit(Cursor::Json(i))),
            View::Arr(Items::Val(items)) => items.iter().try_for_each(|i| emit(Cursor::Val(i))),
            View::Obj(Fields::Json(fields)) => {
                fields.values().try_for_each(|v| emit(Cursor::Json(v)))
            }
            View::Obj(Fields::Val(fields)) => {
                fields.iter().try_for_each(|(_, v)| emit(Cursor::Val(v)))
            }
            _ => Err(Decline),
        }
    }
}

impl<'r, 'a: 'r> Items<'r, 'a> {
    fn len(self) -> usize {
        match self {
            Items::Json(items) => items.len(),
            Items::Val(items) => items.len(),
        }
    }

    fn get(self, at: usize) -> Option<Cursor<'r, 'a>> {
        match self {
            Items::Json(items) => items.get(at).map(Cursor::Json),
            Items::Val(items) => items.get(at).map(Cursor::Val),
        }
    }

    fn iter(self) -> impl Iterator<Item = Cursor<'r, 'a>> {
        (0..self.len()).filter_map(move |at| self.get(at))
    }
}

impl<'r, 'a: 'r> Fields<'r, 'a> {
    fn len(self) -> usize {
        match self {
            Fields::Json(fields) => fields.len(),
            Fields::Val(fields) => fields.len(),
        }
    }

    fn get(self, key: &str) -> Option<Cursor<'r, 'a>> {
        match self {
            Fields::Json(fields) => fields.get(key).map(Cursor::Json),
            Fields::Val(fields) => fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| Cursor::Val(v)),
        }
    }

    /// The fields as owned evaluation values, in order.
    fn to_vec(self) -> Vec<(Cow<'a, str>, V<'a>)> {
        match self {
            Fields::Json(fields) => fields
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), V::Json(v)))
                .collect(),
            Fields::Val(fields) => fields.to_vec(),
        }
    }

    fn pairs(self) -> Vec<(&'r str, Cursor<'r, 'a>)> {
        match self {
            Fields::Json(fields) => fields
                .iter()
                .map(|(k, v)| (k.as_str(), Cursor::Json(v)))
                .collect(),
            Fields::Val(fields) => fields
                .iter()
                .map(|(k, v)| (k.as_ref(), Cursor::Val(v)))
                .collect(),
        }
    }
}

/// Adds a field as jaq's objects do: a new key goes last, an existing key keeps its
/// place and takes the new value.
pub(super) fn insert<'a>(fields: &mut Vec<(Cow<'a, str>, V<'a>)>, key: Cow<'a, str>, value: V<'a>) {
    match fields.iter_mut().find(|(k, _)| *k == key) {
        Some((_, old)) => *old = value,
        None => fields.push((key, value)),
    }
}

impl<'a> V<'a> {
    pub(super) fn cursor(&self) -> Cursor<'_, 'a> {
        Cursor::Val(self)
    }

    /// jaq's truth: everything but `null` and `false`.
    pub(super) fn truthy(&self) -> bool {
        !matches!(
            self,
            V::Null | V::Bool(false) | V::Json(Value::Null | Value::Bool(false))
        )
    }

    /// The value as the runner outputs jaq's result (`convert::from_val`). A part of
    /// the item is copied as it is: jaq's round trip through the text of a number that
    /// is not an `isize` gives the same number back, serde_json parsing floats exactly
    /// (`float_roundtrip`; tested in `direct_tests`).
    pub(super) fn into_json(self) -> Value {
        match self {
            V::Json(json) => json.clone(),
            V::Null => Value::Null,
            V::Bool(b) => Value::Bool(b),
            V::Int(i) => Value::Number(Number::from(i)),
            V::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            V::Num(lit) => lit.output.clone(),
            V::Str(s) => Value::String(s.into_owned()),
            V::Arr(items) => Value::Array(items.into_iter().map(V::into_json).collect()),
            V::Obj(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(k, v)| (k.into_owned(), v.into_json()))
                    .collect(),
            ),
        }
    }
}

/// `l <op> r` with jaq's rules, for numbers and for `+` on `null`, strings, arrays and
/// objects; any other combination (or an integer overflow) declines.
pub(super) fn math<'a>(op: Math, l: &V<'a>, r: V<'a>) -> Step<V<'a>> {
    let (lv, rv) = (l.cursor().view()?, r.cursor().view()?);
    if let (View::Num(x), View::Num(y)) = (&lv, &rv) {
        return numbers(op, *x, *y);
    }
    if op != Math::Add {
        return Err(Decline);
    }
    Ok(match (lv, rv) {
        (View::Null, _) => r,
        (_, View::Null) => l.clone(),
        (View::Str(x), View::Str(y)) => V::Str(Cow::Owned([x, y].concat())),
        (View::Arr(x), View::Arr(y)) => {
            V::Arr(x.iter().chain(y.iter()).map(Cursor::to_v).collect())
        }
        (View::Obj(x), View::Obj(y)) => {
            let mut fields = x.to_vec();
            for (k, v) in y.to_vec() {
                insert(&mut fields, k, v);
            }
            V::Obj(fields)
        }
        _ => return Err(Decline),
    })
}

fn numbers<'a>(op: Math, x: N, y: N) -> Step<V<'a>> {
    if let (N::Int(a), N::Int(b)) = (x, y) {
        let int = match op {
            Math::Add => a.checked_add(b),
            Math::Sub => a.checked_sub(b),
            Math::Mul => a.checked_mul(b),
            Math::Rem => a.checked_rem(b),
            Math::Div => return Ok(V::Float(a as f64 / b as f64)),
        };
        return int.map(V::Int).ok_or(Decline);
    }
    let (a, b) = (x.float(), y.float());
    Ok(V::Float(match op {
        Math::Add => a + b,
        Math::Sub => a - b,
        Math::Mul => a * b,
        Math::Div => a / b,
        Math::Rem => a % b,
    }))
}

/// `-x`: numbers only.
pub(super) fn negate<'a>(x: &V<'a>) -> Step<V<'a>> {
    match x.cursor().view()? {
        View::Num(N::Int(i)) => i.checked_neg().map(V::Int).ok_or(Decline),
        View::Num(N::Float(f)) => Ok(V::Float(-f)),
        _ => Err(Decline),
    }
}

/// `length`: of `null` 0, of a number its absolute value, of a string its characters,
/// of an array or object its size; of a boolean an error.
pub(super) fn length<'a>(x: &V<'a>) -> Step<V<'a>> {
    let count = |n: usize| isize::try_from(n).map(V::Int).map_err(|_| Decline);
    match x.cursor().view()? {
        View::Null => Ok(V::Int(0)),
        View::Bool(_) => Err(Decline),
        View::Num(N::Int(i)) => i.checked_abs().map(V::Int).ok_or(Decline),
        View::Num(N::Float(f)) => Ok(N::Float(f.abs()).value()),
        View::Str(s) => count(s.chars().count()),
        View::Arr(items) => count(items.len()),
        View::Obj(fields) => count(fields.len()),
    }
}

/// jaq's equality: numbers by value (`1 == 1.0`), objects whatever their order.
pub(super) fn equal(l: Cursor<'_, '_>, r: Cursor<'_, '_>) -> Step<bool> {
    Ok(match (l.view()?, r.view()?) {
        (View::Null, View::Null) => true,
        (View::Bool(x), View::Bool(y)) => x == y,
        (View::Num(x), View::Num(y)) => number_order(x, y) == Ordering::Equal,
        (View::Str(x), View::Str(y)) => x == y,
        (View::Arr(x), View::Arr(y)) => {
            if x.len() != y.len() {
                return Ok(false);
            }
            for (a, b) in x.iter().zip(y.iter()) {
                if !equal(a, b)? {
                    return Ok(false);
                }
            }
            true
        }
        (View::Obj(x), View::Obj(y)) => {
            if x.len() != y.len() {
                return Ok(false);
            }
            for (key, a) in x.pairs() {
                match y.get(key) {
                    Some(b) if equal(a, b)? => {}
                    _ => return Ok(false),
                }
            }
            true
        }
        _ => false,
    })
}

/// jaq's total order: `null` < booleans < numbers < strings < arrays < objects.
/// Two non-empty objects are compared by sorted keys and values in jaq; that case
/// declines.
pub(super) fn order(l: Cursor<'_, '_>, r: Cursor<'_, '_>) -> Step<Ordering> {
    let (lv, rv) = (l.view()?, r.view()?);
    Ok(match (&lv, &rv) {
        (View::Null, View::Null) => Ordering::Equal,
        (View::Bool(x), View::Bool(y)) => x.cmp(y),
        (View::Num(x), View::Num(y)) => number_order(*x, *y),
        (View::Str(x), View::Str(y)) => x.cmp(y),
        (View::Arr(x), View::Arr(y)) => {
            for (a, b) in x.iter().zip(y.iter()) {
                match order(a, b)? {
                    Ordering::Equal => {}
                    other => return Ok(other),
                }
            }
            x.len().cmp(&y.len())
        }
        (View::Obj(x), View::Obj(y)) => match (x.len(), y.len()) {
            (0, 0) => Ordering::Equal,
            (0, _) => Ordering::Less,
            (_, 0) => Ordering::Greater,
            _ => return Err(Decline),
        },
        _ => rank(&lv).cmp(&rank(&rv)),
    })
}

fn rank(view: &View<'_, '_>) -> u8 {
    match view {
        View::Null => 0,
        View::Bool(_) => 1,
        View::Num(_) => 2,
        View::Str(_) => 3,
        View::Arr(_) => 4,
        View::Obj(_) => 5,
    }
}

/// Integers exactly, anything else as floats the way jaq orders them: both zeros
/// equal, NaN below everything.
fn number_order(x: N, y: N) -> Ordering {
    if let (N::Int(a), N::Int(b)) = (x, y) {
        return a.cmp(&b);
    }
    let (a, b) = (x.float(), y.float());
    if a == 0.0 && b == 0.0 {
        Ordering::Equal
    } else if a.is_nan() {
        Ordering::Less
    } else if b.is_nan() {
        Ordering::Greater
    } else {
        a.total_cmp(&b)
    }
}
