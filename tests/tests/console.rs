//! The web console end to end in headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from npm; both installed here, once): load it, filter failed tasks,
//! open one, retry it, see it done, as an editor; as a viewer on a phone-sized screen,
//! the buttons are disabled. Screenshots land in `<target>/tmp/console-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use switchyard_e2e::{
    ApiTokens, Receiver, ReceiverMode, Runner, RunnerOptions, eventually, in_ci, manifest_dir,
    runner_bin, scenario,
};

const CHROMIUM: &str = "/usr/bin/chromium";
const PLAYWRIGHT: &str = "playwright-core@1.65.1";

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

/// Chromium from Debian (installed if missing and apt-get can) and playwright-core from
/// npm into `.tools/` (git-ignored).
fn browser_tools() -> Result<PathBuf, String> {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("Installing Debian's chromium (once)");
        run(Command::new("apt-get").arg("update").arg("-qq"))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "-qq", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    let tools = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools")
        .join(PLAYWRIGHT.replace('@', "-"));
    let module = tools.join("node_modules/playwright-core");
    if !module.join("package.json").exists() {
        eprintln!("Installing {PLAYWRIGHT} from npm into {tools:?} (once)");
        std::fs::create_dir_all(&tools).map_err(|e| format!("cannot create {tools:?}: {e}"))?;
        run(Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&tools)
            .arg(PLAYWRIGHT))?;
    }
    Ok(module)
}

#[tokio::test]
async fn the_console_filters_failed_tasks_and_retries_one_until_done() {
    let playwright = match tokio::task::spawn_blocking(browser_tools).await {
        Ok(Ok(module)) => module,
        Ok(Err(why)) => {
            assert!(
                !in_ci(),
                "the console test needs Chromium and playwright-core: {why}"
            );
            println!("SKIPPED: {why}");
            return;
        }
        Err(error) => panic!("{error}"),
    };
    let receiver = Receiver::start(ReceiverMode::Answer {
        status: 422,
        body: "unknown customer".into(),
        headers: vec![],
    })
    .await;
    let dir = manifest_dir(&[(
        "route.yaml",
        &scenario::webhook_route(&receiver.base_url(), 2),
    )]);
    let tokens = ApiTokens::write(&[
        ("editor-user", "editor", "console-editor-token"),
        ("viewer-user", "viewer", "console-viewer-token"),
    ]);
    let options = RunnerOptions {
        env: vec![tokens.env()],
        ..Default::default()
    };
    let runner = Runner::start(runner_bin!(), dir.path(), &options).await;
    let (status, answer) = runner
        .post_json(
            "/webhooks/default/items",
            &json!([{"id": 1, "payload": "order A-1001"}, {"id": 2, "payload": "order B-2002"}]),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    eventually(Duration::from_secs(20), "both tasks to fail", || async {
        let counts = runner
            .client
            .get(runner.url("/api/v1/namespaces/default/routes"))
            .bearer_auth("console-viewer-token")
            .send()
            .await
            .ok()?
            .json::<serde_json::Value>()
            .await
            .ok()?;
        (counts[0]["tasks"]["failed"] == 2).then_some(())
    })
    .await;
    receiver.set_mode(ReceiverMode::Accept {
        delay: Duration::ZERO,
    });

    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);
    std::fs::create_dir_all(&screenshots).expect("screenshot dir");
    let profile = tempfile::tempdir().expect("profile dir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("console/e2e.cjs");
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .env("PLAYWRIGHT_CORE", &playwright)
        .env("CHROMIUM", CHROMIUM)
        .env("BASE_URL", runner.url(""))
        .env("EDITOR_TOKEN", "console-editor-token")
        .env("VIEWER_TOKEN", "console-viewer-token")
        .env("ORDER", "B-2002")
        .env("SCREENSHOTS", &screenshots)
        .env("USER_DATA_DIR", profile.path())
        .stdin(Stdio::null())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output)
        .await
        .expect("the browser run took over 2 minutes")
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("console e2e: ok"),
        "the console e2e failed:\n{stdout}\n{stderr}\nrunner log:\n{}",
        runner.log()
    );
    for shot in [
        "1-routes",
        "1b-connections",
        "2-failed-tasks",
        "4-task-done",
        "7-phone-task-viewer",
    ] {
        assert!(
            screenshots.join(format!("{shot}.png")).exists(),
            "no screenshot {shot}"
        );
    }
    println!("Screenshots in {}", screenshots.display());
}
