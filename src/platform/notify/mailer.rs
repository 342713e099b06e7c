//! Where emails go: SMTP (lettre, async, pooled) when `ONESTOP_SMTP_URL` is set, else `.eml`
//! files in the mail directory for development.

use anyhow::Context;
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
};

use super::EmailPayload;
use crate::config::MailConfig;

pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Directory(AsyncFileTransport<Tokio1Executor>),
}

pub struct MailSender {
    mailer: Mailer,
    from: Mailbox,
}

impl MailSender {
    pub fn from_config(config: &MailConfig) -> anyhow::Result<Self> {
        let from: Mailbox = config.from.parse().context("ONESTOP_MAIL_FROM is not a mailbox")?;
        let mailer = match &config.smtp_url {
            Some(url) => Mailer::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("ONESTOP_SMTP_URL is not a valid SMTP URL")?
                    .timeout(Some(config.smtp_timeout))
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&config.dir)
                    .with_context(|| format!("creating mail directory {}", config.dir.display()))?;
                Mailer::Directory(AsyncFileTransport::new(&config.dir))
            }
        };
        Ok(Self { mailer, from })
    }

    /// Sends one outbox message. Its `Message-ID` is derived from the outbox row, so if a crash
    /// between the SMTP hand-off and marking the row sent makes it go out again, receivers
    /// (and our tests) see the same message twice, not two messages.
    pub async fn send(&self, outbox_id: uuid::Uuid, payload: &EmailPayload) -> anyhow::Result<()> {
        let to: Mailbox = payload.to.parse().context("recipient is not a mailbox")?;
        let message = Message::builder()
            .message_id(Some(format!("<{outbox_id}@{}>", self.from.email.domain())))
            .from(self.from.clone())
            .to(to)
            .subject(payload.subject.clone())
            .multipart(MultiPart::alternative_plain_html(payload.text.clone(), payload.html.clone()))?;
        match &self.mailer {
            Mailer::Smtp(smtp) => {
                smtp.send(message).await?;
            }
            Mailer::Directory(dir) => {
                dir.send(message).await?;
            }
        }
        Ok(())
    }
}
