//! Other servers a test starts: `onestop serve` processes, second in-process instances, a
//! private redis-server; and requests to any of them.

use std::time::Duration;

use onestop::{app::Application, config::Config};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::helpers::TestApp;

/// A real `onestop serve` process on the test app's database, secret and SMTP sink, on `port`
/// with its data in `data`; `env` adds or overrides variables. Killed (SIGKILL) when dropped.
pub struct ServeProcess {
    pub child: std::process::Child,
    pub base_url: String,
}

impl ServeProcess {
    pub fn start(
        app: &TestApp,
        data: &std::path::Path,
        port: u16,
        env: &[(&str, &str)],
        stderr: std::process::Stdio,
    ) -> Self {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_onestop"));
        command
            .arg("serve")
            .env("ONESTOP_DATABASE_URL", &app.db.url)
            .env("ONESTOP_BIND", format!("127.0.0.1:{port}"))
            .env("ONESTOP_JWT_SECRET", &app.jwt_secret)
            .env("ONESTOP_DATA_DIR", data)
            .env("ONESTOP_LOG", "warn")
            .env("ONESTOP_METRICS_BIND", "off")
            .stdout(std::process::Stdio::null())
            .stderr(stderr);
        if let Some(smtp) = &app.state.config.mail.smtp_url {
            command.env("ONESTOP_SMTP_URL", smtp);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().expect("start onestop serve");
        Self { child, base_url: format!("http://127.0.0.1:{port}") }
    }

    /// Waits (up to 30 s) until `/readyz` answers 200.
    pub async fn ready(self) -> Self {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !client.get(format!("{}/readyz", self.base_url)).send().await.is_ok_and(|r| r.status() == 200) {
            assert!(tokio::time::Instant::now() < deadline, "onestop serve did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs an `onestop` command (`replay-plan`, `rebuild-stats`, …) against the test app's
/// database and secret; its output.
pub fn run_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_onestop"))
        .args(args)
        .env("ONESTOP_DATABASE_URL", &app.db.url)
        .env("ONESTOP_JWT_SECRET", &app.jwt_secret)
        .env("ONESTOP_DATA_DIR", app.db.dir())
        .env("ONESTOP_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("run onestop {args:?}: {e}"))
}

/// A free port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("probe").local_addr().expect("addr").port()
}

/// One GraphQL request to any server (a second instance, a real process): the JSON answer.
pub async fn gql_at(base_url: &str, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut request = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
        .post(format!("{base_url}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("the server answers instead of hanging").json().await.expect("JSON")
}

/// A second server on a test's database with another configuration; stops when dropped.
pub struct ExtraServer {
    pub base_url: String,
    stop: Option<oneshot::Sender<()>>,
}

impl ExtraServer {
    pub async fn start(config: Config) -> Self {
        let application = Application::build(config).await.expect("build second server");
        let base_url = format!("http://{}", application.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(application.serve(async move {
            let _ = stopped.await;
        }));
        Self { base_url, stop: Some(stop) }
    }
}

impl Drop for ExtraServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A `redis-server` of the test's own on a free port, without persistence; killed when dropped.
/// `redis-server` is on every machine (Debian package `redis-server`): a missing one fails.
pub struct RedisServer {
    pub url: String,
    process: std::process::Child,
}

impl RedisServer {
    pub async fn start() -> Self {
        let port = free_port();
        let process = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server)");
        // Killed by `Drop` on every path, the panic below included.
        let server = Self { url: format!("redis://127.0.0.1:{port}/0"), process };
        // Waits for another program's start-up, not for onestop's own work.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not listen on port {port} within 5 s");
    }

    /// Stops the server at once (an outage of the shared limits).
    pub fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
