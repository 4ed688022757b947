//! The secret-marker matrix: one random marker secret per run is every credential of
//! every connector (HTTP basic, bearer, API key in a header and in the query, OAuth2
//! client secret, a secret-valued header, SOAP WS-Security, a database password, the
//! webhook token, the queue URL's password). Hostile servers on loopback echo whatever
//! they receive, late in long error bodies, on every error path that can be staged; then
//! the runner's log, every task log, every API answer and `/metrics` are searched for
//! every encoding of the marker. Each row names its path.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine as _;
use serde_json::{Value, json};
use switchyard_e2e::{Runner, RunnerOptions, eventually, manifest_dir, runner_bin};

const CLIENT_ID: &str = "client-7";
const BASIC_USER: &str = "alice";
const QUEUE_USER: &str = "switchyard";

/// A fresh marker: characters that every encoding changes (`/`, `+`, space, `"`, `\`,
/// `&`), so each wire form is a different string.
fn marker() -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    format!("Mk{}/+ \"q\\&{}", &id[..12], &id[20..])
}

/// Every form the marker takes on the wire, and a label for each.
fn encodings(marker: &str) -> Vec<(&'static str, String)> {
    let strict = percent_encoding::utf8_percent_encode(marker, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let json = serde_json::to_string(marker).expect("JSON");
    let basic =
        |user: &str| base64::engine::general_purpose::STANDARD.encode(format!("{user}:{marker}"));
    vec![
        ("raw", marker.to_owned()),
        ("percent-encoded", strict.clone()),
        (
            "percent-encoded, lower-case hex",
            strict.to_lowercase().replace("mk", "Mk"),
        ),
        ("form-encoded (+ for a space)", url_form(marker)),
        ("JSON-escaped", json.trim_matches('"').to_owned()),
        (
            "XML-escaped",
            marker
                .replace('&', "&amp;")
                .replace('"', "&quot;")
                .replace('<', "&lt;"),
        ),
        ("Basic (HTTP basic auth)", basic(BASIC_USER)),
        ("Basic (OAuth2 client authentication)", basic(CLIENT_ID)),
        ("Basic (queue URL user)", basic(QUEUE_USER)),
        // Prefixes: what a cut after masking would have left of the raw form.
        ("raw prefix", marker[..10].to_owned()),
    ]
}

fn url_form(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// What a hostile server received, per path.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, String)>>>);

impl Seen {
    fn push(&self, path: String, what: String) {
        self.0.lock().expect("lock").push((path, what));
    }
    fn all(&self) -> Vec<(String, String)> {
        self.0.lock().expect("lock").clone()
    }
}

/// Everything about a request, as a server could echo it.
fn describe(request: &Request) -> String {
    let mut text = format!("{} {}", request.method(), request.uri());
    for (name, value) in request.headers() {
        text.push_str(&format!(" {name}: {}", value.to_str().unwrap_or_default()));
    }
    text
}

/// `echo` placed so that it starts just before each excerpt limit the runner uses (200,
/// 300, 500, 1000 characters): a cut made before masking would leave a prefix.
fn late(echo: &str) -> String {
    let mut body = String::new();
    for cut in [200, 300, 500, 1_000] {
        while body.len() < cut - 4 {
            body.push('x');
        }
        body.push_str(echo);
    }
    body
}

#[derive(Clone)]
struct Partner {
    marker: String,
    other_origin: String,
    seen: Seen,
}

/// The partner system (one origin): echoes credentials back on every path.
async fn partner(State(state): State<Partner>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let received = describe(&request);
    let headers = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    state.seen.push(path.clone(), format!("{received}\n{body}"));
    // The marker first (so it straddles the cut), then every encoding of it, then the
    // request as received.
    // Only forms of credentials this runner holds (the queue URL belongs to another
    // run), and no prefix: a prefix is what the search looks for.
    let forms: Vec<String> = encodings(&state.marker)
        .into_iter()
        .filter(|(label, _)| !matches!(*label, "raw prefix" | "Basic (queue URL user)"))
        .map(|(_, form)| form)
        .collect();
    let echo = format!(
        "{} | {} | {received} | {body}",
        state.marker,
        forms.join(" ")
    );
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    match path.as_str() {
        "/redirect" => (
            StatusCode::TEMPORARY_REDIRECT,
            [("location", format!("{}/landing", state.other_origin))],
        )
            .into_response(),
        "/token" => (
            StatusCode::UNAUTHORIZED,
            late(&format!("{authorization} invalid client, you sent {echo}")),
        )
            .into_response(),
        "/soap-fault" => {
            let escaped = late(&echo)
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>{escaped}</faultstring></soap:Fault></soap:Body></soap:Envelope>"#
                ),
            )
                .into_response()
        }
        _ => {
            let status = path
                .rsplit('/')
                .find_map(|part| part.parse::<u16>().ok())
                .and_then(|code| StatusCode::from_u16(code).ok())
                .unwrap_or(StatusCode::UNAUTHORIZED);
            (status, late(&echo)).into_response()
        }
    }
}

/// Another origin a redirect points to: records what reached it.
async fn other_origin(State(seen): State<Seen>, request: Request) -> Response {
    seen.push(request.uri().path().to_owned(), describe(&request));
    (StatusCode::BAD_REQUEST, "landed").into_response()
}

async fn serve(app: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

fn secret(key: &str) -> String {
    format!("{{secretKeyRef: {{name: marker, key: {key}}}}}")
}

fn manifests(partner: &str) -> String {
    let connection = |name: &str, spec: &str| {
        format!(
            "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {{name: {name}}}\nspec:\n{spec}\n---\n"
        )
    };
    let route = |name: &str, extra: &str, outgoing: &str| {
        format!(
            "apiVersion: switchyard.dev/v1alpha1\nkind: Route\nmetadata: {{name: {name}}}\nspec:\n  incoming:\n    webhook: {{}}\n{extra}  outgoing:\n{outgoing}\n  processing:\n    retry: {{maxAttempts: 2, initialBackoffMs: 50, maxBackoffMs: 100}}\n---\n"
        )
    };
    let http = |base: &str, auth: &str, more: &str| {
        format!(
            "  http:\n    baseUrl: {base}\n    auth: {auth}\n    headers:\n      X-Partner-Key: {}\n{more}",
            secret("value")
        )
    };
    let mut text = String::new();
    text += &connection(
        "basic",
        &http(
            partner,
            &format!(
                "{{basic: {{username: {BASIC_USER}, password: {}}}}}",
                secret("value")
            ),
            "",
        ),
    );
    text += &connection(
        "bearer",
        &http(
            partner,
            &format!("{{bearer: {{token: {}}}}}", secret("value")),
            "",
        ),
    );
    text += &connection(
        "oauth",
        &http(
            partner,
            &format!(
                "{{oauth2ClientCredentials: {{tokenUrl: \"{partner}/token\", clientId: {CLIENT_ID}, clientSecret: {}}}}}",
                secret("value")
            ),
            "",
        ),
    );
    text += &connection(
        "key-same-origin",
        &http(
            partner,
            &format!(
                "{{apiKey: {{header: X-Api-Key, value: {}}}}}",
                secret("value")
            ),
            "",
        ),
    );
    text += &connection(
        "key-any-origin",
        &http(
            partner,
            &format!(
                "{{apiKey: {{header: X-Api-Key, value: {}}}}}",
                secret("value")
            ),
            "    followRedirects: any\n",
        ),
    );
    text += &connection(
        "key-in-query",
        &http(
            &format!("{partner}/lookup"),
            &format!("{{apiKey: {{query: api_key, value: {}}}}}", secret("value")),
            "",
        ),
    );
    for (name, path) in [("soap-fault", "soap-fault"), ("soap-status", "soap/500")] {
        text += &connection(
            name,
            &format!(
                "  soap:\n    url: {partner}/{path}\n    wsSecurity: {{username: {BASIC_USER}, password: {}}}",
                secret("value")
            ),
        );
    }
    text += &connection(
        "warehouse",
        &format!(
            "  database:\n    url: postgres://no_such_role_for_secret_matrix@127.0.0.1:5432/postgres\n    password: {}\n    connectTimeoutSeconds: 5",
            secret("value")
        ),
    );
    let to = |connection: &str, path: &str| {
        format!("    connection: {connection}\n    http: {{path: \"{path}\"}}")
    };
    text += &format!(
        "apiVersion: switchyard.dev/v1alpha1\nkind: Route\nmetadata: {{name: http-400}}\nspec:\n  incoming:\n    webhook:\n      auth: {{token: {}}}\n  outgoing:\n{}\n---\n",
        secret("value"),
        to("basic", "/echo/400")
    );
    text += &route("http-503", "", &to("bearer", "/echo/503"));
    text += &route("oauth2", "", &to("oauth", "/echo/200"));
    text += &route(
        "redirect-same-origin",
        "",
        &to("key-same-origin", "/redirect"),
    );
    text += &route(
        "redirect-any-origin",
        "",
        &to("key-any-origin", "/redirect"),
    );
    text += &route(
        "lookup",
        "  transformers:\n    outgoing:\n      - lookup:\n          connection: key-in-query\n          http: {path: /400/customers}\n          into: customer\n",
        &to("bearer", "/echo/200"),
    );
    let soap = |connection: &str| {
        format!(
            "    connection: {connection}\n    soap: {{operation: CreateOrder, namespace: \"http://erp.example.com/orders\", body: \"{{Order: {{Id: .id}}}}\"}}"
        )
    };
    text += &route("soap-fault", "", &soap("soap-fault"));
    text += &route("soap-status", "", &soap("soap-status"));
    text += &route(
        "database",
        "",
        "    connection: warehouse\n    database:\n      upsert: {table: orders, key: [id]}",
    );
    text
}

/// One error path: the route an item is posted to, and what its task log must say (the
/// path was really taken).
struct Row {
    path: &'static str,
    route: &'static str,
    expect: &'static str,
}

const ROWS: &[Row] = &[
    Row {
        path: "HTTP 400, long body echoing the credentials late (basic auth)",
        route: "http-400",
        expect: "answered 400",
    },
    Row {
        path: "HTTP 503 retried, then failed (bearer token, secret-valued header)",
        route: "http-503",
        expect: "503",
    },
    Row {
        path: "OAuth2 token endpoint echoing the Basic client authentication",
        route: "oauth2",
        expect: "OAuth2 token request",
    },
    Row {
        path: "redirect to another origin, followRedirects sameOrigin (API key header)",
        route: "redirect-same-origin",
        expect: "refused",
    },
    Row {
        path: "redirect to another origin, followRedirects any (credentials dropped)",
        route: "redirect-any-origin",
        expect: "answered 400",
    },
    Row {
        path: "HTTP lookup answered 400 echoing the API key query parameter",
        route: "lookup",
        expect: "400",
    },
    Row {
        path: "SOAP fault echoing the WS-Security envelope",
        route: "soap-fault",
        expect: "SOAP fault",
    },
    Row {
        path: "SOAP HTTP 500 without a fault echoing the envelope",
        route: "soap-status",
        expect: "HTTP 500",
    },
    Row {
        path: "database authentication failure (password from a Secret)",
        route: "database",
        expect: "",
    },
];

#[tokio::test]
async fn no_encoding_of_a_secret_leaves_through_any_error_path() {
    let marker = marker();
    let forms = encodings(&marker);
    let reached_other = Seen::default();
    let other_port = serve(
        Router::new()
            .fallback(any(other_origin))
            .with_state(reached_other.clone()),
    )
    .await;
    // `localhost` against `127.0.0.1`, and another port: another origin on loopback.
    let other = format!("http://localhost:{other_port}");
    let seen = Seen::default();
    let partner_port = serve(Router::new().fallback(any(partner)).with_state(Partner {
        marker: marker.clone(),
        other_origin: other.clone(),
        seen: seen.clone(),
    }))
    .await;
    let base = format!("http://127.0.0.1:{partner_port}");

    let secrets = tempfile::tempdir().expect("secrets dir");
    std::fs::create_dir_all(secrets.path().join("marker")).expect("secret dir");
    std::fs::write(secrets.path().join("marker").join("value"), &marker).expect("secret");
    let dir = manifest_dir(&[("matrix.yaml", &manifests(&base))]);
    let options = RunnerOptions {
        secrets_dir: Some(secrets.path().to_owned()),
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;

    // Every text a user or an operator can see, with where it came from.
    let mut shown: Vec<(String, String)> = Vec::new();

    // The webhook refuses wrong tokens, one of them containing the right one.
    for presented in ["wrong".to_owned(), format!("{marker}x")] {
        let response = runner
            .client
            .post(runner.url("/webhooks/default/http-400"))
            .header("X-Switchyard-Token", presented)
            .json(&json!({"id": 0}))
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status().as_u16(), 401);
        shown.push((
            "webhook answer to a wrong token".into(),
            response.text().await.unwrap_or_default(),
        ));
    }

    let mut tasks = Vec::new();
    for row in ROWS {
        let response = runner
            .client
            .post(runner.url(&format!("/webhooks/default/{}", row.route)))
            .header("X-Switchyard-Token", &marker)
            .json(&json!({"id": 1, "route": row.route}))
            .send()
            .await
            .expect("POST");
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 202, "{}: {answer}\n{}", row.path, runner.log());
        shown.push((format!("{}: webhook answer", row.path), answer.to_string()));
        let id = answer["taskIds"][0].as_str().expect("task id").to_owned();
        tasks.push((row, id));
    }
    for (row, id) in &tasks {
        let path = format!("/api/v1/namespaces/default/tasks/{id}");
        let task = eventually(Duration::from_secs(60), row.path, || {
            let runner = &runner;
            let path = path.clone();
            async move {
                let task = runner.get_json(&path).await;
                (task["state"] == "failed").then_some(task)
            }
        })
        .await;
        let log = task["log"].to_string();
        assert!(
            log.contains(row.expect),
            "{}: the task log does not say {:?}:\n{log}",
            row.path,
            row.expect
        );
        shown.push((format!("{}: task (API)", row.path), task.to_string()));
    }

    // The excerpts were masked, not merely cut before the marker: the mask shows.
    let first = shown
        .iter()
        .find(|(path, _)| path.starts_with(ROWS[0].path) && path.ends_with("task (API)"))
        .map(|(_, text)| text.clone())
        .unwrap_or_default();
    assert!(first.contains("***"), "nothing was masked:\n{first}");

    // Redirects: the same-origin Connection did not go there; the `any` one went there
    // without its credentials.
    let landed = reached_other.all();
    assert_eq!(
        landed.len(),
        1,
        "expected only the `any` route's one (rejected) attempt at the other origin: {landed:?}"
    );
    for (_, request) in &landed {
        let lower = request.to_lowercase();
        assert!(
            !lower.contains("x-api-key") && !lower.contains("x-partner-key"),
            "credentials were sent to another origin: {request}"
        );
        shown.push((
            "request received by the other origin".into(),
            request.clone(),
        ));
    }
    // The secrets were really used (sent to the partner), so hiding them meant something.
    let sent = seen.all();
    assert!(
        sent.iter()
            .any(|(path, request)| path == "/token" && request.contains("authorization: Basic")),
        "the token endpoint saw no client authentication: {sent:?}"
    );
    assert!(
        sent.iter()
            .any(|(_, request)| request.contains(&format!("x-api-key: {marker}"))),
        "no API key was sent: {sent:?}"
    );

    // The connection test of every kind, and the API's lists.
    for name in ["basic", "oauth", "key-in-query", "warehouse"] {
        let response = runner
            .client
            .post(runner.url(&format!(
                "/api/v1/namespaces/default/connections/{name}/test"
            )))
            .send()
            .await
            .expect("POST test");
        shown.push((
            format!("connection test of `{name}`"),
            response.text().await.unwrap_or_default(),
        ));
    }
    for path in [
        "/api/v1/namespaces/default/routes",
        "/api/v1/namespaces/default/tasks?limit=100",
        "/api/v1/namespaces/default/tasks?state=failed&limit=100",
        "/metrics",
    ] {
        let text = runner
            .client
            .get(runner.url(path))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .unwrap_or_default();
        shown.push((format!("GET {path}"), text));
    }
    shown.push(("the runner's log (stderr)".into(), runner.log()));

    // Start-up: a queue URL with the marker as its password, on a port that refuses
    // connections, and the marker as the API token.
    let refused = switchyard_e2e::free_port();
    let queue_url = format!(
        "postgres://{QUEUE_USER}:{}@127.0.0.1:{refused}/queue",
        percent_encoding::utf8_percent_encode(&marker, percent_encoding::NON_ALPHANUMERIC)
    );
    let data = tempfile::tempdir().expect("data dir");
    let child = tokio::process::Command::new(runner_bin!())
        .arg("run")
        .arg("-f")
        .arg(dir.path())
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", switchyard_e2e::free_port()))
        .arg("--data-dir")
        .arg(data.path())
        .arg("--secrets-dir")
        .arg(secrets.path())
        .env("SWITCHYARD_QUEUE_URL", &queue_url)
        .env("SWITCHYARD_API_TOKEN", &marker)
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(90), child)
        .await
        .expect("the runner with a refused queue URL did not exit")
        .expect("run the runner");
    assert!(
        !output.status.success(),
        "a refused queue URL started a runner"
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        stderr.contains("cannot connect to the queue database"),
        "start-up error: {stderr}"
    );
    shown.push(("start-up with a refused queue URL: stderr".into(), stderr));
    shown.push((
        "start-up with a refused queue URL: stdout".into(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ));

    let mut leaks = Vec::new();
    for (source, text) in &shown {
        for (encoding, form) in &forms {
            if text.contains(form.as_str()) {
                leaks.push(format!("{encoding} form in {source}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "the marker leaked:\n{}\n\n{}",
        leaks.join("\n"),
        shown
            .iter()
            .map(|(source, text)| format!("== {source}\n{text}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
