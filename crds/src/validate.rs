//! Semantic validation beyond the schema: URLs parse, jq compiles, cron parses, exactly
//! one of a set of alternatives, no credentials written inline.

use std::str::FromStr;

use crate::jq;
use crate::path::FieldPath;
use crate::problem::{Origin, Problem, ResourceId};
use crate::template::{self, Segment};
use crate::v1alpha1::{
    ConnectionSpec, HeaderValue, Headers, Incoming, Pagination, ProcessingMode, RouteSpec, Step,
    WebhookAuth, WebhookBody,
};

/// Header names whose values are credentials: they must come from a Secret.
const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
    "apikey",
    "x-auth-token",
    "x-access-token",
];

/// Query parameter names that carry credentials: use `auth.apiKey.query` instead.
const SENSITIVE_QUERY_PARAMS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
];

/// Collects problems against one resource.
pub(crate) struct Checker<'a> {
    origin: &'a Origin,
    id: &'a ResourceId,
    problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(origin: &'a Origin, id: &'a ResourceId) -> Self {
        Self {
            origin,
            id,
            problems: Vec::new(),
        }
    }

    pub(crate) fn report(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems
            .push(Problem::new(self.origin, Some(self.id), field, message));
    }

    pub(crate) fn exactly_one(&mut self, field: &str, options: &[(&str, bool)]) {
        let set: Vec<&str> = options
            .iter()
            .filter(|(_, s)| *s)
            .map(|(n, _)| *n)
            .collect();
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        match set.len() {
            1 => {}
            0 => self.report(field, format!("set exactly one of: {}", names.join(", "))),
            _ => self.report(
                field,
                format!(
                    "set only one of: {} (found {})",
                    names.join(", "),
                    set.join(", ")
                ),
            ),
        }
    }

    pub(crate) fn url(&mut self, field: &str, text: &str) {
        match url::Url::parse(text) {
            Err(error) => self.report(field, format!("`{text}` is not a valid URL: {error}")),
            Ok(url) if !matches!(url.scheme(), "http" | "https") => self.report(
                field,
                format!(
                    "scheme `{}` is not supported; use http or https",
                    url.scheme()
                ),
            ),
            Ok(url) if url.password().is_some() || !url.username().is_empty() => self.report(
                field,
                "the URL carries credentials; put them in a Secret and use `auth`",
            ),
            Ok(_) => {}
        }
    }

    pub(crate) fn jq(&mut self, field: &str, code: &str) {
        if let Err(error) = jq::compile(code) {
            self.report(field, error.to_string());
        }
    }

    pub(crate) fn template(&mut self, field: &str, text: &str) {
        match template::parse(text) {
            Err(error) => self.report(field, error.to_string()),
            Ok(segments) => {
                for segment in segments {
                    if let Segment::Expression(code) = segment {
                        self.jq(field, &code);
                    }
                }
            }
        }
    }

    fn cron(&mut self, field: &str, expression: &str) {
        if let Err(error) = croner::Cron::from_str(expression) {
            self.report(
                field,
                format!("`{expression}` is not a valid cron expression: {error}"),
            );
        }
    }

    pub(crate) fn headers(&mut self, field: &str, headers: &Headers) {
        for (name, value) in headers {
            if reqwest_header_name_is_invalid(name) {
                self.report(format!("{field}.{name}"), "is not a valid header name");
            }
            if matches!(value, HeaderValue::Plain(_))
                && SENSITIVE_HEADERS.contains(&name.to_ascii_lowercase().as_str())
            {
                self.report(
                    format!("{field}.{name}"),
                    "credentials must not be written inline; use `secretKeyRef` (or `auth`)",
                );
            }
        }
    }

    pub(crate) fn pointer(&mut self, field: &str, pointer: &str) {
        if !pointer.is_empty() && !pointer.starts_with('/') {
            self.report(
                field,
                format!("`{pointer}` is not a JSON pointer; it must start with `/`"),
            );
        }
    }

    /// Checks the Secret name and key of every secret reference in `spec` (the one walk
    /// of [`crate::secret_refs`]).
    pub(crate) fn secret_refs<T: serde::Serialize>(&mut self, spec: &T) {
        for reference in crate::secret_refs::secret_refs(spec, "spec") {
            for (field, message) in crate::secret_refs::check(&reference) {
                self.report(field, message);
            }
        }
    }

    pub(crate) fn done(self) -> Vec<Problem> {
        self.problems
    }
}

fn reqwest_header_name_is_invalid(name: &str) -> bool {
    name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

pub(crate) fn connection(spec: &ConnectionSpec, origin: &Origin, id: &ResourceId) -> Vec<Problem> {
    let mut check = Checker::new(origin, id);
    if let Err(error) = spec.kind() {
        check.report("spec", error.to_string());
    }
    check.secret_refs(spec);
    crate::validate_connectors::connection(&mut check, spec);
    crate::validate_circuit::connection(&mut check, spec);
    if let Some(http) = &spec.http {
        check.url("spec.http.baseUrl", &http.base_url);
        check.headers("spec.http.headers", &http.headers);
        if http.timeout_seconds == Some(0) {
            check.report("spec.http.timeoutSeconds", "must be at least 1");
        }
        if let Some(limits) = &http.limits {
            for (field, value) in [
                (
                    "spec.http.limits.requestsPerSecond",
                    limits.requests_per_second,
                ),
                ("spec.http.limits.maxConcurrent", limits.max_concurrent),
            ] {
                if value == Some(0) {
                    check.report(field, "must be at least 1");
                }
            }
        }
        if let Some(auth) = &http.auth {
            check.exactly_one(
                "spec.http.auth",
                &[
                    ("basic", auth.basic.is_some()),
                    ("bearer", auth.bearer.is_some()),
                    ("apiKey", auth.api_key.is_some()),
                    (
                        "oauth2ClientCredentials",
                        auth.oauth2_client_credentials.is_some(),
                    ),
                ],
            );
            if let Some(api_key) = &auth.api_key {
                check.exactly_one(
                    "spec.http.auth.apiKey",
                    &[
                        ("header", api_key.header.is_some()),
                        ("query", api_key.query.is_some()),
                    ],
                );
            }
            if let Some(oauth2) = &auth.oauth2_client_credentials {
                check.url(
                    "spec.http.auth.oauth2ClientCredentials.tokenUrl",
                    &oauth2.token_url,
                );
            }
        }
    }
    check.done()
}

pub(crate) fn route(spec: &RouteSpec, origin: &Origin, id: &ResourceId) -> Vec<Problem> {
    let mut check = Checker::new(origin, id);
    check.secret_refs(spec);
    if !is_dns_label(&id.name) {
        check.report("metadata.name", "must be a DNS label (lower-case letters, digits and `-`, at most 63 characters): it is part of the webhook URL");
    }
    let Incoming {
        webhook,
        poll,
        route,
        when,
        proxy,
    } = &spec.incoming;
    check.exactly_one(
        "spec.incoming",
        &[
            ("webhook", webhook.is_some()),
            ("poll", poll.is_some()),
            ("route", route.is_some()),
            ("proxy", proxy.is_some()),
        ],
    );
    if route.as_deref() == Some(id.name.as_str()) {
        check.report(
            "spec.incoming.route",
            "names this Route itself; name the Route whose intake this one takes",
        );
    }
    if let Some(when) = when {
        check.jq("spec.incoming.when", when);
    }
    if let Some(webhook) = webhook {
        if webhook.max_items == Some(0) {
            check.report("spec.incoming.webhook.maxItems", "must be at least 1");
        }
        let cxml = webhook.format == Some(WebhookBody::Cxml);
        if webhook.cxml.is_some() && !cxml {
            check.report("spec.incoming.webhook.cxml", "goes with `format: cxml`");
        }
        if cxml && webhook.max_items.is_some() {
            check.report(
                "spec.incoming.webhook.maxItems",
                "does not apply to `format: cxml` (a cXML document is one item)",
            );
        }
    }
    if let Some(auth) = webhook.as_ref().and_then(|w| w.auth.as_ref()) {
        let WebhookAuth { token, hmac } = auth;
        check.exactly_one(
            "spec.incoming.webhook.auth",
            &[("token", token.is_some()), ("hmac", hmac.is_some())],
        );
    }
    if let Some(poll) = poll {
        check.cron("spec.incoming.poll.schedule", &poll.schedule);
        check.headers("spec.incoming.poll.request.headers", &poll.request.headers);
        for name in poll.request.query.keys() {
            if SENSITIVE_QUERY_PARAMS.contains(&name.to_ascii_lowercase().as_str()) {
                check.report(
                    format!("spec.incoming.poll.request.query.{name}"),
                    "credentials must not be written inline; use the Connection's `auth.apiKey.query`",
                );
            }
        }
        if let Some(pointer) = &poll.items_pointer {
            check.pointer("spec.incoming.poll.itemsPointer", pointer);
        }
        for (field, zero) in [
            ("maxItems", poll.max_items == Some(0)),
            ("maxResponseBytes", poll.max_response_bytes == Some(0)),
            (
                "files.maxFileBytes",
                poll.files
                    .as_ref()
                    .is_some_and(|f| f.max_file_bytes == Some(0)),
            ),
        ] {
            if zero {
                check.report(format!("spec.incoming.poll.{field}"), "must be at least 1");
            }
        }
        if let Some(pagination) = &poll.pagination {
            pagination_problems(&mut check, pagination);
        }
        if let Some(cursor) = &poll.cursor {
            let field = "spec.incoming.poll.cursor";
            if cursor.param.trim().is_empty() {
                check.report(format!("{field}.param"), "must not be empty");
            }
            for (name, path) in [("field", &cursor.field), ("key", &cursor.key)] {
                if let Err(error) = FieldPath::parse(path) {
                    check.report(format!("{field}.{name}"), error.to_string());
                }
            }
        }
    }
    if let Some(http) = &spec.outgoing.http {
        check.headers("spec.outgoing.http.headers", &http.headers);
        if let Some(path) = &http.path {
            check.template("spec.outgoing.http.path", path);
        }
        if let Some(body) = &http.body {
            check.jq("spec.outgoing.http.body", body);
        }
    }
    crate::validate_connectors::route(&mut check, spec);
    crate::validate_flows::route(&mut check, spec);
    crate::validate_proxy::route(&mut check, spec);
    if let Some(processing) = &spec.processing {
        match (processing.mode, &processing.schedule) {
            (Some(ProcessingMode::Scheduled), None) => check.report(
                "spec.processing.schedule",
                "is required when `mode` is `scheduled`",
            ),
            (_, Some(schedule)) => check.cron("spec.processing.schedule", schedule),
            _ => {}
        }
        if processing.max_concurrency == Some(0) {
            check.report("spec.processing.maxConcurrency", "must be at least 1");
        }
        if processing.max_pending == Some(0) {
            check.report(
                "spec.processing.maxPending",
                "must be at least 1 (leave it out for no limit)",
            );
        }
        if let Some(retry) = &processing.retry {
            if retry.max_attempts == Some(0) {
                check.report("spec.processing.retry.maxAttempts", "must be at least 1");
            }
            if let (Some(initial), Some(max)) = (retry.initial_backoff_ms, retry.max_backoff_ms)
                && initial > max
            {
                check.report(
                    "spec.processing.retry.initialBackoffMs",
                    "must not exceed `maxBackoffMs`",
                );
            }
        }
    }
    check.done()
}

fn pagination_problems(check: &mut Checker<'_>, pagination: &Pagination) {
    let field = "spec.incoming.poll.pagination";
    check.exactly_one(
        field,
        &[
            ("pageNumber", pagination.page_number.is_some()),
            ("offset", pagination.offset.is_some()),
            ("nextLink", pagination.next_link.is_some()),
            ("cursor", pagination.cursor.is_some()),
        ],
    );
    if let Some(next) = &pagination.next_link {
        check.pointer(&format!("{field}.nextLink.pointer"), &next.pointer);
    }
    if let Some(cursor) = &pagination.cursor {
        check.pointer(&format!("{field}.cursor.pointer"), &cursor.pointer);
    }
    if pagination.offset.as_ref().is_some_and(|o| o.limit == 0) {
        check.report(format!("{field}.offset.limit"), "must be at least 1");
    }
    if pagination.max_pages == Some(0) {
        check.report(format!("{field}.maxPages"), "must be at least 1");
    }
}

/// Validates one (non-`transformer`) step.
pub(crate) fn step(
    step: &Step,
    field: &str,
    origin: &Origin,
    id: &ResourceId,
    problems: &mut Vec<Problem>,
) {
    let mut check = Checker::new(origin, id);
    let path = |check: &mut Checker<'_>, sub: &str, text: &str| {
        if let Err(error) = FieldPath::parse(text) {
            check.report(format!("{field}.{sub}"), error.to_string());
        }
    };
    match step {
        Step::Jq(code) => check.jq(&format!("{field}.jq"), code),
        Step::Set(set) => path(&mut check, "set.path", &set.path),
        Step::Rename(rename) => {
            path(&mut check, "rename.from", &rename.from);
            path(&mut check, "rename.to", &rename.to);
        }
        Step::Remove(remove) => {
            for (i, p) in remove.paths.iter().enumerate() {
                path(&mut check, &format!("remove.paths[{i}]"), p);
            }
        }
        Step::Split(split) => path(&mut check, "split.path", &split.path),
        Step::Transformer(_) => {}
        other => {
            let mut nested = |inner: &Step, sub: String| {
                if matches!(inner, Step::Transformer(_)) {
                    check.report(
                        format!("{field}.{sub}.transformer"),
                        "a `when` block cannot call a Transformer; call it around the block",
                    );
                } else {
                    crate::validate::step(inner, &format!("{field}.{sub}"), origin, id, problems);
                }
            };
            let found = crate::validate_steps::check(other, &mut nested);
            for (sub, message) in found {
                check.report(format!("{field}.{sub}"), message);
            }
        }
    }
    problems.extend(check.done());
}

fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}
