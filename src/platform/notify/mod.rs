//! Email notifications: services render a message and enqueue it as a job with the change that
//! causes it (same transaction); the job runner hands it to SMTP later.

pub mod mailer;
pub mod templates;

use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};

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

/// An email as a job (`platform::jobs`): rendered when it was promised, sent by the runner; the
/// job's id is the message's Message-ID, so a receiver can drop a repeat.
impl crate::platform::jobs::Job for EmailPayload {
    const KIND: &'static str = "email";

    fn policy(state: &crate::platform::state::AppState) -> crate::platform::jobs::RetryPolicy {
        let mail = &state.config.mail;
        crate::platform::jobs::RetryPolicy {
            base: mail.retry_base,
            cap: std::time::Duration::from_secs(3600),
            max_attempts: mail.max_attempts,
            // Longer than one SMTP attempt may take.
            lease: mail.lease.max(mail.smtp_timeout + std::time::Duration::from_secs(1)),
            parallel: 1,
        }
    }

    async fn run(self, context: crate::platform::jobs::JobContext) -> anyhow::Result<()> {
        context.mail.send(context.job_id, &self).await?;
        metrics::counter!("onestop_emails_sent_total").increment(1);
        Ok(())
    }
}

/// The email job's type, by what it does.
pub type SendEmail = EmailPayload;

/// Renders `kind` with `context` and enqueues it on `db` (pass the transaction of the change
/// that causes the email: nothing is sent if it rolls back).
pub async fn enqueue_email<C: ConnectionTrait>(
    db: &C,
    templates: &Templates,
    to: &str,
    kind: EmailKind,
    context: serde_json::Value,
) -> AppResult<()> {
    let rendered = templates.render(kind, &context)?;
    let payload =
        EmailPayload { to: to.to_string(), subject: rendered.subject, text: rendered.text, html: rendered.html };
    crate::platform::jobs::enqueue(db, &payload, Default::default()).await?;
    Ok(())
}
