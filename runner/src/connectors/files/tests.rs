use std::sync::Arc;

use serde_json::json;
use switchyard_crds::v1alpha1::{
    FileDelivery, FileFormat, FileSplit, FileSystemConnection, LocalFileSystem, OutputFormat,
    PollFiles,
};

use super::*;
use crate::connectors::Sink;
use crate::secrets::SecretSource;

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
            xml: None,
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
async fn a_poll_reads_with_the_codecs_and_its_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let inbox = dir.path().join("in");
    std::fs::create_dir_all(&inbox).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(inbox.join("a.csv"), "id;name\n1;Ann\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(inbox.join("b.jsonl"), "{\"a\":1}\n{oops\n").unwrap_or_else(|e| panic!("{e}"));
    let poll = |glob: &str, format, split| PollFiles {
        path: "in".into(),
        glob: Some(glob.into()),
        format,
        split,
        delimiter: Some(";".into()),
        xml: None,
        after_read: None,
        processed_path: None,
        failed_path: None,
        max_file_bytes: None,
    };
    let csv = FileSource::new(
        store(dir.path()),
        &poll("*.csv", FileFormat::Csv, Some(FileSplit::File)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let batches = csv.read_all().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(batches[0].items, [json!([{"id": "1", "name": "Ann"}])]);
    let lines = FileSource::new(
        store(dir.path()),
        &poll("*.jsonl", FileFormat::JsonLines, None),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let batches = lines.read_all().await.unwrap_or_else(|e| panic!("{e}"));
    let error = batches[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("in/b.jsonl") && error.contains("JSON Lines at line 2"),
        "{error}"
    );
}

#[tokio::test]
async fn a_text_file_is_one_item_with_the_text_in_body_even_split_by_record() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let inbox = dir.path().join("drop");
    std::fs::create_dir_all(&inbox).unwrap_or_else(|e| panic!("{e}"));
    let interchange = "UNB+UNOC:3+A+B+261202:0930+1'\nUNH+1+ORDERS:D:96A:UN'\n";
    std::fs::write(inbox.join("a.edi"), interchange).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(inbox.join("b.edi"), b"UNB+UNOC:3+\xe9'").unwrap_or_else(|e| panic!("{e}"));
    let source = FileSource::new(
        store(dir.path()),
        &PollFiles {
            path: "drop".into(),
            glob: Some("*.edi".into()),
            format: FileFormat::Text,
            split: Some(FileSplit::Record),
            delimiter: None,
            xml: None,
            after_read: None,
            processed_path: None,
            failed_path: None,
            max_file_bytes: None,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let batches = source.read_all().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(batches[0].items, [json!({"body": interchange})]);
    let error = batches[1].error.clone().unwrap_or_default();
    assert!(
        error.contains("drop/b.edi") && error.contains("not UTF-8 text (byte 11)"),
        "{error}"
    );
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
        FileError::Item(crate::formats::FormatError::Encode {
            format: "CSV",
            message: "not an object".into(),
        }),
        FileError::Parse {
            path: "a.csv".into(),
            source: crate::formats::FormatError::Parse {
                format: "CSV",
                line: 2,
                column: 1,
                message: "short".into(),
            },
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
