//! What administrators see of the queue (`jobs(state:)`): kind, state, schedule, attempts and
//! the last error — never a payload (an email's text, a phone number).

use chrono::{DateTime, Utc};
use entity::{enums::JobStatus, job};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    platform::{
        pagination::{self, Page},
        state::AppState,
    },
    services::access::Admin,
};

/// Where a job stands, as admins see it: a QUEUED job is DUE (its time has come), SCHEDULED
/// (later, never run) or RETRYING (later, after a failed run).
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum JobState {
    Due,
    Scheduled,
    Running,
    Retrying,
    Parked,
    Done,
}

impl JobState {
    pub fn of(job: &job::Model, now: DateTime<Utc>) -> Self {
        match job.state {
            JobStatus::Running => Self::Running,
            JobStatus::Parked => Self::Parked,
            JobStatus::Done => Self::Done,
            JobStatus::Queued if job.run_at <= now => Self::Due,
            JobStatus::Queued if job.attempts > 0 => Self::Retrying,
            JobStatus::Queued => Self::Scheduled,
        }
    }

    fn condition(self, now: DateTime<Utc>) -> Condition {
        let queued = || Condition::all().add(job::Column::State.eq(JobStatus::Queued));
        match self {
            Self::Running => Condition::all().add(job::Column::State.eq(JobStatus::Running)),
            Self::Parked => Condition::all().add(job::Column::State.eq(JobStatus::Parked)),
            Self::Done => Condition::all().add(job::Column::State.eq(JobStatus::Done)),
            Self::Due => queued().add(job::Column::RunAt.lte(now)),
            Self::Retrying => queued().add(job::Column::RunAt.gt(now)).add(job::Column::Attempts.gt(0)),
            Self::Scheduled => queued().add(job::Column::RunAt.gt(now)).add(job::Column::Attempts.eq(0)),
        }
    }
}

/// Jobs, newest first, optionally in one state.
pub async fn list(
    state: &AppState,
    _admin: Admin,
    in_state: Option<JobState>,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<Page<job::Model>> {
    let limit = pagination::page_size(first)?;
    let mut query = job::Entity::find().order_by_desc(job::Column::Id).limit(limit + 1);
    if let Some(in_state) = in_state {
        query = query.filter(in_state.condition(state.clock.now()));
    }
    let had_cursor = after.is_some();
    if let Some(cursor) = after {
        let id = Uuid::parse_str(&pagination::decode_cursor(&cursor)?)
            .map_err(|_| AppError::validation("after", "is not a cursor from this list"))?;
        query = query.filter(job::Column::Id.lt(id));
    }
    Ok(pagination::into_page(query.all(&state.db).await?, limit, had_cursor))
}
