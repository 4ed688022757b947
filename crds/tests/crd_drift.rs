//! Fails when the checked-in CRD YAML (under `crds/generated/` and in the operator chart)
//! differs from what the `v1alpha1` types generate; the failure prints the command to run.

use std::process::Command;

#[test]
fn checked_in_crds_match_the_types() {
    let output = Command::new(env!("CARGO_BIN_EXE_crdgen"))
        .arg("--check")
        .output()
        .expect("crdgen runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
