//! Following HTTP redirects without sending credentials to another origin.
//!
//! Clients are built with reqwest's redirect handling off, and every request of an HTTP
//! or SOAP Connection goes through [`send`], which follows redirects itself per the
//! Connection's `followRedirects`: reqwest would drop only `Authorization` and cookies
//! on a cross-host redirect, and send an API-key header or a secret-valued header on.

use reqwest::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderMap, LOCATION,
    PROXY_AUTHORIZATION, TRANSFER_ENCODING,
};
use reqwest::{Method, Request, Response, StatusCode};
use switchyard_crds::v1alpha1::FollowRedirects;
use url::Url;

use crate::redact;

/// Redirects followed in a row before giving up (as browsers and reqwest do).
const MAX_REDIRECTS: usize = 10;

/// How one Connection follows redirects.
#[derive(Debug, Clone, Default)]
pub struct RedirectPolicy {
    pub follow: FollowRedirects,
    /// A query parameter that carries a credential (an API key in the query): dropped
    /// from a URL on another origin.
    pub secret_query: Option<String>,
    /// Whether the request body carries credentials (a WS-Security envelope): a
    /// redirect that would resend it to another origin is refused even with `any`.
    pub body_has_credentials: bool,
}

/// Why a redirect was not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Never,
    OtherOrigin,
    BodyCarriesCredentials,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Never => "the Connection's `followRedirects` is `never`",
            Self::OtherOrigin => {
                "it leads to another origin and the Connection's `followRedirects` is \
                 `sameOrigin` (set `any` to follow it; credentials are never sent there)"
            }
            Self::BodyCarriesCredentials => {
                "it would resend the request body, which carries credentials (WS-Security), \
                 to another origin"
            }
        })
    }
}

/// Why [`send`] returned no response.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The request failed (connection, time-out, TLS…); another attempt may succeed.
    #[error("{}", super::endpoint::describe_reqwest_error(.0))]
    Request(#[from] reqwest::Error),
    /// A redirect the Connection does not follow; retrying changes nothing.
    #[error("redirect ({status}) from {from} to {to} refused: {reason}")]
    Refused {
        status: StatusCode,
        from: String,
        to: String,
        reason: Refusal,
    },
    #[error("more than {MAX_REDIRECTS} redirects in a row, the last to {to}")]
    TooMany { to: String },
}

impl SendError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Request(_) => "http_request",
            Self::Refused { .. } => "http_redirect_refused",
            Self::TooMany { .. } => "http_too_many_redirects",
        }
    }

    /// Whether another attempt cannot succeed (a refused redirect, a redirect loop).
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Request(_))
    }
}

/// Sends `request`, following redirects as `policy` allows. A redirect whose body
/// cannot be resent (a stream) is answered as it came.
pub async fn send(
    client: &reqwest::Client,
    mut request: Request,
    policy: &RedirectPolicy,
) -> Result<Response, SendError> {
    // The trace of the item this request is for (nothing while tracing is off).
    crate::telemetry::context::inject(request.headers_mut());
    let origin = request.url().origin();
    for _ in 0..MAX_REDIRECTS {
        let again = request.try_clone();
        let response = client.execute(request).await?;
        let status = response.status();
        let Some(mut to) = redirect_target(&response) else {
            return Ok(response);
        };
        let (from_shown, to_shown) = (shown(response.url()), shown(&to));
        let refused = |reason| SendError::Refused {
            status,
            from: from_shown.clone(),
            to: to_shown.clone(),
            reason,
        };
        if policy.follow == FollowRedirects::Never {
            return Err(refused(Refusal::Never));
        }
        let Some(mut next) = again else {
            return Ok(response);
        };
        let keeps_body = matches!(
            status,
            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
        );
        if to.origin() != origin {
            if policy.follow == FollowRedirects::SameOrigin {
                return Err(refused(Refusal::OtherOrigin));
            }
            if keeps_body && policy.body_has_credentials && next.body().is_some() {
                return Err(refused(Refusal::BodyCarriesCredentials));
            }
            strip_credentials(next.headers_mut());
            if let Some(param) = &policy.secret_query {
                drop_query_param(&mut to, param);
            }
        }
        if !keeps_body && (status == StatusCode::SEE_OTHER || next.method() == Method::POST) {
            // 301/302 after a POST and 303 continue as a GET without the body, as
            // browsers (and reqwest) do.
            if next.method() != Method::HEAD {
                *next.method_mut() = Method::GET;
            }
            *next.body_mut() = None;
            for header in [
                CONTENT_TYPE,
                CONTENT_LENGTH,
                CONTENT_ENCODING,
                TRANSFER_ENCODING,
            ] {
                next.headers_mut().remove(header);
            }
        }
        *next.url_mut() = to;
        request = next;
    }
    Err(SendError::TooMany {
        to: shown(request.url()),
    })
}

/// Where a 3xx answer points, if it is a redirect with a usable `Location`.
fn redirect_target(response: &Response) -> Option<Url> {
    let status = response.status();
    if !matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    ) {
        return None;
    }
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    let to = response.url().join(location).ok()?;
    matches!(to.scheme(), "http" | "https").then_some(to)
}

/// Removes every header that carries a credential: `Authorization`, cookies, and every
/// header marked sensitive (API keys, headers whose value comes from a Secret).
fn strip_credentials(headers: &mut HeaderMap) {
    for header in [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE] {
        headers.remove(header);
    }
    let sensitive: Vec<_> = headers
        .iter()
        .filter(|(_, value)| value.is_sensitive())
        .map(|(name, _)| name.clone())
        .collect();
    for name in sensitive {
        headers.remove(name);
    }
}

fn drop_query_param(url: &mut Url, param: &str) {
    if !url.query_pairs().any(|(key, _)| key == param) {
        return;
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != param)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
}

/// A URL for an error message, secrets masked.
fn shown(url: &Url) -> String {
    redact::redact(url.as_str()).into_owned()
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn credentials_and_sensitive_headers_are_stripped() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        let mut key = HeaderValue::from_static("k");
        key.set_sensitive(true);
        headers.insert("x-api-key", key);
        headers.insert("x-plain", HeaderValue::from_static("p"));
        strip_credentials(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-plain"));
    }

    #[test]
    fn a_credential_query_parameter_is_dropped() {
        let mut url = Url::parse("http://other/x?api_key=s&page=2").expect("url");
        drop_query_param(&mut url, "api_key");
        assert_eq!(url.as_str(), "http://other/x?page=2");
        let mut url = Url::parse("http://other/x?api_key=s").expect("url");
        drop_query_param(&mut url, "api_key");
        assert_eq!(url.as_str(), "http://other/x");
    }
}
