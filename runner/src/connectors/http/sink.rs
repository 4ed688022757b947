//! Delivering a task's item over HTTP, and deciding which failures are worth a retry.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use serde_json::Value;
use switchyard_crds::v1alpha1::{HttpDelivery, HttpMethod};

use url::Url;

use super::batch::{BatchSettings, ItemResult, batch_key, item_results};
use super::endpoint::{EndpointError, HttpEndpoint, resolve_headers, wire_method};
use super::template::UrlTemplate;
use crate::connectors::{DeliveryError, DeliveryReport, Sink, read_stored, stored_json};
use crate::queue::StoredItem;
use crate::redact;
use crate::secrets::SecretSource;
use crate::transform::JqProgram;

/// How much of a response body goes into the task log.
const LOGGED_BODY_CHARS: usize = 500;
/// The longest `Retry-After` honoured; a server asking for more gets the route's
/// back-off instead of parking the task for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3_600);

/// Whether a response status is worth retrying: time-outs, rate limits and server
/// errors are; other client errors mean the request itself is wrong.
pub fn status_is_retriable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// Parses `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    let delay = match text.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(text)
            .ok()?
            .duration_since(now)
            .unwrap_or_default(),
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

pub struct HttpSink {
    endpoint: Arc<HttpEndpoint>,
    method: reqwest::Method,
    path: UrlTemplate,
    /// The URL of a path without placeholders, parsed once: it is the same for every
    /// item (parsing it per item cost ~7,000 instructions).
    fixed_url: Option<Url>,
    headers: HeaderMap,
    body: Option<JqProgram>,
    /// Read and keep the receiver's answer for the after-delivery steps.
    keep_response: bool,
    /// Set when tasks go out in batches (`spec.outgoing.http.batch`).
    batch: Option<BatchSettings>,
}

/// A request the receiver accepted.
struct Answered {
    /// e.g. `POST https://… → 200 OK in 3 ms`.
    summary: String,
    /// `{status, headers, body}`, when asked for.
    answer: Option<Value>,
}

impl HttpSink {
    /// `keep_response`: read the receiver's answer into [`DeliveryReport::response`]
    /// (only when after-delivery steps will look at it).
    pub fn new(
        endpoint: Arc<HttpEndpoint>,
        delivery: &HttpDelivery,
        namespace: &str,
        secrets: &SecretSource,
        keep_response: bool,
    ) -> Result<Self, EndpointError> {
        let invalid = |field: &str, message: String| EndpointError::Invalid {
            field: field.to_owned(),
            message,
        };
        let path = UrlTemplate::parse(delivery.path.as_deref().unwrap_or(""))
            .map_err(|e| invalid("spec.outgoing.http.path", e.to_string()))?;
        // A literal path that does not make a URL fails each delivery with its reason,
        // as a rendered one does.
        let fixed_url = path.literal().and_then(|path| endpoint.url(&path).ok());
        Ok(Self {
            method: wire_method(delivery.method.unwrap_or(HttpMethod::Post)),
            path,
            fixed_url,
            endpoint,
            headers: resolve_headers(
                &delivery.headers,
                "spec.outgoing.http.headers",
                namespace,
                secrets,
            )?,
            body: delivery
                .body
                .as_deref()
                .map(JqProgram::compile)
                .transpose()
                .map_err(|e| invalid("spec.outgoing.http.body", e.to_string()))?,
            keep_response,
            batch: delivery
                .batch
                .as_ref()
                .map(BatchSettings::new)
                .transpose()?,
        })
    }

    fn url(&self, item: &Value) -> Result<Url, DeliveryError> {
        if let Some(url) = &self.fixed_url {
            return Ok(url.clone());
        }
        let path = self
            .path
            .render(item)
            .map_err(|e| DeliveryError::Request(e.to_string()))?;
        self.endpoint
            .url(&path)
            .map_err(|e| DeliveryError::Request(format!("invalid URL `{path}`: {e}")))
    }

    /// The item's body as JSON bytes (through `body`, when set).
    fn encode(&self, item: &Value) -> Result<Vec<u8>, DeliveryError> {
        let computed;
        let body = match &self.body {
            None => item,
            Some(program) => {
                computed = program
                    .first(item.clone())
                    .map_err(|e| DeliveryError::Request(format!("body: {e}")))?
                    .ok_or_else(|| {
                        DeliveryError::Request("body: the jq expression produced nothing".into())
                    })?;
                &computed
            }
        };
        serde_json::to_vec(body).map_err(|e| DeliveryError::Request(format!("body: {e}")))
    }

    /// Sends one request and classifies the answer: 2xx is [`Answered`] (with the
    /// answer read when `read_answer`), 408/429/5xx and connection trouble are
    /// retriable, other statuses are rejections.
    async fn exchange(
        &self,
        url: Url,
        body: Vec<u8>,
        content_type: &'static str,
        idempotency_key: &str,
        read_answer: bool,
    ) -> Result<Answered, DeliveryError> {
        let method = self.method.to_string();
        let shown_url = redact::redact(url.as_str()).into_owned();
        let started = Instant::now();
        let unavailable = |reason: String, retry_after| DeliveryError::Unavailable {
            message: format!(
                "{method} {shown_url} failed after {} ms: {}",
                started.elapsed().as_millis(),
                redact::redact(&reason)
            ),
            retry_after,
        };
        // Held until the response is read: the Connection's limits count this request.
        let _slot = self.endpoint.limits.admit().await;
        let request = self
            .endpoint
            .request(self.method.clone(), url, &self.headers)
            .await
            .map_err(|e| unavailable(e.to_string(), None))?
            .header("Idempotency-Key", idempotency_key)
            .header(CONTENT_TYPE, content_type)
            .body(body);
        let response = self.endpoint.send(request).await.map_err(|e| {
            if e.is_permanent() {
                DeliveryError::Rejected(format!("{method} {shown_url}: {e}"))
            } else {
                unavailable(e.to_string(), None)
            }
        })?;
        let status = response.status();
        if status.is_success() {
            let answer = if read_answer {
                Some(answer(response).await)
            } else {
                None
            };
            return Ok(Answered {
                summary: format!(
                    "{method} {shown_url} → {status} in {} ms",
                    started.elapsed().as_millis()
                ),
                answer,
            });
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let text = response.text().await.unwrap_or_default();
        let body = redact::excerpt(&text, LOGGED_BODY_CHARS);
        if status_is_retriable(status) {
            return Err(unavailable(format!("status {status}: {body}"), retry_after));
        }
        if status == StatusCode::UNAUTHORIZED && self.endpoint.auth.invalidate().await {
            return Err(unavailable(
                format!("status {status} (token refreshed for the next attempt): {body}"),
                None,
            ));
        }
        Err(DeliveryError::Rejected(format!(
            "{method} {shown_url} answered {status} after {} ms: {body}",
            started.elapsed().as_millis()
        )))
    }

    /// Sends one item's request with `body` as JSON and reports how it went.
    async fn deliver(
        &self,
        url: Url,
        body: Vec<u8>,
        idempotency_key: &str,
    ) -> Result<DeliveryReport, DeliveryError> {
        let answered = self
            .exchange(
                url,
                body,
                "application/json",
                idempotency_key,
                self.keep_response,
            )
            .await?;
        Ok(DeliveryReport {
            summary: answered.summary,
            response: answered.answer,
        })
    }

    /// One batch request for `chunk` (indexes into `items`, with their encoded
    /// bodies); one result per entry of `chunk`.
    async fn send_chunk(
        &self,
        batch: &BatchSettings,
        items: &[(&Value, &str)],
        chunk: &[(usize, Vec<u8>)],
    ) -> Vec<Result<DeliveryReport, DeliveryError>> {
        let count = chunk.len();
        let Some((first, _)) = chunk.first() else {
            return Vec::new();
        };
        let url = match self.url(items[*first].0) {
            Ok(url) => url,
            Err(error) => return vec![Err(error); count],
        };
        let keys: Vec<&str> = chunk.iter().map(|(index, _)| items[*index].1).collect();
        let encoded: Vec<&[u8]> = chunk.iter().map(|(_, bytes)| bytes.as_slice()).collect();
        let (body, content_type) = batch.body(&encoded);
        let size = body.len();
        let read = self.keep_response || batch.results.is_some();
        let answered = match self
            .exchange(url, body, content_type, &batch_key(&keys), read)
            .await
        {
            Ok(answered) => answered,
            Err(error) => return vec![Err(error); count],
        };
        let summary = format!(
            "{} (batch of {count} items, {size} bytes)",
            answered.summary
        );
        let answer = answered.answer.unwrap_or(Value::Null);
        let results = match &batch.results {
            None => vec![ItemResult::Delivered; count],
            Some(program) => match item_results(program, &answer, count) {
                Ok(results) => results,
                Err(message) => {
                    let error = format!("{summary}, but {message}");
                    return vec![Err(DeliveryError::Rejected(error)); count];
                }
            },
        };
        results
            .into_iter()
            .enumerate()
            .map(|(index, result)| match result {
                ItemResult::Delivered => Ok(DeliveryReport {
                    summary: format!("{summary}, item {}", index + 1),
                    response: self.keep_response.then(|| {
                        let mut answer = answer.clone();
                        if let Value::Object(fields) = &mut answer {
                            fields.insert("index".into(), Value::from(index));
                        }
                        answer
                    }),
                }),
                ItemResult::Failed { message, retry } => {
                    let message = format!(
                        "{summary}, but item {} was refused: {}",
                        index + 1,
                        redact::excerpt(&message, LOGGED_BODY_CHARS)
                    );
                    if retry {
                        Err(DeliveryError::Unavailable {
                            message,
                            retry_after: None,
                        })
                    } else {
                        Err(DeliveryError::Rejected(message))
                    }
                }
            })
            .collect()
    }
}

#[async_trait]
impl Sink for HttpSink {
    async fn send(
        &self,
        item: &Value,
        idempotency_key: &str,
    ) -> Result<DeliveryReport, DeliveryError> {
        let url = self.url(item)?;
        let body = self.encode(item)?;
        self.deliver(url, body, idempotency_key).await
    }

    /// Without a `body` program and with a path that does not read the item, the
    /// stored text is the body: it is the compact JSON [`HttpSink::encode`] would write
    /// of the value read from it (checked to be JSON, not read into a value and written
    /// out again).
    async fn send_stored(
        &self,
        item: &StoredItem,
        idempotency_key: &str,
    ) -> Result<DeliveryReport, DeliveryError> {
        match (&self.body, &self.fixed_url) {
            (None, Some(url)) => {
                let body = stored_json(item)?.as_bytes().to_vec();
                self.deliver(url.clone(), body, idempotency_key).await
            }
            _ => self.send(&read_stored(item)?, idempotency_key).await,
        }
    }

    fn batch_size(&self) -> usize {
        self.batch.as_ref().map_or(1, |b| b.max_items)
    }

    fn batch_wait(&self) -> Duration {
        self.batch.as_ref().map_or(Duration::ZERO, |b| b.max_wait)
    }

    /// Without `batch`, one request per item. With it, the items go out in as few
    /// requests as `maxItems` and `maxBytes` allow; an item whose body cannot be built
    /// fails alone.
    async fn send_batch(
        &self,
        items: &[(&Value, &str)],
    ) -> Vec<Result<DeliveryReport, DeliveryError>> {
        let Some(batch) = &self.batch else {
            let mut results = Vec::with_capacity(items.len());
            for (item, key) in items {
                results.push(self.send(item, key).await);
            }
            return results;
        };
        let mut results: Vec<Option<Result<DeliveryReport, DeliveryError>>> =
            vec![None; items.len()];
        let mut ready = Vec::with_capacity(items.len());
        for (index, (item, _)) in items.iter().enumerate() {
            match self.encode(item) {
                Ok(bytes) => ready.push((index, bytes)),
                Err(error) => results[index] = Some(Err(error)),
            }
        }
        let sizes: Vec<usize> = ready.iter().map(|(_, bytes)| bytes.len()).collect();
        for range in batch.requests(&sizes) {
            let chunk = &ready[range];
            let outcomes = self.send_chunk(batch, items, chunk).await;
            for ((index, _), outcome) in chunk.iter().zip(outcomes) {
                results[*index] = Some(outcome);
            }
        }
        results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| {
                    Err(DeliveryError::Unavailable {
                        message: "the item was not sent".into(),
                        retry_after: None,
                    })
                })
            })
            .collect()
    }
}

/// A successful response as `{status, headers, body}`: headers by lower-case name, the
/// body as JSON when it parses, else as text (absent when it cannot be read: the
/// delivery itself succeeded).
async fn answer(response: reqwest::Response) -> Value {
    let status = response.status().as_u16();
    let headers: serde_json::Map<String, Value> = response
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((
                name.as_str().to_owned(),
                Value::String(value.to_str().ok()?.to_owned()),
            ))
        })
        .collect();
    let body = match response.bytes().await {
        Ok(bytes) if bytes.is_empty() => Value::Null,
        Ok(bytes) => serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
        Err(_) => Value::Null,
    };
    serde_json::json!({ "status": status, "headers": headers, "body": body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retriable_statuses_are_exactly_timeouts_rate_limits_and_server_errors() {
        let retriable: Vec<u16> = (400..600)
            .filter(|code| StatusCode::from_u16(*code).is_ok_and(status_is_retriable))
            .filter(|code| *code < 500)
            .collect();
        assert_eq!(retriable, vec![408, 429]);
        for permanent in [400, 401, 403, 404, 409, 410, 413, 415, 422] {
            assert!(
                !status_is_retriable(StatusCode::from_u16(permanent).unwrap_or(StatusCode::OK)),
                "{permanent}"
            );
        }
        for server in [500, 502, 503, 504] {
            assert!(
                status_is_retriable(StatusCode::from_u16(server).unwrap_or(StatusCode::OK)),
                "{server}"
            );
        }
    }

    fn sink(path: &str) -> HttpSink {
        let connection: switchyard_crds::v1alpha1::HttpConnection =
            serde_json::from_value(serde_json::json!({"baseUrl": "http://127.0.0.1:9/api/"}))
                .unwrap_or_else(|e| panic!("{e}"));
        let secrets = SecretSource { dir: None };
        let endpoint =
            HttpEndpoint::new(&connection, "default", &secrets).unwrap_or_else(|e| panic!("{e}"));
        let delivery = HttpDelivery {
            path: Some(path.to_owned()),
            ..HttpDelivery::default()
        };
        HttpSink::new(Arc::new(endpoint), &delivery, "default", &secrets, false)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The URL parsed once for a literal path is the one rendered per item.
    #[test]
    fn a_literal_path_makes_the_url_rendering_would() {
        let item = serde_json::json!({"id": "a/b", "n": 7});
        for path in ["", "/items", "items", "/items?x=1", "/a b/%zz"] {
            let sink = sink(path);
            assert!(sink.fixed_url.is_some(), "{path}");
            let rendered = sink
                .endpoint
                .url(&sink.path.render(&item).unwrap_or_else(|e| panic!("{e}")))
                .map(|url| url.to_string())
                .ok();
            let fixed = sink.url(&item).map(|url| url.to_string()).ok();
            assert_eq!(fixed, rendered, "{path}");
        }
        let templated = sink("/items/{{ .id }}");
        assert!(templated.fixed_url.is_none());
        let url = templated.url(&item).map(|url| url.to_string()).ok();
        assert_eq!(url.as_deref(), Some("http://127.0.0.1:9/api/items/a%2Fb"));
    }

    /// The requests a test receiver saw: path and body bytes.
    type Seen = std::sync::Mutex<Vec<(String, Vec<u8>)>>;

    /// A receiver on loopback that answers 200 to every request and keeps each one's
    /// path and body bytes.
    async fn receiver() -> (String, Arc<Seen>) {
        let seen: Arc<Seen> = Arc::default();
        let kept = seen.clone();
        let app =
            axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    kept.lock()
                        .unwrap_or_else(|e| panic!("{e}"))
                        .push((uri.path().to_owned(), body.to_vec()));
                    "ok"
                }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{address}/api/"), seen)
    }

    fn sink_to(base_url: &str, delivery: serde_json::Value) -> HttpSink {
        let connection: switchyard_crds::v1alpha1::HttpConnection =
            serde_json::from_value(serde_json::json!({"baseUrl": base_url}))
                .unwrap_or_else(|e| panic!("{e}"));
        let secrets = SecretSource { dir: None };
        let endpoint =
            HttpEndpoint::new(&connection, "default", &secrets).unwrap_or_else(|e| panic!("{e}"));
        let delivery: HttpDelivery =
            serde_json::from_value(delivery).unwrap_or_else(|e| panic!("{e}"));
        HttpSink::new(Arc::new(endpoint), &delivery, "default", &secrets, false)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A stored item goes out as it was stored when nothing reshapes it: the receiver
    /// gets the bytes `send` writes of the same item. A `body` program and a path that
    /// reads the item still see the item's value.
    #[tokio::test]
    async fn a_stored_item_is_sent_as_the_value_would_be() {
        let (base, seen) = receiver().await;
        let item = serde_json::json!({"id": "a/b", "total": 12.5, "name": "Zoë \"Z\"\n", "lines": [1, -2, null]});
        let stored = StoredItem::of(&item);
        let bodies =
            |seen: &Seen| std::mem::take(&mut *seen.lock().unwrap_or_else(|e| panic!("{e}")));

        let plain = sink_to(&base, serde_json::json!({"path": "/orders"}));
        plain
            .send(&item, "k1")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        plain
            .send_stored(&stored, "k2")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let got = bodies(&seen);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], got[1], "the stored text is the body send writes");
        assert_eq!(got[1].1, stored.text().as_bytes());

        let reshaped = sink_to(
            &base,
            serde_json::json!({"path": "/orders", "body": "{ref: .id}"}),
        );
        reshaped
            .send_stored(&stored, "k3")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let templated = sink_to(&base, serde_json::json!({"path": "/orders/{{ .id }}"}));
        templated
            .send_stored(&stored, "k4")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let got = bodies(&seen);
        assert_eq!(
            got[0],
            ("/api/orders".to_owned(), br#"{"ref":"a/b"}"#.to_vec())
        );
        assert_eq!(got[1].0, "/api/orders/a%2Fb");
        assert_eq!(got[1].1, stored.text().as_bytes());
    }

    /// Stored text that is not JSON (a row edited by hand) is never sent: each way of
    /// sending fails the attempt with the reason, which names a position, not the text.
    #[tokio::test]
    async fn a_stored_item_that_is_not_json_is_not_sent() {
        let (base, seen) = receiver().await;
        for broken in ["{\"token\": \"s3cr3t\"", "", "{} {}", "s3cr3t"] {
            let stored = StoredItem::new(broken.to_owned());
            for delivery in [
                serde_json::json!({"path": "/orders"}),
                serde_json::json!({"path": "/orders", "body": "."}),
                serde_json::json!({"path": "/orders/{{ .id }}"}),
            ] {
                let error = sink_to(&base, delivery.clone())
                    .send_stored(&stored, "k")
                    .await
                    .err()
                    .unwrap_or_else(|| panic!("{broken:?} {delivery} was sent"));
                assert!(matches!(error, DeliveryError::Request(_)), "{error:?}");
                let message = error.to_string();
                assert!(message.contains("the stored item is not JSON"), "{message}");
                assert!(!message.contains("s3cr3t"), "{message}");
            }
        }
        assert!(seen.lock().unwrap_or_else(|e| panic!("{e}")).is_empty());
    }

    fn any_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// What makes sending the stored text safe: for any item, the text the queue
        /// stores is byte for byte what `encode` writes of the value read back from it
        /// (floats, escapes and key order included).
        #[test]
        fn the_stored_text_is_what_encode_writes_of_it(item in any_json()) {
            let stored = StoredItem::of(&item);
            let read = stored.read().unwrap_or_else(|e| panic!("{e}"));
            let encoded = sink("/orders").encode(&read).unwrap_or_else(|e| panic!("{e}"));
            proptest::prop_assert_eq!(stored.json().ok().map(str::as_bytes), Some(encoded.as_slice()));
        }
    }

    #[test]
    fn reads_retry_after_as_seconds_or_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("7"), now),
            Some(Duration::from_secs(7))
        );
        let date =
            HeaderValue::from_str(&httpdate::fmt_http_date(now + Duration::from_secs(20))).ok();
        assert_eq!(
            date.and_then(|d| parse_retry_after(&d, now)),
            Some(Duration::from_secs(20))
        );
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("999999"), now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after(&HeaderValue::from_static("soon"), now),
            None
        );
    }
}
