//! A Route's incoming and outgoing blocks must match the kind of the Connection they
//! name: `poll.query` for a database, `poll.files` for a file system, `poll.soap` for
//! SOAP, the HTTP fields for HTTP; likewise `outgoing.http|database|file|soap`.

use crate::problem::{Origin, Problem, ResourceId};
use crate::v1alpha1::{ConnectionSpec, KindName, Outgoing, Poll, PollRequest};

/// Problems of a poll block against its Connection.
pub(super) fn poll(
    poll: &Poll,
    connection: &ConnectionSpec,
    origin: &Origin,
    id: &ResourceId,
) -> Vec<Problem> {
    // A Connection without a single kind is not compiled: its own problem says why.
    let Some(kind) = connection.kind_name() else {
        return Vec::new();
    };
    let blocks = [
        ("query", KindName::Database, poll.query.is_some()),
        ("files", KindName::FileSystem, poll.files.is_some()),
        ("soap", KindName::Soap, poll.soap.is_some()),
        (
            "request",
            KindName::Http,
            poll.request != PollRequest::default(),
        ),
        ("itemsPointer", KindName::Http, poll.items_pointer.is_some()),
        ("pagination", KindName::Http, poll.pagination.is_some()),
        ("cursor", KindName::Http, poll.cursor.is_some()),
    ];
    let required = match kind {
        KindName::Database => Some("query"),
        KindName::FileSystem => Some("files"),
        KindName::Soap => Some("soap"),
        KindName::Http => None,
    };
    check(
        "spec.incoming.poll",
        &poll.connection,
        kind,
        &blocks,
        required,
        origin,
        id,
    )
}

/// Problems of the outgoing block against its Connection.
pub(super) fn outgoing(
    outgoing: &Outgoing,
    connection: &ConnectionSpec,
    origin: &Origin,
    id: &ResourceId,
) -> Vec<Problem> {
    let Some(kind) = connection.kind_name() else {
        return Vec::new();
    };
    let blocks = [
        ("http", KindName::Http, outgoing.http.is_some()),
        ("database", KindName::Database, outgoing.database.is_some()),
        ("file", KindName::FileSystem, outgoing.file.is_some()),
        ("soap", KindName::Soap, outgoing.soap.is_some()),
    ];
    let required = match kind {
        KindName::Database => Some("database"),
        KindName::FileSystem => Some("file"),
        KindName::Soap => Some("soap"),
        KindName::Http => None,
    };
    check(
        "spec.outgoing",
        &outgoing.connection,
        kind,
        &blocks,
        required,
        origin,
        id,
    )
}

/// Problems of a proxy Route's Connection: calls go through HTTP only.
pub(super) fn proxy(
    outgoing: &Outgoing,
    connection: &ConnectionSpec,
    origin: &Origin,
    id: &ResourceId,
) -> Vec<Problem> {
    let kind = match connection.kind_name() {
        None | Some(KindName::Http) => return Vec::new(),
        Some(other) => other,
    };
    vec![Problem::new(
        origin,
        Some(id),
        "spec.outgoing.connection",
        format!(
            "a proxy Route forwards calls through an HTTP Connection, but Connection `{}` is {kind}",
            outgoing.connection
        ),
    )]
}

fn check(
    field: &str,
    name: &str,
    kind: KindName,
    blocks: &[(&str, KindName, bool)],
    required: Option<&str>,
    origin: &Origin,
    id: &ResourceId,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (block, block_kind, set) in blocks {
        if *set && *block_kind != kind {
            problems.push(Problem::new(
                origin,
                Some(id),
                format!("{field}.{block}"),
                format!("is for {block_kind} Connections, but Connection `{name}` is {kind}"),
            ));
        }
    }
    if let Some(required) = required
        && !blocks
            .iter()
            .any(|(block, _, set)| block == &required && *set)
    {
        problems.push(Problem::new(
            origin,
            Some(id),
            format!("{field}.{required}"),
            format!("is required: Connection `{name}` is {kind}"),
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1alpha1::{DatabaseConnection, HttpDelivery};

    fn db() -> ConnectionSpec {
        ConnectionSpec {
            http: None,
            database: Some(DatabaseConnection {
                url: "postgres://app@db/shop".into(),
                password: None,
                max_connections: None,
                connect_timeout_seconds: None,
            }),
            file_system: None,
            soap: None,
            circuit_breaker: None,
        }
    }

    #[test]
    fn an_http_block_on_a_database_connection_is_named() {
        let origin = Origin::default();
        let id = ResourceId {
            kind: "Route".into(),
            namespace: "default".into(),
            name: "r".into(),
        };
        let outgoing = Outgoing {
            connection: "erp".into(),
            http: Some(HttpDelivery::default()),
            database: None,
            file: None,
            soap: None,
            awaiting: None,
        };
        let problems = super::outgoing(&outgoing, &db(), &origin, &id);
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 2, "{text:?}");
        assert!(text[0].contains("spec.outgoing.http"), "{text:?}");
        assert!(text[0].contains("is database"), "{text:?}");
        assert!(text[1].contains("spec.outgoing.database"), "{text:?}");
    }
}
