use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

#[test]
fn files_define_variables_a_later_file_and_secret_files_winning() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let files = VarFiles {
        files: vec![
            write(
                dir.path(),
                "a.yaml",
                "HOST: a.test\nPORT: 8080\nDEBUG: true\n",
            ),
            write(dir.path(), "b.yaml", "HOST: b.test\nTOKEN: plain\n"),
        ],
        secret_files: vec![write(dir.path(), "s.yaml", "TOKEN: vars-unit-s3cret\n")],
    };
    let vars = files.external().unwrap_or_else(|p| panic!("{p:?}"));
    let value = |name: &str| vars.get(name).map(|v| (v.value.as_str(), v.secret));
    assert_eq!(value("HOST"), Some(("b.test", false)));
    assert_eq!(value("PORT"), Some(("8080", false)));
    assert_eq!(value("DEBUG"), Some(("true", false)));
    assert_eq!(value("TOKEN"), Some(("vars-unit-s3cret", true)));
    assert_eq!(redact::redact("x vars-unit-s3cret y"), "x *** y");
    // A Debug print never shows a secret variable.
    assert!(!format!("{:?}", vars.get("TOKEN")).contains("s3cret"));
}

#[test]
fn bad_files_name_the_file_and_never_a_value() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (name, text, expected) in [
        (
            "name.yaml",
            "9lives: x\n",
            "`9lives` is not a variable name",
        ),
        ("list.yaml", "A: [1, 2]\n", "variable `A` is not text"),
        (
            "syntax.yaml",
            "A: 'vars-unit-unclosed\n",
            "is not a YAML mapping",
        ),
        ("empty.yaml", "A: '  '\n", "a secret cannot be empty"),
    ] {
        let path = write(dir.path(), name, text);
        let files = VarFiles {
            secret_files: vec![path],
            ..VarFiles::default()
        };
        let problems = files.external().err().unwrap_or_default();
        assert_eq!(problems.len(), 1, "{name}: {problems:?}");
        let message = problems[0].to_string();
        assert!(
            message.starts_with(&dir.path().join(name).display().to_string()),
            "{message}"
        );
        assert!(message.contains(expected), "{message}");
        assert!(!message.contains("vars-unit-unclosed"), "{message}");
    }
    let missing = VarFiles {
        files: vec![dir.path().join("absent.yaml")],
        ..VarFiles::default()
    };
    let problems = missing.external().err().unwrap_or_default();
    assert!(
        problems[0].to_string().contains("absent.yaml: cannot read"),
        "{problems:?}"
    );
}
