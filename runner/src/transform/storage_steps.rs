//! The storage steps: `storageGet`, `storagePut` (now, or once the item is safe) and
//! `storageDelete`. Keys and values are jq expressions on the item.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use switchyard_crds::path::FieldPath;
use switchyard_crds::v1alpha1::WriteAt;

use super::{AsyncTransform, Context, DeferredWrite, JqProgram, TransformError, key_text, paths};

/// Evaluates a key program: its first output as text; no output or `null` is an error.
pub(crate) fn key(program: &JqProgram, item: &Value) -> Result<String, TransformError> {
    match program.first(item.clone())? {
        None | Some(Value::Null) => Err(TransformError::Jq(
            "the key expression gave no value for this item".into(),
        )),
        Some(value) => Ok(key_text(&value)),
    }
}

pub struct StorageGet {
    pub storage: String,
    pub key: JqProgram,
    pub into: FieldPath,
    pub default: Option<Value>,
}

#[async_trait]
impl AsyncTransform for StorageGet {
    fn kind(&self) -> &'static str {
        "storageGet"
    }

    async fn apply(
        &self,
        mut item: Value,
        context: &Context,
        out: &mut Vec<Value>,
    ) -> Result<(), TransformError> {
        let key = key(&self.key, &item)?;
        let scope = context.scope(&self.storage);
        let value = match context.pending(&scope, &key) {
            Some(pending) => Some(pending),
            None => context.storage.get(&scope, &key).await?.map(|e| e.value),
        };
        if let Some(value) = value.or_else(|| self.default.clone()) {
            paths::set(&mut item, &self.into, value)?;
        }
        out.push(item);
        Ok(())
    }
}

pub struct StoragePut {
    pub storage: String,
    pub key: JqProgram,
    /// `None`: the whole item.
    pub value: Option<JqProgram>,
    pub ttl: Option<Duration>,
    pub at: WriteAt,
}

#[async_trait]
impl AsyncTransform for StoragePut {
    fn kind(&self) -> &'static str {
        "storagePut"
    }

    async fn apply(
        &self,
        item: Value,
        context: &Context,
        out: &mut Vec<Value>,
    ) -> Result<(), TransformError> {
        let key = key(&self.key, &item)?;
        let value = match &self.value {
            Some(program) => program.first(item.clone())?.unwrap_or(Value::Null),
            None => item.clone(),
        };
        let scope = context.scope(&self.storage);
        match self.at {
            WriteAt::Now => context.storage.put(&scope, &key, &value, self.ttl).await?,
            WriteAt::Committed => context.defer(DeferredWrite {
                scope,
                key,
                value,
                ttl: self.ttl,
            }),
        }
        out.push(item);
        Ok(())
    }
}

pub struct StorageDelete {
    pub storage: String,
    pub key: JqProgram,
}

#[async_trait]
impl AsyncTransform for StorageDelete {
    fn kind(&self) -> &'static str {
        "storageDelete"
    }

    async fn apply(
        &self,
        item: Value,
        context: &Context,
        out: &mut Vec<Value>,
    ) -> Result<(), TransformError> {
        let key = key(&self.key, &item)?;
        context
            .storage
            .delete(&context.scope(&self.storage), &key)
            .await?;
        out.push(item);
        Ok(())
    }
}
