//! One codec layer: the same XML document gives the same JSON item whether it arrives as
//! a polled file (local file system), in a webhook request read by a `parse` step, or as
//! the body of a SOAP response from a service on loopback — and that JSON is the one
//! docs/transformers.md ("XML and JSON") documents. The same for CSV and JSON Lines:
//! a file poll and a `parse` step give the same records.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};

/// `(case, document, the documented JSON)`. Each root carries `case` so the three
/// arrivals of one document can be matched.
fn documents() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "attributes",
            r#"<doc case="attributes" id="7" note="a &amp; b"><item sku="A1" qty="2"/></doc>"#,
            json!({"doc": {"@case": "attributes", "@id": "7", "@note": "a & b",
                "item": {"@sku": "A1", "@qty": "2"}}}),
        ),
        (
            "namespaces",
            r#"<o:doc xmlns:o="urn:orders" xmlns="urn:default" case="namespaces" o:version="2"><o:line>1</o:line><line>2</line></o:doc>"#,
            json!({"doc": {"@case": "namespaces", "@version": "2", "line": ["1", "2"]}}),
        ),
        (
            "empty",
            r#"<doc case="empty" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><a/><b></b><c>
   </c><d xsi:nil="true"/></doc>"#,
            json!({"doc": {"@case": "empty", "a": "", "b": "", "c": "", "d": null}}),
        ),
        (
            "repeated",
            r#"<doc case="repeated"><line>1</line><line>2</line><line>3</line><single>x</single><forced>y</forced></doc>"#,
            json!({"doc": {"@case": "repeated", "line": ["1", "2", "3"], "single": "x",
                "forced": ["y"]}}),
        ),
        (
            "text",
            r#"<doc case="text"><price currency="EUR">9.50</price><qty>  3 </qty></doc>"#,
            json!({"doc": {"@case": "text", "price": {"@currency": "EUR", "#text": "9.50"},
                "qty": "3"}}),
        ),
        (
            "cdata",
            r#"<doc case="cdata"><script><![CDATA[if a < b && c > "d"]]></script><text>&lt;tag&gt; &amp; &quot;q&quot; &#169; &#x263A;</text></doc>"#,
            json!({"doc": {"@case": "cdata", "script": "if a < b && c > \"d\"",
                "text": "<tag> & \"q\" © ☺"}}),
        ),
    ]
}

/// The SOAP service: the document named by the SOAPAction, as the response body.
async fn service(headers: HeaderMap) -> (StatusCode, String) {
    let action = headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    match documents().into_iter().find(|(case, _, _)| *case == action) {
        Some((_, document, _)) => (
            StatusCode::OK,
            format!(
                r#"<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/><soap:Body>{document}</soap:Body></soap:Envelope>"#
            ),
        ),
        None => (StatusCode::NOT_FOUND, format!("no document {action}")),
    }
}

/// Runs a polling route now (an empty body: fetch, not queue items).
async fn trigger(runner: &Runner, route: &str) {
    let response = runner
        .client
        .post(runner.url(&format!(
            "/api/v1/namespaces/default/routes/{route}/trigger"
        )))
        .send()
        .await
        .expect("trigger");
    let status = response.status();
    assert!(
        status.is_success(),
        "{route}: {status}: {}",
        response.text().await.unwrap_or_default()
    );
}

/// The items the receiver got on `path`, by their `case`.
fn by_case(
    receiver: &Receiver,
    path: &str,
    case: impl Fn(&Value) -> Option<String>,
) -> BTreeMap<String, Value> {
    receiver
        .received()
        .into_iter()
        .filter(|r| r.path == path)
        .filter_map(|r| case(&r.body).map(|c| (c, r.body)))
        .collect()
}

#[tokio::test]
async fn the_same_xml_is_the_same_json_from_a_file_a_parse_step_and_a_soap_response() {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let soap = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let app = Router::new().route("/soap", post(service));
        let _ = axum::serve(listener, app).await;
    });

    let root = tempfile::tempdir().expect("root");
    let inbox = root.path().join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    for (case, document, _) in documents() {
        std::fs::write(inbox.join(format!("{case}.xml")), document).expect("write");
    }
    let mut manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: drop}}
spec:
  fileSystem:
    local: {{root: "{root}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: sink}}
spec:
  http: {{baseUrl: "{sink}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: service}}
spec:
  soap: {{url: "http://{soap}/soap", version: "1.1"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: xml-file}}
spec:
  incoming:
    poll:
      connection: drop
      schedule: "0 0 1 1 *"
      files: {{path: inbox, glob: "*.xml", format: xml, split: file, xml: {{arrays: [forced]}}}}
  outgoing: {{connection: sink, http: {{path: /file}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: xml-webhook}}
spec:
  incoming: {{webhook: {{}}}}
  transformers:
    incoming:
      - parse: {{format: xml, path: xml, into: doc, xml: {{arrays: [forced]}}}}
      - jq: .doc
  outgoing: {{connection: sink, http: {{path: /webhook}}}}
"#,
        root = root.path().display(),
        sink = receiver.base_url(),
    );
    for (case, _, _) in documents() {
        manifests += &format!(
            r#"---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: xml-soap-{case}}}
spec:
  incoming:
    poll:
      connection: service
      schedule: "0 0 1 1 *"
      soap: {{operation: GetDocument, namespace: "urn:documents", action: {case}, xml: {{arrays: [forced]}}}}
  outgoing: {{connection: sink, http: {{path: /soap}}}}
"#
        );
    }
    let dir = manifest_dir(&[("manifests.yaml", &manifests)]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;

    trigger(&runner, "xml-file").await;
    let requests: Vec<Value> = documents()
        .into_iter()
        .map(|(_, document, _)| json!({"xml": document}))
        .collect();
    let (status, answer) = runner
        .post_json("/webhooks/default/xml-webhook", &Value::Array(requests))
        .await;
    assert_eq!(status, 202, "{answer}");
    for (case, _, _) in documents() {
        trigger(&runner, &format!("xml-soap-{case}")).await;
    }

    let count = documents().len();
    let case = |item: &Value| item["doc"]["@case"].as_str().map(str::to_owned);
    eventually(
        Duration::from_secs(30),
        "every document through all three ways",
        || {
            let done = ["/file", "/webhook", "/soap"]
                .iter()
                .all(|path| by_case(&receiver, path, case).len() == count);
            async move { done.then_some(()) }
        },
    )
    .await;
    let file = by_case(&receiver, "/file", case);
    let webhook = by_case(&receiver, "/webhook", case);
    let soap = by_case(&receiver, "/soap", case);
    for (case, _, expected) in documents() {
        assert_eq!(file[case], expected, "file poll, {case}");
        assert_eq!(webhook[case], expected, "webhook + parse, {case}");
        assert_eq!(soap[case], expected, "SOAP response, {case}");
    }
}

#[tokio::test]
async fn csv_and_json_lines_are_the_same_records_from_a_file_and_a_parse_step() {
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let root = tempfile::tempdir().expect("root");
    let inbox = root.path().join("inbox");
    std::fs::create_dir_all(&inbox).expect("inbox");
    let csv = "case;name;note\ncsv-1;Ann;\"semi; colon\"\ncsv-2;Bob;\"two\nlines\"\ncsv-3;;\n";
    let lines = "{\"case\": \"jsonl-1\", \"n\": 1, \"tags\": [\"a\"]}\n\n{\"case\": \"jsonl-2\", \"nested\": {\"x\": null}}\n";
    std::fs::write(inbox.join("rows.csv"), csv).expect("write");
    std::fs::write(inbox.join("rows.jsonl"), lines).expect("write");
    let manifests = format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: drop}}
spec:
  fileSystem:
    local: {{root: "{root}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: sink}}
spec:
  http: {{baseUrl: "{sink}"}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: csv-file}}
spec:
  incoming:
    poll:
      connection: drop
      schedule: "0 0 1 1 *"
      files: {{path: inbox, glob: "*.csv", format: csv, delimiter: ";"}}
  outgoing: {{connection: sink, http: {{path: /file}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: jsonl-file}}
spec:
  incoming:
    poll:
      connection: drop
      schedule: "0 0 1 1 *"
      files: {{path: inbox, glob: "*.jsonl", format: jsonLines}}
  outgoing: {{connection: sink, http: {{path: /file}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: text-webhook}}
spec:
  incoming: {{webhook: {{}}}}
  transformers:
    incoming:
      - when:
          condition: .format == "csv"
          steps:
            - parse: {{format: csv, path: text, into: rows, csv: {{delimiter: ";"}}}}
      - when:
          condition: .format == "jsonLines"
          steps:
            - parse: {{format: jsonLines, path: text, into: rows}}
      - split: {{path: rows}}
  outgoing: {{connection: sink, http: {{path: /webhook}}}}
"#,
        root = root.path().display(),
        sink = receiver.base_url(),
    );
    let dir = manifest_dir(&[("manifests.yaml", &manifests)]);
    let runner = Runner::start(runner_bin!(), dir.path(), &RunnerOptions::default()).await;
    trigger(&runner, "csv-file").await;
    trigger(&runner, "jsonl-file").await;
    let (status, answer) = runner
        .post_json(
            "/webhooks/default/text-webhook",
            &json!([{"format": "csv", "text": csv}, {"format": "jsonLines", "text": lines}]),
        )
        .await;
    assert_eq!(status, 202, "{answer}");

    let case = |item: &Value| item["case"].as_str().map(str::to_owned);
    eventually(Duration::from_secs(30), "every record both ways", || {
        let done = ["/file", "/webhook"]
            .iter()
            .all(|path| by_case(&receiver, path, case).len() == 5);
        async move { done.then_some(()) }
    })
    .await;
    let expected: BTreeMap<String, Value> = [
        json!({"case": "csv-1", "name": "Ann", "note": "semi; colon"}),
        json!({"case": "csv-2", "name": "Bob", "note": "two\nlines"}),
        json!({"case": "csv-3", "name": "", "note": ""}),
        json!({"case": "jsonl-1", "n": 1, "tags": ["a"]}),
        json!({"case": "jsonl-2", "nested": {"x": null}}),
    ]
    .into_iter()
    .map(|item| (item["case"].as_str().unwrap_or_default().to_owned(), item))
    .collect();
    assert_eq!(by_case(&receiver, "/file", case), expected, "file poll");
    assert_eq!(
        by_case(&receiver, "/webhook", case),
        expected,
        "webhook + parse"
    );
}
