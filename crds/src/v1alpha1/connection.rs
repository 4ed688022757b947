use std::collections::BTreeMap;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    CommonStatus, FollowRedirects, Headers, KnownHostsStrategy, PasswordType, SecretValue,
    SoapVersion,
};

/// How to reach one remote system. One Connection serves many Routes. Exactly one kind
/// (`http`, `database`, `fileSystem`, `soap`) is set.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "switchyard.dev",
    version = "v1alpha1",
    kind = "Connection",
    category = "switchyard",
    doc = "A Switchyard Connection: how to reach one remote system (HTTP/REST, a database, a file system, SOAP), with credentials taken from Secrets. One Connection serves many Routes.",
    namespaced,
    status = "ConnectionStatus",
    shortname = "swconn",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["http"]}, {"required": ["database"]}, {"required": ["fileSystem"]}, {"required": ["soap"]}]))]
pub struct ConnectionSpec {
    /// An HTTP/REST system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpConnection>,
    /// A relational database (PostgreSQL, MySQL/MariaDB, SQLite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseConnection>,
    /// A file system: local, SFTP, FTP/FTPS or S3-compatible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_system: Option<FileSystemConnection>,
    /// A SOAP service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soap: Option<SoapConnection>,
    /// Circuit breaker: holds deliveries through this Connection back while its system
    /// is down, instead of every task spending its attempts against it. After
    /// `consecutiveFailures` transient failures in a row (a timeout, a refused
    /// connection, `5xx`, `408`, `429`) the circuit opens: the tasks of every Route that
    /// delivers through this Connection wait in `pending` without spending attempts.
    /// After `openSeconds` one trial delivery goes out (half-open): success closes the
    /// circuit, failure opens it again. An answer carrying `Retry-After` (`429`, `503`)
    /// pauses the whole Connection for that long. `{}` turns it on with the defaults.
    /// Each runner replica keeps its own circuit (see docs/scaling.md). Absent: off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<super::CircuitBreaker>,
}

/// Status of a Connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// The last connectivity check made by a runner that uses this Connection (written
    /// by the runner, every minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ConnectionProbe>,
    /// The circuit breaker as the reporting runner sees it (written by the runner when
    /// it changes). Absent: no circuit breaker, or nothing reported yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit: Option<super::CircuitStatus>,
}

/// Whether the remote system answers and accepts the credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionProbe {
    /// True when the system answered and did not refuse the credentials.
    pub ok: bool,
    /// What the check found (secrets masked).
    pub message: String,
    /// When the check ran (RFC 3339).
    pub time: String,
}

/// An HTTP/REST endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpConnection {
    /// Base URL every request path is joined to, e.g. `https://shop.example.com/api/`.
    /// Must not carry credentials.
    #[schemars(regex(pattern = crate::v1alpha1::rules::HTTP_URL))]
    pub base_url: String,
    /// Headers sent with every request through this Connection.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: Headers,
    /// Authentication; none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
    /// Time-out of one request in seconds. Absent: 30 s (a common gateway time-out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<u32>,
    /// Limits shared by every route that uses this Connection, so that together they
    /// do not overload the system. They hold for the tenant: several runner replicas
    /// divide them by the number of live replicas (at least one request in flight
    /// each). Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<HttpLimits>,
    /// TLS of `https://` requests: extra CAs to trust for the server and a client
    /// certificate for mutual TLS. Absent: the built-in (Mozilla) roots, no client
    /// certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<HttpTls>,
    /// Which redirects are followed: `sameOrigin` (scheme, host and port unchanged),
    /// `never`, or `any`. A redirect that is not followed fails the request with an
    /// error (no retry). With `any`, credentials and secret-valued headers are dropped
    /// once a redirect leaves the origin. Absent: `sameOrigin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<FollowRedirects>,
}

/// TLS settings of an HTTPS client (HTTP and SOAP Connections).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::rule(
    "has(self.clientCertificate) == has(self.clientKey)",
    "`clientCertificate` and `clientKey` go together (mutual TLS needs both)"
))]
#[x_kube(validation = crate::v1alpha1::rules::rule(
    "!has(self.trustBuiltInRoots) || self.trustBuiltInRoots || has(self.caCertificate)",
    "`caCertificate` is required when `trustBuiltInRoots` is false (no server would be trusted)"
))]
pub struct HttpTls {
    /// CA certificates (PEM, one or more) that may sign the server's certificate, e.g.
    /// a company's private CA: inline or from a Secret. Trusted in addition to the
    /// built-in roots unless `trustBuiltInRoots` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<PemValue>,
    /// Whether the built-in (Mozilla) root CAs are trusted as well. Absent: true. Set
    /// false to trust `caCertificate` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_built_in_roots: Option<bool>,
    /// Client certificate presented to the server (mutual TLS): PEM, the certificate
    /// first, then any intermediates; inline or from a Secret. Requires `clientKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<PemValue>,
    /// Private key of `clientCertificate` (PEM: PKCS#8, PKCS#1/RSA or SEC1/EC), from a
    /// Secret. Requires `clientCertificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<SecretValue>,
}

/// PEM text: certificates are public, so they may be written inline; or from a Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PemValue {
    /// PEM written in the manifest (certificates only, never a private key).
    Inline(String),
    /// PEM taken from a Secret.
    Secret(SecretValue),
}

/// Request limits of one HTTP Connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpLimits {
    /// Most requests per second, spread evenly, for the tenant as a whole (each of `n`
    /// live runner replicas keeps to `1/n`). Absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub requests_per_second: Option<u32>,
    /// Most requests in flight at once, for the tenant as a whole (each of `n` live
    /// runner replicas keeps to `1/n`, at least one). Absent: no limit (each route's
    /// `maxConcurrency` still applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_concurrent: Option<u32>,
}

/// HTTP authentication. Exactly one method is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::exactly_one(&["basic", "bearer", "apiKey", "oauth2ClientCredentials"]))]
pub struct HttpAuth {
    /// HTTP Basic authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<BasicAuth>,
    /// `Authorization: Bearer <token>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer: Option<BearerAuth>,
    /// An API key in a header or a query parameter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKeyAuth>,
    /// OAuth2 client-credentials grant; the token is cached until shortly before it
    /// expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2_client_credentials: Option<OAuth2ClientCredentials>,
}

/// HTTP Basic authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BasicAuth {
    /// User name (not secret).
    pub username: String,
    /// Password, from a Secret.
    pub password: SecretValue,
}

/// Bearer token authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BearerAuth {
    /// The token, from a Secret.
    pub token: SecretValue,
}

/// API key authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::exactly_one(&["header", "query"]))]
pub struct ApiKeyAuth {
    /// Header carrying the key, e.g. `X-Api-Key`. Set this or `query`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Query parameter carrying the key, e.g. `api_key`. Set this or `header`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The key, from a Secret.
    pub value: SecretValue,
}

/// OAuth2 client-credentials grant (RFC 6749 §4.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuth2ClientCredentials {
    /// Absolute URL of the token endpoint.
    #[schemars(regex(pattern = crate::v1alpha1::rules::HTTP_URL))]
    pub token_url: String,
    /// Client id (not secret).
    pub client_id: String,
    /// Client secret, from a Secret.
    pub client_secret: SecretValue,
    /// Scopes to request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// A relational database reached through a connection pool shared by every Route that
/// uses this Connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatabaseConnection {
    /// Connection URL without a password: `postgres://app@db:5432/shop`,
    /// `mysql://app@db:3306/erp` (MySQL and MariaDB) or `sqlite:///data/local.db`.
    #[schemars(regex(pattern = crate::v1alpha1::rules::DATABASE_URL))]
    pub url: String,
    /// Password of the URL's user, from a Secret. Absent: none (trust or socket auth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretValue>,
    /// Upper bound on open connections of the pool. Absent: 5 (small enough to share a
    /// database with the application that owns it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_connections: Option<u32>,
    /// Time-out to get a connection, in seconds. Absent: 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub connect_timeout_seconds: Option<u32>,
}

/// A file system through OpenDAL. Exactly one service is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["local"]}, {"required": ["sftp"]}, {"required": ["ftp"]}, {"required": ["s3"]}]))]
pub struct FileSystemConnection {
    /// A directory of the runner's own file system (a mounted volume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalFileSystem>,
    /// An SFTP server (key authentication through the `ssh` client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sftp: Option<SftpFileSystem>,
    /// An FTP server, optionally with explicit TLS (FTPS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ftp: Option<FtpFileSystem>,
    /// An S3-compatible object store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3FileSystem>,
}

/// A local directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalFileSystem {
    /// Absolute path of the directory every Route path is relative to.
    #[schemars(regex(pattern = crate::v1alpha1::rules::ABSOLUTE_PATH))]
    pub root: String,
}

/// An SFTP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SftpFileSystem {
    /// Host name or address.
    pub host: String,
    /// TCP port. Absent: 22.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
    /// User name (not secret).
    pub username: String,
    /// The user's private key (OpenSSH format), from a Secret.
    pub private_key: SecretValue,
    /// Directory every Route path is relative to. Absent: the user's home directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// `strict` (the host key must be known), `add` (trust on first use) or `accept`
    /// (any host key). Absent: `strict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts_strategy: Option<KnownHostsStrategy>,
}

/// An FTP server (password authentication, passive mode, binary transfers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = crate::v1alpha1::rules::rule(
    "!has(self.caCertificate) || (has(self.tls) && self.tls)",
    "`caCertificate` is only used with `tls: true`"
))]
pub struct FtpFileSystem {
    /// Host name or address.
    #[schemars(length(min = 1))]
    pub host: String,
    /// TCP port. Absent: 21.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub port: Option<u16>,
    /// User name (not secret).
    pub username: String,
    /// The user's password, from a Secret.
    pub password: SecretValue,
    /// Absolute directory every Route path is relative to. Absent: `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::v1alpha1::rules::ABSOLUTE_PATH))]
    pub root: Option<String>,
    /// Explicit FTPS: `AUTH TLS` before logging in, data connections encrypted too; the
    /// server certificate must be valid for `host`. Absent: false (plain FTP, the
    /// password crosses the network in clear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<bool>,
    /// PEM certificates of CAs trusted for FTPS besides the public ones (a private CA
    /// or a self-signed server certificate). Only with `tls: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<String>,
}

/// An S3-compatible bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3FileSystem {
    /// Bucket name.
    pub bucket: String,
    /// Region. Absent: `us-east-1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Endpoint of an S3-compatible service, e.g. `https://minio.example.com`. Absent:
    /// AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::v1alpha1::rules::HTTP_URL))]
    pub endpoint: Option<String>,
    /// Access key id, from a Secret.
    pub access_key_id: SecretValue,
    /// Secret access key, from a Secret.
    pub secret_access_key: SecretValue,
    /// Key prefix every Route path is relative to. Absent: the bucket root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
}

/// A SOAP service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SoapConnection {
    /// Absolute URL of the service endpoint. Must not carry credentials.
    #[schemars(regex(pattern = crate::v1alpha1::rules::HTTP_URL))]
    pub url: String,
    /// SOAP version: `"1.1"` or `"1.2"` (quoted: unquoted they are YAML numbers).
    /// Absent: `"1.1"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<SoapVersion>,
    /// WS-Security UsernameToken sent in every envelope's header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws_security: Option<WsSecurity>,
    /// Raw XML blocks added to every envelope's `Header`, e.g. a session or tenant
    /// element the service requires.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = crate::v1alpha1::rules::XML_ELEMENT)))]
    pub header_blocks: Vec<String>,
    /// HTTP headers sent with every request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: Headers,
    /// Time-out of one call in seconds. Absent: 30 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<u32>,
    /// TLS of an `https://` service: extra CAs to trust and a client certificate for
    /// mutual TLS, as for HTTP Connections. Absent: the built-in roots, no client
    /// certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<HttpTls>,
    /// Which redirects are followed: `sameOrigin` (the default), `never` or `any`, as
    /// for HTTP Connections. A redirect that would resend the envelope (307, 308) to
    /// another origin is refused while `wsSecurity` is set: the envelope carries the
    /// password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<FollowRedirects>,
}

/// A WS-Security UsernameToken (OASIS WSS 1.1 UsernameToken profile).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WsSecurity {
    /// User name (not secret).
    pub username: String,
    /// Password, from a Secret.
    pub password: SecretValue,
    /// `text` (PasswordText) or `digest` (PasswordDigest with nonce and created time).
    /// Absent: `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_type: Option<PasswordType>,
}
