//! OIDC bearer tokens: JWTs signed by the issuer, validated against its JWKS (fetched
//! through discovery unless given, cached, and fetched again when a token names a key
//! the cache lacks, so rotated keys are picked up), with the issuer, the audience and
//! the expiry checked. The role comes from a configurable claim.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::RwLock;

use super::{AuthMethod, Identity, Role};

/// How long a fetched JWKS is used before it is fetched again.
const JWKS_MAX_AGE: Duration = Duration::from_secs(600);
/// A token with an unknown key id fetches the JWKS again at most this often, so a
/// stream of forged tokens cannot make the runner hammer the issuer.
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(10);
/// Time allowed for the issuer to answer.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

/// Signature algorithms accepted: asymmetric only, so a public key can never be used
/// as an HMAC secret.
const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// OIDC settings of a runner.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The issuer URL (`iss` of accepted tokens).
    pub issuer: String,
    /// The audience tokens must be issued for (`aud`).
    pub audience: String,
    /// Where the keys are; default: `jwks_uri` of the issuer's discovery document.
    pub jwks_url: Option<String>,
    /// The claim holding the role, a dotted path (`roles`, `realm_access.roles`): a string
    /// or a list of strings. The highest role named wins.
    pub roles_claim: String,
    /// Claim values are `<prefix><role>` (e.g. `switchyard-editor` with prefix
    /// `switchyard-`).
    pub role_prefix: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the token is expired")]
    Expired,
    #[error("the token is not for this audience")]
    WrongAudience,
    #[error("the token is from another issuer")]
    WrongIssuer,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token is signed with {0:?}, which is not accepted")]
    Algorithm(Algorithm),
    #[error("the token names no key (`kid`) the issuer publishes")]
    UnknownKey,
    #[error("the token is not valid: {0}")]
    Invalid(String),
    #[error("cannot fetch the issuer's keys from {url}: {message}")]
    Fetch { url: String, message: String },
}

impl OidcError {
    /// A static label for metrics and logs.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Expired => "oidc_expired",
            Self::WrongAudience => "oidc_wrong_audience",
            Self::WrongIssuer => "oidc_wrong_issuer",
            Self::BadSignature => "oidc_bad_signature",
            Self::Algorithm(_) => "oidc_algorithm",
            Self::UnknownKey => "oidc_unknown_key",
            Self::Invalid(_) => "oidc_invalid",
            Self::Fetch { .. } => "oidc_fetch",
        }
    }
}

struct CachedKeys {
    keys: JwkSet,
    fetched: Instant,
}

/// A validator for one issuer.
pub struct Oidc {
    config: OidcConfig,
    client: reqwest::Client,
    cache: RwLock<Option<CachedKeys>>,
    /// [`JWKS_MIN_REFETCH`], shorter in tests.
    min_refetch: Duration,
}

#[derive(Deserialize)]
struct Discovery {
    jwks_uri: String,
}

/// Whether `token` has the shape of a JWT (three base64url parts).
pub(super) fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

impl Oidc {
    pub fn new(config: OidcConfig) -> Result<Self, OidcError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| OidcError::Fetch {
                url: config.issuer.clone(),
                message: e.to_string(),
            })?;
        Ok(Self {
            config,
            client,
            cache: RwLock::new(None),
            min_refetch: JWKS_MIN_REFETCH,
        })
    }

    /// The same, fetching again for an unknown key at most every `interval`.
    #[cfg(test)]
    pub(super) fn refetching_every(self, interval: Duration) -> Self {
        Self {
            min_refetch: interval,
            ..self
        }
    }

    /// Validates `token` and returns who it is.
    pub async fn validate(&self, token: &str) -> Result<Identity, OidcError> {
        let header = jsonwebtoken::decode_header(token).map_err(classify)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(OidcError::Algorithm(header.alg));
        }
        let jwk = self.key(header.kid.as_deref()).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(classify)?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_audience(&[&self.config.audience]);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(classify)?
            .claims;
        Ok(self.identity(&claims))
    }

    fn identity(&self, claims: &Value) -> Identity {
        let name = ["preferred_username", "email", "sub"]
            .iter()
            .find_map(|c| claims.get(c).and_then(Value::as_str))
            .unwrap_or("unknown")
            .to_owned();
        let mut value = Some(claims);
        for part in self.config.roles_claim.split('.') {
            value = value.and_then(|v| v.get(part));
        }
        let names: Vec<&str> = match value {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let role = names
            .into_iter()
            .filter_map(|n| n.strip_prefix(self.config.role_prefix.as_str()))
            .filter_map(Role::parse)
            .max();
        Identity {
            name,
            role,
            method: AuthMethod::Oidc,
            from: None,
        }
    }

    /// The key `kid` (or the only key, for a token without `kid`), fetching the JWKS when
    /// it is stale or lacks the key.
    async fn key(&self, kid: Option<&str>) -> Result<Jwk, OidcError> {
        let pick = |keys: &JwkSet| match kid {
            Some(kid) => keys.find(kid).cloned(),
            None if keys.keys.len() == 1 => keys.keys.first().cloned(),
            None => None,
        };
        if let Some(cached) = self.cache.read().await.as_ref() {
            let fresh = cached.fetched.elapsed() < JWKS_MAX_AGE;
            match pick(&cached.keys) {
                Some(key) if fresh => return Ok(key),
                None if cached.fetched.elapsed() < self.min_refetch => {
                    return Err(OidcError::UnknownKey);
                }
                _ => {}
            }
        }
        let mut cache = self.cache.write().await;
        // Another request may have fetched meanwhile.
        if let Some(cached) = cache.as_ref()
            && cached.fetched.elapsed() < self.min_refetch
            && cached.fetched.elapsed() < JWKS_MAX_AGE
        {
            return pick(&cached.keys).ok_or(OidcError::UnknownKey);
        }
        let keys = self.fetch_keys().await?;
        let key = pick(&keys);
        *cache = Some(CachedKeys {
            keys,
            fetched: Instant::now(),
        });
        key.ok_or(OidcError::UnknownKey)
    }

    async fn fetch_keys(&self) -> Result<JwkSet, OidcError> {
        let url = match &self.config.jwks_url {
            Some(url) => url.clone(),
            None => {
                let discovery = format!(
                    "{}/.well-known/openid-configuration",
                    self.config.issuer.trim_end_matches('/')
                );
                self.get_json::<Discovery>(&discovery).await?.jwks_uri
            }
        };
        let keys = self.get_json::<JwkSet>(&url).await?;
        tracing::info!(url = %url, keys = keys.keys.len(), "Fetched the OIDC issuer's keys");
        Ok(keys)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, OidcError> {
        let fail = |message: String| OidcError::Fetch {
            url: url.to_owned(),
            message,
        };
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("answered {}", response.status())));
        }
        response.json().await.map_err(|e| fail(e.to_string()))
    }
}

fn classify(error: jsonwebtoken::errors::Error) -> OidcError {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => OidcError::Expired,
        ErrorKind::InvalidAudience => OidcError::WrongAudience,
        ErrorKind::InvalidIssuer => OidcError::WrongIssuer,
        ErrorKind::InvalidSignature => OidcError::BadSignature,
        _ => OidcError::Invalid(error.to_string()),
    }
}
