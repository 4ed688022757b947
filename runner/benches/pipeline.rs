//! Pipeline benchmark: a typical five-step pipeline (map, value map, filter, convert
//! types, validate) on a ~1 KiB order, on one core, in-process (no queue, no HTTP).
//! Run: `cargo bench -p switchyard-runner --bench pipeline` (plain std::time, no
//! criterion). Prints items/s; the input clone per item is included in the time.

use std::time::Instant;

use serde_json::{Value, json};
use switchyard_crds::catalog::LabeledStep;
use switchyard_crds::v1alpha1::Step;
use switchyard_runner::transform::build_pipeline;

/// Items per round; `SWITCHYARD_BENCH_ITEMS` lowers it (e.g. to profile under
/// callgrind, which counts instructions rather than seconds).
const ITEMS: usize = 200_000;

fn order() -> Value {
    json!({
        "id": 100234, "number": "SO-2024-100234", "status": "paid",
        "createdAt": "2024-03-14 09:26:53", "currency": "EUR",
        "customer": {"id": 5512, "name": "Ada Lovelace", "email": "ada@example.com",
            "phone": "+31 20 123 4567", "country": "Netherlands",
            "address": {"street": "Keizersgracht 123", "city": "Amsterdam", "zip": "1015 CJ"}},
        "shipping": {"method": "express", "cost": "6.95", "carrier": "PostNL"},
        "lines": [
            {"sku": "GEAR-12", "name": "Gear, 12 teeth", "qty": "2", "price": "19.90"},
            {"sku": "CAM-3", "name": "Camshaft type 3", "qty": "1", "price": "149.00"},
            {"sku": "BOLT-8", "name": "Bolt M8 (box of 50)", "qty": "4", "price": "7.45"}
        ],
        "total": "233.55", "paid": "yes",
        "notes": "Please deliver between 9 and 17; ring the bell twice. Leave with neighbours if absent.",
        "tags": ["b2b", "priority", "repeat-customer"],
        "giftMessage": "Happy anniversary! With many thanks for ten years of working together on the difference engine; here is to the next ten, and to many more gears.",
        "meta": {"source": "webshop", "channel": "web", "ip": "203.0.113.7", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)"}
    })
}

fn steps() -> Vec<LabeledStep> {
    let yaml = r#"
- map:
    fields:
      - {to: orderId, from: id}
      - {to: reference, from: number}
      - {to: status, from: status}
      - {to: orderedAt, from: createdAt}
      - {to: customer.name, from: customer.name}
      - {to: customer.email, from: customer.email}
      - {to: customer.country, from: customer.country}
      - {to: total, from: total}
      - {to: paid, from: paid}
      - {to: lines, from: lines}
      - {to: channel, from: meta.channel, default: unknown}
- valueMap:
    path: customer.country
    table: {Netherlands: NL, Germany: DE, Belgium: BE, France: FR}
    default: XX
- filter: '.status == "paid"'
- convert:
    fields:
      - {path: total, to: number}
      - {path: paid, to: boolean}
      - {path: orderedAt, to: date, inputFormat: '%Y-%m-%d %H:%M:%S', timezone: '+01:00'}
- validate:
    schema:
      type: object
      required: [orderId, reference, customer, total, paid, orderedAt]
      properties:
        orderId: {type: integer}
        total: {type: number, minimum: 0}
        paid: {type: boolean}
        customer:
          type: object
          required: [name, country]
          properties: {country: {type: string, pattern: '^[A-Z]{2}$'}}
        lines: {type: array, items: {type: object, required: [sku, qty]}}
"#;
    let value: Value = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}"));
    let steps: Vec<Step> = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
    steps
        .into_iter()
        .enumerate()
        .map(|(i, step)| LabeledStep {
            label: format!("step {}", i + 1),
            step,
        })
        .collect()
}

fn main() {
    let pipeline = build_pipeline(&steps()).unwrap_or_else(|e| panic!("{e}"));
    let order = order();
    println!("order size: {} bytes", order.to_string().len());
    let (out, summary) = pipeline
        .run(order.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.len(), 1, "{summary}");
    println!("output: {}", out[0]);
    let items = std::env::var("SWITCHYARD_BENCH_ITEMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(ITEMS);
    for _ in 0..(items / 20).min(10_000) {
        let _ = pipeline.run(order.clone());
    }
    let mut best = 0.0_f64;
    for round in 1..=3 {
        let start = Instant::now();
        for _ in 0..items {
            let result = pipeline.run(order.clone());
            std::hint::black_box(&result);
        }
        let rate = items as f64 / start.elapsed().as_secs_f64();
        best = best.max(rate);
        println!("round {round}: {rate:.0} items/s");
    }
    println!(
        "pipeline (map, valueMap, filter, convert, validate): best {best:.0} items/s on one core"
    );
}
