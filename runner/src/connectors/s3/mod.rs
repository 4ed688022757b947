//! The S3 service of file system Connections: a bucket of an S3-compatible object
//! store, through OpenDAL. The file source and sink are shared by every file service
//! (`connectors/files/`).

use opendal::{Operator, services};
use switchyard_crds::v1alpha1::S3FileSystem;

use crate::connectors::files::FileError;
use crate::secrets::SecretSource;

/// The region when the Connection sets none (AWS's default).
const DEFAULT_REGION: &str = "us-east-1";

/// The OpenDAL operator of `spec`'s bucket.
pub(crate) fn operator(
    spec: &S3FileSystem,
    namespace: &str,
    secrets: &SecretSource,
) -> Result<Operator, FileError> {
    let secret = |field: &str, value| {
        secrets
            .resolve(namespace, value)
            .map_err(|e| FileError::config(field, e))
    };
    let access = secret("spec.fileSystem.s3.accessKeyId", &spec.access_key_id)?;
    let secret_key = secret(
        "spec.fileSystem.s3.secretAccessKey",
        &spec.secret_access_key,
    )?;
    let mut builder = services::S3::default()
        .bucket(&spec.bucket)
        .region(spec.region.as_deref().unwrap_or(DEFAULT_REGION))
        .access_key_id(access.expose())
        .secret_access_key(secret_key.expose())
        .disable_config_load();
    if let Some(endpoint) = &spec.endpoint {
        builder = builder.endpoint(endpoint);
    }
    if let Some(root) = &spec.root {
        builder = builder.root(root);
    }
    Operator::new(builder)
        .map(|b| b.finish())
        .map_err(|e| FileError::config("spec.fileSystem.s3", e))
}
