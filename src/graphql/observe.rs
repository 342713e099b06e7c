//! Names each GraphQL request for logs and metrics by its operation type and first root field
//! ("mutation login"). Root fields are bounded by the schema, unlike client-chosen operation
//! names, so the metric label set cannot be blown up by a client.

use std::sync::{Arc, Mutex};

use async_graphql::{
    ServerResult, Variables,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, OperationType, Selection},
};

/// Filled in by [`OperationObserver`] while the request is parsed; read by the HTTP handler.
#[derive(Clone, Default)]
pub struct OperationLabel(pub Arc<Mutex<Option<String>>>);

impl OperationLabel {
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|l| l.clone())
    }
}

pub struct OperationObserver;

impl ExtensionFactory for OperationObserver {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationObserverExtension)
    }
}

struct OperationObserverExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for OperationObserverExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Some(slot) = ctx.data_opt::<OperationLabel>() {
            let label = label_of(&document);
            if let Ok(mut guard) = slot.0.lock() {
                *guard = label;
            }
        }
        Ok(document)
    }
}

fn label_of(document: &ExecutableDocument) -> Option<String> {
    let (_, operation) = document.operations.iter().next()?;
    let kind = match operation.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let field = operation.node.selection_set.node.items.iter().find_map(|item| match &item.node {
        Selection::Field(field) => Some(field.node.name.node.to_string()),
        _ => None,
    })?;
    Some(format!("{kind} {field}"))
}
