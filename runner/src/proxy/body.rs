//! Bodies through the proxy: read whole within a bound (for steps and signatures), and
//! run through a route's steps as JSON.

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::engine::Engine;
use crate::transform::{Context, Pipeline, StepFailed, apply_deferred};

/// Why a body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum ReadError<E: std::error::Error + 'static> {
    #[error("the body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the body broke off: {0}")]
    Broken(#[source] E),
}

/// Reads a body stream whole, refusing more than `limit` bytes.
pub async fn read_limited<S, E>(mut stream: S, limit: usize) -> Result<Bytes, ReadError<E>>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + 'static,
{
    let mut out = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(ReadError::Broken)?;
        if out.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge { limit });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// Why steps could not turn a body into another.
#[derive(Debug, thiserror::Error)]
pub enum StepsError {
    #[error("the body is not JSON, so the steps cannot run: {0}")]
    NotJson(String),
    #[error(transparent)]
    Failed(#[from] StepFailed),
    #[error("the steps left nothing to send")]
    Filtered,
}

impl StepsError {
    /// Whether the same body may pass later (a lookup service that is down).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Failed(failed) if failed.is_transient())
    }
}

/// Runs `pipeline` on a JSON body; returns the new body and the summary for the task
/// log. One result is the body; several are sent as an array.
pub async fn transform(
    engine: &Engine,
    namespace: &str,
    pipeline: &Pipeline,
    body: &[u8],
) -> Result<(Bytes, String), StepsError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| StepsError::NotJson(e.to_string()))?;
    let (mut outputs, summary) = if pipeline.needs_context() {
        let context = Context::new(namespace.to_owned(), engine.storage().clone());
        let ran = pipeline.run_batch(vec![value], &context).await?;
        // The writes of storage steps: the body has gone through, nothing waits for a
        // queue commit here.
        if let Err(error) = apply_deferred(engine.storage().as_ref(), context.take_deferred()).await
        {
            tracing::error!(%namespace, error = %error, "Cannot save what the proxy steps wrote to storage");
        }
        ran
    } else {
        pipeline.run(value)?
    };
    let value = match outputs.len() {
        0 => return Err(StepsError::Filtered),
        1 => outputs.remove(0),
        _ => Value::Array(outputs),
    };
    // Serialising a JSON value cannot fail.
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    Ok((Bytes::from(bytes), summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_is_read_whole_within_its_bound() {
        let chunks = || {
            futures::stream::iter(vec![
                Ok::<_, std::io::Error>(Bytes::from_static(b"abc")),
                Ok(Bytes::from_static(b"def")),
            ])
        };
        let read = read_limited(chunks(), 6).await.map(|b| b.to_vec());
        assert_eq!(read.ok(), Some(b"abcdef".to_vec()));
        assert!(matches!(
            read_limited(chunks(), 5).await,
            Err(ReadError::TooLarge { limit: 5 })
        ));
        let broken = futures::stream::iter(vec![Err(std::io::Error::other("reset"))]);
        assert!(matches!(
            read_limited(broken, 5).await,
            Err(ReadError::Broken(_))
        ));
    }
}
