use serde_json::json;

use super::*;

const SECRET: &str = "s3cr&t<punch>\"out\"";

fn order_request(secret: &str) -> String {
    let secret = secret
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.014/cXML.dtd">
<cXML payloadID="1733187600.4242@buyer.example" timestamp="2026-12-03T01:00:00+01:00" version="1.2.014" xml:lang="en-US">
  <Header>
    <From><Credential domain="NetworkID"><Identity>AN01000000001</Identity></Credential></From>
    <To><Credential domain="DUNS"><Identity>123456789</Identity></Credential></To>
    <Sender>
      <Credential domain="NetworkID"><Identity>AN01000000001</Identity><SharedSecret>{secret}</SharedSecret></Credential>
      <UserAgent>Procurement 9</UserAgent>
    </Sender>
  </Header>
  <Request deploymentMode="test">
    <OrderRequest>
      <OrderRequestHeader orderID="PO-4711" orderDate="2026-12-02T16:30:00+01:00" type="new">
        <Total><Money currency="EUR">61.00</Money></Total>
        <ShipTo><Address addressID="HQ"><Name xml:lang="en">Acme HQ</Name>
          <PostalAddress><Street>Keizersgracht 123</Street><City>Amsterdam</City><PostalCode>1015 CJ</PostalCode><Country isoCountryCode="NL">Netherlands</Country></PostalAddress>
        </Address></ShipTo>
      </OrderRequestHeader>
      <ItemOut quantity="2" lineNumber="1">
        <ItemID><SupplierPartID>GEAR-12</SupplierPartID></ItemID>
        <ItemDetail><UnitPrice><Money currency="EUR">12.50</Money></UnitPrice><Description xml:lang="en">Gear 12 teeth</Description><UnitOfMeasure>EA</UnitOfMeasure></ItemDetail>
      </ItemOut>
    </OrderRequest>
  </Request>
</cXML>"#
    )
}

fn read_ok(text: &str) -> Document {
    read(text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn reads_the_envelope_header_and_body_with_arrays() {
    let document = read_ok(&order_request(SECRET));
    assert_eq!(document.sender_secret().map(|s| s.expose()), Some(SECRET));
    let value = document.to_json();
    assert_eq!(value["payloadId"], "1733187600.4242@buyer.example");
    assert_eq!(value["version"], "1.2.014");
    assert_eq!(value["lang"], "en-US");
    assert_eq!(
        value["header"]["from"],
        json!({"credentials": [{"domain": "NetworkID", "identity": "AN01000000001"}]})
    );
    assert_eq!(
        value["header"]["sender"],
        json!({"credentials": [{"domain": "NetworkID", "identity": "AN01000000001",
            "sharedSecret": "***"}], "userAgent": "Procurement 9"})
    );
    let request = &value["request"];
    assert_eq!(request["type"], "OrderRequest");
    assert_eq!(request["deploymentMode"], "test");
    // One ItemOut, one Description, one Street: arrays all the same.
    let item = &request["body"]["ItemOut"][0];
    assert_eq!(item["@quantity"], "2");
    assert_eq!(
        item["ItemDetail"]["Description"][0]["#text"],
        "Gear 12 teeth"
    );
    assert_eq!(
        request["body"]["OrderRequestHeader"]["ShipTo"]["Address"]["PostalAddress"][0]["Street"],
        json!(["Keizersgracht 123"])
    );
}

#[test]
fn the_secret_is_in_no_json_and_no_debug_text() {
    let document = read_ok(&order_request(SECRET));
    let shown = [
        document.to_json().to_string(),
        format!("{document:?}"),
        decode(&order_request(SECRET))
            .map(|v| v.to_string())
            .unwrap_or_default(),
    ];
    for text in shown {
        assert!(!text.contains("s3cr"), "{text}");
        assert!(text.contains("***"), "{text}");
    }
}

#[test]
fn missing_parts_name_the_element_path() {
    let cases = [
        (
            order_request(SECRET).replace("<Identity>123456789</Identity>", ""),
            "cXML/Header/To/Credential[1]/Identity",
        ),
        (
            order_request(SECRET).replace("<UserAgent>Procurement 9</UserAgent>", ""),
            "cXML/Header/Sender/UserAgent",
        ),
        (
            order_request(SECRET).replace(r#"quantity="2" "#, ""),
            "cXML/Request/OrderRequest/ItemOut[1]/@quantity",
        ),
        (
            order_request(SECRET).replace(r#" payloadID="1733187600.4242@buyer.example""#, ""),
            "cXML/@payloadID",
        ),
        (
            order_request(SECRET)
                .replace("<OrderRequest>", "<PunchOutSetupRequest>")
                .replace("</OrderRequest>", "</PunchOutSetupRequest>"),
            "cXML/Request/PunchOutSetupRequest",
        ),
        (
            order_request(SECRET).replace(r#"deploymentMode="test""#, r#"deploymentMode="prod""#),
            "cXML/Request/@deploymentMode",
        ),
    ];
    for (text, path) in cases {
        let error = read(&text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            error.starts_with(&format!("cXML {path}: ")),
            "{path}: {error}"
        );
        assert!(!error.contains("s3cr"), "{error}");
    }
    let broken = order_request(SECRET).replace("</Sender>", "");
    let error = read(&broken)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.starts_with("cXML at line "), "{error}");
    let other = read("<Order><Id>1</Id></Order>")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        other.as_deref(),
        Some("cXML /: the root element is `Order`, not `cXML`")
    );
}

#[test]
fn writes_a_valid_document_that_reads_back_the_same() {
    let value = decode(&order_request(SECRET)).unwrap_or_else(|e| panic!("{e}"));
    let text = encode(&value).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        text.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE cXML SYSTEM \"http://xml.cxml.org/schemas/cXML/1.2.014/cXML.dtd\">\n<cXML payloadID=\"1733187600.4242@buyer.example\""
        ),
        "{text}"
    );
    // DTD order, not the JSON's alphabetical one; the masked secret left out.
    let position = |needle: &str| text.find(needle).unwrap_or(usize::MAX);
    assert!(position("<From>") < position("<To>") && position("<To>") < position("<Sender>"));
    assert!(
        position("<OrderRequestHeader") < position("<ItemOut"),
        "{text}"
    );
    assert!(position("<Total>") < position("<ShipTo>"), "{text}");
    assert!(position("<UnitPrice>") < position("<Description"), "{text}");
    assert!(
        !text.contains("SharedSecret") && !text.contains("***"),
        "{text}"
    );
    let back = decode(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut expected = value.clone();
    expected["header"]["sender"]["credentials"][0]
        .as_object_mut()
        .map(|c| c.remove("sharedSecret"));
    assert_eq!(back, expected);
}

#[test]
fn writing_fills_in_payload_id_timestamp_and_a_given_secret() {
    let value = json!({
        "header": {
            "from": {"credentials": [{"domain": "DUNS", "identity": "123456789"}]},
            "to": {"credentials": [{"domain": "NetworkID", "identity": "AN01"}]},
            "sender": {"credentials": [{"domain": "DUNS", "identity": "123456789",
                "sharedSecret": "from-a-secret-variable"}], "userAgent": "Switchyard"}
        },
        "request": {"type": "ShipNoticeRequest", "body": {
            "ShipNoticePortion": [{"OrderReference": {"@orderID": "PO-4711",
                "DocumentReference": [{"@payloadID": "1733187600.4242@buyer.example"}]}}],
            "ShipNoticeHeader": {"@shipmentID": "S-1", "@noticeDate": "2026-12-03T09:00:00+01:00"}
        }}
    });
    let text = encode(&value).unwrap_or_else(|e| panic!("{e}"));
    assert!(text.contains("/1.2.014/Fulfill.dtd\">"), "{text}");
    assert!(
        text.contains("<SharedSecret>from-a-secret-variable</SharedSecret>"),
        "{text}"
    );
    let document = read_ok(&text);
    assert!(
        document
            .payload_id
            .is_some_and(|id| id.ends_with("@switchyard"))
    );
    assert!(document.timestamp.is_some_and(|t| t.ends_with("+00:00")));
    assert_eq!(document.request.kind, RequestType::ShipNoticeRequest);
    assert_eq!(document.request.deployment_mode, DeploymentMode::Production);
    assert!(
        text.find("<ShipNoticeHeader").unwrap_or(usize::MAX)
            < text.find("<ShipNoticePortion").unwrap_or(0)
    );
    let wrong = encode(&json!({"request": {"type": "OrderRequest", "body": {}}}));
    assert!(
        matches!(&wrong, Err(FormatError::Encode { message, .. }) if message.contains("missing field `header`")),
        "{wrong:?}"
    );
}

#[test]
fn a_confirmation_request_reads_and_checks_its_items() {
    let text = r#"<cXML payloadID="p-2" timestamp="2026-12-03T10:00:00+01:00">
      <Header><From><Credential domain="DUNS"><Identity>1</Identity></Credential></From>
        <To><Credential domain="NetworkID"><Identity>AN01</Identity></Credential></To>
        <Sender><Credential domain="DUNS"><Identity>1</Identity></Credential><UserAgent>ERP</UserAgent></Sender></Header>
      <Request><ConfirmationRequest>
        <ConfirmationHeader type="detail" noticeDate="2026-12-03T10:00:00+01:00"/>
        <OrderReference orderID="PO-4711"><DocumentReference payloadID="x"/></OrderReference>
        <ConfirmationItem lineNumber="1" quantity="2"><ConfirmationStatus type="accept" quantity="2"/></ConfirmationItem>
      </ConfirmationRequest></Request></cXML>"#;
    let document = read_ok(text);
    assert_eq!(document.request.kind, RequestType::ConfirmationRequest);
    assert_eq!(document.sender_secret(), None);
    assert_eq!(
        document.request.body["ConfirmationItem"][0]["ConfirmationStatus"][0]["@type"],
        "accept"
    );
    let error = read(&text.replace(r#" lineNumber="1""#, ""))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        error.as_deref(),
        Some("cXML cXML/Request/ConfirmationRequest/ConfirmationItem[1]/@lineNumber: is missing")
    );
}

#[test]
fn a_response_echoes_the_payload_id_and_carries_the_reason() {
    let ok = response(Some("p-1@buyer"), None, 200, "OK", None);
    assert!(ok.contains("/1.2.014/cXML.dtd\">"), "{ok}");
    assert!(
        ok.contains(r#"<cXML payloadID="p-1@buyer" timestamp=""#),
        "{ok}"
    );
    assert!(
        ok.contains(r#"<Response><Status code="200" text="OK"/></Response></cXML>"#),
        "{ok}"
    );
    let refused = response(None, Some("1.2.050"), 400, "Bad Request", Some("a < b"));
    assert!(
        refused.contains(r#"<Status code="400" text="Bad Request">a &lt; b</Status>"#),
        "{refused}"
    );
    assert!(refused.contains(r#"version="1.2.050""#), "{refused}");
    let parsed = xml::decode(&refused, &XmlOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        parsed["cXML"]["@payloadID"]
            .as_str()
            .is_some_and(|id| id.ends_with("@switchyard"))
    );
}
