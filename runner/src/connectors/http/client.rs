//! The one place HTTP clients are built, for HTTP and SOAP Connections alike: time-outs,
//! the connection pool and TLS (extra CAs to trust, a client certificate for mutual TLS).
//!
//! TLS material is checked here, when the Connection is loaded (`runner validate`, start,
//! reload), so a wrong Secret is a problem naming the Connection and the field rather
//! than a failing delivery later. Messages never quote the PEM text: a private key must
//! not reach a log line, even a broken one.

use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use switchyard_crds::v1alpha1::{HttpTls, PemValue, SecretValue};

use super::endpoint::EndpointError;
use crate::redact::Secret;
use crate::secrets::SecretSource;

/// A host that does not accept a TCP connection within this long is down, whatever the
/// request time-out.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle keep-alive connections per host: enough for a route delivering at high
/// concurrency to reuse its connections (and their TLS sessions).
const MAX_IDLE_PER_HOST: usize = 256;

/// Where a client is used, for resolving Secrets and naming fields in errors.
pub struct ClientContext<'a> {
    /// The Connection kind's field, e.g. `spec.http` or `spec.soap`.
    pub field: &'a str,
    pub namespace: &'a str,
    pub secrets: &'a SecretSource,
}

/// A client with the request time-out `timeout` and the TLS settings `tls`.
pub fn build_client(
    timeout: Duration,
    tls: Option<&HttpTls>,
    context: &ClientContext<'_>,
) -> Result<reqwest::Client, EndpointError> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
        .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
        // Redirects are followed by `redirect::send`, per the Connection's
        // `followRedirects`, so credentials never reach another origin.
        .redirect(reqwest::redirect::Policy::none());
    let mut field = context.field.to_owned();
    if let Some(tls) = tls {
        field = format!("{}.tls", context.field);
        builder = configure_tls(builder, tls, &field, context)?;
    }
    builder.build().map_err(|error| {
        let mismatch = std::error::Error::source(&error)
            .and_then(rustls_error)
            .is_some_and(|e| matches!(e, rustls::Error::InconsistentKeys(_)));
        if mismatch {
            return EndpointError::Invalid {
                field: format!("{field}.clientKey"),
                message: "does not belong to the certificate in `clientCertificate`".into(),
            };
        }
        EndpointError::Invalid {
            field,
            message: format!("cannot set up the HTTP client: {}", error_chain(&error)),
        }
    })
}

fn configure_tls(
    mut builder: reqwest::ClientBuilder,
    tls: &HttpTls,
    field: &str,
    context: &ClientContext<'_>,
) -> Result<reqwest::ClientBuilder, EndpointError> {
    if tls.trust_built_in_roots == Some(false) {
        builder = builder.tls_built_in_root_certs(false);
    }
    if let Some(ca) = &tls.ca_certificate {
        let field = format!("{field}.caCertificate");
        let pem = resolve_pem(ca, &field, context)?;
        for der in certificates(&pem, &field)? {
            let certificate =
                reqwest::Certificate::from_der(&der).map_err(|error| EndpointError::Invalid {
                    field: field.clone(),
                    message: format!("not a usable certificate: {}", error_chain(&error)),
                })?;
            builder = builder.add_root_certificate(certificate);
        }
    }
    match (&tls.client_certificate, &tls.client_key) {
        (Some(certificate), Some(key)) => {
            let certificate_field = format!("{field}.clientCertificate");
            let certificate = resolve_pem(certificate, &certificate_field, context)?;
            certificates(&certificate, &certificate_field)?;
            let key_field = format!("{field}.clientKey");
            let key = resolve_secret(key, &key_field, context)?;
            check_private_key(key.expose(), &key_field)?;
            // reqwest reads the certificate chain and the key from one PEM text.
            let both = Secret::new(format!("{certificate}\n{}\n", key.expose()));
            let identity = reqwest::Identity::from_pem(both.expose().as_bytes()).map_err(|_| {
                EndpointError::Invalid {
                    field: field.to_owned(),
                    message: "the client certificate and key cannot be used together".into(),
                }
            })?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        // Semantic validation reports these; a Connection never gets here with one half.
        (Some(_), None) => return Err(missing(field, "clientKey", "clientCertificate")),
        (None, Some(_)) => return Err(missing(field, "clientCertificate", "clientKey")),
    }
    Ok(builder)
}

fn missing(field: &str, absent: &str, present: &str) -> EndpointError {
    EndpointError::Invalid {
        field: format!("{field}.{absent}"),
        message: format!("is required with `{present}`"),
    }
}

fn resolve_secret(
    value: &SecretValue,
    field: &str,
    context: &ClientContext<'_>,
) -> Result<Secret, EndpointError> {
    context
        .secrets
        .resolve(context.namespace, value)
        .map_err(|source| EndpointError::Secret {
            field: field.to_owned(),
            source: Box::new(source),
        })
}

/// The PEM text of an inline or Secret value.
fn resolve_pem(
    value: &PemValue,
    field: &str,
    context: &ClientContext<'_>,
) -> Result<String, EndpointError> {
    match value {
        PemValue::Inline(text) => Ok(text.clone()),
        PemValue::Secret(secret) => {
            resolve_secret(secret, field, context).map(|s| s.expose().to_owned())
        }
    }
}

/// The DER certificates of a PEM text; at least one.
fn certificates(pem: &str, field: &str) -> Result<Vec<CertificateDer<'static>>, EndpointError> {
    let invalid = |message: &str| EndpointError::Invalid {
        field: field.to_owned(),
        message: message.to_owned(),
    };
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            invalid("is not valid PEM (a `-----BEGIN CERTIFICATE-----` block is broken)")
        })?;
    if certificates.is_empty() {
        return Err(invalid(
            "holds no certificate: expected one or more `-----BEGIN CERTIFICATE-----` blocks",
        ));
    }
    Ok(certificates)
}

/// Whether `pem` holds an unencrypted private key in a format rustls reads.
fn check_private_key(pem: &str, field: &str) -> Result<(), EndpointError> {
    let message = if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        "is an encrypted private key; store it unencrypted in the Secret (e.g. `openssl pkey -in key.pem -out plain.pem`)"
    } else if PrivateKeyDer::from_pem_slice(pem.as_bytes()).is_err() {
        // The parser's own error can quote a line of the input: never pass it on.
        "is not a PEM private key: expected `-----BEGIN PRIVATE KEY-----` (PKCS#8), `RSA PRIVATE KEY` or `EC PRIVATE KEY`"
    } else {
        return Ok(());
    };
    Err(EndpointError::Invalid {
        field: field.to_owned(),
        message: message.to_owned(),
    })
}

/// An error and its causes, `: `-separated.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// What to change when a TLS handshake failed for a reason the Connection's `tls`
/// settings fix.
pub(super) fn tls_hint(error: &reqwest::Error) -> Option<&'static str> {
    use rustls::{AlertDescription, CertificateError, Error as Tls};
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        match rustls_error(cause) {
            Some(Tls::InvalidCertificate(CertificateError::UnknownIssuer)) => {
                return Some(
                    " (the server's certificate is not signed by a trusted CA: set \
                     `tls.caCertificate` to the CA that signed it)",
                );
            }
            Some(Tls::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => {
                return Some(" (the server's certificate is not issued for this host name)");
            }
            Some(Tls::AlertReceived(AlertDescription::CertificateRequired)) => {
                return Some(
                    " (the server requires a client certificate: set `tls.clientCertificate` \
                     and `tls.clientKey`)",
                );
            }
            Some(Tls::AlertReceived(
                AlertDescription::BadCertificate
                | AlertDescription::UnknownCA
                | AlertDescription::CertificateUnknown,
            )) => {
                return Some(" (the server refused the client certificate)");
            }
            _ => {}
        }
        source = cause.source();
    }
    None
}

/// The rustls error inside `cause`: hyper-rustls hands them on inside `io::Error`s
/// (sometimes one inside another), whose `source()` skips them.
fn rustls_error<'a>(mut cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    loop {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        cause = cause.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

#[cfg(test)]
mod tests {
    use switchyard_crds::v1alpha1::{SecretKeySelector, SoapConnection};

    use super::*;
    use crate::connectors::soap::{SoapEndpoint, SoapError};

    fn secret(key: &str) -> SecretValue {
        SecretValue {
            secret_key_ref: SecretKeySelector {
                name: "partner-tls".into(),
                key: key.into(),
            },
        }
    }

    /// A self-signed certificate and its key, and the key of another certificate.
    fn material() -> (String, String, String) {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        let other = rcgen::KeyPair::generate().expect("key");
        (
            certified.cert.pem(),
            certified.signing_key.serialize_pem(),
            other.serialize_pem(),
        )
    }

    /// A secrets directory with `partner-tls/{tls.crt,tls.key}`.
    fn secrets(certificate: &str, key: &str) -> (tempfile::TempDir, SecretSource) {
        let dir = tempfile::tempdir().expect("dir");
        let secret = dir.path().join("partner-tls");
        std::fs::create_dir_all(&secret).expect("secret dir");
        std::fs::write(secret.join("tls.crt"), certificate).expect("tls.crt");
        std::fs::write(secret.join("tls.key"), key).expect("tls.key");
        let source = SecretSource {
            dir: Some(dir.path().to_owned()),
        };
        (dir, source)
    }

    fn tls(ca: Option<&str>) -> HttpTls {
        HttpTls {
            ca_certificate: ca.map(|pem| PemValue::Inline(pem.to_owned())),
            trust_built_in_roots: Some(false),
            client_certificate: Some(PemValue::Secret(secret("tls.crt"))),
            client_key: Some(secret("tls.key")),
        }
    }

    fn build(tls: &HttpTls, secrets: &SecretSource) -> Result<reqwest::Client, EndpointError> {
        build_client(
            Duration::from_secs(5),
            Some(tls),
            &ClientContext {
                field: "spec.http",
                namespace: "default",
                secrets,
            },
        )
    }

    fn field_and_message(result: Result<reqwest::Client, EndpointError>) -> (String, String) {
        match result {
            Ok(_) => panic!("the client was built"),
            Err(EndpointError::Invalid { field, message }) => (field, message),
            Err(EndpointError::Secret { field, source }) => (field, source.to_string()),
        }
    }

    #[test]
    fn a_private_ca_and_a_client_identity_build_a_client() {
        let (certificate, key, _) = material();
        let (_dir, source) = secrets(&certificate, &key);
        build(&tls(Some(&certificate)), &source).expect("client");
    }

    #[test]
    fn each_broken_piece_names_its_field_and_never_quotes_the_key() {
        let (certificate, key, other_key) = material();
        let cases = [
            (
                Some("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"),
                certificate.as_str(),
                key.as_str(),
                "spec.http.tls.caCertificate",
                "is not valid PEM",
            ),
            (
                Some(certificate.as_str()),
                "no PEM here",
                key.as_str(),
                "spec.http.tls.clientCertificate",
                "holds no certificate",
            ),
            (
                Some(certificate.as_str()),
                certificate.as_str(),
                "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
                "spec.http.tls.clientKey",
                "is not a PEM private key",
            ),
            (
                Some(certificate.as_str()),
                certificate.as_str(),
                other_key.as_str(),
                "spec.http.tls.clientKey",
                "does not belong to the certificate",
            ),
        ];
        for (ca, client_certificate, client_key, field, finding) in cases {
            let (_dir, source) = secrets(client_certificate, client_key);
            let (found_field, message) = field_and_message(build(&tls(ca), &source));
            assert_eq!(found_field, field, "{message}");
            assert!(message.contains(finding), "{field}: {message}");
            let key_line = client_key.lines().find(|l| !l.starts_with("-----"));
            assert!(
                key_line.is_none_or(|line| !message.contains(&line[..20.min(line.len())])),
                "{message}"
            );
        }
    }

    #[test]
    fn a_missing_secret_names_the_field() {
        let source = SecretSource {
            dir: Some(std::path::PathBuf::from("/nonexistent")),
        };
        let (field, message) = field_and_message(build(&tls(None), &source));
        assert_eq!(field, "spec.http.tls.clientCertificate");
        assert!(message.contains("partner-tls"), "{message}");
    }

    #[test]
    fn soap_connections_share_the_client_and_its_errors() {
        let (certificate, _, other_key) = material();
        let (_dir, source) = secrets(&certificate, &other_key);
        let spec = SoapConnection {
            url: "https://erp.example.com/soap".into(),
            version: None,
            ws_security: None,
            header_blocks: Vec::new(),
            headers: Default::default(),
            timeout_seconds: None,
            tls: Some(tls(Some(&certificate))),
            follow_redirects: None,
        };
        match SoapEndpoint::new(&spec, "default", &source) {
            Err(SoapError::Config { field, message }) => {
                assert_eq!(field, "spec.soap.tls.clientKey", "{message}");
            }
            Err(other) => panic!("unexpected error: {other}"),
            Ok(_) => panic!("a mismatched key was accepted"),
        }
    }
}
