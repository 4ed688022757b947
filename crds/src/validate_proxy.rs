//! Validation of a proxy Route (`spec.incoming.proxy`): it forwards calls as they come,
//! so the fields of queued delivery mean nothing on it and are refused rather than
//! ignored.

use crate::v1alpha1::{
    MAX_PROXY_RECORD_BYTES, MAX_PROXY_TIMEOUT_SECONDS, Processing, Proxy, RouteSpec, WebhookAuth,
};
use crate::validate::Checker;

const UNUSED: &str = "is not used by a proxy Route: calls are forwarded as they come, not queued";

pub(crate) fn route(check: &mut Checker<'_>, spec: &RouteSpec) {
    let Some(proxy) = &spec.incoming.proxy else {
        return;
    };
    settings(check, proxy);
    if spec.incoming.when.is_some() {
        check.report("spec.incoming.when", UNUSED);
    }
    let transformers = &spec.transformers;
    for (name, empty) in [
        ("incoming", transformers.incoming.is_empty()),
        ("outgoing", transformers.outgoing.is_empty()),
        ("afterDelivery", transformers.after_delivery.is_empty()),
    ] {
        if !empty {
            check.report(
                format!("spec.transformers.{name}"),
                "is not used by a proxy Route; transform the request and the answer with \
                 `spec.incoming.proxy.request` and `spec.incoming.proxy.response`",
            );
        }
    }
    let outgoing = &spec.outgoing;
    for (name, set) in [
        ("http", outgoing.http.is_some()),
        ("database", outgoing.database.is_some()),
        ("file", outgoing.file.is_some()),
        ("soap", outgoing.soap.is_some()),
        ("await", outgoing.awaiting.is_some()),
    ] {
        if set {
            check.report(
                format!("spec.outgoing.{name}"),
                "is not used by a proxy Route: name only the HTTP Connection calls go \
                 through; the caller chooses method, path and body",
            );
        }
    }
    if let Some(processing) = &spec.processing {
        let Processing {
            mode,
            schedule,
            max_concurrency,
            retry,
            max_pending,
            keep_steps,
            suspend: _,
        } = processing;
        for (name, set) in [
            ("mode", mode.is_some()),
            ("schedule", schedule.is_some()),
            ("maxConcurrency", max_concurrency.is_some()),
            ("retry", retry.is_some()),
            ("maxPending", max_pending.is_some()),
            ("keepSteps", keep_steps.is_some()),
        ] {
            if set {
                check.report(format!("spec.processing.{name}"), UNUSED);
            }
        }
    }
}

fn settings(check: &mut Checker<'_>, proxy: &Proxy) {
    let field = "spec.incoming.proxy";
    if let Some(WebhookAuth { token, hmac }) = &proxy.auth {
        check.exactly_one(
            &format!("{field}.auth"),
            &[("token", token.is_some()), ("hmac", hmac.is_some())],
        );
    }
    if proxy
        .record_body_bytes
        .is_some_and(|bytes| bytes > MAX_PROXY_RECORD_BYTES)
    {
        check.report(
            format!("{field}.recordBodyBytes"),
            format!("must be at most {MAX_PROXY_RECORD_BYTES} (1 MiB): a task is not a blob store"),
        );
    }
    if let Some(seconds) = proxy.timeout_seconds
        && !(1..=MAX_PROXY_TIMEOUT_SECONDS).contains(&seconds)
    {
        check.report(
            format!("{field}.timeoutSeconds"),
            format!("must be between 1 and {MAX_PROXY_TIMEOUT_SECONDS}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::Catalog;
    use crate::manifest::load_str;

    fn problems(route: &str) -> Vec<String> {
        let yaml = format!(
            r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: erp}}
spec: {{http: {{baseUrl: "http://erp.example/api"}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: db}}
spec: {{database: {{url: "postgres://app@db.example/shop"}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: r}}
spec:
{route}
"#
        );
        let (resources, mut problems) = load_str(&yaml, None);
        problems.extend(Catalog::build(resources).problems);
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_proxy_route_with_its_settings_passes() {
        let found = problems(
            "  incoming:
    proxy:
      auth: {token: {secretKeyRef: {name: caller, key: token}}}
      request: [{set: {path: source, value: proxy}}]
      response: [{jq: '{items: .data}'}]
      recordBodyBytes: 0
      timeoutSeconds: 5
  outgoing: {connection: erp}
  processing: {suspend: false}",
        );
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn queued_delivery_fields_and_bad_settings_are_named() {
        let found = problems(
            "  incoming:
    proxy: {auth: {}, recordBodyBytes: 2000000, timeoutSeconds: 0, request: [{jq: '.['}, {trigger: {route: r}}]}
    when: '.a'
  transformers: {incoming: [{jq: .}], afterDelivery: [{jq: .}]}
  outgoing: {connection: erp, http: {path: /x}}
  processing: {mode: scheduled, schedule: '* * * * *', retry: {maxAttempts: 2}}",
        );
        for expected in [
            "spec.incoming.proxy.auth",
            "spec.incoming.proxy.recordBodyBytes",
            "spec.incoming.proxy.timeoutSeconds",
            "spec.incoming.proxy.request[0].jq",
            "`trigger` step",
            "spec.incoming.when",
            "spec.transformers.incoming",
            "spec.transformers.afterDelivery",
            "spec.outgoing.http",
            "spec.processing.mode",
            "spec.processing.retry",
        ] {
            assert!(
                found.iter().any(|p| p.contains(expected)),
                "{expected}: {found:#?}"
            );
        }
    }

    #[test]
    fn the_connection_must_be_http() {
        let found = problems("  incoming: {proxy: {}}\n  outgoing: {connection: db}");
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].contains("spec.outgoing.connection")
                && found[0].contains("a proxy Route forwards calls through an HTTP Connection"),
            "{found:#?}"
        );
        let found = problems("  incoming: {proxy: {}, webhook: {}}\n  outgoing: {connection: erp}");
        assert!(
            found.iter().any(|p| p.contains("set only one of")),
            "{found:#?}"
        );
    }
}
