//! Which headers cross the proxy. Hop-by-hop headers (RFC 9110 §7.6.1: `Connection`,
//! `Keep-Alive`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`, every `Proxy-*`, and
//! whatever `Connection` names) belong to one connection and never cross. The caller's
//! credentials for the runner (`Authorization`, `X-Switchyard-Token`, the HMAC signature
//! header, `Cookie`) are not the receiver's business: the Connection adds its own.
//! `Set-Cookie` from the receiver is a session of the Connection's credentials and does
//! not go back to the caller.

use axum::http::header::{self, HeaderMap, HeaderName};

/// Hop-by-hop headers by name (lower case); `Proxy-*` is matched by prefix.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether `name` belongs to one connection only.
fn is_hop_by_hop(name: &HeaderName, named_by_connection: &[String]) -> bool {
    let name = name.as_str();
    HOP_BY_HOP.contains(&name)
        || name.starts_with("proxy-")
        || named_by_connection.iter().any(|n| n == name)
}

/// The header names listed in `Connection` (lower case).
fn connection_tokens(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
        .collect()
}

/// What of the caller's request goes to the receiver. `credentials`: the headers the
/// caller authenticated with (see [`crate::connectors::webhook::WebhookAuthenticator`]).
/// `body_rewritten`: the body is replaced, so its length and type are set anew (a
/// streamed body keeps the length the caller announced).
/// `identity_answer`: ask for an answer without content encoding (the response steps
/// read it).
pub fn to_receiver(
    caller: &HeaderMap,
    credentials: &[HeaderName],
    body_rewritten: bool,
    identity_answer: bool,
) -> HeaderMap {
    let named = connection_tokens(caller);
    let mut out = HeaderMap::with_capacity(caller.len());
    for (name, value) in caller {
        let dropped = is_hop_by_hop(name, &named)
            || credentials.contains(name)
            || *name == header::AUTHORIZATION
            || *name == header::COOKIE
            // The receiver's host and the body's framing are set by the client, which
            // also does not wait for `100 Continue`.
            || *name == header::HOST
            || *name == header::EXPECT
            // A streamed body keeps its announced length; a replaced one gets its own.
            || (body_rewritten && (*name == header::CONTENT_LENGTH || *name == header::CONTENT_TYPE))
            || (identity_answer && *name == header::ACCEPT_ENCODING);
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// What of the receiver's answer goes back to the caller. `body_rewritten`: the body is
/// replaced, so its length, type and encoding are set anew.
pub fn to_caller(receiver: &HeaderMap, body_rewritten: bool) -> HeaderMap {
    let named = connection_tokens(receiver);
    let mut out = HeaderMap::with_capacity(receiver.len());
    for (name, value) in receiver {
        let dropped = is_hop_by_hop(name, &named)
            || *name == header::SET_COOKIE
            || (body_rewritten
                && (*name == header::CONTENT_LENGTH
                    || *name == header::CONTENT_TYPE
                    || *name == header::CONTENT_ENCODING));
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn names(map: &HeaderMap) -> Vec<&str> {
        let mut names: Vec<&str> = map.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn hop_by_hop_and_credentials_stay_with_the_caller() {
        let caller = headers(&[
            ("connection", "keep-alive, x-trace-hop"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("trailer", "x-sum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic eA=="),
            ("proxy-connection", "keep-alive"),
            ("x-trace-hop", "1"),
            ("authorization", "Bearer caller"),
            ("x-switchyard-token", "caller"),
            ("x-signature-256", "abc"),
            ("cookie", "session=1"),
            ("host", "runner:8080"),
            ("expect", "100-continue"),
            ("content-length", "12"),
            ("content-type", "application/json"),
            ("accept-encoding", "gzip"),
            ("accept", "application/json"),
            ("x-request-id", "r-1"),
        ]);
        let credentials = [
            HeaderName::from_static("x-switchyard-token"),
            HeaderName::from_static("x-signature-256"),
        ];
        let sent = to_receiver(&caller, &credentials, false, false);
        assert_eq!(
            names(&sent),
            [
                "accept",
                "accept-encoding",
                "content-length",
                "content-type",
                "x-request-id"
            ]
        );
        let sent = to_receiver(&caller, &credentials, true, true);
        assert_eq!(names(&sent), ["accept", "x-request-id"]);
    }

    #[test]
    fn the_answer_keeps_its_headers_but_not_hop_by_hop_or_cookies() {
        let answer = headers(&[
            ("connection", "close"),
            ("transfer-encoding", "chunked"),
            ("proxy-authenticate", "Basic"),
            ("set-cookie", "sid=receiver"),
            ("content-type", "application/json"),
            ("content-length", "10"),
            ("etag", "\"v1\""),
            ("x-rate-limit-remaining", "9"),
        ]);
        assert_eq!(
            names(&to_caller(&answer, false)),
            [
                "content-length",
                "content-type",
                "etag",
                "x-rate-limit-remaining"
            ]
        );
        assert_eq!(
            names(&to_caller(&answer, true)),
            ["etag", "x-rate-limit-remaining"]
        );
    }
}
