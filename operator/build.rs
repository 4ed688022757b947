//! Embeds every generated CRD (`crds/generated/*.yaml`) so the operator can apply the
//! CRDs it was built with at start-up (`--apply-crds`): a CRD added there is applied
//! without a change here.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read when the script runs, not when it was compiled: a build script compiled in
    // another checkout (a copied target directory) must still read this one.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let dir = Path::new(&manifest).join("../crds/generated");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut code = String::from(
        "/// Every generated CRD: `(file name, YAML)`.\npub const GENERATED: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(
            code,
            "    ({name:?}, include_str!({:?})),",
            file.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = std::env::var("OUT_DIR").map(|d| Path::new(&d).join("crds.rs"));
    match out {
        Ok(path) => {
            if let Err(error) = std::fs::write(&path, code) {
                panic!("cannot write {}: {error}", path.display());
            }
        }
        Err(error) => panic!("OUT_DIR is not set: {error}"),
    }
}
