//! Admission matches validation: every broken manifest of the table below is refused both
//! by the validation the runner and the operator run (`Catalog::build`) and by the
//! generated CRDs (structural schema and CEL rules, as the API server checks them), and
//! the valid ones — every example, and the base each broken case is made from — pass
//! both. What the schemas cannot express is listed in docs/operator.md.

mod admission;

use std::path::Path;

use serde_json::Value;
use switchyard_crds::catalog::Catalog;
use switchyard_crds::manifest::{documents, load_str};

use admission::Crds;

/// Connections the Route cases refer to, one of each kind.
const CONNECTIONS: &str = "
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: api}
spec: {http: {baseUrl: 'https://api.example.com/'}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: db}
spec: {database: {url: 'postgres://app@db.example.com/shop'}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: files}
spec: {fileSystem: {local: {root: /data}}}
---
apiVersion: switchyard.dev/v1alpha1
kind: Connection
metadata: {name: erp}
spec: {soap: {url: 'https://erp.example.com/soap'}}
";

const ROUTE: &str =
    "apiVersion: switchyard.dev/v1alpha1\nkind: Route\nmetadata: {name: r}\nspec:\n";
const CONNECTION: &str =
    "apiVersion: switchyard.dev/v1alpha1\nkind: Connection\nmetadata: {name: c}\nspec:\n";
const TRANSFORMER: &str =
    "apiVersion: switchyard.dev/v1alpha1\nkind: Transformer\nmetadata: {name: t}\nspec:\n";
const KEY: &str = "{secretKeyRef: {name: s, key: k}}";

/// `(what is wrong, the manifest)`: each a one-line change of a valid one.
fn broken() -> Vec<(&'static str, String)> {
    let webhook = "  incoming: {webhook: {}}\n";
    let to_api = "  outgoing: {connection: api}\n";
    let route = |body: &str| format!("{ROUTE}{body}");
    let connection = |body: &str| format!("{CONNECTION}{body}");
    let poll = |connection: &str, rest: &str| {
        format!(
            "{ROUTE}  incoming: {{poll: {{connection: {connection}, schedule: '* * * * *'{rest}}}}}\n{to_api}"
        )
    };
    let db_out = |rest: &str| {
        format!("{ROUTE}{webhook}  outgoing: {{connection: db, database: {{{rest}}}}}\n")
    };
    let step = |step: &str| format!("{TRANSFORMER}  steps: [{step}]\n");
    let ca = "caCertificate: \"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\"";
    vec![
        // Route: enums, minimums, patterns.
        (
            "an HTTP method typo",
            route(&format!(
                "{webhook}  outgoing: {{connection: api, http: {{method: PSOT}}}}\n"
            )),
        ),
        (
            "maxConcurrency 0",
            route(&format!(
                "{webhook}{to_api}  processing: {{maxConcurrency: 0}}\n"
            )),
        ),
        (
            "maxAttempts 0",
            route(&format!(
                "{webhook}{to_api}  processing: {{retry: {{maxAttempts: 0}}}}\n"
            )),
        ),
        (
            "a processing mode typo",
            route(&format!(
                "{webhook}{to_api}  processing: {{mode: nightly}}\n"
            )),
        ),
        (
            "an items pointer without `/`",
            poll("api", ", itemsPointer: data"),
        ),
        (
            "a page size of 0",
            poll(
                "api",
                ", pagination: {offset: {offsetParam: o, limitParam: l, limit: 0}}",
            ),
        ),
        (
            "maxPages 0",
            poll("api", ", pagination: {pageNumber: {param: p}, maxPages: 0}"),
        ),
        (
            "a blank cursor parameter",
            poll(
                "api",
                ", cursor: {param: ' ', field: a, key: id, initial: '0'}",
            ),
        ),
        (
            "a file format typo",
            poll("files", ", files: {path: in, format: txt}"),
        ),
        (
            "an afterRead typo",
            poll(
                "files",
                ", files: {path: in, format: csv, afterRead: archive}",
            ),
        ),
        (
            "a split typo",
            poll("files", ", files: {path: in, format: csv, split: line}"),
        ),
        (
            "a two-character delimiter",
            poll("files", ", files: {path: in, format: csv, delimiter: ';;'}"),
        ),
        ("a blank SQL query", poll("db", ", query: {sql: '  '}")),
        (
            "a cursor column that is no identifier",
            poll(
                "db",
                ", query: {sql: 'SELECT * WHERE u >= :cursor', cursor: {column: updated-at, key: id, initial: '0'}}",
            ),
        ),
        (
            "a SOAP operation that is no XML name",
            poll("erp", ", soap: {operation: Get-Orders, namespace: 'urn:x'}"),
        ),
        (
            "an output format typo",
            route(&format!(
                "{webhook}  outgoing: {{connection: files, file: {{path: out.json, format: yaml}}}}\n"
            )),
        ),
        (
            "a table name that is no identifier",
            db_out("insert: {table: 'orders; DROP'}"),
        ),
        (
            "batchSize 0",
            db_out("insert: {table: orders}, batchSize: 0"),
        ),
        (
            "a Route name with a dot",
            format!(
                "apiVersion: switchyard.dev/v1alpha1\nkind: Route\nmetadata: {{name: orders.v2}}\nspec:\n{webhook}{to_api}"
            ),
        ),
        // Route: cross-field rules (CEL).
        (
            "no incoming side",
            route(&format!("  incoming: {{}}\n{to_api}")),
        ),
        (
            "a webhook and a poll",
            route(&format!(
                "  incoming: {{webhook: {{}}, poll: {{connection: api, schedule: '* * * * *'}}}}\n{to_api}"
            )),
        ),
        (
            "webhook token and HMAC",
            route(&format!(
                "  incoming: {{webhook: {{auth: {{token: {KEY}, hmac: {{secret: {KEY}}}}}}}}}\n{to_api}"
            )),
        ),
        (
            "cxml options on a JSON webhook",
            route(&format!(
                "  incoming: {{webhook: {{cxml: {{sharedSecret: {KEY}}}}}}}\n{to_api}"
            )),
        ),
        (
            "maxItems on a cXML webhook",
            route(&format!(
                "  incoming: {{webhook: {{format: cxml, maxItems: 2}}}}\n{to_api}"
            )),
        ),
        (
            "a webhook and a proxy",
            route(&format!(
                "  incoming: {{webhook: {{}}, proxy: {{}}}}\n{to_api}"
            )),
        ),
        (
            "proxy timeoutSeconds 0",
            route(&format!(
                "  incoming: {{proxy: {{timeoutSeconds: 0}}}}\n{to_api}"
            )),
        ),
        (
            "proxy recordBodyBytes above 1 MiB",
            route(&format!(
                "  incoming: {{proxy: {{recordBodyBytes: 2000000}}}}\n{to_api}"
            )),
        ),
        (
            "proxy token and HMAC",
            route(&format!(
                "  incoming: {{proxy: {{auth: {{token: {KEY}, hmac: {{secret: {KEY}}}}}}}}}\n{to_api}"
            )),
        ),
        (
            "scheduled mode without a schedule",
            route(&format!(
                "{webhook}{to_api}  processing: {{mode: scheduled}}\n"
            )),
        ),
        (
            "initial back-off above the maximum",
            route(&format!(
                "{webhook}{to_api}  processing: {{retry: {{initialBackoffMs: 10, maxBackoffMs: 5}}}}\n"
            )),
        ),
        (
            "two pagination styles",
            poll(
                "api",
                ", pagination: {pageNumber: {param: p}, nextLink: {pointer: /next}}",
            ),
        ),
        (
            "a query cursor the SQL does not use",
            poll(
                "db",
                ", query: {sql: 'SELECT 1', cursor: {column: u, key: id, initial: '0'}}",
            ),
        ),
        (
            "a database poll with HTTP pagination",
            poll(
                "db",
                ", query: {sql: 'SELECT 1'}, pagination: {pageNumber: {param: p}}",
            ),
        ),
        (
            "insert and statement",
            db_out("insert: {table: orders}, statement: 'CALL x()'"),
        ),
        ("an upsert without key", db_out("upsert: {table: orders}")),
        (
            "two outgoing blocks",
            route(&format!(
                "{webhook}  outgoing: {{connection: db, http: {{}}, database: {{statement: 'CALL x()'}}}}\n"
            )),
        ),
        // Connection.
        ("no kind", connection("  {}\n")),
        (
            "two kinds",
            connection(
                "  {http: {baseUrl: 'https://a.example'}, database: {url: 'postgres://a@b/c'}}\n",
            ),
        ),
        (
            "two file systems",
            connection(
                "  {fileSystem: {local: {root: /a}, s3: {bucket: b, accessKeyId: {secretKeyRef: {name: s, key: a}}, secretAccessKey: {secretKeyRef: {name: s, key: b}}}}}\n",
            ),
        ),
        (
            "an ftp:// base URL",
            connection("  {http: {baseUrl: 'ftp://a.example'}}\n"),
        ),
        (
            "a timeout of 0",
            connection("  {http: {baseUrl: 'https://a.example', timeoutSeconds: 0}}\n"),
        ),
        (
            "a concurrency limit of 0",
            connection("  {http: {baseUrl: 'https://a.example', limits: {maxConcurrent: 0}}}\n"),
        ),
        (
            "basic and bearer",
            connection(&format!(
                "  {{http: {{baseUrl: 'https://a.example', auth: {{basic: {{username: u, password: {KEY}}}, bearer: {{token: {KEY}}}}}}}}}\n"
            )),
        ),
        (
            "an API key in a header and the query",
            connection(&format!(
                "  {{http: {{baseUrl: 'https://a.example', auth: {{apiKey: {{header: X-Key, query: key, value: {KEY}}}}}}}}}\n"
            )),
        ),
        (
            "a client certificate without its key",
            connection(&format!(
                "  {{http: {{baseUrl: 'https://a.example', tls: {{clientCertificate: {KEY}}}}}}}\n"
            )),
        ),
        (
            "trusting no CA",
            connection(
                "  {http: {baseUrl: 'https://a.example', tls: {trustBuiltInRoots: false}}}\n",
            ),
        ),
        (
            "a redis:// database",
            connection("  {database: {url: 'redis://cache/0'}}\n"),
        ),
        (
            "a pool of 0 connections",
            connection("  {database: {url: 'postgres://a@b/c', maxConnections: 0}}\n"),
        ),
        (
            "a connect time-out of 0",
            connection("  {database: {url: 'postgres://a@b/c', connectTimeoutSeconds: 0}}\n"),
        ),
        (
            "a relative local root",
            connection("  {fileSystem: {local: {root: data}}}\n"),
        ),
        (
            "a known-hosts strategy typo",
            connection(&format!(
                "  {{fileSystem: {{sftp: {{host: h, username: u, privateKey: {KEY}, knownHostsStrategy: trust}}}}}}\n"
            )),
        ),
        (
            "SFTP port 0",
            connection(&format!(
                "  {{fileSystem: {{sftp: {{host: h, port: 0, username: u, privateKey: {KEY}}}}}}}\n"
            )),
        ),
        (
            "an empty FTP host",
            connection(&format!(
                "  {{fileSystem: {{ftp: {{host: '', username: u, password: {KEY}}}}}}}\n"
            )),
        ),
        (
            "an FTP CA without TLS",
            connection(&format!(
                "  {{fileSystem: {{ftp: {{host: h, username: u, password: {KEY}, {ca}}}}}}}\n"
            )),
        ),
        (
            "SOAP version 1.3",
            connection("  {soap: {url: 'https://a.example', version: '1.3'}}\n"),
        ),
        (
            "a password type typo",
            connection(&format!(
                "  {{soap: {{url: 'https://a.example', wsSecurity: {{username: u, password: {KEY}, passwordType: hash}}}}}}\n"
            )),
        ),
        (
            "a SOAP header block that is no XML",
            connection("  {soap: {url: 'https://a.example', headerBlocks: [Session]}}\n"),
        ),
        (
            "a SOAP time-out of 0",
            connection("  {soap: {url: 'https://a.example', timeoutSeconds: 0}}\n"),
        ),
        // Transformer steps (inside lists: enums, patterns and oneOf only).
        (
            "two keys in one step",
            step("{jq: '.', set: {path: a, value: 1}}"),
        ),
        (
            "a conversion type typo",
            step("{convert: {fields: [{path: a, to: float}]}}"),
        ),
        (
            "an onInvalid typo",
            step("{validate: {schema: {}, onInvalid: ignore}}"),
        ),
        (
            "a lookup of two kinds",
            step(
                "{lookup: {connection: api, http: {path: /a}, database: {sql: 'SELECT 1'}, into: a}}",
            ),
        ),
        (
            "a lookup cache of 0",
            step("{lookup: {connection: api, http: {path: /a}, into: a, cacheSize: 0}}"),
        ),
        (
            "a CSV quote of two characters",
            step("{parse: {format: csv, path: a, csv: {quote: \"''\"}}}"),
        ),
    ]
}

/// The problems validation finds in `manifest` (with the base Connections beside it).
fn validation_problems(manifest: &str) -> Vec<String> {
    let text = format!("{CONNECTIONS}---\n{manifest}");
    let (resources, mut problems) = load_str(&text, None);
    problems.extend(Catalog::build(resources).problems);
    problems.iter().map(ToString::to_string).collect()
}

fn document(manifest: &str) -> Value {
    let (mut read, error) = documents(manifest);
    assert!(error.is_none(), "{error:?}: {manifest}");
    read.pop()
        .map(|(_, value)| value)
        .unwrap_or_else(|| panic!("no document: {manifest}"))
}

#[test]
fn the_cluster_refuses_what_validation_refuses() {
    let crds = Crds::load();
    let mut failures = Vec::new();
    for (what, manifest) in broken() {
        let validation = validation_problems(&manifest);
        let admission = crds.refusals(&document(&manifest));
        if validation.is_empty() || admission.is_empty() {
            failures.push(format!(
                "{what}: validation {validation:?}, admission {admission:?}\n{manifest}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_valid_manifests_pass_both() {
    let crds = Crds::load();
    let mut failures = Vec::new();
    for (_, document) in documents(CONNECTIONS).0 {
        failures.extend(crds.refusals(&document));
    }
    // The base every broken case changes one line of.
    let valid = [
        format!(
            "{ROUTE}  incoming: {{webhook: {{auth: {{token: {KEY}}}}}}}\n  outgoing: {{connection: api, http: {{method: PUT}}}}\n  processing: {{mode: scheduled, schedule: '0 * * * *', maxConcurrency: 1, retry: {{maxAttempts: 1, initialBackoffMs: 5, maxBackoffMs: 5}}}}\n"
        ),
        format!(
            "{ROUTE}  incoming: {{poll: {{connection: db, schedule: '* * * * *', query: {{sql: 'SELECT * WHERE u >= :cursor', cursor: {{column: u, key: id, initial: '0'}}}}}}}}\n  outgoing: {{connection: db, database: {{upsert: {{table: sales.orders, key: [id]}}, batchSize: 1}}}}\n"
        ),
        format!(
            "{CONNECTION}  {{http: {{baseUrl: 'HTTPS://a.example', timeoutSeconds: 1, auth: {{apiKey: {{header: X-Key, value: {KEY}}}}}, tls: {{clientCertificate: {KEY}, clientKey: {KEY}}}}}}}\n"
        ),
        format!(
            "{ROUTE}  incoming: {{proxy: {{auth: {{token: {KEY}}}, request: [{{jq: '.'}}], recordBodyBytes: 1048576, timeoutSeconds: 3600}}}}\n  outgoing: {{connection: api}}\n  processing: {{suspend: true}}\n"
        ),
        format!(
            "{TRANSFORMER}  steps: [{{lookup: {{connection: api, http: {{path: /a}}, into: a, cacheSize: 1}}}}, {{parse: {{format: csv, path: a, csv: {{delimiter: ';'}}}}}}]\n"
        ),
    ];
    for manifest in &valid {
        let problems = validation_problems(manifest);
        assert!(problems.is_empty(), "{problems:?}\n{manifest}");
        failures.extend(crds.refusals(&document(manifest)));
    }
    // Every example in the repository.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let files =
        switchyard_crds::manifest::manifest_files(&[examples]).unwrap_or_else(|p| panic!("{p}"));
    let mut checked = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
        for (_, document) in documents(&text).0 {
            if document["apiVersion"] != "switchyard.dev/v1alpha1" {
                continue;
            }
            checked += 1;
            failures.extend(
                crds.refusals(&document)
                    .into_iter()
                    .map(|r| format!("{}: {r}", file.display())),
            );
        }
    }
    assert!(checked > 20, "only {checked} example documents");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cel_rules_stay_outside_lists() {
    let mut inside = Vec::new();
    for (kind, crd) in Crds::load().all() {
        admission::rules_inside_lists(
            &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
            kind,
            false,
            &mut inside,
        );
    }
    assert!(inside.is_empty(), "CEL rules inside lists: {inside:?}");
}

#[test]
fn every_crd_is_listed_described_and_stores_v1alpha1() {
    for (kind, crd) in Crds::load().all() {
        assert_eq!(
            crd["spec"]["names"]["categories"],
            serde_json::json!(["switchyard"]),
            "{kind}"
        );
        let description = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"]
            .as_str()
            .unwrap_or_default();
        assert!(
            description.starts_with(&format!("A Switchyard {kind}")),
            "{kind}: {description}"
        );
        let versions = crd["spec"]["versions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let stored: Vec<&Value> = versions.iter().filter(|v| v["storage"] == true).collect();
        assert_eq!(stored.len(), 1, "{kind}: exactly one storage version");
        assert_eq!(stored[0]["name"], "v1alpha1", "{kind}");
        assert_eq!(stored[0]["served"], true, "{kind}");
    }
}
