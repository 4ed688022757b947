//! Every example in docs/transformers.md runs: input → steps → output.

use serde_json::Value;
use switchyard_crds::v1alpha1::Step;
use switchyard_runner::transform::testing::{diff, run_steps};

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
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/transformers.md"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let blocks = blocks(&doc);
    let mut checked = 0;
    for window in blocks.windows(3) {
        let [(a, input), (b, steps), (c, output)] = window else {
            continue;
        };
        if (a.as_str(), b.as_str(), c.as_str()) != ("json input", "yaml steps", "json output") {
            continue;
        }
        let input: Vec<Value> =
            serde_json::from_str(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let yaml: Value = serde_yaml::from_str(steps).unwrap_or_else(|e| panic!("{steps}: {e}"));
        let steps: Vec<Step> =
            serde_json::from_value(yaml).unwrap_or_else(|e| panic!("{steps}: {e}"));
        let expected: Value =
            serde_json::from_str(output).unwrap_or_else(|e| panic!("{output}: {e}"));
        let actual = run_steps(&steps, input)
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
    assert!(checked >= 20, "only {checked} examples found");
}

#[test]
fn runner_test_fails_with_a_diff_on_a_wrong_expectation() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("t.yaml"),
        "apiVersion: test.switchyard.dev/v1alpha1\nkind: TransformerTest\nmetadata: {name: t}\nspec:\n  steps: [{set: {path: a, value: 1}}]\n  cases:\n    - {name: wrong, input: [{}], expected: [{a: 2}]}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .args(["test", "-f"])
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains(" - ") && stdout.contains(" + "), "{stdout}");
    assert!(
        stdout.contains(r#""a": 2"#) && stdout.contains(r#""a": 1"#),
        "{stdout}"
    );
}
