//! The SFTP service of file system Connections, through OpenDAL and the `ssh` client
//! (key authentication). The file source and sink are shared by every file service
//! (`connectors/files/`).

use std::io::Write;

use opendal::{Operator, services};
use switchyard_crds::v1alpha1::SftpFileSystem;

use crate::connectors::files::FileError;
use crate::secrets::SecretSource;

/// SFTP's port when the Connection sets none.
const DEFAULT_PORT: u16 = 22;

/// The OpenDAL operator of `spec`'s server, and the private key written to a private
/// file for the `ssh` client (removed when it is dropped: keep it with the operator).
pub(crate) fn operator(
    spec: &SftpFileSystem,
    namespace: &str,
    secrets: &SecretSource,
) -> Result<(Operator, tempfile::NamedTempFile), FileError> {
    let field = "spec.fileSystem.sftp.privateKey";
    let key = secrets
        .resolve(namespace, &spec.private_key)
        .map_err(|e| FileError::config(field, e))?;
    let mut file = tempfile::Builder::new()
        .prefix("switchyard-sftp-key-")
        .tempfile()
        .map_err(|e| FileError::config(field, e))?;
    let mut text = key.expose().to_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    file.write_all(text.as_bytes())
        .map_err(|e| FileError::config(field, e))?;
    let key_path = file.path().to_string_lossy().into_owned();
    let endpoint = format!("ssh://{}:{}", spec.host, spec.port.unwrap_or(DEFAULT_PORT));
    let mut builder = services::Sftp::default()
        .endpoint(&endpoint)
        .user(&spec.username)
        .key(&key_path)
        .known_hosts_strategy(spec.known_hosts_strategy.unwrap_or_default().as_str());
    if let Some(root) = &spec.root {
        builder = builder.root(root);
    }
    let op = Operator::new(builder)
        .map(|b| b.finish())
        .map_err(|e| FileError::config("spec.fileSystem.sftp", e))?;
    Ok((op, file))
}
