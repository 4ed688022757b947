//! Request authentication for HTTP Connections.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Mutex;

use crate::redact::{self, Secret};

/// Refresh an OAuth2 token this long before it expires, so a request never carries a
/// token that expires in flight.
const TOKEN_EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// Token lifetime assumed when the server does not say.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

/// How requests are authenticated.
#[derive(Debug)]
pub enum Authenticator {
    None,
    Basic { username: String, password: Secret },
    Bearer(Secret),
    ApiKeyHeader { header: String, value: Secret },
    ApiKeyQuery { param: String, value: Secret },
    OAuth2(OAuth2Client),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("OAuth2 token request to {url} failed: {message}")]
    Token { url: String, message: String },
}

impl AuthError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Token { .. } => "oauth2_token",
        }
    }
}

impl Authenticator {
    pub fn basic(username: String, password: Secret) -> Self {
        redact::register_basic(&username, password.expose());
        Self::Basic { username, password }
    }

    /// Adds credentials to a request.
    pub async fn apply(
        &self,
        client: &reqwest::Client,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, AuthError> {
        Ok(match self {
            Self::None => request,
            Self::Basic { username, password } => {
                request.basic_auth(username, Some(password.expose()))
            }
            Self::Bearer(token) => request.bearer_auth(token.expose()),
            Self::ApiKeyHeader { header, value } => {
                // Marked sensitive: never sent on to another origin, never printed.
                match reqwest::header::HeaderValue::from_str(value.expose()) {
                    Ok(mut wire) => {
                        wire.set_sensitive(true);
                        request.header(header, wire)
                    }
                    Err(_) => request.header(header, value.expose()),
                }
            }
            Self::ApiKeyQuery { param, value } => request.query(&[(param, value.expose())]),
            Self::OAuth2(oauth) => request.bearer_auth(oauth.token(client).await?.expose()),
        })
    }

    /// Called on a 401: a cached OAuth2 token may have been revoked early. Returns
    /// whether a fresh attempt can succeed.
    pub async fn invalidate(&self) -> bool {
        match self {
            Self::OAuth2(oauth) => {
                *oauth.cached.lock().await = None;
                true
            }
            _ => false,
        }
    }
}

/// OAuth2 client-credentials grant with a cached token.
#[derive(Debug)]
pub struct OAuth2Client {
    pub token_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: Vec<String>,
    cached: Mutex<Option<(Secret, Instant)>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

impl OAuth2Client {
    pub fn new(
        token_url: String,
        client_id: String,
        client_secret: Secret,
        scopes: Vec<String>,
    ) -> Self {
        // The token request authenticates with `Basic base64(client_id:client_secret)`,
        // which a token endpoint may echo.
        redact::register_basic(&client_id, client_secret.expose());
        Self {
            token_url,
            client_id,
            client_secret,
            scopes,
            cached: Mutex::new(None),
        }
    }

    async fn token(&self, client: &reqwest::Client) -> Result<Secret, AuthError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, valid_until)) = cached.as_ref()
            && Instant::now() < *valid_until
        {
            return Ok(token.clone());
        }
        let error = |message: String| AuthError::Token {
            url: self.token_url.clone(),
            message: redact::excerpt(&message, redact::SERVER_MESSAGE_CHARS),
        };
        let mut form = vec![("grant_type", "client_credentials".to_owned())];
        if !self.scopes.is_empty() {
            form.push(("scope", self.scopes.join(" ")));
        }
        let response = client
            .post(&self.token_url)
            .basic_auth(&self.client_id, Some(self.client_secret.expose()))
            .form(&form)
            .send()
            .await
            .map_err(|e| error(super::endpoint::describe_reqwest_error(&e)))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(error(format!(
                "status {status}: {}",
                redact::excerpt(&body, 300)
            )));
        }
        let token: TokenResponse = response
            .json()
            .await
            .map_err(|e| error(format!("unreadable token response: {e}")))?;
        let lifetime = token
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        let secret = Secret::new(token.access_token);
        *cached = Some((
            secret.clone(),
            Instant::now() + lifetime.saturating_sub(TOKEN_EXPIRY_MARGIN),
        ));
        Ok(secret)
    }
}
