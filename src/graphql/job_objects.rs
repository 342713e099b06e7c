//! `jobs(state:)`: the background queue as administrators see it (payloads never shown).

use async_graphql::{
    Context, ID, Object, Result,
    connection::{Connection, Edge},
};
use chrono::{DateTime, Utc};
use entity::job;

use super::{parts, scope};
use crate::{
    platform::{
        jobs::admin::{self, JobState},
        pagination,
    },
    services::auth::Need,
};

pub struct Job(job::Model);

#[Object]
impl Job {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// e.g. `email`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn state(&self) -> JobState {
        JobState::of(&self.0, Utc::now())
    }
    /// When it runs (next).
    async fn run_at(&self) -> DateTime<Utc> {
        self.0.run_at
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Default)]
pub struct JobQuery;

#[Object]
impl JobQuery {
    /// Administrators: background jobs, newest first, optionally in one state.
    #[graphql(complexity = "(first.unwrap_or(20).clamp(1, 100) as usize) * child_complexity")]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        state: Option<JobState>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Job>> {
        let (app, _) = parts(ctx);
        let admin = scope(ctx, Need::UserOnly).await?.require_admin()?;
        let page = admin::list(app, admin, state, first, after).await?;
        let mut connection = Connection::new(page.has_previous, page.has_next);
        connection
            .edges
            .extend(page.items.into_iter().map(|j| Edge::new(pagination::encode_cursor(&j.id.to_string()), Job(j))));
        Ok(connection)
    }
}
