//! The cXML examples of docs/b2b.md run: each `json input` → `yaml steps` → `json output`
//! of its `## cXML` section (the section is the end of the page, owned by the cXML
//! work; the EDI examples have their own test).

use serde_json::Value;
use switchyard_crds::v1alpha1::Step;
use switchyard_runner::transform::Resources;
use switchyard_runner::transform::testing::{diff, run_steps_with};

/// The fenced blocks of `text`: (info string, body).
fn blocks(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```")
            && !info.is_empty()
        {
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            out.push((info.to_owned(), body.join("\n")));
        }
    }
    out
}

#[tokio::test]
async fn the_cxml_examples_of_the_b2b_page_hold() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/b2b.md");
    let doc = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let section = doc
        .split_once("\n## cXML\n")
        .map(|(_, section)| section)
        .unwrap_or_else(|| panic!("{file} has no `## cXML` section"));
    let mut checked = 0;
    for window in blocks(section).windows(3) {
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
        let resources = Resources {
            namespace: "default",
            ..Default::default()
        };
        let actual = run_steps_with(&steps, input, &resources)
            .await
            .map(Value::Array)
            .unwrap_or_else(|e| panic!("{steps:?}: {e}"));
        assert!(actual == expected, "{}", diff(&expected, &actual));
        assert!(
            !actual.to_string().contains("welcome-punchout"),
            "the SharedSecret reached the item: {actual}"
        );
        checked += 1;
    }
    assert!(checked >= 1, "no cXML example found in {file}");
}
