//! Email notifications through the transactional outbox: services render a message and insert
//! it with the change that causes it (same transaction); the worker hands it to SMTP later.

pub mod mailer;
pub mod templates;
pub mod worker;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppResult;
pub use templates::{EmailKind, Templates};

/// What the outbox stores for an email: everything needed to send it, already rendered, so a
/// template change never alters a message that was already promised.
#[derive(Debug, Serialize, Deserialize)]
pub struct EmailPayload {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders `kind` with `context` and adds it to the outbox on `db` (pass the transaction of
/// the change that causes the email).
pub async fn enqueue_email<C: ConnectionTrait>(
    db: &C,
    templates: &Templates,
    to: &str,
    kind: EmailKind,
    context: serde_json::Value,
) -> AppResult<()> {
    let rendered = templates.render(kind, &context)?;
    let payload = EmailPayload {
        to: to.to_string(),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
    };
    let now = Utc::now();
    entity::outbox_message::ActiveModel {
        id: Set(Uuid::now_v7()),
        kind: Set("email".into()),
        payload: Set(serde_json::to_string(&payload).map_err(anyhow::Error::from)?),
        status: Set(worker::STATUS_PENDING.into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}
