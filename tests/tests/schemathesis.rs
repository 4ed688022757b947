//! The REST API keeps its contract: schemathesis (from PyPI, installed by this test into
//! `.tools/`, git-ignored) generates requests from a loopback runner's `/openapi.json`,
//! with an admin token, for a bounded number of examples per operation, and fails on any
//! 5xx answer or any answer that does not match the documented schema. Without Python's
//! venv/pip (or PyPI) the test prints SKIPPED locally and fails under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use switchyard_e2e::{
    Receiver, ReceiverMode, Runner, RunnerOptions, in_ci, manifest_dir, runner_bin, scenario,
};

const SCHEMATHESIS: &str = "4.32.5";
const API_TOKEN: &str = "schemathesis-admin-token";
/// Examples per operation and phase: keeps the run under about two minutes.
const MAX_EXAMPLES: u32 = 10;

fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// schemathesis in its own virtual environment under `.tools/` (made once).
fn schemathesis() -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools")
        .join(format!("schemathesis-{SCHEMATHESIS}"));
    let bin = venv.join("bin/schemathesis");
    if !bin.exists() {
        eprintln!("Installing schemathesis {SCHEMATHESIS} from PyPI into {venv:?} (once)");
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("schemathesis=={SCHEMATHESIS}")))?;
    }
    Ok(bin)
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let bin = match tokio::task::spawn_blocking(schemathesis).await {
        Ok(Ok(bin)) => bin,
        Ok(Err(why)) => {
            assert!(!in_ci(), "the contract test needs schemathesis: {why}");
            println!("SKIPPED: {why}");
            return;
        }
        Err(error) => panic!("{error}"),
    };
    let receiver = Receiver::start(ReceiverMode::Accept {
        delay: std::time::Duration::ZERO,
    })
    .await;
    let dir = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route(&receiver.base_url(), 4),
    )]);
    let options = RunnerOptions {
        env: vec![("SWITCHYARD_API_TOKEN".into(), API_TOKEN.into())],
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    // Some tasks, so that task operations find something too.
    let (status, answer) = runner
        .post_json(
            "/webhooks/default/items",
            &serde_json::json!([{"id": 1}, {"id": 2}]),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    let report = tempfile::tempdir().expect("report dir");
    let output = tokio::process::Command::new(&bin)
        .arg("run")
        .arg(runner.url("/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {API_TOKEN}")])
        .args(["--max-examples", &MAX_EXAMPLES.to_string()])
        .args(["--checks", "not_a_server_error,response_schema_conformance"])
        // One worker: with several, hypothesis's lambda-source cache races
        // ("AST constructor recursion depth mismatch") and the run errors out.
        .args(["--workers", "1", "--no-color"])
        .arg("--report-dir")
        .arg(report.path())
        .current_dir(report.path())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{}\nrunner log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        runner.log()
    );
    // A run that tested nothing would also succeed: the summary's
    // "Test cases: N generated, N passed" must count more than zero cases.
    let generated = stdout
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        // The first "<number> generated": warnings above the summary also say
        // "generated" ("mostly rejected generated data").
        .find_map(|pair| {
            (pair[1].trim_end_matches(',') == "generated")
                .then(|| pair[0].parse::<u64>().ok())
                .flatten()
        });
    assert!(
        generated.is_some_and(|cases| cases > 0) && stdout.contains("passed"),
        "no test case generated: {stdout}"
    );
}
