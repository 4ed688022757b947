//! Manifests shared by several scenarios.

/// A webhook route `items` delivering with POST to `base_url/items/{{ .id }}`, with quick
/// retries so tests do not wait long.
pub fn webhook_route(base_url: &str, max_concurrency: u32) -> String {
    format!(
        r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: receiver}}
spec:
  http:
    baseUrl: {base_url}
    timeoutSeconds: 5
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: items}}
spec:
  incoming:
    webhook: {{}}
  transformers:
    incoming:
      - jq: '{{id, payload, seen: true}}'
  outgoing:
    connection: receiver
    http:
      path: /items/{{{{ .id }}}}
  processing:
    maxConcurrency: {max_concurrency}
    retry:
      maxAttempts: 1000
      initialBackoffMs: 100
      maxBackoffMs: 1000
"#
    )
}
