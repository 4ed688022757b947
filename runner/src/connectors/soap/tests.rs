use serde_json::{Value, json};
use switchyard_crds::v1alpha1::{SoapCall, SoapConnection};

use super::envelope::{UsernameToken, Version};
use super::*;

#[test]
fn the_body_is_the_operation_element_written_like_any_xml() {
    let call = SoapCall {
        operation: "CreateOrder".into(),
        namespace: "urn:o&x".into(),
        action: None,
        body: None,
        items_pointer: None,
        xml: None,
    };
    let endpoint = endpoint();
    let envelope = endpoint
        .envelope(
            &call,
            &json!({"@mode": "test", "Id": 7, "Note": "<x>", "Line": [{"Sku": "A"}, {"Sku": "B"}], "Gift": null}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        envelope.contains(concat!(
            r#"<soap:Body><op:CreateOrder mode="test" xmlns:op="urn:o&amp;x">"#,
            "<Gift/><Id>7</Id><Line><Sku>A</Sku></Line><Line><Sku>B</Sku></Line>",
            "<Note>&lt;x&gt;</Note></op:CreateOrder></soap:Body>"
        )),
        "{envelope}"
    );
    assert!(
        endpoint
            .envelope(&call, &json!({"not a name": 1}))
            .is_err_and(|e| matches!(e, SoapError::Envelope(m) if m.contains("`not a name`"))),
        "a key that is no XML name is refused, not dropped"
    );
    assert!(endpoint.envelope(&call, &json!([1])).is_err());
    let empty = endpoint
        .envelope(&call, &Value::Null)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        empty.contains(r#"<op:CreateOrder xmlns:op="urn:o&amp;x"/>"#),
        "{empty}"
    );
}

fn endpoint() -> SoapEndpoint {
    let spec: SoapConnection =
        serde_yaml::from_str("{url: 'http://127.0.0.1:9/soap'}").unwrap_or_else(|e| panic!("{e}"));
    SoapEndpoint::new(&spec, "default", &crate::secrets::SecretSource::default())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn password_digest_follows_the_username_token_profile() {
    // Base64(SHA-1(nonce + created + password)), computed independently.
    let token = UsernameToken {
        username: "alice",
        password: "secret",
        digest: true,
    };
    let header = token.header_with(
        Version::V11,
        b"0123456789abcdef",
        "2024-01-01T00:00:00.000Z",
    );
    assert!(header.contains("#PasswordDigest\">"), "{header}");
    assert!(!header.contains(">secret<"), "{header}");
    let text = UsernameToken {
        digest: false,
        ..token
    }
    .header_with(Version::V12, b"n", "c");
    assert!(
        text.contains("#PasswordText\">secret</wsse:Password>"),
        "{text}"
    );
    assert!(text.contains("mustUnderstand=\"true\""), "{text}");
}

#[test]
fn faults_and_bad_envelopes_are_permanent() {
    let permanent = [
        SoapError::Fault {
            code: "soap:Client".into(),
            string: "unknown order".into(),
        },
        SoapError::Fault {
            code: "soap:Server".into(),
            string: "boom".into(),
        },
        SoapError::Envelope("jq".into()),
        SoapError::Response("no body".into()),
        SoapError::Status {
            status: 404,
            body: String::new(),
        },
    ];
    for error in &permanent {
        assert!(!is_retriable(error), "{error} must be permanent");
    }
    assert!(is_retriable(&SoapError::Transport("refused".into())));
    assert!(is_retriable(&SoapError::Status {
        status: 503,
        body: String::new()
    }));
}
