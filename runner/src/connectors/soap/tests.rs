use serde_json::json;

use super::envelope::{UsernameToken, Version};
use super::*;

#[test]
fn xml_becomes_json_with_local_names_and_repeated_elements() {
    let xml = r#"<?xml version="1.0"?><s:Envelope xmlns:s="x"><s:Body><r:Orders xmlns:r="y"><Order id="1"><Sku>A&amp;B</Sku></Order><Order id="2"><Sku/></Order></r:Orders></s:Body></s:Envelope>"#;
    let value = xml_to_json(xml).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        value,
        json!({"Envelope": {"Body": {"Orders": {"Order": [
            {"@id": "1", "Sku": "A&B"},
            {"@id": "2", "Sku": ""}
        ]}}}})
    );
    assert!(xml_to_json("<a><b></a>").is_err());
    assert!(xml_to_json("not xml").is_err());
}

#[test]
fn json_becomes_escaped_child_elements() {
    let mut out = String::new();
    json_to_xml(
        &json!({"Id": 7, "Note": "<x>", "Line": [{"Sku": "A"}, {"Sku": "B"}]}),
        &mut out,
    );
    assert_eq!(
        out,
        "<Id>7</Id><Line><Sku>A</Sku></Line><Line><Sku>B</Sku></Line><Note>&lt;x&gt;</Note>"
    );
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
