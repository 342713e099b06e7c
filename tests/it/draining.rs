//! Background work a test runs itself instead of waiting for it: the job queue drained now,
//! the clock of scheduled work moved ahead, trace scans flushed.

use std::time::Duration;

use onestop::platform::state::AppState;

use crate::helpers::TestApp;

/// Runs every job of `state`'s queue that is due now (and what they enqueue) until none is
/// left, as the instance's runner would; how many ran.
pub async fn run_pending_jobs_of(state: &AppState) -> usize {
    let mail = onestop::platform::notify::mailer::MailSender::from_config(&state.config.mail).expect("mailer");
    onestop::platform::jobs::run_pending(state, std::sync::Arc::new(mail)).await.map_err(|e| e.detail()).expect("jobs")
}

impl TestApp {
    /// Runs every job that is due now (and what they enqueue) until none is left; how many ran.
    pub async fn run_pending_jobs(&self) -> usize {
        run_pending_jobs_of(&self.state).await
    }

    /// The mail to `address` once the queue is drained; at least `count` messages, or the test
    /// fails.
    pub async fn mail_for(&self, address: &str, count: usize) -> Vec<crate::smtp::ReceivedMail> {
        self.run_pending_jobs().await;
        let mails = self.smtp.to(address).await;
        assert!(mails.len() >= count, "expected {count} mail(s) to {address}, got {}", mails.len());
        mails
    }

    /// Another instance on this app's database: its own state (caches, clock) and no runner,
    /// for tests of what several instances do; drain its queue with `run_pending_jobs_of`.
    pub async fn another_instance(&self) -> AppState {
        onestop::app::build_state((*self.state.config).clone()).await.expect("another instance")
    }

    /// Moves the clock of scheduled work ahead by `by`, then drains the queue: what would have
    /// run in that time runs now (the sweep slots in between, due retries).
    pub async fn later(&self, by: Duration) -> usize {
        self.state.clock.advance(by);
        self.run_pending_jobs().await
    }

    /// The next sweep: the clock moves ahead by one sweep slot and the queue is drained.
    pub async fn next_sweep(&self) -> usize {
        self.later(self.state.config.sweep_interval).await
    }

    /// Waits until every trace scan recorded so far is stored (they are written in batches).
    pub async fn scans_settled(&self) {
        // The writer flushes when asked; the timeout only bounds a broken writer.
        tokio::time::timeout(Duration::from_secs(10), self.state.scans.flush()).await.expect("scans were not written");
    }
}
