//! `spawn_app`: the real server on a random port, a fresh database, a real SMTP listener.

use std::time::Duration;

use onestop::{
    app::Application,
    config::{Config, Environment, JwtConfig, LogFormat, MailConfig, TokenLifetimes},
    domain::Regions,
    platform::state::AppState,
};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::smtp::SmtpSink;

pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub smtp: SmtpSink,
    pub state: AppState,
    /// `/metrics` on its own listener (`None` when the config turned it off).
    pub metrics_url: Option<String>,
    pub jwt_secret: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    pub db: TestDb,
}

pub const PUBLIC_BASE_URL: &str = "http://onestop.test";
/// A password zxcvbn scores 4.
pub const GOOD_PASSWORD: &str = "Ziggurat-Peppercorn-47-Lantern";

pub fn test_config(db_url: &str, data_dir: &std::path::Path, smtp_port: u16) -> Config {
    Config {
        environment: Environment::Development,
        database_url: db_url.to_string(),
        bind: "127.0.0.1:0".into(),
        public_base_url: PUBLIC_BASE_URL.into(),
        data_dir: data_dir.to_path_buf(),
        jwt: JwtConfig {
            secret: format!("test-secret-{}", uuid::Uuid::new_v4().simple()),
            previous_secrets: vec![],
            issuer: "onestop".into(),
            audience: "onestop-api".into(),
            access_ttl: Duration::from_secs(900),
        },
        mail: MailConfig {
            smtp_url: Some(format!("smtp://127.0.0.1:{smtp_port}")),
            from: "onestop <no-reply@onestop.test>".into(),
            dir: data_dir.join("mail"),
            poll_interval: Duration::from_millis(100),
            retry_base: Duration::from_millis(100),
            max_attempts: 20,
            smtp_timeout: Duration::from_secs(5),
            lease: Duration::from_secs(15),
        },
        log_filter: "warn".into(),
        log_format: LogFormat::Pretty,
        otlp_endpoint: None,
        max_body_bytes: 256 * 1024,
        db_max_connections: 4,
        db_acquire_timeout: Duration::from_secs(10),
        tokens: TokenLifetimes::default(),
        regions: Regions::default(),
        review_days: onestop::config::ReviewDays::default(),
        licence_validity: onestop::config::LicenceValidity::default(),
        trace: onestop::config::TraceConfig {
            scan_multiple: 3,
            max_distinct_addresses: 50,
            window: Duration::from_secs(24 * 3600),
            scans_per_minute: 10_000,
            // Tests speak for many consumers through X-Forwarded-For.
            trust_forwarded_for: true,
            address_salt: "test-salt".into(),
            flush_interval: Duration::from_millis(20),
        },
        calendar: onestop::domain::working_days::Calendar::built_in(),
        uscc_allow_list: Default::default(),
        // Background work runs when a test drains the queue (`run_pending_jobs`), never on its
        // own: one sweep slot is due at start-up, the next when the test moves the clock.
        sweep_interval: Duration::from_secs(3600),
        limits: onestop::config::QueryLimits {
            max_depth: 12,
            max_complexity: 20_000,
            max_aliases: 30,
            max_root_fields: 15,
            max_batch: 10,
            trusted_operations: None,
        },
        rules: Default::default(),
        run_jobs: false,
        metrics: onestop::config::MetricsConfig { bind: Some("127.0.0.1:0".into()), token: None },
        login_per_account_per_minute: 1000,
        login_per_address_per_minute: 10_000,
        redis: None,
        // Cheap hashes: tests check who may log in, not argon2's cost (production refuses this).
        password_hash_cost: onestop::services::auth::password::HashCost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        password_hash_concurrency: 2,
        password_hash_queue: onestop::services::auth::password::DEFAULT_QUEUE,
        sqlite_busy_timeout: Duration::from_secs(5),
        data_key: onestop::platform::sealed::DataKey::random(),
        cors_origins: vec![],
        ws_recheck_interval: Duration::from_secs(30),
        webhooks: onestop::config::WebhookConfig {
            allow_private: true,
            poll_interval: Duration::from_millis(50),
            retry_base: Duration::from_millis(50),
            disable_after: 4,
            lookup: Default::default(),
        },
        documents: onestop::config::DocumentConfig { max_bytes: 200 * 1024, dir: data_dir.join("documents"), s3: None },
    }
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// Starts the app with a test configuration changed by `adjust`. The SMTP listener starts
/// unless `adjust` leaves it turned off by setting `smtp_url` to `None` (mail directory).
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    onestop::install_crypto_provider();
    // `TEST_LOG=onestop=debug cargo test …` shows the server's logs for a failing test.
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
    let db = TestDb::create_migrated(backend).await?;
    let smtp = SmtpSink::default();
    let smtp_port = smtp.start_on(0).await;
    let mut config = test_config(&db.url, db.dir(), smtp_port);
    adjust(&mut config);
    Some(start(db, smtp, config).await)
}

pub async fn start(db: TestDb, smtp: SmtpSink, config: Config) -> TestApp {
    let jwt_secret = config.jwt.secret.clone();
    let application = Application::build(config).await.expect("build app");
    let addr = application.local_addr();
    let metrics_url = application.metrics_addr().map(|a| format!("http://{a}/metrics"));
    let state = application.state().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = application
            .serve(async move {
                let _ = stopped.await;
            })
            .await;
    });
    TestApp {
        base_url: format!("http://{addr}"),
        client: reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client"),
        smtp,
        state,
        metrics_url,
        jwt_secret,
        stop: Some(stop),
        server: Some(server),
        db,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// A GraphQL response, with helpers to read data and errors.
#[derive(Debug)]
pub struct Gql(pub Value);

impl Gql {
    pub fn data(&self) -> &Value {
        assert!(self.0.get("errors").is_none(), "unexpected GraphQL errors: {}", self.0["errors"]);
        &self.0["data"]
    }

    /// The `extensions.code` of the first error; panics when there is none.
    pub fn error_code(&self) -> String {
        self.0["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected a GraphQL error, got {}", self.0))
            .to_string()
    }

    pub fn error_message(&self) -> String {
        self.0["errors"][0]["message"].as_str().unwrap_or_default().to_string()
    }

    pub fn error_fields(&self) -> Vec<String> {
        self.0["errors"][0]["extensions"]["fields"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f["field"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Gql {
        let mut request =
            self.client.post(self.url("/graphql")).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("POST /graphql");
        Gql(response.json().await.expect("JSON body"))
    }

    /// `gql` as a signed-in caller (for counting what a request costs: every answer is
    /// computed, none is kept between requests).
    pub async fn gql_fresh(&self, query: &str, variables: Value, token: &str) -> Gql {
        self.gql(query, variables, Some(token)).await
    }

    pub async fn register(&self, email: &str, password: &str, name: &str) -> Gql {
        self.gql(
            "mutation($e: String!, $p: String!, $n: String!) {
                registerMerchantUser(email: $e, password: $p, displayName: $n) { id email emailVerified role }
            }",
            json!({ "e": email, "p": password, "n": name }),
            None,
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Gql {
        self.gql(
            "mutation($e: String!, $p: String!) {
                login(email: $e, password: $p) { accessToken refreshToken expiresIn user { id email role } }
            }",
            json!({ "e": email, "p": password }),
            None,
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Gql {
        self.gql(
            "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken refreshToken } }",
            json!({ "t": refresh_token }),
            None,
        )
        .await
    }

    pub async fn me(&self, token: &str) -> Gql {
        self.gql("{ me { id email displayName role emailVerified agency regions createdAt } }", json!({}), Some(token))
            .await
    }

    /// Signs up, follows the emailed verification link, logs in: returns (access, refresh).
    pub async fn verified_merchant(&self, email: &str) -> (String, String) {
        self.register(email, GOOD_PASSWORD, "Test Merchant").await.data();
        let mail = self.mail_for(email, 1).await.remove(0);
        let verified =
            self.gql("mutation($t: String!) { verifyEmail(token: $t) }", json!({ "t": mail.link_token() }), None).await;
        assert_eq!(verified.data()["verifyEmail"], true);
        let login = self.login(email, GOOD_PASSWORD).await;
        let data = &login.data()["login"];
        (
            data["accessToken"].as_str().expect("access").to_string(),
            data["refreshToken"].as_str().expect("refresh").to_string(),
        )
    }

    /// Creates an ADMIN the way `onestop create-admin` does and logs in as it.
    pub async fn admin_token(&self) -> String {
        let email = "root@onestop.test";
        onestop::services::auth::accounts::create_admin(&self.state, email, GOOD_PASSWORD, "Root Admin")
            .await
            .map_err(|e| e.detail())
            .expect("create admin");
        let login = self.login(email, GOOD_PASSWORD).await;
        login.data()["login"]["accessToken"].as_str().expect("token").to_string()
    }

    /// One row of a raw SQL query against the app's database (for asserting what is stored).
    pub async fn query_row(&self, sql: &str) -> sea_orm::QueryResult {
        self.state
            .db
            .query_one_raw(sea_orm::Statement::from_string(self.state.db.get_database_backend(), sql.to_string()))
            .await
            .expect("query")
            .expect("a row")
    }

    /// Runs `UPDATE {table} SET {assignments} WHERE id = {id}` (to move a deadline in time).
    pub async fn update_row(&self, table: &str, assignments: &str, id: &str) {
        let literal = match self.state.db.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => format!("'{id}'"),
            _ => format!("X'{}'", id.replace('-', "")),
        };
        self.state
            .db
            .execute_unprepared(&format!("UPDATE {table} SET {assignments} WHERE id = {literal}"))
            .await
            .expect("update row");
    }

    /// Sets the regions an officer or supervisor covers (as an administrator would).
    pub async fn set_regions(&self, user_id: &str, regions: &[&str]) {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
        let user_id = uuid::Uuid::parse_str(user_id).expect("user id");
        entity::user_region::Entity::delete_many()
            .filter(entity::user_region::Column::UserId.eq(user_id))
            .exec(&self.state.db)
            .await
            .expect("clear regions");
        let rows = regions.iter().enumerate().map(|(i, r)| entity::user_region::ActiveModel {
            user_id: Set(user_id),
            region_code: Set(r.to_string()),
            position: Set(i as i32),
        });
        entity::user_region::Entity::insert_many(rows)
            .exec_without_returning(&self.state.db)
            .await
            .expect("set regions");
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.count_where(table, "1 = 1").await
    }

    /// Rows of `table` matching a SQL condition.
    pub async fn count_where(&self, table: &str, condition: &str) -> i64 {
        let row = self.query_row(&format!("SELECT COUNT(*) AS n FROM {table} WHERE {condition}")).await;
        row.try_get::<i64>("", "n").expect("count")
    }
}

/// An app that runs no background jobs: the test runs them (`run_pending_jobs`); its sweep
/// slots are an hour long, so only the start-up sweep is due.
pub async fn spawn_app_without_jobs(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |c| {
        c.run_jobs = false;
        c.sweep_interval = Duration::from_secs(3600);
    })
    .await
}

/// An app whose background workers (mail, deadlines, webhooks) stay idle, so that the SQL
/// statements a request costs can be counted.
pub async fn spawn_idle_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |c| {
        c.mail.poll_interval = Duration::from_secs(3600);
        c.sweep_interval = Duration::from_secs(3600);
        c.webhooks.poll_interval = Duration::from_secs(3600);
    })
    .await
}

/// The fewest SQL statements of three runs of `request` (a late statement of trace scans'
/// writer only ever adds, so the fewest is the request's own), after `check` looked at each
/// answer.
pub async fn fewest_statements(app: &TestApp, query: &str, variables: Value, token: &str, check: impl Fn(&Gql)) -> u64 {
    let mut fewest = u64::MAX;
    for _ in 0..3 {
        let before = app.state.sql_statements.load(std::sync::atomic::Ordering::SeqCst);
        let answer = app.gql_fresh(query, variables.clone(), token).await;
        let after = app.state.sql_statements.load(std::sync::atomic::Ordering::SeqCst);
        check(&answer);
        fewest = fewest.min(after - before);
    }
    fewest
}

pub use crate::databases::{Backend, TestDb, drop_pg_database, pg_admin, pg_url};
pub use crate::draining::run_pending_jobs_of;
pub use crate::servers::{ExtraServer, RedisServer, ServeProcess, free_port, gql_at, run_cli};
