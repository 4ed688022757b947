//! The hostile servers: a partner that echoes every credential back, late in long
//! error bodies, and another origin that records what a redirect brought it.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::marker::encodings;

/// What a hostile server received, per path.
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Vec<(String, String)>>>);

impl Seen {
    pub fn push(&self, path: String, what: String) {
        self.0.lock().expect("lock").push((path, what));
    }
    pub fn all(&self) -> Vec<(String, String)> {
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
pub struct Partner {
    pub marker: String,
    pub other_origin: String,
    pub seen: Seen,
}

/// The partner system (one origin): echoes credentials back on every path.
pub async fn partner(State(state): State<Partner>, request: Request) -> Response {
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
pub async fn other_origin(State(seen): State<Seen>, request: Request) -> Response {
    seen.push(request.uri().path().to_owned(), describe(&request));
    (StatusCode::BAD_REQUEST, "landed").into_response()
}

/// Serves `app` on a free loopback port, which it returns.
pub async fn serve(app: Router) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}
