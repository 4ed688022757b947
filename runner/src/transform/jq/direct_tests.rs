//! The direct evaluation against jaq: the programs users write take it, programs
//! outside the subset do not, and on random programs of the subset × random items it
//! gives exactly jaq's outputs or declines.

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

use super::JqProgram;

fn program(code: &str) -> JqProgram {
    JqProgram::compile(code).unwrap_or_else(|e| panic!("{code}: {e}"))
}

/// The direct outputs, or `None` when the evaluation declined.
fn direct(program: &JqProgram, input: &Value) -> Option<Vec<Value>> {
    program.direct.as_ref().and_then(|d| d.outputs(input))
}

/// The map of `switchyard-bench` (bench/src/manifest.rs).
const BENCH_MAP: &str = "{orderId: .id, sentAtNs: .sentAtNs, customer: .customer.name, \
email: .customer.email, country: .shipping.country, \
total: ([.lines[] | .qty * .price] | add), \
lines: [.lines[] | {sku: .sku, quantity: .qty}]}";

#[test]
fn the_bench_map_and_common_maps_are_evaluated_directly() {
    let order = json!({
        "id": "o-1", "sentAtNs": 1_764_000_000_000_000_000_u64,
        "customer": {"name": "Ada", "email": "ada@example.com"},
        "shipping": {"country": "DE"},
        "lines": [{"sku": "a", "qty": 2, "price": 9.95}, {"sku": "b", "qty": 1, "price": 5}]
    });
    let map = program(BENCH_MAP);
    assert!(map.is_direct());
    let expected = json!({
        "orderId": "o-1", "sentAtNs": 1_764_000_000_000_000_000_u64, "customer": "Ada",
        "email": "ada@example.com", "country": "DE", "total": 24.9,
        "lines": [{"sku": "a", "quantity": 2}, {"sku": "b", "quantity": 1}]
    });
    assert_eq!(direct(&map, &order), Some(vec![expected.clone()]));
    assert_eq!(map.jaq_outputs(order.clone()), Ok(vec![expected]));
    for code in [
        "{id, total: (.price * .qty)}",
        ".items[] | {id, name: .title}",
        "select(.status == \"paid\") | {id: .id, amount: (.amount / 100)}",
        "{id: .id, tags: map(.name), count: (.tags | length)}",
        "if .kind == \"a\" then {a: .v} elif .kind == \"b\" then {b: .v} else . end",
        "{name: (.first + \" \" + .last), vip: (.orders > 10 and .active)}",
        ".a // \"default\"",
        "[.[] | select(.qty > 0)]",
        "{\"order id\": .id, nested: {x: .a.b[0], y: .a.b[-1]}}",
        ".",
        "-.n",
        "not",
    ] {
        assert!(program(code).is_direct(), "{code} is evaluated directly");
    }
}

#[test]
fn programs_outside_the_subset_run_on_jaq() {
    for code in [
        ".a?",
        ".[]?",
        "try .a catch 0",
        ". as $x | $x",
        "reduce .[] as $x (0; . + $x)",
        "\"\\(.a)\"",
        "@base64",
        ".[1:2]",
        ".a = 1",
        ".a |= 1",
        "def f: 1; f",
        "keys",
        "tostring",
        "{(.k): 1}",
        "..",
        ".[.i]",
        "map(.a?)",
    ] {
        assert!(!program(code).is_direct(), "{code} runs on jaq");
    }
}

/// Errors, overflows and numbers jaq carries as text: the results stay jaq's.
#[test]
fn what_the_direct_evaluation_does_not_answer_is_jaqs() {
    let cases = [
        // A path on a non-object (`null` included) is an error in jaq.
        (".a.b", json!({"a": null})),
        (".a.b", json!({"a": "text"})),
        (".[0]", json!({"a": 1})),
        (".a + 1", json!({"a": "x"})),
        ("add", json!(null)),
        (".n % 0", json!({"n": 5})),
        ("-.s", json!({"s": "x"})),
        ("length", json!(true)),
    ];
    for (code, input) in cases {
        let jq = program(code);
        assert!(jq.is_direct(), "{code}");
        assert_eq!(direct(&jq, &input), None, "{code} on {input} declines");
        assert!(jq.outputs(input).is_err(), "{code}: jaq's error");
    }
    // An overflow declines; jaq computes it (wrapping, in a release build).
    let overflow = program(".n + 1");
    assert_eq!(direct(&overflow, &json!({"n": i64::MAX})), None);
    // Two non-empty objects are ordered by jaq.
    let objects = program("{a: 1} < {b: 1}");
    assert_eq!(direct(&objects, &json!(null)), None);
    assert_eq!(objects.outputs(json!(null)), Ok(vec![json!(true)]));
    // Numbers jaq keeps as text: a u64 beyond isize, floats read back from their text.
    // The direct evaluation copies them as they are, which is what jaq outputs as long
    // as serde_json parses floats exactly (its `float_roundtrip` feature, on in this
    // build; without it 42218.294799999996 would come back as 42218.2948).
    let identity = program("[., .x, (.x + 0), (.f * 1)]");
    for input in [
        json!({"x": u64::MAX, "f": 0.1}),
        json!({"x": 0.30000000000000004, "f": 1e300}),
        json!({"x": 2.0, "f": -0.0}),
        json!({"x": 42218.294799999996, "f": 97418.13510000001}),
    ] {
        assert_eq!(
            direct(&identity, &input),
            Some(
                identity
                    .jaq_outputs(input.clone())
                    .unwrap_or_else(|e| panic!("{e}"))
            ),
            "{input}"
        );
    }
    // `add` of an empty array is null; `null` literals and missing fields read as null.
    assert_eq!(
        direct(&program("[([] | add), .missing, null]"), &json!({})),
        Some(vec![json!([null, null, null])])
    );
}

/// Each program on its item is answered directly, with jaq's outputs: the order of
/// outputs of products and objects, every operator on mixed number kinds, jaq's order
/// of types, object fields in insertion order.
#[test]
fn operators_and_output_order_are_jaqs() {
    let mixed = json!({
        "xs": [null, false, true, 0, -1, 1.5, 18446744073709551615_u64, "", "a", [], [0], {}],
        "ys": [null, true, 1, 1.0, 2.5, "a", "b", [0], [0, 1], {}],
        "ns": [3, -7, 2.5, 0.1, -0.0, 1_000_000_007_i64],
        "ms": [2, -3, 0.5, 1e300],
        "s": ["", "ab"], "t": ["c", ""],
        "big": 18446744073709551615_u64, "a": false, "b": null
    });
    let cases = [
        "[.xs[] < .ys[]], [.xs[] <= .ys[]], [.xs[] > .ys[]], [.xs[] >= .ys[]]",
        "[.xs[] == .ys[]], [.xs[] != .ys[]]",
        "[.ns[] + .ms[]], [.ns[] - .ms[]], [.ns[] * .ms[]], [.ns[] / .ms[]]",
        "[.ns[] % (2, -3, 0.5)]",
        "[.s[] + .t[]], [.xs[] + null], [null + .ys[]], ([1] + [2, 3]), ({a: 1} + {b: 2, a: 3})",
        "{x: (1, 2), y: (3, 4), z: 5}",
        "[(.ns[0], .ns[1]) - (.ms[0], .ms[1])]",
        "{a: 1, b: 2, a: 3} | [.[]], add",
        "({b: \"x\"} + {a: \"y\", b: \"z\"}) | add, [.[]]",
        ".a // .b // 3, (.a // (4, 5)), ((.b, 6, .a, 7) // 8)",
        "[(true, false) and (true, false)], [(false, true) or (false, true)]",
        "[.ns[] | select(. > 1)], map(1), [.ns[], .s[], .ys[7], {a: 1}, null | length], [.xs[] | not]",
        "[.ns[] | -.], -.big",
        "if .a then 1 elif .b then 2 else 3 end, (if (true, false) then 4 else 5 end)",
        "[.ys[-1], .ys[-10], .ys[-11], .ys[10], .ys[0]], .ys[7][1]",
        "(.s | add), ([[1], [2]] | add), ([{a: 1}, {b: 2}] | add), ([] | add)",
        "[1e3, 1.0, 9223372036854775808, -2, 0.1 + 0.2, 1.5e-7, 100000000000000000000]",
        "[.big + 1, .big * 1, .big == 18446744073709551614, .big > 9223372036854775807]",
        "{(\"k\"): 1, \"a b\": 2, \"\\n\": 3, big, a}",
        "[.xs, .ys, .s, .big | length]",
    ];
    for code in cases {
        let jq = program(code);
        assert!(jq.is_direct(), "{code} is evaluated directly");
        let expected = jq
            .jaq_outputs(mixed.clone())
            .unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(direct(&jq, &mixed), Some(expected), "{code}");
    }
}

/// Programs of the subset, written as text the way users would.
fn program_text() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(vec![
        ".",
        ".a",
        ".b",
        ".n",
        ".f",
        ".s",
        ".xs",
        ".a.b",
        ".xs[]",
        ".[]",
        ".[0]",
        ".[-1]",
        ".xs[1]",
        ".\"a\"",
        "1",
        "0",
        "-2",
        "2.5",
        "0.1",
        "1e3",
        "1.0",
        "\"s\"",
        "\"\"",
        "\"a\\nb\"",
        "null",
        "true",
        "false",
        "9223372036854775807",
        "18446744073709551615",
        "[]",
        "{}",
        "empty",
        "add",
        "length",
        "not",
    ])
    .prop_map(str::to_owned);
    leaf.prop_recursive(4, 48, 3, |inner| {
        let two = (inner.clone(), inner.clone());
        prop_oneof![
            inner.clone().prop_map(|a| format!("[{a}]")),
            two.clone().prop_map(|(a, b)| format!("{{a: {a}, b: {b}}}")),
            two.clone()
                .prop_map(|(a, b)| format!("{{a: {a}, a: {b}, \"c d\": 1}}")),
            inner.clone().prop_map(|a| format!("({a} | {{a, n}})")),
            two.clone().prop_map(|(a, b)| format!("({a} | {b})")),
            two.clone().prop_map(|(a, b)| format!("({a}, {b})")),
            (
                inner.clone(),
                prop::sample::select(vec![
                    "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or", "//"
                ]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("(-{a})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, t, e)| format!("(if {c} then {t} else {e} end)")),
            two.clone()
                .prop_map(|(c, t)| format!("(if {c} then {t} end)")),
            inner.clone().prop_map(|a| format!("select({a})")),
            inner.clone().prop_map(|a| format!("map({a})")),
            inner.clone().prop_map(|a| format!("({a}).a")),
            inner.clone().prop_map(|a| format!("({a})[]")),
            inner.clone().prop_map(|a| format!("({a})[0]")),
            inner.prop_map(|a| format!("({a} | add)")),
        ]
    })
}

/// Items with the fields the programs read, mostly of the types a map expects (so
/// that most programs run to the end), sometimes missing, `null` or of another type,
/// and every kind of number.
fn item() -> impl Strategy<Value = Value> {
    let number = prop_oneof![
        4 => (-3_i64..4).prop_map(Value::from),
        1 => Just(Value::from(i64::MAX)),
        1 => Just(Value::from(i64::MIN)),
        1 => Just(Value::from(u64::MAX)),
        1 => Just(Value::from(9_223_372_036_854_775_808_u64)),
        1 => Just(json!(0.30000000000000004)),
        1 => Just(json!(-0.0)),
        1 => Just(json!(2.0)),
        1 => Just(json!(1e300)),
        2 => any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        2 => (-1000_i32..1000).prop_map(|i| Value::from(f64::from(i) / 8.0)),
    ];
    let text = prop::sample::select(vec!["", "s", "a", "b", "é"]).prop_map(Value::from);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number.clone(),
        text.clone(),
    ];
    let any_value = leaf.clone().prop_recursive(2, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["a", "b", "n", "xs"]).prop_map(str::to_owned),
                inner,
                0..3
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    });
    let record = (number.clone(), leaf.clone(), text.clone())
        .prop_map(|(n, b, s)| json!({"n": n, "b": b, "s": s}));
    let field = |usual: BoxedStrategy<Value>| prop_oneof![6 => usual.prop_map(Some), 1 => any_value.clone().prop_map(Some), 1 => Just(None)];
    (
        field(record.clone().boxed()),
        field(leaf.boxed()),
        field(number.clone().boxed()),
        field(number.boxed()),
        field(text.boxed()),
        field(
            prop::collection::vec(prop_oneof![record, any_value.clone()], 0..4)
                .prop_map(Value::Array)
                .boxed(),
        ),
    )
        .prop_map(|(a, b, n, f, s, xs)| {
            let fields = [("a", a), ("b", b), ("n", n), ("f", f), ("s", s), ("xs", xs)];
            Value::Object(
                fields
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.to_owned(), v?)))
                    .collect(),
            )
        })
}

/// Random programs of the subset on random items: the direct outputs are jaq's
/// whenever the direct evaluation answers, and it answers for a good share of them
/// (so the property cannot hold by declining everything).
#[test]
fn direct_evaluation_agrees_with_jaq() {
    let mut runner = TestRunner::new(Config {
        cases: 400,
        failure_persistence: None,
        ..Config::default()
    });
    let (answered, total) = (Cell::new(0_u32), Cell::new(0_u32));
    let result = runner.run(
        &(program_text(), prop::collection::vec(item(), 1..8)),
        |(code, items)| {
            let jq = JqProgram::compile(&code)
                .map_err(|e| TestCaseError::fail(format!("{code}: {e}")))?;
            prop_assert!(jq.is_direct(), "{} is in the subset", code);
            for input in items {
                total.set(total.get() + 1);
                if let Some(outputs) = direct(&jq, &input) {
                    answered.set(answered.get() + 1);
                    prop_assert_eq!(
                        jq.jaq_outputs(input.clone()),
                        Ok(outputs),
                        "{} on {}",
                        code,
                        input
                    );
                }
            }
            Ok(())
        },
    );
    if let Err(failure) = result {
        panic!("{failure}");
    }
    eprintln!("direct answers: {} of {}", answered.get(), total.get());
    assert!(
        answered.get() * 5 >= total.get(),
        "the direct evaluation answered {} of {} cases",
        answered.get(),
        total.get()
    );
}
