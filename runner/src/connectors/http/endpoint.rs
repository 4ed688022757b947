//! One HTTP Connection, resolved: base URL, headers, credentials and a client. Shared by
//! every route that uses the Connection.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue as WireValue};
use switchyard_crds::v1alpha1::{HeaderValue, Headers, HttpConnection, HttpMethod};
use url::Url;

use super::auth::{Authenticator, OAuth2Client};
use super::client::{ClientContext, build_client};
use super::redirect::{self, RedirectPolicy, SendError};
use crate::secrets::{SecretError, SecretSource};

/// A common gateway time-out; used when the Connection sets none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The method of a manifest on the wire.
pub fn wire_method(method: HttpMethod) -> reqwest::Method {
    match method {
        HttpMethod::Get => reqwest::Method::GET,
        HttpMethod::Post => reqwest::Method::POST,
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Patch => reqwest::Method::PATCH,
        HttpMethod::Delete => reqwest::Method::DELETE,
        HttpMethod::Head => reqwest::Method::HEAD,
        HttpMethod::Options => reqwest::Method::OPTIONS,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("field `{field}`: {source}")]
    Secret {
        field: String,
        #[source]
        source: Box<SecretError>,
    },
    #[error("field `{field}`: {message}")]
    Invalid { field: String, message: String },
}

impl EndpointError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Secret { source, .. } => source.category(),
            Self::Invalid { .. } => "endpoint_invalid",
        }
    }
}

pub struct HttpEndpoint {
    base_url: String,
    headers: HeaderMap,
    pub auth: Authenticator,
    pub client: reqwest::Client,
    redirects: RedirectPolicy,
    /// Shared by every route using the Connection.
    pub limits: super::limits::Limits,
}

impl HttpEndpoint {
    pub fn new(
        spec: &HttpConnection,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Self, EndpointError> {
        crate::redact::register_url_password(&spec.base_url);
        let secret = |field: &str, value| {
            secrets
                .resolve(namespace, value)
                .map_err(|source| EndpointError::Secret {
                    field: field.to_owned(),
                    source: Box::new(source),
                })
        };
        let auth = match &spec.auth {
            None => Authenticator::None,
            Some(auth) => {
                if let Some(basic) = &auth.basic {
                    Authenticator::basic(
                        basic.username.clone(),
                        secret("spec.http.auth.basic.password", &basic.password)?,
                    )
                } else if let Some(bearer) = &auth.bearer {
                    Authenticator::Bearer(secret("spec.http.auth.bearer.token", &bearer.token)?)
                } else if let Some(key) = &auth.api_key {
                    let value = secret("spec.http.auth.apiKey.value", &key.value)?;
                    match (&key.header, &key.query) {
                        (Some(header), _) => Authenticator::ApiKeyHeader {
                            header: header.clone(),
                            value,
                        },
                        (None, Some(param)) => Authenticator::ApiKeyQuery {
                            param: param.clone(),
                            value,
                        },
                        (None, None) => {
                            return Err(EndpointError::Invalid {
                                field: "spec.http.auth.apiKey".into(),
                                message: "set `header` or `query`".into(),
                            });
                        }
                    }
                } else if let Some(oauth) = &auth.oauth2_client_credentials {
                    Authenticator::OAuth2(OAuth2Client::new(
                        oauth.token_url.clone(),
                        oauth.client_id.clone(),
                        secret(
                            "spec.http.auth.oauth2ClientCredentials.clientSecret",
                            &oauth.client_secret,
                        )?,
                        oauth.scopes.clone(),
                    ))
                } else {
                    Authenticator::None
                }
            }
        };
        let timeout = spec
            .timeout_seconds
            .map(|s| Duration::from_secs(u64::from(s)))
            .unwrap_or(DEFAULT_TIMEOUT);
        let client = build_client(
            timeout,
            spec.tls.as_ref(),
            &ClientContext {
                field: "spec.http",
                namespace,
                secrets,
            },
        )?;
        let redirects = RedirectPolicy {
            follow: spec.follow_redirects.unwrap_or_default(),
            secret_query: match &auth {
                Authenticator::ApiKeyQuery { param, .. } => Some(param.clone()),
                _ => None,
            },
            body_has_credentials: false,
        };
        Ok(Self {
            base_url: spec.base_url.trim_end_matches('/').to_owned(),
            headers: resolve_headers(&spec.headers, "spec.http.headers", namespace, secrets)?,
            auth,
            client,
            redirects,
            limits: super::limits::Limits::new(spec.limits.as_ref()),
        })
    }

    /// The URL of `path`: an absolute URL is taken as is (next links), anything else is
    /// appended to the base URL.
    pub fn url(&self, path: &str) -> Result<Url, url::ParseError> {
        if path.starts_with("http://") || path.starts_with("https://") {
            return Url::parse(path);
        }
        if path.is_empty() {
            return Url::parse(&self.base_url);
        }
        let separator = if path.starts_with('/') { "" } else { "/" };
        Url::parse(&format!("{}{separator}{path}", self.base_url))
    }

    /// A request with the Connection's headers, `extra` headers and credentials.
    pub async fn request(
        &self,
        method: reqwest::Method,
        url: Url,
        extra: &HeaderMap,
    ) -> Result<reqwest::RequestBuilder, super::auth::AuthError> {
        let request = self
            .client
            .request(method, url)
            .headers(self.headers.clone())
            .headers(extra.clone());
        self.auth.apply(&self.client, request).await
    }

    /// Sends a request built by [`HttpEndpoint::request`], following redirects as the
    /// Connection's `followRedirects` allows.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SendError> {
        redirect::send(&self.client, request.build()?, &self.redirects).await
    }

    /// A request carrying a proxied caller's `forwarded` headers under the Connection's
    /// own headers and credentials, which take their place where both set one.
    pub async fn forward(
        &self,
        method: reqwest::Method,
        url: Url,
        forwarded: HeaderMap,
    ) -> Result<reqwest::RequestBuilder, super::auth::AuthError> {
        let mut headers = forwarded;
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        let request = self.client.request(method, url).headers(headers);
        self.auth.apply(&self.client, request).await
    }
}

/// Resolves manifest headers (plain or from Secrets) into wire headers.
pub fn resolve_headers(
    headers: &Headers,
    field: &str,
    namespace: &str,
    secrets: &SecretSource,
) -> Result<HeaderMap, EndpointError> {
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let field = format!("{field}.{name}");
        let invalid = |message: String| EndpointError::Invalid {
            field: field.clone(),
            message,
        };
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|e| invalid(e.to_string()))?;
        let mut wire = match value {
            HeaderValue::Plain(text) => {
                WireValue::from_str(text).map_err(|e| invalid(e.to_string()))?
            }
            HeaderValue::Secret(secret) => {
                let secret =
                    secrets
                        .resolve(namespace, secret)
                        .map_err(|source| EndpointError::Secret {
                            field: field.clone(),
                            source: Box::new(source),
                        })?;
                WireValue::from_str(secret.expose())
                    .map_err(|_| invalid("the secret is not a valid header value".into()))?
            }
        };
        if matches!(value, HeaderValue::Secret(_)) {
            wire.set_sensitive(true);
        }
        out.insert(header, wire);
    }
    Ok(out)
}

/// reqwest's error text, with the kind of failure made explicit.
pub fn describe_reqwest_error(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "time-out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    // The URL is logged separately, already redacted; reqwest's copy of it would carry
    // query credentials.
    let mut text = kind.to_owned();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    if let Some(hint) = super::client::tls_hint(error) {
        text.push_str(hint);
    }
    text
}

impl HttpEndpoint {
    /// GET on the base URL with the Connection's credentials: any answer means the
    /// system is reachable; 401 or 403 means it refuses the credentials.
    pub async fn probe(&self) -> crate::connectors::Probe {
        let url = match Url::parse(&self.base_url) {
            Ok(url) => url,
            Err(error) => {
                return crate::connectors::Probe {
                    ok: false,
                    message: format!("invalid base URL: {error}"),
                };
            }
        };
        let request = match self
            .request(reqwest::Method::GET, url, &HeaderMap::new())
            .await
        {
            Ok(request) => request,
            Err(error) => {
                return crate::connectors::Probe {
                    ok: false,
                    message: crate::redact::excerpt(
                        &error.to_string(),
                        crate::redact::SERVER_MESSAGE_CHARS,
                    ),
                };
            }
        };
        let (ok, message) = match self.send(request).await {
            Ok(response) => match response.status() {
                status @ (reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN) => (
                    false,
                    format!("reachable, but the credentials were refused ({status})"),
                ),
                status => (
                    true,
                    format!("reachable (GET {} answered {status})", self.base_url),
                ),
            },
            Err(error) => (false, format!("GET {}: {error}", self.base_url)),
        };
        crate::connectors::Probe {
            ok,
            message: crate::redact::excerpt(&message, crate::redact::SERVER_MESSAGE_CHARS),
        }
    }
}
