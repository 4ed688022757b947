//! Polling an HTTP Connection: one request, or every page of a paginated listing.

use std::sync::Arc;

use async_trait::async_trait;

use reqwest::header::HeaderMap;
use serde_json::Value;
use switchyard_crds::path::FieldPath;
use switchyard_crds::v1alpha1::{HttpCursor, HttpMethod, Pagination, Poll};

use super::endpoint::{
    EndpointError, HttpEndpoint, describe_reqwest_error, resolve_headers, wire_method,
};
use crate::connectors::incremental::{Incremental, initial_value};
use crate::connectors::{Batch, PollContext, Source, SourceError};
use crate::limits;
use crate::redact;
use crate::secrets::SecretSource;
use crate::transform::paths;

/// Pages fetched per run when the route sets no bound, against servers that never stop.
const DEFAULT_MAX_PAGES: u32 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error("page {page}: GET {url} failed: {reason}")]
    Request {
        page: u32,
        url: String,
        reason: String,
    },
    #[error("page {page}: {url} answered {status}: {body}")]
    Status {
        page: u32,
        url: String,
        status: reqwest::StatusCode,
        body: String,
    },
    #[error("page {page}: the response is not JSON: {reason}")]
    Json { page: u32, reason: String },
    #[error("page {page}: nothing at items pointer `{pointer}`")]
    Pointer { page: u32, pointer: String },
    #[error(
        "page {page}: {url} answered more than {max} bytes, the most one page may have \
         (`incoming.poll.maxResponseBytes`, or the runner's --poll-max-response-bytes); \
         nothing was queued"
    )]
    TooLarge { page: u32, url: String, max: u64 },
    #[error(
        "page {page}: the poll found more than {max} items, the most one run may fetch \
         (`incoming.poll.maxItems`, or the runner's --poll-max-items); nothing was queued"
    )]
    TooManyItems { page: u32, max: usize },
}

impl PollError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Request { .. } => "poll_request",
            Self::Status { .. } => "poll_status",
            Self::Json { .. } => "poll_json",
            Self::Pointer { .. } => "poll_pointer",
            Self::TooLarge { .. } => "poll_too_large",
            Self::TooManyItems { .. } => "poll_too_many_items",
        }
    }
}

/// What to fetch next.
enum Next {
    Query(Vec<(String, String)>),
    Url(String),
    Done,
}

pub struct HttpSource {
    endpoint: Arc<HttpEndpoint>,
    method: reqwest::Method,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    items_pointer: Option<String>,
    pagination: Option<Pagination>,
    cursor: Option<ParsedCursor>,
    /// Most items one run fetches over all pages.
    max_items: usize,
    /// Largest response body of one page.
    max_response_bytes: u64,
}

impl HttpSource {
    pub fn new(
        endpoint: Arc<HttpEndpoint>,
        poll: &Poll,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Self, EndpointError> {
        Ok(Self {
            endpoint,
            method: wire_method(poll.request.method.unwrap_or(HttpMethod::Get)),
            path: poll.request.path.clone().unwrap_or_default(),
            query: poll
                .request
                .query
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            headers: resolve_headers(
                &poll.request.headers,
                "spec.incoming.poll.request.headers",
                namespace,
                secrets,
            )?,
            items_pointer: poll.items_pointer.clone().filter(|p| !p.is_empty()),
            pagination: poll.pagination.clone(),
            cursor: poll.cursor.as_ref().map(ParsedCursor::parse).transpose()?,
            max_items: limits::items(poll.max_items, limits::get().poll_max_items),
            max_response_bytes: limits::bytes(
                poll.max_response_bytes,
                limits::get().poll_max_response_bytes,
            ),
        })
    }

    /// Fetches every page; returns all items in order. `base` is the query every page
    /// carries (the route's parameters, and the cursor of an incremental poll).
    pub async fn fetch_pages(&self, base: &[(String, String)]) -> Result<Vec<Value>, PollError> {
        let max_pages = self
            .pagination
            .as_ref()
            .and_then(|p| p.max_pages)
            .unwrap_or(DEFAULT_MAX_PAGES);
        let mut items = Vec::new();
        let mut next = Next::Query(self.page_query(base, 0, None));
        for page in 1..=max_pages {
            let (url, query) = match next {
                Next::Done => return Ok(items),
                Next::Query(query) => (self.path.clone(), query),
                Next::Url(url) => (url, Vec::new()),
            };
            let mut response = self.get(page, &url, &query).await?;
            let count = match self.items_at(page, &response)? {
                Value::Array(found) => found.len(),
                Value::Null => 0,
                _ => 1,
            };
            if items.len() + count > self.max_items {
                return Err(PollError::TooManyItems {
                    page,
                    max: self.max_items,
                });
            }
            next = self.next(base, page, count as u64, &response);
            items.extend(self.take_items(&mut response));
        }
        if !matches!(next, Next::Done) {
            tracing::warn!(
                pages = max_pages,
                "Poll stopped at the page limit; raise pagination.maxPages if more is expected"
            );
        }
        Ok(items)
    }

    fn page_query(
        &self,
        base: &[(String, String)],
        page_index: u32,
        cursor: Option<String>,
    ) -> Vec<(String, String)> {
        let mut query = base.to_vec();
        let Some(pagination) = &self.pagination else {
            return query;
        };
        if let Some(numbered) = &pagination.page_number {
            query.push((
                numbered.param.clone(),
                (numbered.start.unwrap_or(1) + u64::from(page_index)).to_string(),
            ));
        } else if let Some(offset) = &pagination.offset {
            query.push((
                offset.offset_param.clone(),
                (offset.limit * u64::from(page_index)).to_string(),
            ));
            query.push((offset.limit_param.clone(), offset.limit.to_string()));
        } else if let (Some(style), Some(cursor)) = (&pagination.cursor, cursor) {
            query.push((style.param.clone(), cursor));
        }
        query
    }

    fn next(&self, base: &[(String, String)], page: u32, count: u64, response: &Value) -> Next {
        let Some(pagination) = &self.pagination else {
            return Next::Done;
        };
        let text_at = |pointer: &str| match response.pointer(pointer) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        if pagination.page_number.is_some() {
            if count == 0 {
                Next::Done
            } else {
                Next::Query(self.page_query(base, page, None))
            }
        } else if let Some(offset) = &pagination.offset {
            if count < offset.limit {
                Next::Done
            } else {
                Next::Query(self.page_query(base, page, None))
            }
        } else if let Some(link) = &pagination.next_link {
            text_at(&link.pointer).map_or(Next::Done, Next::Url)
        } else if let Some(cursor) = &pagination.cursor {
            text_at(&cursor.pointer).map_or(Next::Done, |c| {
                Next::Query(self.page_query(base, page, Some(c)))
            })
        } else {
            Next::Done
        }
    }

    async fn get(
        &self,
        page: u32,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Value, PollError> {
        let url = self.endpoint.url(path).map_err(|e| PollError::Request {
            page,
            url: path.to_owned(),
            reason: e.to_string(),
        })?;
        let shown = redact::redact(url.as_str()).into_owned();
        let failed = |reason: String| PollError::Request {
            page,
            url: shown.clone(),
            reason: redact::redact(&reason).into_owned(),
        };
        let _slot = self.endpoint.limits.admit().await;
        let request = self
            .endpoint
            .request(self.method.clone(), url, &self.headers)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let response = self
            .endpoint
            .send(request.query(query))
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        let too_large = || PollError::TooLarge {
            page,
            url: shown.clone(),
            max: self.max_response_bytes,
        };
        if response
            .content_length()
            .is_some_and(|length| length > self.max_response_bytes)
        {
            return Err(too_large());
        }
        // Read chunk by chunk, so a response without a length cannot grow past the bound.
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failed(describe_reqwest_error(&e)))?
        {
            if (body.len() + chunk.len()) as u64 > self.max_response_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(PollError::Status {
                page,
                url: shown,
                status,
                body: redact::excerpt(&String::from_utf8_lossy(&body), 500),
            });
        }
        serde_json::from_slice(&body).map_err(|e| PollError::Json {
            page,
            reason: e.to_string(),
        })
    }

    /// What the items pointer finds in a page.
    fn items_at<'v>(&self, page: u32, response: &'v Value) -> Result<&'v Value, PollError> {
        match &self.items_pointer {
            None => Ok(response),
            Some(pointer) => response.pointer(pointer).ok_or_else(|| PollError::Pointer {
                page,
                pointer: pointer.clone(),
            }),
        }
    }

    /// The page's items, moved out of it (the page is not needed afterwards).
    fn take_items(&self, response: &mut Value) -> Vec<Value> {
        let found = match &self.items_pointer {
            None => Some(response),
            Some(pointer) => response.pointer_mut(pointer),
        };
        match found.map(Value::take) {
            Some(Value::Array(items)) => items,
            Some(Value::Null) | None => Vec::new(),
            Some(single) => vec![single],
        }
    }
}

#[async_trait]
impl Source for HttpSource {
    async fn fetch(&self) -> Result<Vec<Value>, SourceError> {
        self.fetch_pages(&self.query)
            .await
            .map_err(|e| SourceError(e.to_string()))
    }

    async fn fetch_batches(&self, context: &PollContext<'_>) -> Result<Vec<Batch>, SourceError> {
        let Some(cursor) = &self.cursor else {
            return Ok(vec![Batch {
                label: String::new(),
                items: self.fetch().await?,
                error: None,
                after_commit: None,
            }]);
        };
        let incremental = Incremental::load(context).await?;
        let value = incremental.value(initial_value(&cursor.spec.initial));
        let shown = match &value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let mut base = self.query.clone();
        base.push((cursor.spec.param.clone(), shown.clone()));
        let items = self
            .fetch_pages(&base)
            .await
            .map_err(|e| SourceError(e.to_string()))?;
        let batch = incremental.select(
            format!("{}={shown}", cursor.spec.param),
            items,
            &cursor.spec.field,
            |item| paths::get(item, &cursor.field),
            |item| paths::get(item, &cursor.key),
        )?;
        Ok(vec![batch])
    }
}

/// An incremental HTTP poll's cursor, with its paths parsed once.
struct ParsedCursor {
    spec: HttpCursor,
    field: FieldPath,
    key: FieldPath,
}

impl ParsedCursor {
    fn parse(spec: &HttpCursor) -> Result<Self, EndpointError> {
        let path = |name: &str, text: &str| {
            FieldPath::parse(text).map_err(|e| EndpointError::Invalid {
                field: format!("spec.incoming.poll.cursor.{name}"),
                message: e.to_string(),
            })
        };
        Ok(Self {
            field: path("field", &spec.field)?,
            key: path("key", &spec.key)?,
            spec: spec.clone(),
        })
    }
}
