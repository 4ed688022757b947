//! The HTTP side of a lookup: a GET on the Connection's endpoint (its headers, credentials
//! and limits), path and query filled from the item.

use std::sync::Arc;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use serde_json::Value;
use switchyard_crds::v1alpha1::LookupHttp;
use url::Url;

use super::{Answer, Failure, LookupError};
use crate::connectors::http::{
    HttpEndpoint, UrlTemplate, describe_reqwest_error, status_is_retriable,
};
use crate::redact;

/// How much of an error answer goes into the message.
const SHOWN_BODY_CHARS: usize = 300;

pub struct HttpLookup {
    endpoint: Arc<HttpEndpoint>,
    path: UrlTemplate,
    query: Vec<(String, UrlTemplate)>,
}

impl HttpLookup {
    pub fn new(endpoint: Arc<HttpEndpoint>, spec: &LookupHttp) -> Result<Self, LookupError> {
        let template = |field: &str, text: &str| {
            UrlTemplate::parse(text).map_err(|source| LookupError::Template {
                field: field.to_owned(),
                source,
            })
        };
        Ok(Self {
            path: template("path", &spec.path)?,
            query: spec
                .query
                .iter()
                .map(|(name, value)| Ok((name.clone(), template(&format!("query.{name}"), value)?)))
                .collect::<Result<_, LookupError>>()?,
            endpoint,
        })
    }

    /// The URL for `item`; its text is the cache key.
    pub fn url(&self, item: &Value) -> Result<Url, Failure> {
        let invalid =
            |message: String| Failure::permanent(format!("cannot build the request: {message}"));
        let mut target = self.path.render(item).map_err(|e| invalid(e.to_string()))?;
        for (index, (name, value)) in self.query.iter().enumerate() {
            let value = value
                .render_query_value(item)
                .map_err(|e| invalid(format!("query `{name}`: {e}")))?;
            let separator = if index == 0 && !target.contains('?') {
                '?'
            } else {
                '&'
            };
            target.push(separator);
            target.extend(percent_encoding::utf8_percent_encode(
                name,
                percent_encoding::NON_ALPHANUMERIC,
            ));
            target.push('=');
            target.push_str(&value);
        }
        self.endpoint
            .url(&target)
            .map_err(|e| invalid(format!("invalid URL `{target}`: {e}")))
    }

    /// GETs `url`: the JSON answer, `None` for 404, or why not.
    pub async fn get(&self, url: Url) -> Result<Answer, Failure> {
        let shown = redact::redact(url.as_str()).into_owned();
        let transient = |reason: String| Failure::transient(format!("GET {shown}: {reason}"));
        // Held until the answer is read: the Connection's limits count lookups too.
        let _slot = self.endpoint.limits.admit().await;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let request = self
            .endpoint
            .request(reqwest::Method::GET, url, &headers)
            .await
            .map_err(|e| transient(e.to_string()))?;
        let response = self.endpoint.send(request).await.map_err(|e| {
            if e.is_permanent() {
                Failure::permanent(format!("GET {shown}: {e}"))
            } else {
                transient(e.to_string())
            }
        })?;
        let status = response.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let text = response
            .text()
            .await
            .map_err(|e| transient(describe_reqwest_error(&e)))?;
        if status.is_success() {
            if text.trim().is_empty() {
                return Ok(None);
            }
            return serde_json::from_str(&text).map(Some).map_err(|e| {
                Failure::permanent(format!("GET {shown} answered {status} with no JSON: {e}"))
            });
        }
        let answered = format!(
            "answered {status}: {}",
            redact::excerpt(&text, SHOWN_BODY_CHARS)
        );
        if status_is_retriable(status) {
            return Err(transient(answered));
        }
        if status == StatusCode::UNAUTHORIZED && self.endpoint.auth.invalidate().await {
            return Err(transient(format!(
                "{answered} (token refreshed for the next attempt)"
            )));
        }
        Err(Failure::permanent(format!("GET {shown} {answered}")))
    }
}
