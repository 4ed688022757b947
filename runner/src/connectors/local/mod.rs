//! The local service of file system Connections: a directory of the runner's own file
//! system (a mounted volume), through OpenDAL. The file source and sink are shared by
//! every file service (`connectors/files/`).

use opendal::{Operator, services};
use switchyard_crds::v1alpha1::LocalFileSystem;

use crate::connectors::files::FileError;

/// The OpenDAL operator of `spec`'s directory.
pub(crate) fn operator(spec: &LocalFileSystem) -> Result<Operator, FileError> {
    Operator::new(services::Fs::default().root(&spec.root))
        .map(|b| b.finish())
        .map_err(|e| FileError::config("spec.fileSystem.local", e))
}
