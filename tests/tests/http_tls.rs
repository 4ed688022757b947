//! HTTPS with a private CA and mutual TLS: a real TLS server on loopback that requires a
//! client certificate signed by a throw-away CA, reached through Connections that trust
//! that CA and present (or do not present) the client certificate.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Path};
use axum::routing::{get, post};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use serde_json::{Value, json};
use switchyard_e2e::{Runner, RunnerOptions, eventually, manifest_dir, runner_bin};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig, crypto};

const CLIENT_NAME: &str = "switchyard-partner-client";

/// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, all
/// generated for this test.
struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    server_der: CertificateDer<'static>,
    server_key: Vec<u8>,
    client_pem: String,
    client_der: CertificateDer<'static>,
    client_key_pem: String,
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Switchyard test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("CA certificate");

    let leaf = |names: Vec<String>, common_name: &str, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(names).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &ca).expect("signed certificate");
        (cert, key)
    };
    let (server, server_key) = leaf(
        vec!["localhost".into(), "127.0.0.1".into()],
        "localhost",
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let (client, client_key) = leaf(vec![], CLIENT_NAME, ExtendedKeyUsagePurpose::ClientAuth);
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        server_der: server.der().clone(),
        server_key: server_key.serialize_der(),
        client_pem: client.pem(),
        client_der: client.der().clone(),
        client_key_pem: client_key.serialize_pem(),
    }
}

/// What the server saw of one connection.
#[derive(Clone, Debug)]
struct Peer {
    certificate: Option<CertificateDer<'static>>,
}

/// TLS over a TCP listener, handshakes done in `accept`; failed handshakes are recorded.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    failures: Arc<Mutex<Vec<String>>>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, _)) = self.tcp.accept().await else {
                continue;
            };
            let failure =
                match tokio::time::timeout(Duration::from_secs(5), self.acceptor.accept(tcp)).await
                {
                    Ok(Ok(tls)) => {
                        let certificate = tls
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|chain| chain.first())
                            .map(|c| c.clone().into_owned());
                        return (tls, Peer { certificate });
                    }
                    Ok(Err(error)) => error.to_string(),
                    Err(_) => "handshake time-out".to_owned(),
                };
            self.failures.lock().expect("failures").push(failure);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(Peer { certificate: None })
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// One request the server answered: the client certificate it came with, and the body.
type Seen = Arc<Mutex<Vec<(Option<CertificateDer<'static>>, Value)>>>;

struct HttpsServer {
    port: u16,
    seen: Seen,
    failures: Arc<Mutex<Vec<String>>>,
}

impl HttpsServer {
    /// An HTTPS server on 127.0.0.1 that requires a client certificate signed by the CA.
    async fn start(pki: &Pki) -> Self {
        let provider = Arc::new(crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(pki.ca_der.clone()).expect("CA as client root");
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .expect("client verifier");
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![pki.server_der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.clone())),
            )
            .expect("server certificate");
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = tcp.local_addr().expect("address").port();
        let failures = Arc::new(Mutex::new(Vec::new()));
        let seen: Seen = Arc::default();
        let listener = TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            failures: failures.clone(),
        };
        let record = seen.clone();
        let app = Router::new().route("/", get(|| async { "hello" })).route(
            "/items/{id}",
            post(
                move |ConnectInfo(peer): ConnectInfo<Peer>,
                      Path(_id): Path<String>,
                      axum::Json(body): axum::Json<Value>| {
                    let record = record.clone();
                    async move {
                        record.lock().expect("seen").push((peer.certificate, body));
                        "ok"
                    }
                },
            ),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app.into_make_service_with_connect_info::<Peer>()).await;
        });
        Self {
            port,
            seen,
            failures,
        }
    }
}

/// A Connection `name` to `base_url` with the given `tls:` block (YAML, indented for it).
fn connection(name: &str, base_url: &str, tls: &str) -> String {
    format!(
        "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {{name: {name}}}\nspec:\n  http:\n    baseUrl: {base_url}\n    timeoutSeconds: 5\n    tls:\n{tls}---\n"
    )
}

/// A webhook Route `to-<connection>` delivering to `/items/{id}`, three attempts.
fn route(connection: &str) -> String {
    format!(
        "apiVersion: switchyard.dev/v1alpha1\nkind: Route\nmetadata: {{name: to-{connection}}}\nspec:\n  incoming: {{webhook: {{}}}}\n  outgoing:\n    connection: {connection}\n    http: {{path: '/items/{{{{ .id }}}}'}}\n  processing:\n    retry: {{maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 100}}\n---\n"
    )
}

fn inline_ca(pki: &Pki) -> String {
    let mut block = "      caCertificate: |\n".to_owned();
    for line in pki.ca_pem.lines() {
        block.push_str(&format!("        {line}\n"));
    }
    block
}

const CLIENT_IDENTITY: &str = "      clientCertificate: {secretKeyRef: {name: partner-tls, key: tls.crt}}\n      clientKey: {secretKeyRef: {name: partner-tls, key: tls.key}}\n";

/// A secrets directory holding the client certificate and key as a mounted Secret would.
fn secrets(pki: &Pki) -> tempfile::TempDir {
    switchyard_e2e::secrets_dir(&[
        ("partner-tls", "tls.crt", &pki.client_pem),
        ("partner-tls", "tls.key", &pki.client_key_pem),
    ])
}

async fn task_when(runner: &Runner, id: &str, state: &str) -> Value {
    let path = format!("/api/v1/namespaces/default/tasks/{id}");
    eventually(
        Duration::from_secs(30),
        &format!("task {id} {state}"),
        || {
            let path = path.clone();
            async move {
                let task = runner.get_json(&path).await;
                (task["state"] == state).then_some(task)
            }
        },
    )
    .await
}

async fn deliver(runner: &Runner, route: &str, id: u32) -> String {
    let (status, answer) = runner
        .post_json(&format!("/webhooks/default/{route}"), &json!({"id": id}))
        .await;
    assert_eq!(status, 202, "{answer}");
    answer["taskIds"][0].as_str().expect("task id").to_owned()
}

fn log_of(task: &Value) -> String {
    task["log"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["message"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn mutual_tls_with_a_private_ca_delivers_and_each_missing_piece_fails_clearly() {
    let pki = pki();
    let server = HttpsServer::start(&pki).await;
    let base_url = format!("https://127.0.0.1:{}", server.port);
    let manifests = connection("mtls", &base_url, &(inline_ca(&pki) + CLIENT_IDENTITY))
        + &connection("no-client-cert", &base_url, &inline_ca(&pki))
        + &connection("no-ca", &base_url, CLIENT_IDENTITY)
        + &route("mtls")
        + &route("no-client-cert")
        + &route("no-ca");
    let dir = manifest_dir(&[("all.yaml", &manifests)]);
    let secrets = secrets(&pki);
    let options = RunnerOptions {
        secrets_dir: Some(secrets.path().to_owned()),
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;

    // (a) The CA and the client certificate: delivered, and the server saw the client
    // certificate it requires.
    let delivered = deliver(&runner, "to-mtls", 1).await;
    let task = task_when(&runner, &delivered, "done").await;
    let seen = server.seen.lock().expect("seen").clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].1["id"], 1);
    let presented = seen[0].0.as_ref().expect("a client certificate");
    assert_eq!(presented, &pki.client_der, "{task}");
    assert!(
        presented
            .windows(CLIENT_NAME.len())
            .any(|w| w == CLIENT_NAME.as_bytes()),
        "the subject names {CLIENT_NAME}"
    );

    // (b) No client certificate: the server refuses the handshake; three attempts, then
    // failed, each attempt saying why.
    let refused = deliver(&runner, "to-no-client-cert", 2).await;
    let task = task_when(&runner, &refused, "failed").await;
    assert_eq!(task["attempts"], 3, "{task}");
    let log = log_of(&task);
    assert!(log.contains("retrying in"), "{log}");
    assert!(log.contains("CertificateRequired"), "{log}");
    assert!(
        log.contains("the server requires a client certificate: set `tls.clientCertificate`"),
        "{log}"
    );

    // (c) No custom CA: the runner does not trust the server's certificate.
    let untrusted = deliver(&runner, "to-no-ca", 3).await;
    let task = task_when(&runner, &untrusted, "failed").await;
    assert_eq!(task["attempts"], 3, "{task}");
    let log = log_of(&task);
    assert!(
        log.contains("invalid peer certificate: UnknownIssuer"),
        "{log}"
    );
    assert!(
        log.contains("not signed by a trusted CA: set `tls.caCertificate`"),
        "{log}"
    );

    // Only the mutual-TLS delivery reached the handler; the server logged the rest.
    assert_eq!(server.seen.lock().expect("seen").len(), 1);
    let failures = server.failures.lock().expect("failures").clone();
    assert!(
        failures.iter().any(|f| f.contains("certificate")),
        "{failures:?}"
    );

    // (d) The connection test tells the same story without moving data.
    for (name, ok, finding) in [
        ("mtls", true, "reachable (GET"),
        ("no-client-cert", false, "requires a client certificate"),
        ("no-ca", false, "not signed by a trusted CA"),
    ] {
        let (status, answer) = runner
            .post_json(
                &format!("/api/v1/namespaces/default/connections/{name}/test"),
                &json!({}),
            )
            .await;
        assert_eq!(
            (status, answer["ok"].clone()),
            (200, json!(ok)),
            "{name}: {answer}"
        );
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(finding), "{name}: {answer}");
    }

    // The private key shows nowhere.
    let key_body: String = pki
        .client_key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let log = runner.log().replace('\n', "");
    assert!(
        !log.contains(&key_body[..40]),
        "the key leaked in the runner log"
    );
}

#[test]
fn broken_tls_material_is_a_problem_naming_connection_and_field_at_load_time() {
    let pki = pki();
    let manifests = connection(
        "partner",
        "https://partner.example.com",
        &(inline_ca(&pki) + CLIENT_IDENTITY),
    );
    let dir = manifest_dir(&[("partner.yaml", &manifests)]);
    let secrets = secrets(&pki);
    // A key that is not PEM, with recognisable bytes that must never be printed.
    std::fs::write(
        secrets.path().join("partner-tls").join("tls.key"),
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7SECRETKEYBYTES\n",
    )
    .expect("tls.key");
    let validate = |dir: &std::path::Path, secrets: &std::path::Path| {
        let output = Command::new(runner_bin!())
            .arg("validate")
            .arg("-f")
            .arg(dir)
            .arg("--secrets-dir")
            .arg(secrets)
            .output()
            .expect("run validate");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = validate(dir.path(), secrets.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("Connection/default/partner"), "{stderr}");
    assert!(stderr.contains("spec.http.tls.clientKey"), "{stderr}");
    assert!(stderr.contains("is not a PEM private key"), "{stderr}");
    assert!(!stderr.contains("SECRETKEYBYTES"), "{stderr}");

    // A key that parses but belongs to another certificate.
    let other = KeyPair::generate().expect("key").serialize_pem();
    std::fs::write(secrets.path().join("partner-tls").join("tls.key"), &other).expect("tls.key");
    let (code, stderr) = validate(dir.path(), secrets.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("Connection/default/partner"), "{stderr}");
    assert!(
        stderr.contains(
            "field `spec.http.tls.clientKey`: does not belong to the certificate in `clientCertificate`"
        ),
        "{stderr}"
    );
    let other_body: String = other.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(
        !stderr.replace('\n', "").contains(&other_body[..40]),
        "{stderr}"
    );

    // A client certificate Secret that holds no certificate.
    std::fs::write(
        secrets.path().join("partner-tls").join("tls.key"),
        &pki.client_key_pem,
    )
    .expect("tls.key");
    std::fs::write(secrets.path().join("partner-tls").join("tls.crt"), "hello").expect("tls.crt");
    let (code, stderr) = validate(dir.path(), secrets.path());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("spec.http.tls.clientCertificate")
            && stderr.contains("holds no certificate"),
        "{stderr}"
    );
}
