//! The items the clients send: a small shop order (~300 bytes) carrying its send time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, on the clock both the clients and the receiver use.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// One order as JSON. `id` makes every item distinct; `sentAtNs` is the client's send
/// time, which the route's jq map carries through to the receiver.
pub fn order(id: u64, sent_at_ns: u64) -> String {
    let customer = id % 997;
    format!(
        concat!(
            r#"{{"id":{id},"sentAtNs":{sent},"createdAt":"2025-11-27T19:30:00Z","#,
            r#""customer":{{"id":{customer},"name":"Customer {customer}","email":"customer{customer}@example.com"}},"#,
            r#""currency":"EUR","lines":["#,
            r#"{{"sku":"SKU-{a:05}","qty":2,"price":9.95}},"#,
            r#"{{"sku":"SKU-{b:05}","qty":1,"price":24.5}}],"#,
            r#""shipping":{{"method":"standard","country":"NL","postcode":"1011AB"}}}}"#
        ),
        id = id,
        sent = sent_at_ns,
        customer = customer,
        a = id % 10_000,
        b = (id * 7) % 10_000,
    )
}

/// A request body: one order as an object, or `count` orders as an array.
pub fn body(first_id: u64, count: usize, sent_at_ns: u64) -> String {
    if count == 1 {
        return order(first_id, sent_at_ns);
    }
    let mut body = String::with_capacity(count * 320 + 2);
    body.push('[');
    for i in 0..count as u64 {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&order(first_id + i, sent_at_ns));
    }
    body.push(']');
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_is_valid_json_of_about_300_bytes() {
        let text = order(123_456, now_ns());
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["id"], 123_456);
        assert!((280..=340).contains(&text.len()), "{} bytes", text.len());
    }

    #[test]
    fn a_batch_is_an_array_of_distinct_orders() {
        let value: serde_json::Value = serde_json::from_str(&body(10, 3, 1)).unwrap();
        let ids: Vec<_> = value
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, [10, 11, 12]);
    }
}
