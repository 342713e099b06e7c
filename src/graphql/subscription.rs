use crate::services::auth::Need;
use async_graphql::{Context, ID, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;

use super::{objects::Filing, parts, scope, uuid_arg};
use crate::services::filings;

#[derive(SimpleObject)]
pub struct FilingEvent {
    pub filing: Filing,
    /// The audit action, e.g. "filing.submitted", "filing.approved".
    pub action: String,
    pub at: DateTime<Utc>,
}

pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Changes of the filings the caller may see (merchant: its own; agency staff: their
    /// agency and regions), optionally of one case; sent after each change commits.
    async fn filing_events(&self, ctx: &Context<'_>, case_id: Option<ID>) -> Result<impl Stream<Item = FilingEvent>> {
        let (state, _) = parts(ctx);
        let scope = scope(ctx, Need::Read).await?.clone();
        let case_id = case_id.as_ref().map(|c| uuid_arg("caseId", c)).transpose()?;
        let state = state.clone();
        let changes = BroadcastStream::new(state.events.subscribe());
        Ok(changes.filter_map(move |change| {
            let change = change.ok().filter(|c| scope.can_see_change(c) && case_id.is_none_or(|id| id == c.case_id));
            let state = state.clone();
            let scope = scope.clone();
            async move {
                let change = change?;
                // The filing as it is now, read with the subscriber's own rights.
                let filing = filings::find_visible(&state, &scope, change.filing_id).await.ok()?;
                Some(FilingEvent { filing: Filing(filing), action: change.action, at: change.at })
            }
        }))
    }
}
