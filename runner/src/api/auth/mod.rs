//! Who calls the API, and what they may do.
//!
//! Callers authenticate with `Authorization: Bearer <token>`: a static token from a
//! tokens file (a mounted Secret; local mode and CI) or an OIDC ID/access token, a JWT
//! validated against the issuer's JWKS. Each identity has at most one [`Role`]; each API
//! route declares the role it needs (see [`super::declare`]). Without any authentication
//! configured the runner only listens on loopback and every caller acts as an anonymous
//! admin.

mod oidc;
#[cfg(test)]
mod tests;
mod tokens;

pub use oidc::{Oidc, OidcConfig, OidcError};
pub use tokens::{StaticTokens, TokensFileError};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{ApiError, AppState};

/// What an identity may do. Each role includes the ones before it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Looks: routes, tasks, storage, audit.
    Viewer,
    /// Also acts on the queue: retry, discard, retry-failed, trigger, storage writes,
    /// Connection tests.
    Editor,
    /// Also changes settings.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Self::Viewer, Self::Editor, Self::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Editor => "editor",
            Self::Admin => "admin",
        }
    }

    /// The role named `name` (`viewer`, `editor`, `admin`).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an identity was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// A static token from the tokens file (or `SWITCHYARD_API_TOKEN`).
    Token,
    /// An OIDC JWT.
    Oidc,
    /// No authentication is configured (loopback only).
    Anonymous,
}

/// The authenticated caller of a request. Handlers take it as an extractor; the actor
/// written into task logs and the audit trail comes from here, never from a body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The token's name, or the OIDC `preferred_username`, `email` or `sub`.
    pub name: String,
    /// What it may do; `None`: authenticated, but granted no role.
    pub role: Option<Role>,
    pub method: AuthMethod,
    /// The client's address (and `X-Forwarded-For`, when a proxy sent one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl Identity {
    /// Whether this identity holds `role` (or a higher one).
    pub fn has(&self, role: Role) -> bool {
        self.role.is_some_and(|r| r >= role)
    }

    /// How it appears in task logs and the audit trail: `alice (editor, oidc)`.
    pub fn actor(&self) -> String {
        match self.method {
            AuthMethod::Anonymous => "anonymous".to_owned(),
            AuthMethod::Token => format!("{} (token)", self.name),
            AuthMethod::Oidc => format!("{} (oidc)", self.name),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Identity>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("this route was served without authentication"))
    }
}

/// Why a bearer token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("send `Authorization: Bearer <token>`")]
    Missing,
    #[error("the token is not a known API token, and not a JWT")]
    UnknownToken,
    #[error("the token is not a known API token, and OIDC is not configured")]
    NoOidc,
    #[error(transparent)]
    Oidc(#[from] OidcError),
}

impl AuthError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Missing => "auth_missing",
            Self::UnknownToken => "auth_unknown_token",
            Self::NoOidc => "auth_no_oidc",
            Self::Oidc(error) => error.category(),
        }
    }
}

/// Every way this runner authenticates callers.
#[derive(Default)]
pub struct Authenticator {
    tokens: StaticTokens,
    oidc: Option<Oidc>,
}

impl Authenticator {
    /// No authentication: every caller is an anonymous admin. Only for loopback.
    pub fn disabled() -> Self {
        Self::default()
    }

    pub fn new(tokens: StaticTokens, oidc: Option<Oidc>) -> Self {
        Self { tokens, oidc }
    }

    /// Whether any authentication is configured.
    pub fn is_enabled(&self) -> bool {
        !self.tokens.is_empty() || self.oidc.is_some()
    }

    /// The identity behind `bearer` (the token after `Bearer `).
    pub async fn authenticate(&self, bearer: Option<&str>) -> Result<Identity, AuthError> {
        if !self.is_enabled() {
            return Ok(Identity {
                name: "anonymous".into(),
                role: Some(Role::Admin),
                method: AuthMethod::Anonymous,
                from: None,
            });
        }
        let token = bearer.ok_or(AuthError::Missing)?;
        if let Some(identity) = self.tokens.find(token) {
            return Ok(identity);
        }
        match &self.oidc {
            Some(oidc) if oidc::looks_like_jwt(token) => Ok(oidc.validate(token).await?),
            Some(_) => Err(AuthError::UnknownToken),
            None => Err(AuthError::NoOidc),
        }
    }
}

/// The header that carries the bearer token when a proxy consumed `Authorization`.
pub const FORWARDED_AUTHORIZATION: &str = "x-switchyard-authorization";

/// Middleware over every API route: authenticates the caller and puts its
/// [`Identity`] into the request, or answers 401.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    // Through the API server's service proxy `Authorization` is the API server's; the
    // kubectl plugin sends the runner's token in `X-Switchyard-Authorization`.
    let headers = request.headers();
    let bearer = [
        headers.get(axum::http::header::AUTHORIZATION),
        headers.get(FORWARDED_AUTHORIZATION),
    ]
    .into_iter()
    .flatten()
    .filter_map(|v| v.to_str().ok())
    .find_map(|v| v.strip_prefix("Bearer "))
    .map(str::trim);
    let mut identity = state
        .auth
        .authenticate(bearer)
        .await
        .map_err(|error| ApiError::unauthorized(error.to_string()))?;
    identity.from = client_address(&request);
    request.extensions_mut().insert(identity);
    Ok(next.run(request).await)
}

/// Per-route middleware: the caller must hold `required`, else 403 naming it.
pub async fn require(required: Role, request: Request, next: Next) -> Result<Response, ApiError> {
    let identity = request
        .extensions()
        .get::<Identity>()
        .ok_or_else(|| ApiError::unauthorized("this route was served without authentication"))?;
    if !identity.has(required) {
        let held = identity
            .role
            .map_or("no role".to_owned(), |r| format!("role `{r}`"));
        return Err(ApiError::forbidden(
            required,
            format!(
                "`{}` has {held}; this operation needs role `{required}`",
                identity.name
            ),
        ));
    }
    Ok(next.run(request).await)
}

fn client_address(request: &Request) -> Option<String> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string());
    let forwarded = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(200).collect::<String>());
    match (peer, forwarded) {
        (Some(peer), Some(forwarded)) => Some(format!("{forwarded} (via {peer})")),
        (peer, forwarded) => peer.or(forwarded),
    }
}

/// Shared for the router state.
pub type SharedAuthenticator = Arc<Authenticator>;
