//! Validation of the database, file system and SOAP blocks of Connections and Routes,
//! and of the TLS settings HTTP and SOAP share (the other HTTP rules live in `validate`).

use crate::v1alpha1::{
    ConnectionSpec, DatabaseDelivery, HttpTls, PemValue, PollFiles, PollQuery, RouteSpec,
    TableWrite,
};
use crate::validate::Checker;

/// Schemes of the database URLs the runner can open.
pub const DATABASE_SCHEMES: &[&str] = &["postgres", "postgresql", "mysql", "mariadb", "sqlite"];

pub(crate) fn connection(check: &mut Checker<'_>, spec: &ConnectionSpec) {
    if let Some(tls) = spec.http.as_ref().and_then(|h| h.tls.as_ref()) {
        tls_problems(check, "spec.http.tls", tls);
    }
    if let Some(tls) = spec.soap.as_ref().and_then(|s| s.tls.as_ref()) {
        tls_problems(check, "spec.soap.tls", tls);
    }
    if let Some(db) = &spec.database {
        match url::Url::parse(&db.url) {
            Err(error) => check.report(
                "spec.database.url",
                format!("`{}` is not a valid URL: {error}", db.url),
            ),
            Ok(url) if !DATABASE_SCHEMES.contains(&url.scheme()) => check.report(
                "spec.database.url",
                format!(
                    "scheme `{}` is not supported; use one of: {}",
                    url.scheme(),
                    DATABASE_SCHEMES.join(", ")
                ),
            ),
            Ok(url) if url.password().is_some() => check.report(
                "spec.database.url",
                "the URL carries a password; put it in a Secret and use `password`",
            ),
            Ok(_) => {}
        }
        if db.max_connections == Some(0) {
            check.report("spec.database.maxConnections", "must be at least 1");
        }
        if db.connect_timeout_seconds == Some(0) {
            check.report("spec.database.connectTimeoutSeconds", "must be at least 1");
        }
    }
    if let Some(fs) = &spec.file_system {
        if let Err(error) = fs.service() {
            check.report("spec.fileSystem", error.to_string());
        }
        if let Some(local) = &fs.local
            && !local.root.starts_with('/')
        {
            check.report("spec.fileSystem.local.root", "must be an absolute path");
        }
        if fs.sftp.as_ref().is_some_and(|s| s.port == Some(0)) {
            check.report("spec.fileSystem.sftp.port", "must be 1 to 65535");
        }
        if let Some(ftp) = &fs.ftp {
            if ftp.host.is_empty() {
                check.report("spec.fileSystem.ftp.host", "must not be empty");
            }
            if ftp.port == Some(0) {
                check.report("spec.fileSystem.ftp.port", "must be 1 to 65535");
            }
            if let Some(root) = &ftp.root
                && !root.starts_with('/')
            {
                check.report("spec.fileSystem.ftp.root", "must be an absolute path");
            }
            if let Some(ca) = &ftp.ca_certificate {
                if ftp.tls != Some(true) {
                    check.report(
                        "spec.fileSystem.ftp.caCertificate",
                        "is only used with `tls: true`",
                    );
                } else if !ca.contains("-----BEGIN CERTIFICATE-----") {
                    check.report(
                        "spec.fileSystem.ftp.caCertificate",
                        "must hold PEM certificates (-----BEGIN CERTIFICATE-----)",
                    );
                }
            }
        }
        if let Some(endpoint) = fs.s3.as_ref().and_then(|s| s.endpoint.as_deref()) {
            check.url("spec.fileSystem.s3.endpoint", endpoint);
        }
    }
    if let Some(soap) = &spec.soap {
        check.url("spec.soap.url", &soap.url);
        if soap.timeout_seconds == Some(0) {
            check.report("spec.soap.timeoutSeconds", "must be at least 1");
        }
        check.headers("spec.soap.headers", &soap.headers);
        for (index, block) in soap.header_blocks.iter().enumerate() {
            if !block.trim_start().starts_with('<') {
                check.report(
                    format!("spec.soap.headerBlocks[{index}]"),
                    "must be an XML element",
                );
            }
        }
    }
}

pub(crate) fn route(check: &mut Checker<'_>, spec: &RouteSpec) {
    if let Some(poll) = &spec.incoming.poll {
        if let Some(query) = &poll.query {
            query_problems(check, query);
        }
        if let Some(files) = &poll.files {
            files_problems(check, files);
        }
        if let Some(soap) = &poll.soap {
            soap_problems(check, "spec.incoming.poll.soap", soap);
        }
    }
    let outgoing = &spec.outgoing;
    if let Some(database) = &outgoing.database {
        database_problems(check, database);
    }
    if let Some(file) = &outgoing.file {
        check.template("spec.outgoing.file.path", &file.path);
    }
    if let Some(soap) = &outgoing.soap {
        soap_problems(check, "spec.outgoing.soap", soap);
    }
}

fn query_problems(check: &mut Checker<'_>, query: &PollQuery) {
    let field = "spec.incoming.poll.query";
    if query.sql.trim().is_empty() {
        check.report(format!("{field}.sql"), "must not be empty");
    }
    if let Some(cursor) = &query.cursor {
        if !query.sql.contains(":cursor") {
            check.report(
                format!("{field}.sql"),
                "must use `:cursor` (e.g. `WHERE updated_at >= :cursor`) when `cursor` is set",
            );
        }
        identifier(check, &format!("{field}.cursor.column"), &cursor.column);
        identifier(check, &format!("{field}.cursor.key"), &cursor.key);
    }
}

fn files_problems(check: &mut Checker<'_>, files: &PollFiles) {
    let field = "spec.incoming.poll.files";
    if let Some(delimiter) = &files.delimiter
        && (delimiter.len() != 1 || !delimiter.is_ascii())
    {
        check.report(format!("{field}.delimiter"), "must be one ASCII character");
    }
}

fn database_problems(check: &mut Checker<'_>, database: &DatabaseDelivery) {
    let field = "spec.outgoing.database";
    if database.batch_size == Some(0) {
        check.report(format!("{field}.batchSize"), "must be at least 1");
    }
    check.exactly_one(
        field,
        &[
            ("insert", database.insert.is_some()),
            ("upsert", database.upsert.is_some()),
            ("statement", database.statement.is_some()),
        ],
    );
    let table = |check: &mut Checker<'_>, sub: &str, write: &TableWrite| {
        for part in write.table.split('.') {
            identifier(check, &format!("{field}.{sub}.table"), part);
        }
        for (index, column) in write.columns.iter().enumerate() {
            identifier(check, &format!("{field}.{sub}.columns[{index}]"), column);
        }
        for (index, column) in write.key.iter().enumerate() {
            identifier(check, &format!("{field}.{sub}.key[{index}]"), column);
        }
    };
    if let Some(insert) = &database.insert {
        table(check, "insert", insert);
    }
    if let Some(upsert) = &database.upsert {
        table(check, "upsert", upsert);
        if upsert.key.is_empty() {
            check.report(
                format!("{field}.upsert.key"),
                "name the key columns (a primary key or unique index)",
            );
        }
    }
    if let Some(statement) = &database.statement
        && statement.trim().is_empty()
    {
        check.report(format!("{field}.statement"), "must not be empty");
    }
}

fn soap_problems(check: &mut Checker<'_>, field: &str, soap: &crate::v1alpha1::SoapCall) {
    if !is_identifier(&soap.operation) {
        check.report(
            format!("{field}.operation"),
            "must be an XML element name (letters, digits, `_`)",
        );
    }
    if let Some(body) = &soap.body {
        check.jq(&format!("{field}.body"), body);
    }
    if let Some(pointer) = &soap.items_pointer {
        check.pointer(&format!("{field}.itemsPointer"), pointer);
    }
}

/// Letters, digits and `_`, not starting with a digit: safe to quote as a SQL
/// identifier or use as an XML element name.
pub fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn identifier(check: &mut Checker<'_>, field: &str, name: &str) {
    if !is_identifier(name) {
        check.report(
            field,
            format!("`{name}` is not a plain identifier (letters, digits and `_`)"),
        );
    }
}

/// A client certificate needs its key and the other way round; trusting nothing is an
/// error; inline PEM must be certificates, never a key (keys come from Secrets).
fn tls_problems(check: &mut Checker<'_>, field: &str, tls: &HttpTls) {
    match (&tls.client_certificate, &tls.client_key) {
        (Some(_), None) => check.report(
            format!("{field}.clientKey"),
            "is required with `clientCertificate` (its private key, from a Secret)",
        ),
        (None, Some(_)) => check.report(
            format!("{field}.clientCertificate"),
            "is required with `clientKey` (the certificate of that key)",
        ),
        _ => {}
    }
    if tls.trust_built_in_roots == Some(false) && tls.ca_certificate.is_none() {
        check.report(
            format!("{field}.caCertificate"),
            "is required when `trustBuiltInRoots` is false (no server would be trusted)",
        );
    }
    for (name, value) in [
        ("caCertificate", &tls.ca_certificate),
        ("clientCertificate", &tls.client_certificate),
    ] {
        let Some(PemValue::Inline(text)) = value else {
            continue;
        };
        // Never quote the text: a key pasted here by mistake must not reach a message.
        if text.contains("PRIVATE KEY-----") {
            check.report(
                format!("{field}.{name}"),
                "holds a private key; write only certificates inline and put the key in a \
                 Secret (`clientKey`)",
            );
        } else if !text.contains("-----BEGIN CERTIFICATE-----") {
            check.report(
                format!("{field}.{name}"),
                "is not PEM: expected one or more `-----BEGIN CERTIFICATE-----` blocks",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::problem::{Origin, ResourceId};
    use crate::v1alpha1::ConnectionSpec;

    /// The fields of the problems `yaml` (a Connection spec) has.
    fn problem_fields(yaml: &str) -> Vec<String> {
        let spec: ConnectionSpec =
            serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"));
        let id = ResourceId {
            kind: "Connection".into(),
            namespace: "default".into(),
            name: "files".into(),
        };
        crate::validate::connection(&spec, &Origin::default(), &id)
            .into_iter()
            .map(|p| p.field)
            .collect()
    }

    #[test]
    fn ftp_connections_are_checked() {
        let password = "password: {secretKeyRef: {name: ftp, key: password}}";
        let good = format!(
            "fileSystem: {{ftp: {{host: ftp.example.com, username: u, {password}, root: /in, \
             tls: true, caCertificate: \"-----BEGIN CERTIFICATE-----\\n...\"}}}}"
        );
        assert!(problem_fields(&good).is_empty());
        let bad = format!(
            "fileSystem: {{ftp: {{host: '', port: 0, username: u, {password}, root: in, \
             caCertificate: x}}}}"
        );
        assert_eq!(
            problem_fields(&bad),
            [
                "spec.fileSystem.ftp.host",
                "spec.fileSystem.ftp.port",
                "spec.fileSystem.ftp.root",
                "spec.fileSystem.ftp.caCertificate",
            ]
        );
    }
}
