//! `trigger`: queue an item for another route once this route's delivery succeeded.
//! The step only records the request in the [`Context`]; the delivery engine turns it
//! into a task of the other route and commits it together with this task's outcome.

use async_trait::async_trait;
use serde_json::Value;

use super::{AsyncTransform, Context, JqProgram, TransformError};

pub struct Trigger {
    pub route: String,
    /// Computes the new item; `None`: the delivered item (`.item`).
    pub item: Option<JqProgram>,
}

#[async_trait]
impl AsyncTransform for Trigger {
    fn kind(&self) -> &'static str {
        "trigger"
    }

    async fn apply(
        &self,
        input: Value,
        context: &Context,
        out: &mut Vec<Value>,
    ) -> Result<(), TransformError> {
        let item = match &self.item {
            Some(program) => program
                .first(input.clone())?
                .ok_or_else(|| TransformError::Jq("the item expression produced nothing".into()))?,
            None => input.get("item").cloned().unwrap_or(Value::Null),
        };
        context.trigger(&self.route, item);
        out.push(input);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::storage::MemoryStorage;

    #[tokio::test]
    async fn records_the_item_for_the_other_route_and_passes_the_input_on() {
        let context = Context::new("shop", Arc::new(MemoryStorage::default()));
        let step = Trigger {
            route: "notify".into(),
            item: Some(
                JqProgram::compile("{sku: .item.sku, erpId: .response.body.id}")
                    .unwrap_or_else(|e| panic!("{e}")),
            ),
        };
        let input =
            json!({"item": {"sku": "A-1"}, "response": {"status": 201, "body": {"id": 77}}});
        let mut out = Vec::new();
        step.apply(input.clone(), &context, &mut out)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out, vec![input]);
        let triggered = context.take_triggered();
        assert_eq!(triggered.len(), 1);
        assert_eq!(triggered[0].route, "notify");
        assert_eq!(triggered[0].item, json!({"sku": "A-1", "erpId": 77}));

        let plain = Trigger {
            route: "audit".into(),
            item: None,
        };
        step_default(&plain, &context).await;
    }

    async fn step_default(step: &Trigger, context: &Context) {
        let mut out = Vec::new();
        step.apply(
            json!({"item": {"id": 1}, "response": null}),
            context,
            &mut out,
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(context.take_triggered()[0].item, json!({"id": 1}));
    }
}
