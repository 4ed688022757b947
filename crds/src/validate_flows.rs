//! Validation of the flow features: outgoing batches and waiting tasks.

use crate::template::{self, Segment};
use crate::v1alpha1::{
    Await, FileBatch, HttpBatch, MAX_AWAIT_TIMEOUT_SECONDS, MAX_BATCH_WAIT_MS,
    MAX_FILE_BATCH_ITEMS, MAX_HTTP_BATCH_ITEMS, RouteSpec, WebhookAuth,
};
use crate::validate::Checker;

pub(crate) fn route(check: &mut Checker<'_>, spec: &RouteSpec) {
    if let Some(http) = &spec.outgoing.http
        && let Some(batch) = &http.batch
    {
        http_batch(check, batch, http.path.as_deref());
    }
    if let Some(batch) = spec.outgoing.file.as_ref().and_then(|f| f.batch.as_ref()) {
        file_batch(check, batch);
    }
    if let Some(awaiting) = &spec.outgoing.awaiting {
        await_problems(check, awaiting);
    }
}

fn await_problems(check: &mut Checker<'_>, awaiting: &Await) {
    let field = "spec.outgoing.await";
    check.jq(&format!("{field}.correlation"), &awaiting.correlation);
    if !(1..=MAX_AWAIT_TIMEOUT_SECONDS).contains(&awaiting.timeout_seconds) {
        check.report(
            format!("{field}.timeoutSeconds"),
            format!("must be between 1 and {MAX_AWAIT_TIMEOUT_SECONDS} (30 days)"),
        );
    }
    let Some(callback) = &awaiting.callback else {
        return;
    };
    let field = format!("{field}.callback");
    check.jq(&format!("{field}.correlation"), &callback.correlation);
    for (name, code) in [
        ("outcome", &callback.outcome),
        ("message", &callback.message),
    ] {
        if let Some(code) = code {
            check.jq(&format!("{field}.{name}"), code);
        }
    }
    if let Some(WebhookAuth { token, hmac }) = &callback.auth {
        check.exactly_one(
            &format!("{field}.auth"),
            &[("token", token.is_some()), ("hmac", hmac.is_some())],
        );
    }
}

fn http_batch(check: &mut Checker<'_>, batch: &HttpBatch, path: Option<&str>) {
    let field = "spec.outgoing.http.batch";
    items(check, field, batch.max_items, MAX_HTTP_BATCH_ITEMS);
    wait(check, field, batch.max_wait_ms);
    if batch.max_bytes == Some(0) {
        check.report(format!("{field}.maxBytes"), "must be at least 1");
    }
    if let Some(results) = &batch.results {
        check.jq(&format!("{field}.results"), results);
    }
    let placeholders = path
        .and_then(|p| template::parse(p).ok())
        .is_some_and(|segments| segments.iter().any(|s| matches!(s, Segment::Expression(_))));
    if placeholders {
        check.report(
            "spec.outgoing.http.path",
            "must not hold `{{ }}` placeholders with `batch`: one request carries many items",
        );
    }
}

fn file_batch(check: &mut Checker<'_>, batch: &FileBatch) {
    let field = "spec.outgoing.file.batch";
    items(check, field, batch.max_items, MAX_FILE_BATCH_ITEMS);
    wait(check, field, batch.max_wait_ms);
}

fn items(check: &mut Checker<'_>, field: &str, value: Option<u32>, max: u32) {
    if let Some(value) = value
        && !(2..=max).contains(&value)
    {
        check.report(
            format!("{field}.maxItems"),
            format!("must be between 2 and {max} (without `batch`, each task goes alone)"),
        );
    }
}

fn wait(check: &mut Checker<'_>, field: &str, value: Option<u64>) {
    if value.is_some_and(|ms| ms > MAX_BATCH_WAIT_MS) {
        check.report(
            format!("{field}.maxWaitMs"),
            format!(
                "must be at most {MAX_BATCH_WAIT_MS}: tasks wait for a batch while they are leased"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::Catalog;
    use crate::manifest::load_str;

    fn problems(outgoing: &str) -> Vec<String> {
        let yaml = format!(
            r#"
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: erp}}
spec: {{http: {{baseUrl: "http://erp.example"}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {{name: out}}
spec: {{fileSystem: {{local: {{root: /tmp/out}}}}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Route
metadata: {{name: r}}
spec:
  incoming: {{webhook: {{}}}}
  outgoing: {outgoing}
"#
        );
        let (resources, mut problems) = load_str(&yaml, None);
        problems.extend(Catalog::build(resources).problems);
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_good_batch_passes_and_bad_settings_are_named() {
        assert_eq!(
            problems(
                "{connection: erp, http: {path: /bulk, batch: {maxItems: 50, format: jsonLines, results: '[.body[] | .ok]'}}}"
            ),
            Vec::<String>::new()
        );
        let found = problems(
            "{connection: erp, http: {path: '/bulk/{{ .id }}', batch: {maxItems: 1, maxWaitMs: 60000, maxBytes: 0, results: '[.'}}}",
        );
        for expected in [
            "spec.outgoing.http.batch.maxItems",
            "spec.outgoing.http.batch.maxWaitMs",
            "spec.outgoing.http.batch.maxBytes",
            "spec.outgoing.http.batch.results",
            "spec.outgoing.http.path",
        ] {
            assert!(
                found.iter().any(|p| p.contains(expected)),
                "{expected}: {found:#?}"
            );
        }
        let found = problems(
            "{connection: out, file: {path: out.jsonl, format: jsonLines, batch: {maxItems: 20000}}}",
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("spec.outgoing.file.batch.maxItems")),
            "{found:#?}"
        );
        let found = problems("{connection: erp, http: {batch: {format: xml}}}");
        assert!(!found.is_empty(), "an unknown format is refused");
    }

    #[test]
    fn await_settings_are_checked() {
        assert_eq!(
            problems(
                "{connection: erp, await: {correlation: .body.jobId, timeoutSeconds: 60, onTimeout: retry, callback: {correlation: .jobId, outcome: '.ok', auth: {token: {secretKeyRef: {name: cb, key: token}}}}}}"
            ),
            Vec::<String>::new()
        );
        let found = problems(
            "{connection: erp, await: {correlation: '.[', timeoutSeconds: 0, callback: {correlation: .id, message: '{', auth: {}}}}",
        );
        for expected in [
            "spec.outgoing.await.correlation",
            "spec.outgoing.await.timeoutSeconds",
            "spec.outgoing.await.callback.message",
            "spec.outgoing.await.callback.auth",
        ] {
            assert!(
                found.iter().any(|p| p.contains(expected)),
                "{expected}: {found:#?}"
            );
        }
        assert!(
            !problems(
                "{connection: erp, await: {correlation: .x, timeoutSeconds: 5, onTimeout: later}}"
            )
            .is_empty()
        );
    }
}
