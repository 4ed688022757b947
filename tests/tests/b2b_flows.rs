//! The worked B2B flows of docs/b2b.md, run as written: the manifests of
//! examples/b2b/edifact-orders-sftp.yaml and x12-850-webhook.yaml with only their
//! addresses pointed at servers on loopback (sshd serving the SFTP drop, HTTP servers
//! playing the ERP and the partner). The interchanges sent are the samples of the files'
//! `TransformerTest`s and what must arrive is their `expected`, so the docs, the tests
//! `runner test` runs and what the runner delivers cannot drift apart.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use serde_yaml::Value as Yaml;
use switchyard_e2e::servers::sftp::SftpServer;
use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, eventually, manifest_dir, runner_bin,
};

const WAIT: Duration = Duration::from_secs(30);

/// The YAML documents of `examples/b2b/<file>`.
fn example(file: &str) -> Vec<Yaml> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/b2b")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_yaml::Deserializer::from_str(&text)
        .map(|document| {
            serde::Deserialize::deserialize(document).unwrap_or_else(|e| panic!("{file}: {e}"))
        })
        .collect()
}

/// The document of `kind` named `name`.
fn document<'a>(documents: &'a mut [Yaml], kind: &str, name: &str) -> &'a mut Yaml {
    documents
        .iter_mut()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} {name} in the example"))
}

/// Sets `doc[path…] = value`.
fn set(doc: &mut Yaml, path: &[&str], value: impl Into<Yaml>) {
    let (last, parents) = path.split_last().expect("a path");
    let mut at = doc;
    for key in parents {
        at = at
            .get_mut(*key)
            .unwrap_or_else(|| panic!("no {key} in {path:?}"));
    }
    at.as_mapping_mut()
        .unwrap_or_else(|| panic!("{path:?}: not a mapping"))
        .insert(Yaml::from(*last), value.into());
}

/// Case `case` of the TransformerTest `test`: (its input body, its expected items).
fn case(documents: &[Yaml], test: &str, case: &str) -> (String, Value) {
    let test = documents
        .iter()
        .find(|d| {
            d["kind"].as_str() == Some("TransformerTest")
                && d["metadata"]["name"].as_str() == Some(test)
        })
        .unwrap_or_else(|| panic!("no TransformerTest {test}"));
    let cases = test["spec"]["cases"].as_sequence().expect("cases");
    let found = cases
        .iter()
        .find(|c| c["name"].as_str() == Some(case))
        .unwrap_or_else(|| panic!("no case `{case}`"));
    let body = found["input"][0]["body"].as_str().expect("an input body");
    let expected = serde_json::to_value(&found["expected"]).expect("expected as JSON");
    (body.to_owned(), expected)
}

/// The adapted manifests, in a directory the runner reads (test documents included:
/// the runner skips them).
fn write(documents: &[Yaml]) -> tempfile::TempDir {
    let text: Vec<String> = documents
        .iter()
        .map(|d| serde_yaml::to_string(d).expect("YAML"))
        .collect();
    manifest_dir(&[("flow.yaml", &text.join("---\n"))])
}

/// A secrets directory: (secret, key, value) as `default/<secret>/<key>` files.
fn secrets(entries: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("secrets dir");
    for (secret, key, value) in entries {
        let path = dir.path().join("default").join(secret).join(key);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("secret dir");
        std::fs::write(&path, value).expect("secret");
    }
    dir
}

/// Failed tasks of `route`, once there are `n`.
async fn failed(runner: &Runner, route: &str, n: usize) -> Vec<Value> {
    let path = format!("/api/v1/namespaces/default/tasks?route={route}&state=failed");
    eventually(WAIT, &format!("{n} failed task(s) of {route}"), || async {
        let tasks = runner.get_json(&path).await;
        let tasks = tasks["tasks"].as_array().cloned().unwrap_or_default();
        (tasks.len() == n).then_some(tasks)
    })
    .await
}

/// Polls `route` now; its status and answer.
async fn trigger(runner: &Runner, route: &str) -> (u16, String) {
    let url = runner.url(&format!(
        "/api/v1/namespaces/default/routes/{route}/trigger"
    ));
    let response = runner.client.post(url).send().await.expect("trigger");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn an_edifact_orders_file_on_the_sftp_drop_reaches_the_erp_as_the_canonical_order() {
    let Some(sftp) = SftpServer::start().await else {
        return;
    };
    let erp = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let mut documents = example("edifact-orders-sftp.yaml");
    let (interchange, expected) = case(
        &documents,
        "edifact-orders-to-canonical",
        "an ORDERS interchange becomes a canonical order",
    );
    let (broken, _) = case(
        &documents,
        "edifact-orders-to-canonical",
        "an interchange whose UNT count is wrong fails naming the segment",
    );
    let connection = document(&mut documents, "Connection", "buyer-co-sftp");
    let sftp_spec = ["spec", "fileSystem", "sftp"];
    for (field, value) in [
        ("host", Yaml::from("127.0.0.1")),
        ("port", Yaml::from(u64::from(sftp.port))),
        ("username", Yaml::from(sftp.user.as_str())),
        ("root", Yaml::from(sftp.root.display().to_string())),
        // The throw-away host key is not in any known_hosts.
        ("knownHostsStrategy", Yaml::from("accept")),
    ] {
        set(connection, &[&sftp_spec[..], &[field]].concat(), value);
    }
    let api = format!("{}/api", erp.base_url());
    set(
        document(&mut documents, "Connection", "erp-orders"),
        &["spec", "http", "baseUrl"],
        api.as_str(),
    );
    let manifests = write(&documents);
    let secrets = secrets(&[
        ("buyer-co-sftp", "id_ed25519", &sftp.private_key),
        ("erp-api", "token", "erp-token"),
    ]);
    let drop = sftp.root.join("orders");
    std::fs::create_dir_all(&drop).expect("the drop folder");
    std::fs::write(drop.join("PO-77812.edi"), &interchange).expect("drop the ORDERS file");
    let options = RunnerOptions {
        secrets_dir: Some(secrets.path().to_owned()),
        ..RunnerOptions::default()
    };
    let mut runner = Runner::start(runner_bin!(), manifests.path(), &options).await;
    // The example polls every five minutes; poll now.
    let (status, answer) = trigger(&runner, "buyer-co-orders").await;
    assert_eq!(status, 202, "{answer}\nthe runner's log:\n{}", runner.log());

    let order = eventually(WAIT, "the canonical order at the ERP", || {
        let received = erp.received();
        async move { received.first().cloned() }
    })
    .await;
    assert_eq!(
        (order.method.as_str(), order.path.as_str()),
        ("POST", "/api/sales-orders")
    );
    assert_eq!(
        order.headers.get("authorization").map(String::as_str),
        Some("Bearer erp-token")
    );
    assert_eq!(
        json!([order.body]),
        expected,
        "the docs' expected canonical order"
    );
    eventually(WAIT, "the file moved to orders/processed/", || {
        let moved =
            drop.join("processed/PO-77812.edi").exists() && !drop.join("PO-77812.edi").exists();
        async move { moved.then_some(()) }
    })
    .await;

    // A broken interchange: no order; the poll's answer and one failed task name the
    // file and the segment; the file goes to orders/failed/.
    std::fs::write(drop.join("PO-77813.edi"), &broken).expect("drop the broken file");
    let (status, answer) = trigger(&runner, "buyer-co-orders").await;
    assert_eq!(status, 502, "{answer}");
    assert!(
        answer.contains("orders/PO-77813.edi")
            && answer.contains(
                "edifact-orders-to-canonical step 1 (parse) failed: EDIFACT UNT (segment 8)"
            ),
        "{answer}"
    );
    let tasks = failed(&runner, "buyer-co-orders", 1).await;
    let error = tasks[0]["lastError"].as_str().unwrap_or_default();
    assert!(error.contains("EDIFACT UNT (segment 8)"), "{error}");
    let id = tasks[0]["id"].as_str().expect("task id");
    let task = runner
        .get_json(&format!("/api/v1/namespaces/default/tasks/{id}"))
        .await;
    assert_eq!(task["item"]["file"], "orders/PO-77813.edi", "{task}");
    assert_eq!(
        task["item"]["movedTo"], "orders/failed/PO-77813.edi",
        "{task}"
    );
    assert!(drop.join("failed/PO-77813.edi").exists());
    assert_eq!(
        erp.count(),
        1,
        "nothing of the broken interchange reached the ERP"
    );
    eventually(WAIT, "the order's task done", || async {
        (runner.counts("buyer-co-orders").await["done"] == json!(1)).then_some(())
    })
    .await;
    runner.terminate();
}

/// The segments of an X12 interchange with the date and time it was written blanked
/// (ISA09, ISA10, GS04, GS05).
fn undated(interchange: &str) -> Vec<String> {
    interchange
        .split('~')
        .filter(|s| !s.trim().is_empty())
        .map(|segment| {
            let mut elements: Vec<&str> = segment.trim().split('*').collect();
            let dated: &[usize] = match elements[0] {
                "ISA" => &[9, 10],
                "GS" => &[4, 5],
                _ => &[],
            };
            for &i in dated {
                if let Some(element) = elements.get_mut(i) {
                    *element = "";
                }
            }
            elements.join("*")
        })
        .collect()
}

/// `interchange` with control number `n` (ISA13, GS06, GE02, IEA02).
fn renumbered(interchange: &str, n: u32) -> String {
    let (nine, plain) = (format!("{n:09}"), n.to_string());
    let segments: Vec<String> = interchange
        .split('~')
        .map(|segment| {
            let mut elements: Vec<&str> = segment.split('*').collect();
            let (at, number) = match elements[0] {
                "ISA" => (13, &nine),
                "IEA" => (2, &nine),
                "GS" => (6, &plain),
                "GE" => (2, &plain),
                _ => (0, &plain),
            };
            if at > 0
                && let Some(element) = elements.get_mut(at)
            {
                *element = number.as_str();
            }
            elements.join("*")
        })
        .collect();
    segments.join("~")
}

/// The `interchange` of a 997 posted to the partner, as the docs' expected one.
fn interchange_of(body: &Value) -> &str {
    body["interchange"]
        .as_str()
        .unwrap_or_else(|| panic!("no interchange in {body}"))
}

#[tokio::test]
async fn an_x12_850_posted_to_the_webhook_reaches_the_erp_and_a_997_goes_back() {
    let erp = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let partner = Receiver::start(ReceiverMode::Accept {
        delay: Duration::ZERO,
    })
    .await;
    let mut documents = example("x12-850-webhook.yaml");
    let (purchase_order, expected_order) = case(
        &documents,
        "x12-850-to-canonical",
        "an 850 interchange becomes a canonical order",
    );
    let (_, accepted) = case(
        &documents,
        "x12-850-997",
        "an accepted 850 gets a 997 with its envelope",
    );
    let api = format!("{}/api", erp.base_url());
    set(
        document(&mut documents, "Connection", "erp-purchase-orders"),
        &["spec", "http", "baseUrl"],
        api.as_str(),
    );
    set(
        document(&mut documents, "Connection", "buyer-co-edi"),
        &["spec", "http", "baseUrl"],
        partner.base_url().as_str(),
    );
    let manifests = write(&documents);
    let secrets = secrets(&[
        ("buyer-co-webhook", "token", "partner-posts-with-this"),
        ("erp-api", "token", "erp-token"),
        ("buyer-co-edi", "token", "partner-token"),
    ]);
    let options = RunnerOptions {
        secrets_dir: Some(secrets.path().to_owned()),
        ..RunnerOptions::default()
    };
    let mut runner = Runner::start(runner_bin!(), manifests.path(), &options).await;
    let post = |interchange: String| {
        let request = runner
            .client
            .post(runner.url("/webhooks/default/buyer-co-850"))
            .bearer_auth("partner-posts-with-this")
            .json(&json!({"body": interchange}));
        async move {
            let response = request.send().await.expect("POST the 850");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, answer) = post(purchase_order).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        answer["taskIds"].as_array().map(Vec::len),
        Some(2),
        "{answer}"
    );

    let order = eventually(WAIT, "the canonical order at the ERP", || {
        let received = erp.received();
        async move { received.first().cloned() }
    })
    .await;
    assert_eq!(order.path, "/api/sales-orders");
    assert_eq!(
        order.headers.get("authorization").map(String::as_str),
        Some("Bearer erp-token")
    );
    assert_eq!(
        json!([order.body]),
        expected_order,
        "the docs' expected canonical order"
    );
    let ack = eventually(WAIT, "the 997 at the partner", || {
        let received = partner.received();
        async move { received.first().cloned() }
    })
    .await;
    assert_eq!(
        (ack.method.as_str(), ack.path.as_str()),
        ("POST", "/acknowledgements")
    );
    assert_eq!(
        ack.headers.get("authorization").map(String::as_str),
        Some("Bearer partner-token")
    );
    let sent = interchange_of(&ack.body);
    // ISA…IEA with AK1/AK2/AK5/AK9 accepted, as the docs show it, but for its date.
    assert_eq!(
        undated(sent),
        undated(interchange_of(&accepted[0])),
        "{sent}"
    );
    assert_eq!(
        sent.find('~'),
        Some(105),
        "ISA at its width: 106 with its terminator"
    );

    // Broken 850s are queued too: the partner gets a rejecting 997 with the next
    // control number each, and the ERP's task fails naming the segment.
    let broken = [
        (
            "an 850 whose SE count is wrong gets a rejecting 997",
            "X12 SE (segment 6): segment count `9`",
        ),
        (
            "an 850 without its mandatory BEG gets a 997 naming the segment",
            "X12 message 0001 (850): segment 2 (BEG): a mandatory segment is missing here",
        ),
    ];
    for (n, (name, error)) in broken.into_iter().enumerate() {
        let (interchange, rejected) = case(&documents, "x12-850-997", name);
        let (status, answer) = post(interchange).await;
        assert_eq!(status, 202, "{answer}");
        let ack = eventually(
            WAIT,
            &format!("997 number {} at the partner", n + 2),
            || {
                let received = partner.received();
                async move { received.get(n + 1).cloned() }
            },
        )
        .await;
        let sent = interchange_of(&ack.body);
        let docs = renumbered(interchange_of(&rejected[0]), n as u32 + 2);
        assert_eq!(undated(sent), undated(&docs), "{sent}");
        let tasks = failed(&runner, "buyer-co-850", n + 1).await;
        assert!(
            tasks
                .iter()
                .any(|t| t["lastError"].as_str().is_some_and(|e| e.contains(error))),
            "no failed task names `{error}`: {tasks:?}"
        );
    }
    assert_eq!(erp.count(), 1, "nothing of the broken 850s reached the ERP");
    assert_eq!(partner.count(), 3);
    runner.terminate();
}

/// The fenced blocks of a docs/b2b.md section: (info string, body).
fn blocks(section: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let body: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
            out.push((info.to_owned(), body.join("\n")));
        }
    }
    out
}

/// The section of docs/b2b.md under `heading`, up to the next heading of its level.
fn section(heading: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/b2b.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let (_, rest) = doc
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no `{heading}` in docs/b2b.md"));
    let end = ["\n### ", "\n## "]
        .iter()
        .filter_map(|h| rest.find(h))
        .min()
        .unwrap_or(rest.len());
    rest[..end].to_owned()
}

#[test]
fn the_worked_flows_of_the_docs_show_the_example_files_and_the_tested_997() {
    for (heading, file) in [
        (
            "### Worked flow: EDIFACT ORDERS from an SFTP drop → canonical order → ERP",
            "edifact-orders-sftp.yaml",
        ),
        (
            "### Worked flow: X12 850 over an HTTP webhook with a 997 back",
            "x12-850-webhook.yaml",
        ),
    ] {
        let text = section(heading);
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/b2b")
            .join(file);
        let example = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let yaml: Vec<String> = blocks(&text)
            .into_iter()
            .filter(|(info, _)| info == "yaml")
            .map(|(_, body)| body)
            .collect();
        assert!(!yaml.is_empty(), "{heading}: no yaml block");
        for manifest in yaml.iter().flat_map(|b| b.split("\n---\n")) {
            assert!(
                example.contains(manifest),
                "{heading}: this block is not in examples/b2b/{file}:\n{manifest}"
            );
        }
    }
    let text = section("### Worked flow: X12 850 over an HTTP webhook with a 997 back");
    let shown: Vec<String> = blocks(&text)
        .into_iter()
        .filter(|(info, _)| info == "text")
        .map(|(_, body)| body.lines().collect())
        .collect();
    let (_, accepted) = case(
        &example("x12-850-webhook.yaml"),
        "x12-850-997",
        "an accepted 850 gets a 997 with its envelope",
    );
    assert_eq!(
        shown,
        [interchange_of(&accepted[0])],
        "the 997 the docs show"
    );
}
