//! Every example in docs/transformers.md and docs/entities.md runs: input → steps → output.
//!
//! An example whose steps name other resources (a lookup's Connection, a value map's
//! ValueTable) is preceded by a `yaml resources` block with those manifests and, for HTTP lookups, a `json served`
//! block: what the looked-up service answers (path and query → JSON body; anything else
//! is a 404). This test serves those answers from a real HTTP server on loopback and
//! points the HTTP Connections' `baseUrl` at it.

use std::collections::BTreeMap;

use serde_json::Value;
use switchyard_crds::catalog::Catalog;
use switchyard_crds::manifest::{self, AnyResource};
use switchyard_crds::v1alpha1::Step;
use switchyard_runner::connectors::registry::Connections;
use switchyard_runner::secrets::SecretSource;
use switchyard_runner::transform::Resources;
use switchyard_runner::transform::testing::{diff, run_steps_with};

fn blocks(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            if info.is_empty() {
                continue;
            }
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            out.push((info.to_owned(), body.join("\n")));
        }
    }
    out
}

#[tokio::test]
async fn every_documented_example_holds() {
    let checked = examples_of("transformers.md").await;
    assert!(checked >= 20, "only {checked} examples found");
}

#[tokio::test]
async fn every_example_of_the_entities_page_holds() {
    let checked = examples_of("entities.md").await;
    assert!(checked >= 1, "only {checked} examples found");
}

/// Runs the examples of `docs/<page>`; returns how many.
async fn examples_of(page: &str) -> usize {
    let file = format!("{}/../docs/{page}", env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let blocks = blocks(&doc);
    let mut checked = 0;
    for (index, window) in blocks.windows(3).enumerate() {
        let [(a, input), (b, steps), (c, output)] = window else {
            continue;
        };
        if (a.as_str(), b.as_str(), c.as_str()) != ("json input", "yaml steps", "json output") {
            continue;
        }
        let setting = Setting::before(&blocks[..index]).await;
        let input: Vec<Value> =
            serde_json::from_str(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let yaml: Value = serde_yaml::from_str(steps).unwrap_or_else(|e| panic!("{steps}: {e}"));
        let steps: Vec<Step> =
            serde_json::from_value(yaml).unwrap_or_else(|e| panic!("{steps}: {e}"));
        let expected: Value =
            serde_json::from_str(output).unwrap_or_else(|e| panic!("{output}: {e}"));
        let resources = Resources {
            namespace: "default",
            connections: Some(&setting.connections),
            value_tables: Some(&setting.catalog.value_tables),
        };
        let actual = run_steps_with(&steps, input, &resources)
            .await
            .unwrap_or_else(|e| panic!("{steps:?}: {e}"));
        let actual = Value::Array(actual);
        assert!(
            actual == expected,
            "example with steps {steps:?}:\n{}",
            diff(&expected, &actual)
        );
        checked += 1;
    }
    checked
}

/// The resources and served answers written right before an example.
struct Setting {
    connections: Connections,
    catalog: Catalog,
    _server: Option<tokio::task::JoinHandle<()>>,
}

impl Setting {
    async fn before(blocks: &[(String, String)]) -> Self {
        let mut manifests = None;
        let mut served = None;
        for (info, body) in blocks.iter().rev() {
            match info.as_str() {
                "yaml resources" if manifests.is_none() => manifests = Some(body.clone()),
                "json served" if served.is_none() => served = Some(body.clone()),
                _ => break,
            }
        }
        let (server, base_url) = match served {
            Some(served) => {
                let answers: BTreeMap<String, Value> =
                    serde_json::from_str(&served).unwrap_or_else(|e| panic!("{served}: {e}"));
                let (server, url) = serve(answers).await;
                (Some(server), Some(url))
            }
            None => (None, None),
        };
        let (mut resources, problems) =
            manifest::load_str(manifests.as_deref().unwrap_or(""), None);
        assert!(problems.is_empty(), "{problems:?}");
        for loaded in &mut resources {
            if let (AnyResource::Connection(connection), Some(url)) =
                (&mut loaded.resource, &base_url)
                && let Some(http) = &mut connection.spec.http
            {
                http.base_url = url.clone();
            }
        }
        let catalog = Catalog::build(resources);
        assert!(catalog.problems.is_empty(), "{:?}", catalog.problems);
        let mut problems = Vec::new();
        let connections = Connections::build(&catalog, &SecretSource::default(), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        Self {
            connections,
            catalog,
            _server: server,
        }
    }
}

impl Drop for Setting {
    fn drop(&mut self) {
        if let Some(server) = &self._server {
            server.abort();
        }
    }
}

/// An HTTP server on loopback answering GETs from `answers` (path and query → body).
async fn serve(answers: BTreeMap<String, Value>) -> (tokio::task::JoinHandle<()>, String) {
    use axum::http::{StatusCode, Uri};
    use axum::response::IntoResponse;

    let answers = std::sync::Arc::new(answers);
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let answers = answers.clone();
        async move {
            let key = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            match answers.get(key) {
                Some(body) => axum::Json(body.clone()).into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (server, format!("http://{addr}"))
}

/// `runner <subcommand> -f <dir>` on a directory holding `yaml` as `t.yaml`.
fn runner_on_file(subcommand: &str, yaml: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("t.yaml"), yaml).unwrap_or_else(|e| panic!("{e}"));
    std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args([subcommand, "-f"])
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn runner_test_fails_with_a_diff_on_a_wrong_expectation() {
    let output = runner_on_file(
        "test",
        "apiVersion: test.switchyard.dev/v1alpha1\nkind: TransformerTest\nmetadata: {name: t}\nspec:\n  steps: [{set: {path: a, value: 1}}]\n  cases:\n    - {name: wrong, input: [{}], expected: [{a: 2}]}\n",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(" - ") && stdout.contains(" + "), "{stdout}");
    assert!(
        stdout.contains(r#""a": 2"#) && stdout.contains(r#""a": 1"#),
        "{stdout}"
    );
}

/// The worked mappings of docs/entities.md and the worked flows of docs/b2b.md
/// (examples/b2b): every case passes, the negative ones by failing with the error they
/// name; the 997 cases fix the clock (`now`) and expect the rendered interchange exactly.
#[test]
fn the_b2b_example_mappings_pass_their_transformer_tests() {
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/b2b");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["test", "-f", examples])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("22 passed, 0 failed"), "{stdout}");
}

#[test]
fn a_case_whose_now_is_not_an_rfc_3339_time_is_named() {
    let output = runner_on_file(
        "test",
        "apiVersion: test.switchyard.dev/v1alpha1\nkind: TransformerTest\nmetadata: {name: t}\nspec:\n  steps: [{set: {path: a, value: 1}}]\n  cases:\n    - {name: c, now: 2026-12-03 09:30, input: [{}], expected: [{a: 1}]}\n",
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("test `t`")
            && text.contains(r#"`now`: "2026-12-03 09:30" is not an RFC 3339 time"#),
        "{text}"
    );
}

#[test]
fn an_unknown_entity_or_a_validate_step_without_schema_is_named() {
    let output = runner_on_file(
        "validate",
        "apiVersion: switchyard.dev/v1alpha1\nkind: Transformer\nmetadata: {name: t}\nspec:\n  steps: [{validate: {entity: orderz}}]\n---\napiVersion: switchyard.dev/v1alpha1\nkind: Transformer\nmetadata: {name: u}\nspec:\n  steps: [{validate: {}}]\n",
    );
    let stderr = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for expected in [
        "t.yaml (document 1): Transformer/default/t: field `spec.steps[0].validate.entity`: unknown variant `orderz`, expected one of `order`",
        "t.yaml (document 2): Transformer/default/u: field `spec.steps[0].validate`: set `schema` (a JSON Schema) or `entity`",
    ] {
        assert!(stderr.contains(expected), "{expected} not in {stderr}");
    }
}
