//! Start-up: connect, migrate, bind, and serve the HTTP API with the background workers.
//! `main` and the tests build the same `Application`.

pub mod seed;
mod seed_cases;

use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, atomic::AtomicU64},
    time::Duration,
};

use anyhow::Context;
use poem::{
    Server,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
};
use tokio::sync::{Notify, watch};

use crate::{
    config::Config,
    graphql, http,
    platform::db,
    platform::notify::{Templates, mailer::MailSender},
    platform::state::AppState,
    services::auth::jwt::JwtKeys,
};

pub struct Application {
    state: AppState,
    scan_receiver: crate::services::trace::ScanReceiver,
    acceptor: TcpAcceptor,
    addr: SocketAddr,
    /// `/metrics` on its own listener (`ONESTOP_METRICS_BIND`), if any.
    metrics: Option<(TcpAcceptor, SocketAddr)>,
    sender: MailSender,
    api: graphql::Api,
}

/// Connects to the database and applies pending migrations; builds the shared state.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    Ok(build_state_with_scans(config).await?.0)
}

async fn build_state_with_scans(config: Config) -> anyhow::Result<(AppState, crate::services::trace::ScanReceiver)> {
    let (scans, scan_receiver) = crate::services::trace::ScanRecorder::new();
    let sql_statements = Arc::new(AtomicU64::new(0));
    let known_scopes = Arc::new(crate::services::access::KnownScopes::default());
    let db = db::connect(&config, sql_statements.clone(), known_scopes.clone())
        .await
        .context("connecting to the database")?;
    db::migrate(&db).await.context("applying migrations")?;
    let shared_limits = match &config.redis {
        Some(redis) => Some(crate::platform::limits::SharedStore::new(&redis.url, redis.timeout)?),
        None => None,
    };
    let state = AppState {
        db,
        jwt: JwtKeys::new(&config.jwt),
        templates: Arc::new(Templates::load()?),
        outbox_wakeup: Arc::new(Notify::new()),
        sql_statements,
        scans,
        events: crate::platform::events::EventBus::default(),
        login_throttle: Arc::new(crate::services::auth::throttle::LoginThrottle::new(
            config.login_per_account_per_minute,
            config.login_per_address_per_minute,
            shared_limits.clone(),
        )),
        shared_limits,
        trips: Arc::default(),
        rule_programs: Arc::new(crate::domain::rules::ProgramCache::new(config.rules.cost_budget)),
        rule_runner: Arc::new(crate::platform::rule_runner::RuleRunner::new(&config.rules)),
        decision_rules: Arc::default(),
        known_scopes,
        documents: crate::services::documents::store(&config.documents)?,
        clock: Default::default(),
        config: Arc::new(config),
    };
    Ok((state, scan_receiver))
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        http::metrics::install();
        crate::services::auth::password::set_cost(config.password_hash_cost);
        crate::services::auth::password::start_pool(config.password_hash_concurrency, config.password_hash_queue);
        let sender = MailSender::from_config(&config.mail)?;
        let bind = config.bind.clone();
        let metrics_bind = config.metrics.bind.clone();
        let (state, scan_receiver) = build_state_with_scans(config).await?;
        let (acceptor, addr) = listen(&bind).await?;
        let metrics = match metrics_bind {
            Some(bind) => Some(listen(&bind).await?),
            None => None,
        };
        crate::services::webhooks::seal_legacy_secrets(&state).await.map_err(|e| anyhow::anyhow!(e.detail()))?;
        crate::platform::idempotency::seal_legacy_responses(&state).await.map_err(|e| anyhow::anyhow!(e.detail()))?;
        crate::services::merchants::normalise_legacy_phones(&state).await.map_err(|e| anyhow::anyhow!(e.detail()))?;
        // Deliveries staged before they were jobs get theirs (once).
        crate::services::webhooks::DeliverWebhook::adopt_pending(&state)
            .await
            .map_err(|e| anyhow::anyhow!(e.detail()))?;
        // The sweep chain of this slot (deduplicated: instances share it).
        crate::services::deadlines::Sweep::start(&state).await.map_err(|e| anyhow::anyhow!(e.detail()))?;
        let api = graphql::build_api(state.clone())?;
        Ok(Self { state, scan_receiver, acceptor, addr, metrics, sender, api })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served on its own listener, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, addr)| *addr)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish (up to 30 s) and
    /// stops the workers.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_workers, workers_stopped) = watch::channel(false);
        let jobs = crate::platform::jobs::runner::JobRunner::new(
            self.state.clone(),
            Arc::new(self.sender),
            crate::platform::jobs::Registry::standard(),
        )?;
        let scan_writer = tokio::spawn(crate::services::trace::run_scan_writer(
            self.state.clone(),
            self.state.scans.clone(),
            self.scan_receiver,
            self.state.config.trace.flush_interval,
            workers_stopped.clone(),
        ));
        let listener = tokio::spawn(crate::platform::events::run_listener(self.state.clone(), workers_stopped.clone()));
        let poll = self.state.config.mail.poll_interval.min(self.state.config.webhooks.poll_interval);
        let run_jobs = self.state.config.run_jobs;
        let worker = tokio::spawn(async move {
            if run_jobs {
                jobs.run(poll, workers_stopped).await;
            }
        });

        let metrics = self.metrics.map(|(acceptor, addr)| {
            tracing::info!(%addr, "metrics at /metrics");
            let route = poem::Route::new().at("/metrics", poem::get(http::metrics::render));
            tokio::spawn(Server::new_with_acceptor(acceptor).run(route))
        });
        let api = self.api;
        tracing::info!(addr = %self.addr, "onestop listening; GraphiQL at /graphql");
        let served = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(http::routes(self.state.clone(), api), shutdown, Some(Duration::from_secs(30)))
            .await;
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        let _ = stop_workers.send(true);
        let _ = worker.await;
        let _ = scan_writer.await;
        let _ = listener.await;
        self.state.db.clone().close().await.ok();
        served.context("HTTP server failed")
    }
}

/// A listener on `bind`, and the address it got (port 0: any free one).
async fn listen(bind: &str) -> anyhow::Result<(TcpAcceptor, SocketAddr)> {
    let acceptor = TcpListener::bind(bind).into_acceptor().await.with_context(|| format!("binding {bind}"))?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("listener has no socket address")?;
    Ok((acceptor, addr))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
