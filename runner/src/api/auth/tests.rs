//! Authentication against a real OIDC issuer on loopback (keys made here) and a tokens
//! file.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::routing::get;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;

const AUDIENCE: &str = "switchyard";

struct Key {
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
}

fn key(kid: &str) -> Key {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key pair");
    let raw = pair.public_key_raw();
    assert_eq!(raw.len(), 65, "uncompressed P-256 point");
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Key {
        kid: kid.to_owned(),
        encoding: EncodingKey::from_ec_der(&pair.serialize_der()),
        jwk: json!({
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": b64(&raw[1..33]), "y": b64(&raw[33..]),
        }),
    }
}

/// An issuer on loopback serving discovery and a JWKS that the test can change; counts
/// the JWKS fetches.
async fn issuer_counting(keys: Arc<Mutex<Vec<Value>>>, fetches: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let jwks_uri = format!("{base}/keys");
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let jwks_uri = jwks_uri.clone();
                async move { Json(json!({"jwks_uri": jwks_uri})) }
            }),
        )
        .route(
            "/keys",
            get(move || {
                fetches.fetch_add(1, Ordering::SeqCst);
                let keys = keys.lock().expect("keys").clone();
                async move { Json(json!({"keys": keys})) }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

async fn issuer(keys: Arc<Mutex<Vec<Value>>>) -> String {
    issuer_counting(keys, Arc::default()).await
}

fn token(key: &Key, claims: Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, &claims, &key.encoding).expect("sign")
}

fn claims(issuer: &str, audience: &str, exp_offset: i64, roles: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": issuer, "aud": audience, "sub": "u-123", "preferred_username": "alice",
        "iat": now, "exp": now + exp_offset, "groups": roles,
    })
}

fn authenticator(issuer: &str) -> Authenticator {
    authenticator_refetching(issuer, JWKS_MIN_REFETCH_FOR_TESTS)
}

/// Long enough that no test refetches by accident.
const JWKS_MIN_REFETCH_FOR_TESTS: Duration = Duration::from_secs(600);

fn authenticator_refetching(issuer: &str, interval: Duration) -> Authenticator {
    let oidc = Oidc::new(OidcConfig {
        issuer: issuer.to_owned(),
        audience: AUDIENCE.to_owned(),
        jwks_url: None,
        roles_claim: "groups".into(),
        role_prefix: "switchyard-".into(),
    })
    .expect("oidc")
    .refetching_every(interval);
    Authenticator::new(StaticTokens::default(), Some(oidc))
}

#[tokio::test]
async fn oidc_tokens_are_checked_for_signature_issuer_audience_and_expiry() {
    let signing = key("k1");
    let keys = Arc::new(Mutex::new(vec![signing.jwk.clone()]));
    let issuer = issuer(keys.clone()).await;
    let auth = authenticator(&issuer);

    let good = token(
        &signing,
        claims(
            &issuer,
            AUDIENCE,
            300,
            json!(["staff", "switchyard-viewer", "switchyard-editor"]),
        ),
    );
    let identity = auth.authenticate(Some(&good)).await.expect("valid token");
    assert_eq!(identity.name, "alice");
    assert_eq!(
        identity.role,
        Some(Role::Editor),
        "the highest role named wins"
    );
    assert_eq!(identity.method, AuthMethod::Oidc);
    assert_eq!(identity.actor(), "alice (oidc)");

    let no_role = token(&signing, claims(&issuer, AUDIENCE, 300, json!(["staff"])));
    let identity = auth
        .authenticate(Some(&no_role))
        .await
        .expect("valid token");
    assert_eq!(identity.role, None);

    let expired = token(
        &signing,
        claims(&issuer, AUDIENCE, -3_600, json!("switchyard-admin")),
    );
    assert!(matches!(
        auth.authenticate(Some(&expired)).await,
        Err(AuthError::Oidc(OidcError::Expired))
    ));
    let other_audience = token(&signing, claims(&issuer, "another-app", 300, json!([])));
    assert!(matches!(
        auth.authenticate(Some(&other_audience)).await,
        Err(AuthError::Oidc(OidcError::WrongAudience))
    ));
    let other_issuer = token(
        &signing,
        claims("http://evil.example", AUDIENCE, 300, json!([])),
    );
    assert!(matches!(
        auth.authenticate(Some(&other_issuer)).await,
        Err(AuthError::Oidc(OidcError::WrongIssuer))
    ));
    // Signed by another key under the published key's id.
    let forger = key("k1");
    let forged = token(
        &forger,
        claims(&issuer, AUDIENCE, 300, json!("switchyard-admin")),
    );
    assert!(matches!(
        auth.authenticate(Some(&forged)).await,
        Err(AuthError::Oidc(OidcError::BadSignature))
    ));
    // An HMAC token is refused whatever its key.
    let hmac = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(&issuer, AUDIENCE, 300, json!("switchyard-admin")),
        &EncodingKey::from_secret(b"guess"),
    )
    .expect("sign");
    assert!(matches!(
        auth.authenticate(Some(&hmac)).await,
        Err(AuthError::Oidc(OidcError::Algorithm(Algorithm::HS256)))
    ));
    assert!(matches!(
        auth.authenticate(None).await,
        Err(AuthError::Missing)
    ));
    assert!(matches!(
        auth.authenticate(Some("not-a-jwt")).await,
        Err(AuthError::UnknownToken)
    ));
}

#[tokio::test]
async fn a_rotated_key_is_fetched_when_a_token_names_it_and_unknown_keys_do_not_hammer_the_issuer()
{
    let first = key("2026-01");
    let keys = Arc::new(Mutex::new(vec![first.jwk.clone()]));
    let fetches = Arc::new(AtomicUsize::new(0));
    let issuer = issuer_counting(keys.clone(), fetches.clone()).await;
    let claims = claims(&issuer, AUDIENCE, 300, json!("switchyard-viewer"));

    // Unknown key ids refetch at most every interval: a flood of them costs one fetch.
    let auth = authenticator(&issuer);
    auth.authenticate(Some(&token(&first, claims.clone())))
        .await
        .expect("first key");
    let unknown = key("never-published");
    for _ in 0..5 {
        assert!(matches!(
            auth.authenticate(Some(&token(&unknown, claims.clone())))
                .await,
            Err(AuthError::Oidc(OidcError::UnknownKey))
        ));
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "cached keys serve the first token"
    );

    // The issuer rotates: a token with the new key id fetches the JWKS again (once the
    // interval has passed).
    let auth = authenticator_refetching(&issuer, Duration::ZERO);
    auth.authenticate(Some(&token(&first, claims.clone())))
        .await
        .expect("first key");
    let second = key("2026-02");
    keys.lock().expect("keys").push(second.jwk.clone());
    let identity = auth
        .authenticate(Some(&token(&second, claims.clone())))
        .await
        .expect("rotated key");
    assert_eq!(identity.role, Some(Role::Viewer));
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
}

#[test]
fn a_tokens_file_gives_each_token_a_name_and_role_and_never_echoes_a_token() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("tokens.yaml");
    std::fs::write(
        &path,
        "- name: ci-bot\n  role: editor\n  token: tok-editor-1234\n- name: dashboard\n  role: viewer\n  token: tok-viewer-5678\n",
    )
    .expect("write");
    let tokens = StaticTokens::from_file(&path).expect("tokens");
    let identity = tokens.find("tok-viewer-5678").expect("viewer");
    assert_eq!(
        (identity.name.as_str(), identity.role),
        ("dashboard", Some(Role::Viewer))
    );
    assert_eq!(
        tokens.find("tok-editor-1234").and_then(|i| i.role),
        Some(Role::Editor)
    );
    assert!(tokens.find("tok-editor-123").is_none());
    assert_eq!(crate::redact::redact("x tok-editor-1234"), "x ***");

    std::fs::write(
        &path,
        "- name: x\n  role: superuser\n  token: tok-abcdef-999\n",
    )
    .expect("write");
    let error = StaticTokens::from_file(&path)
        .err()
        .expect("unknown role")
        .to_string();
    assert!(error.contains("line 2"), "{error}");
    assert!(!error.contains("tok-abcdef-999"), "{error}");
    std::fs::write(&path, "- {name: a, role: viewer, token: same-tok-1}\n- {name: b, role: admin, token: same-tok-1}\n").expect("write");
    assert!(matches!(
        StaticTokens::from_file(&path),
        Err(TokensFileError::SharedToken { .. })
    ));
}
