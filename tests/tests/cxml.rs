//! cXML on a webhook (`incoming.webhook.format: cxml`), through the runner binary with
//! the example manifests of examples/b2b: a buyer's OrderRequest is answered with a cXML
//! `Response` (Status 200 only once queued), mapped to the canonical order and delivered
//! to an ERP on loopback; a malformed document (400), a wrong or missing SharedSecret
//! (401), a body that is not XML (415) or too large (413) and a suspended route (503)
//! queue nothing and are answered in cXML too. The SharedSecret, in every form the
//! redactor knows, is in no log line, task, provenance or answer.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};
use switchyard_runner::redact::wire_forms;

/// The buyer's SharedSecret: a space, `&`, `+`, `/` and a non-ASCII letter, so that its
/// XML-escaped, percent-encoded, JSON and base64 forms all differ from it.
const SECRET: &str = "welcome punch&out+1/ü";
/// What an impostor presents.
const WRONG: &str = "guessed-secret-42";
/// The runner's body bound in this test.
const MAX_BODY_BYTES: usize = 16 * 1024;

fn example(name: &str) -> String {
    let path = format!("{}/../examples/b2b/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn xml_escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;")
}

/// An OrderRequest whose Sender presents `secret` (none: no SharedSecret element).
fn order_request(payload_id: &str, secret: Option<&str>) -> String {
    let secret = secret
        .map(|s| format!("<SharedSecret>{}</SharedSecret>", xml_escaped(s)))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.014/cXML.dtd">
<cXML payloadID="{payload_id}" timestamp="2026-12-03T01:00:00+01:00" version="1.2.014" xml:lang="en-US">
  <Header>
    <From><Credential domain="NetworkID"><Identity>AN01000000001</Identity></Credential></From>
    <To><Credential domain="DUNS"><Identity>123456789</Identity></Credential></To>
    <Sender><Credential domain="NetworkID"><Identity>AN01000000001</Identity>{secret}</Credential><UserAgent>Procurement 9</UserAgent></Sender>
  </Header>
  <Request deploymentMode="production">
    <OrderRequest>
      <OrderRequestHeader orderID="PO-4711" orderDate="2026-12-02T16:30:00+01:00" type="new">
        <Total><Money currency="EUR">65.00</Money></Total>
        <ShipTo><Address addressID="HQ"><Name xml:lang="en">Buyer Inc.</Name><PostalAddress><Street>Main Street 1</Street><City>Utrecht</City><PostalCode>3511 AA</PostalCode><Country isoCountryCode="NL">Netherlands</Country></PostalAddress></Address></ShipTo>
      </OrderRequestHeader>
      <ItemOut quantity="2" lineNumber="1">
        <ItemID><SupplierPartID>GEAR-12</SupplierPartID></ItemID>
        <ItemDetail><UnitPrice><Money currency="EUR">12.50</Money></UnitPrice><Description xml:lang="en">Gear 12 teeth</Description><UnitOfMeasure>EA</UnitOfMeasure></ItemDetail>
      </ItemOut>
      <ItemOut quantity="1" lineNumber="2">
        <ItemID><SupplierPartID>CAM-3</SupplierPartID></ItemID>
        <ItemDetail><UnitPrice><Money currency="EUR">40.00</Money></UnitPrice><Description xml:lang="en">Camshaft</Description><UnitOfMeasure>EA</UnitOfMeasure></ItemDetail>
      </ItemOut>
    </OrderRequest>
  </Request>
</cXML>
"#
    )
}

/// One POST: (HTTP status, Content-Type, body).
async fn post(
    runner: &Runner,
    route: &str,
    content_type: &str,
    body: String,
) -> (u16, String, String) {
    let response = runner
        .client
        .post(runner.url(&format!("/webhooks/default/{route}")))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        response.text().await.unwrap_or_default(),
    )
}

/// Asserts a cXML Response with `Status code text`, the HTTP `status`, and `reason` in
/// the Status.
fn assert_answer(answer: &(u16, String, String), status: u16, code: &str, reason: &str) {
    let (http, content_type, body) = answer;
    assert_eq!(*http, status, "{body}");
    assert!(
        content_type.starts_with("text/xml"),
        "{content_type}: {body}"
    );
    assert!(body.contains("<!DOCTYPE cXML SYSTEM"), "{body}");
    assert!(body.contains(&format!("<Status code=\"{code}")), "{body}");
    assert!(body.contains(reason), "`{reason}` not in {body}");
    assert!(body.contains(" timestamp=\""), "{body}");
}

async fn tasks(runner: &Runner) -> Vec<Value> {
    let page = runner.get_json("/api/v1/namespaces/default/tasks").await;
    page["tasks"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_cxml_order_request_is_answered_in_cxml_and_delivered_as_a_canonical_order() {
    let erp = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let route = example("cxml-webhook.yaml").replace("https://erp.example.com", &erp.base_url());
    assert!(
        route.contains(&erp.base_url()),
        "the example's ERP URL moved"
    );
    // The same Route, suspended: its intake refuses, as a queue that cannot commit does.
    let paused = route
        .split("---\n")
        .find(|doc| doc.contains("kind: Route"))
        .expect("the example's Route")
        .replace("name: cxml-orders", "name: cxml-paused")
        + "  processing: {suspend: true}\n";
    let dir = manifest_dir(&[
        ("cxml-order.yaml", &example("cxml-order.yaml")),
        ("cxml-webhook.yaml", &route),
        ("paused.yaml", &paused),
    ]);
    let options = RunnerOptions {
        env: vec![(
            "SWITCHYARD_SECRET_BUYER_CXML_SHARED_SECRET".into(),
            SECRET.into(),
        )],
        args: vec!["--max-body-bytes".into(), MAX_BODY_BYTES.to_string()],
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    let mut answers = Vec::new();

    // Refusals first: none of them queues anything.
    let wrong = post(
        &runner,
        "cxml-orders",
        "text/xml",
        order_request("p-1@buyer.example", Some(WRONG)),
    )
    .await;
    assert_answer(
        &wrong,
        401,
        "401\" text=\"Unauthorized",
        "SharedSecret: does not match",
    );
    assert!(
        wrong.2.contains("payloadID=\"p-1@buyer.example\""),
        "{}",
        wrong.2
    );
    let missing = post(
        &runner,
        "cxml-orders",
        "text/xml",
        order_request("p-2@buyer.example", None),
    )
    .await;
    assert_answer(
        &missing,
        401,
        "401\" text=\"Unauthorized",
        "no SharedSecret",
    );
    let no_quantity = order_request("p-3@buyer.example", Some(SECRET)).replace(
        r#"<ItemOut quantity="1" lineNumber="2">"#,
        r#"<ItemOut lineNumber="2">"#,
    );
    let malformed = post(&runner, "cxml-orders", "application/xml", no_quantity).await;
    assert_answer(
        &malformed,
        400,
        "400\" text=\"Bad Request",
        "cXML cXML/Request/OrderRequest/ItemOut[2]/@quantity: is missing",
    );
    let cut = order_request("p-4@buyer.example", Some(SECRET));
    let cut = cut[..cut.find("<Request").expect("request")].to_owned();
    let unclosed = post(&runner, "cxml-orders", "text/xml", cut).await;
    assert_answer(
        &unclosed,
        400,
        "400\" text=\"Bad Request",
        "unclosed element(s): cXML",
    );
    let json_body = post(
        &runner,
        "cxml-orders",
        "application/json",
        r#"{"id": 1}"#.into(),
    )
    .await;
    assert_answer(
        &json_body,
        415,
        "400\" text=\"Bad Request",
        "send the cXML document as text/xml",
    );
    let padding = format!("<!-- {} -->", "x".repeat(MAX_BODY_BYTES));
    let large = post(
        &runner,
        "cxml-orders",
        "text/xml",
        order_request("p-5@buyer.example", Some(SECRET)) + &padding,
    )
    .await;
    assert_answer(
        &large,
        413,
        "400\" text=\"Bad Request",
        "larger than 16384 bytes",
    );
    let suspended = post(
        &runner,
        "cxml-paused",
        "text/xml",
        order_request("p-6@buyer.example", Some(SECRET)),
    )
    .await;
    assert_answer(
        &suspended,
        503,
        "560\" text=\"Temporary Server Error",
        "nothing was queued",
    );
    assert!(
        suspended.2.contains("payloadID=\"p-6@buyer.example\""),
        "{}",
        suspended.2
    );
    assert_eq!(
        tasks(&runner).await,
        Vec::<Value>::new(),
        "a refused document was queued"
    );
    answers.extend([
        wrong, missing, malformed, unclosed, json_body, large, suspended,
    ]);

    // The buyer's order: 200 once queued, then delivered as the canonical order.
    let accepted = post(
        &runner,
        "cxml-orders",
        "text/xml; charset=utf-8",
        order_request("1733187600.4242@buyer.example", Some(SECRET)),
    )
    .await;
    assert_answer(&accepted, 200, "200\" text=\"OK", "");
    assert!(
        accepted
            .2
            .contains("payloadID=\"1733187600.4242@buyer.example\""),
        "{}",
        accepted.2
    );
    assert_eq!(tasks(&runner).await.len(), 1);
    let delivered = eventually(Duration::from_secs(20), "the order at the ERP", || async {
        erp.received().into_iter().next()
    })
    .await;
    assert_eq!(
        (delivered.method.as_str(), delivered.path.as_str()),
        ("POST", "/orders")
    );
    assert_eq!(
        delivered.body,
        json!({
            "id": "PO-4711", "purchaseOrderNumber": "PO-4711",
            "orderedAt": "2026-12-02T16:30:00+01:00", "currency": "EUR",
            "lines": [
                {"lineNumber": 1, "sku": "GEAR-12", "name": "Gear 12 teeth", "quantity": 2, "unit": "EA", "unitPrice": 12.5},
                {"lineNumber": 2, "sku": "CAM-3", "name": "Camshaft", "quantity": 1, "unit": "EA", "unitPrice": 40}
            ],
            "totals": {"total": 65},
            "source": {"system": "cxml", "id": "1733187600.4242@buyer.example"}
        })
    );
    answers.push(accepted);

    // What was kept: the document's JSON, its SharedSecret masked.
    let id = tasks(&runner).await[0]["id"]
        .as_str()
        .expect("task id")
        .to_owned();
    let task = eventually(Duration::from_secs(20), "the task to be done", || async {
        let task = runner
            .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
            .await;
        (task["state"] == "done").then_some(task)
    })
    .await;
    let received = &task["provenance"]["received"];
    assert_eq!(
        received["header"]["sender"]["credentials"][0]["sharedSecret"], "***",
        "{task}"
    );
    assert_eq!(received["request"]["type"], "OrderRequest", "{task}");
    assert_eq!(received["payloadId"], "1733187600.4242@buyer.example");

    // The secrets, in any encoding, are nowhere.
    let kept = [
        ("the runner's log", runner.log()),
        ("the task API", task.to_string()),
        ("the task list", json!(tasks(&runner).await).to_string()),
        ("the answers", format!("{answers:?}")),
    ];
    for secret in [SECRET, WRONG] {
        for form in wire_forms(secret) {
            for (place, text) in &kept {
                assert!(
                    !text.contains(&form),
                    "`{form}` (a form of a SharedSecret) is in {place}"
                );
            }
        }
    }
    assert!(!runner.log().is_empty(), "the runner logged nothing");
}
