//! The operator chart as `helm template` renders it (helm from `scripts/helm.sh`, the
//! npm package the chart checks use). `None` after printing why when helm cannot be
//! had; under `CI=true` that fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn helm() -> Option<PathBuf> {
    let output = Command::new(root().join("scripts/helm.sh")).output();
    match output {
        Ok(output) if output.status.success() => Some(PathBuf::from(
            String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        )),
        Ok(output) => crate::servers::unavailable(format!(
            "no helm: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(error) => crate::servers::unavailable(format!("cannot run scripts/helm.sh: {error}")),
    }
}

/// Every object `helm template` renders for `charts/<chart>` with `--set` `values`.
pub fn render(chart: &str, values: &[&str]) -> Option<Vec<Value>> {
    let helm = helm()?;
    let mut command = Command::new(helm);
    command.current_dir(root()).args([
        "template",
        "switchyard",
        &format!("charts/{chart}"),
        "-n",
        "switchyard-system",
    ]);
    for value in values {
        command.args(["--set", value]);
    }
    let output = command.output().expect("helm runs");
    assert!(
        output.status.success(),
        "helm template {chart} {values:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    Some(
        serde_yaml::Deserializer::from_str(&text)
            .filter_map(|document| serde::Deserialize::deserialize(document).ok())
            .filter(|object: &Value| !object.is_null())
            .collect(),
    )
}
