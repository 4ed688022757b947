//! The matrix: a Connection of every credential kind, a Route per error path, and the
//! rows that say which path each Route takes.

use crate::marker::{BASIC_USER, CLIENT_ID};

fn secret(key: &str) -> String {
    format!("{{secretKeyRef: {{name: marker, key: {key}}}}}")
}

/// Every Connection and Route of the matrix, against the partner at `partner`.
pub fn manifests(partner: &str) -> String {
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
pub struct Row {
    pub path: &'static str,
    pub route: &'static str,
    pub expect: &'static str,
}

pub const ROWS: &[Row] = &[
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
