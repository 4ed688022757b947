//! TLS settings of HTTP and SOAP Connections: each mistake is a problem naming the field,
//! and nothing pasted inline is quoted back.

use switchyard_crds::catalog::Catalog;
use switchyard_crds::manifest::load_str;

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/// The problems of one Connection manifest, as `field: message`.
fn problems(kind: &str, tls: &str) -> Vec<String> {
    let target = match kind {
        "http" => "baseUrl: https://partner.example.com",
        _ => "url: https://partner.example.com/soap",
    };
    let text = format!(
        "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {{name: partner}}\nspec:\n  {kind}:\n    {target}\n    tls:\n{tls}"
    );
    let (resources, mut problems) = load_str(&text, None);
    problems.extend(Catalog::build(resources).problems);
    problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect()
}

fn indent(yaml: &str) -> String {
    yaml.lines().map(|l| format!("      {l}\n")).collect()
}

#[test]
fn a_complete_tls_block_is_valid_for_http_and_soap() {
    let tls = indent(&format!(
        "caCertificate: |\n{}clientCertificate: {{secretKeyRef: {{name: partner-tls, key: tls.crt}}}}\nclientKey: {{secretKeyRef: {{name: partner-tls, key: tls.key}}}}\ntrustBuiltInRoots: false",
        CERT.lines().map(|l| format!("  {l}\n")).collect::<String>()
    ));
    for kind in ["http", "soap"] {
        assert_eq!(problems(kind, &tls), Vec::<String>::new(), "{kind}");
    }
}

#[test]
fn a_client_certificate_needs_its_key_and_the_key_its_certificate() {
    let only_cert = indent("clientCertificate: {secretKeyRef: {name: t, key: tls.crt}}");
    assert_eq!(
        problems("http", &only_cert),
        [
            "spec.http.tls.clientKey: is required with `clientCertificate` (its private key, from a Secret)"
        ]
    );
    let only_key = indent("clientKey: {secretKeyRef: {name: t, key: tls.key}}");
    assert_eq!(
        problems("soap", &only_key),
        [
            "spec.soap.tls.clientCertificate: is required with `clientKey` (the certificate of that key)"
        ]
    );
}

#[test]
fn trusting_nothing_is_an_error() {
    assert_eq!(
        problems("http", &indent("trustBuiltInRoots: false")),
        [
            "spec.http.tls.caCertificate: is required when `trustBuiltInRoots` is false (no server would be trusted)"
        ]
    );
}

#[test]
fn inline_pem_must_be_certificates_and_a_pasted_key_is_not_echoed() {
    let key = indent(
        "caCertificate: \"-----BEGIN PRIVATE KEY-----\\nTOPSECRETKEYBYTES\\n-----END PRIVATE KEY-----\"",
    );
    let found = problems("http", &key);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("spec.http.tls.caCertificate: holds a private key"),
        "{found:?}"
    );
    assert!(!found[0].contains("TOPSECRET"), "{found:?}");

    let garbage = indent("caCertificate: not a certificate");
    assert_eq!(
        problems("http", &garbage),
        [
            "spec.http.tls.caCertificate: is not PEM: expected one or more `-----BEGIN CERTIFICATE-----` blocks"
        ]
    );
}

#[test]
fn an_inline_client_key_is_refused_without_quoting_it() {
    let tls = indent(
        "clientCertificate: {secretKeyRef: {name: t, key: tls.crt}}\nclientKey: \"-----BEGIN PRIVATE KEY-----\\nTOPSECRETKEYBYTES\"",
    );
    let found = problems("http", &tls);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("spec.http.tls.clientKey"), "{found:?}");
    assert!(!found[0].contains("TOPSECRET"), "{found:?}");
}

#[test]
fn tls_secrets_are_listed_as_references() {
    let text = "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {name: partner}\nspec:\n  http:\n    baseUrl: https://partner.example.com\n    tls:\n      caCertificate: {secretKeyRef: {name: ca, key: ca.crt}}\n      clientCertificate: {secretKeyRef: {name: partner-tls, key: tls.crt}}\n      clientKey: {secretKeyRef: {name: partner-tls, key: tls.key}}\n";
    let (resources, problems) = load_str(text, None);
    assert!(problems.is_empty(), "{problems:?}");
    let catalog = Catalog::build(resources);
    let refs: Vec<String> = catalog
        .secret_refs
        .iter()
        .map(|(ns, name, key)| format!("{ns}/{name}/{key}"))
        .collect();
    assert_eq!(
        refs,
        [
            "default/ca/ca.crt",
            "default/partner-tls/tls.crt",
            "default/partner-tls/tls.key"
        ]
    );
}
