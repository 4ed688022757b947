//! The file system kind in the registry: a [`FileStore`] per Connection (local, SFTP,
//! FTP/FTPS or S3), a file poll ([`FileSource`]) and file writes ([`FileSink`]). A file
//! system is not probed: checking it would mean listing or writing.

use std::sync::Arc;

use async_trait::async_trait;
use switchyard_crds::catalog::CompiledRoute;
use switchyard_crds::problem::FieldProblem;
use switchyard_crds::v1alpha1::{FileSystemConnection, KindName, Poll};

use super::{FileError, FileSink, FileSource, FileStore};
use crate::connectors::registry::{Connector, required};
use crate::connectors::{Probe, Sink, Source};
use crate::secrets::SecretSource;

/// One file system Connection.
pub struct FileConnector(Arc<FileStore>);

impl FileConnector {
    pub fn new(
        spec: &FileSystemConnection,
        namespace: &str,
        secrets: &SecretSource,
    ) -> Result<Self, FieldProblem> {
        Ok(Self(Arc::new(FileStore::new(spec, namespace, secrets)?)))
    }
}

#[async_trait]
impl Connector for FileConnector {
    fn kind(&self) -> KindName {
        KindName::FileSystem
    }

    fn source(
        &self,
        _route: &CompiledRoute,
        poll: &Poll,
        _secrets: &SecretSource,
    ) -> Result<Box<dyn Source>, FieldProblem> {
        let files = required(poll.files.as_ref(), "spec.incoming.poll.files", self.kind())?;
        Ok(Box::new(FileSource::new(self.0.clone(), files)?))
    }

    fn sink(
        &self,
        route: &CompiledRoute,
        _secrets: &SecretSource,
    ) -> Result<Box<dyn Sink>, FieldProblem> {
        let file = required(
            route.spec.outgoing.file.as_ref(),
            "spec.outgoing.file",
            self.kind(),
        )?;
        Ok(Box::new(FileSink::new(self.0.clone(), file)?))
    }

    async fn probe(&self) -> Option<Probe> {
        None
    }
}

impl From<FileError> for FieldProblem {
    fn from(error: FileError) -> Self {
        match error {
            FileError::Config { field, message } => FieldProblem::new(field, message),
            other => FieldProblem::whole(other),
        }
    }
}
