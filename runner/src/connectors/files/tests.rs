use std::sync::Arc;

use serde_json::json;
use switchyard_crds::v1alpha1::{
    FileDelivery, FileFormat, FileSystemConnection, LocalFileSystem, OutputFormat, PollFiles,
};

use super::*;
use crate::connectors::Sink;
use crate::secrets::SecretSource;

#[test]
fn csv_records_become_objects_and_errors_say_where() {
    let items = parse(
        b"id,name\n1,Ann\n2,Bob\n",
        Format::Csv { delimiter: b',' },
        true,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        items,
        [
            json!({"id": "1", "name": "Ann"}),
            json!({"id": "2", "name": "Bob"})
        ]
    );
    let error = parse(
        b"id,name\n1,Ann\n2\n",
        Format::Csv { delimiter: b',' },
        true,
    )
    .err()
    .unwrap_or_default();
    assert!(error.contains("line: 3"), "{error}");
    let lines = parse(b"{\"a\":1}\n\n{\"a\":2}\n", Format::JsonLines, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lines.len(), 2);
    assert!(
        parse(b"{\"a\":1}\n{oops\n", Format::JsonLines, true)
            .err()
            .unwrap_or_default()
            .contains("line 2")
    );
    let whole = parse(b"[1,2]", Format::Json, false).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(whole, [json!([1, 2])]);
}

fn store(root: &std::path::Path) -> Arc<FileStore> {
    let spec = FileSystemConnection {
        local: Some(LocalFileSystem {
            root: root.to_string_lossy().into_owned(),
        }),
        sftp: None,
        ftp: None,
        s3: None,
    };
    Arc::new(
        FileStore::new(&spec, "default", &SecretSource::default())
            .unwrap_or_else(|e| panic!("{e}")),
    )
}

#[tokio::test]
async fn files_move_only_when_their_batch_is_committed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(inbox.join("a.csv"), "id\n1\n2\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(inbox.join("b.csv"), "id,x\n1\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(inbox.join("skip.txt"), "x").unwrap_or_else(|e| panic!("{e}"));
    let source = FileSource::new(
        store(dir.path()),
        &PollFiles {
            path: "inbox".into(),
            glob: Some("*.csv".into()),
            format: FileFormat::Csv,
            split: None,
            delimiter: None,
            after_read: None,
            processed_path: None,
            failed_path: None,
            max_file_bytes: None,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let batches = source.read_all().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(batches.len(), 2);
    // Nothing moves before the hooks run.
    assert!(inbox.join("a.csv").exists() && inbox.join("b.csv").exists());
    let mut batches = batches.into_iter();
    let good = batches.next().unwrap_or_else(|| panic!("batch"));
    assert_eq!(good.items, [json!({"id": "1"}), json!({"id": "2"})]);
    let bad = batches.next().unwrap_or_else(|| panic!("batch"));
    assert!(
        bad.error
            .as_deref()
            .unwrap_or_default()
            .contains("inbox/b.csv"),
        "{:?}",
        bad.error
    );
    if let Some(hook) = good.after_commit {
        hook.committed().await.unwrap_or_else(|e| panic!("{e}"));
    }
    if let Some(hook) = bad.after_commit {
        hook.rejected("bad").await.unwrap_or_else(|e| panic!("{e}"));
    }
    assert!(inbox.join("processed/a.csv").exists());
    assert!(inbox.join("failed/b.csv").exists());
    assert!(inbox.join("skip.txt").exists());
}

#[tokio::test]
async fn the_sink_writes_atomically_and_keeps_items_inside_the_root() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let sink = FileSink::new(
        store(dir.path()),
        &FileDelivery {
            path: "out/order-{{ .id }}.csv".into(),
            format: Some(OutputFormat::Csv),
            batch: None,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    sink.send(&json!({"id": "../x", "total": 3}), "k")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let written = std::fs::read_to_string(dir.path().join("out/order-..%2Fx.csv"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written, "id,total\n../x,3\n");
    let left: Vec<_> = std::fs::read_dir(dir.path().join("out"))
        .unwrap_or_else(|e| panic!("{e}"))
        .collect();
    assert_eq!(left.len(), 1, "no temporary file is left behind");
}

#[test]
fn permanent_file_errors_are_not_retried() {
    let permanent = [
        FileError::Item("not an object".into()),
        FileError::Parse {
            path: "a.csv".into(),
            format: "CSV",
            message: "line 2".into(),
        },
        FileError::Io {
            operation: "write",
            path: "a".into(),
            source: Box::new(opendal::Error::new(
                opendal::ErrorKind::PermissionDenied,
                "denied",
            )),
        },
        FileError::Io {
            operation: "write",
            path: "a".into(),
            source: Box::new(opendal::Error::new(opendal::ErrorKind::NotFound, "gone")),
        },
    ];
    for error in &permanent {
        assert!(!is_retriable(error), "{error} must be permanent");
    }
}
