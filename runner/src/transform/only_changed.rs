//! The `onlyChanged` step: pass an item only when it is new or its content hash under its
//! key differs from the stored one. The new hash is written once the item is safe
//! (queued, or delivered), so a failure never marks a change as seen.

use async_trait::async_trait;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::storage_steps::key;
use super::{AsyncTransform, Context, DeferredWrite, JqProgram, TransformError};

pub struct OnlyChanged {
    pub storage: String,
    pub key: JqProgram,
    /// `None`: the whole item.
    pub hash: Option<JqProgram>,
}

#[async_trait]
impl AsyncTransform for OnlyChanged {
    fn kind(&self) -> &'static str {
        "onlyChanged"
    }

    async fn apply(
        &self,
        item: Value,
        context: &Context,
        out: &mut Vec<Value>,
    ) -> Result<(), TransformError> {
        let key = key(&self.key, &item)?;
        let hashed = match &self.hash {
            Some(program) => program.first(item.clone())?.unwrap_or(Value::Null),
            None => item.clone(),
        };
        // serde_json keeps object keys sorted (no preserve_order), so equal content
        // gives equal text.
        let hash = Value::String(hex::encode(Sha256::digest(hashed.to_string().as_bytes())));
        let scope = context.scope(&self.storage);
        let stored = match context.pending(&scope, &key) {
            Some(pending) => Some(pending),
            None => context.storage.get(&scope, &key).await?.map(|e| e.value),
        };
        if stored.as_ref() == Some(&hash) {
            return Ok(());
        }
        context.defer(DeferredWrite {
            scope,
            key,
            value: hash,
            ttl: None,
        });
        out.push(item);
        Ok(())
    }
}
