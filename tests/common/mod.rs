//! Shared test harness: a gateway on port 0 with a temp data dir, an HTTP client that speaks its
//! API, and a controllable webhook receiver (actix-web on port 0).
//!
//! Backends: a test written with [`both_backends!`] runs twice, as `name::sqlite` and
//! `name::postgres`; inside it, [`spawn`] and [`database_url`] use the variant's backend (a
//! task-local), with a fresh PostgreSQL database per gateway from the binary's throwaway cluster
//! ([`pg`]). Outside the macro everything is SQLite.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod leases;
pub mod pg;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine as _;
use rand::RngCore as _;
use serde_json::Value;
use session_gateway::app::{Gateway, GatewayOptions, StartError};
use session_gateway::config::{SecretString, Settings};
use session_gateway::identities::SessionIdentities;
use tokio::sync::watch;

pub const ADMIN_KEY: &str = "test-admin-key-0123456789";

/// The database a test variant runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

tokio::task_local! {
    static BACKEND: Backend;
}

/// The current variant's backend (SQLite outside [`both_backends!`]).
pub fn backend() -> Backend {
    BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite)
}

/// Runs `body` as the `backend` variant; the PostgreSQL variant returns at once (after printing
/// why) where PostgreSQL is unavailable, or fails when `REQUIRE_POSTGRES=1`.
pub async fn on(backend: Backend, body: impl std::future::Future<Output = ()>) {
    if backend == Backend::Postgres && pg::cluster().is_none() {
        return;
    }
    BACKEND.scope(backend, body).await;
}

/// A database URL for a new gateway or store: a file in `dir` (SQLite) or a fresh database.
pub async fn database_url(dir: &std::path::Path) -> String {
    match backend() {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("gateway.db").display()),
        Backend::Postgres => pg::fresh_database()
            .await
            .expect("the PostgreSQL variant runs only with a cluster"),
    }
}

/// Declares each `async fn name() { body }` as two tests, `name::sqlite` and `name::postgres`.
///
/// A function may carry the runtime's arguments as `#[tokio::test(flavor = "multi_thread",
/// worker_threads = 2)]` (the actor suites need a multi-threaded runtime); without it, each
/// variant is a plain `#[tokio::test]`.
#[macro_export]
macro_rules! both_backends {
    () => {};
    (#[tokio::test($($args:tt)*)] async fn $name:ident() $body:block $($rest:tt)*) => {
        $crate::both_backends!(@variants [$($args)*] $name $body);
        $crate::both_backends!($($rest)*);
    };
    (async fn $name:ident() $body:block $($rest:tt)*) => {
        $crate::both_backends!(@variants [] $name $body);
        $crate::both_backends!($($rest)*);
    };
    (@variants [$($args:tt)*] $name:ident $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test($($args)*)]
            async fn sqlite() {
                $crate::common::on($crate::common::Backend::Sqlite, async move $body).await;
            }

            #[tokio::test($($args)*)]
            async fn postgres() {
                $crate::common::on($crate::common::Backend::Postgres, async move $body).await;
            }
        }
    };
}

pub fn master_key() -> String {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// Settings for tests: fast webhook retries.
pub fn test_settings(master: &str) -> Settings {
    let mut settings = Settings::default();
    settings.api.admin_key = Some(SecretString::new(ADMIN_KEY.into()));
    settings.security.master_key = Some(SecretString::new(master.into()));
    settings.api.max_body_bytes = 16 * 1024;
    settings.webhooks.initial_backoff_ms = 20;
    settings.webhooks.max_backoff_ms = 100;
    settings.webhooks.timeout_ms = 2_000;
    // The tests' receivers listen on 127.0.0.1 (issue 13, attack 9: refused by default).
    settings.webhooks.deny_private = Some(false);
    settings
}

pub struct TestGateway {
    pub gateway: Option<Gateway>,
    pub dir: tempfile::TempDir,
    pub master: String,
    pub base: String,
    pub client: reqwest::Client,
    /// The database URL (SQLite in `dir`, or this gateway's PostgreSQL database).
    pub database_url: String,
}

pub async fn start_in(dir: &std::path::Path, settings: Settings) -> Result<Gateway, StartError> {
    Gateway::start(GatewayOptions {
        settings,
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".into(),
        identities: Arc::new(SessionIdentities),
    })
    .await
}

pub async fn spawn() -> TestGateway {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestGateway {
    let dir = tempfile::tempdir().unwrap();
    let master = master_key();
    let database_url = database_url(dir.path()).await;
    let mut settings = test_settings(&master);
    settings.database.url = Some(database_url.clone());
    tweak(&mut settings);
    let gateway = start_in(dir.path(), settings).await.unwrap();
    TestGateway {
        base: gateway.base_url(),
        gateway: Some(gateway),
        dir,
        master,
        client: reqwest::Client::new(),
        database_url,
    }
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl TestGateway {
    /// Settings for restarting on the same database with `master` as the master key.
    pub fn settings_with(&self, master: &str) -> Settings {
        let mut settings = test_settings(master);
        settings.database.url = Some(self.database_url.clone());
        settings
    }

    /// Settings for restarting this gateway on its database.
    pub fn settings(&self) -> Settings {
        self.settings_with(&self.master)
    }

    /// Where the database keeps its files (scanned for plaintext secrets), after making it
    /// write everything there (PostgreSQL: a CHECKPOINT, since the test cluster commits
    /// asynchronously and keeps pages in shared memory).
    pub async fn storage_dir(&self) -> std::path::PathBuf {
        match backend() {
            Backend::Sqlite => self.dir.path().to_path_buf(),
            Backend::Postgres => {
                use sqlx::Connection as _;
                let mut conn = sqlx::postgres::PgConnection::connect(&self.database_url)
                    .await
                    .unwrap();
                sqlx::query("CHECKPOINT").execute(&mut conn).await.unwrap();
                pg::cluster().unwrap().data_dir.clone()
            }
        }
    }

    pub fn store(&self) -> &session_gateway::store::Store {
        self.gateway.as_ref().unwrap().store()
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method.parse().unwrap(), format!("{}{}", self.base, path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        into_reply(req.send().await.unwrap()).await
    }

    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call(method, path, Some(ADMIN_KEY), body).await
    }

    /// Waits (up to `secs`) until webhook `hook` lists `n` delivered deliveries; that listing.
    /// A receiver has its requests before the gateway records their outcomes.
    pub async fn wait_delivered(&self, hook: &str, n: usize, secs: u64) -> Reply {
        let path = format!("/v1/webhooks/{hook}/deliveries?status=delivered&limit=500");
        eventually(secs, &format!("{n} delivered"), || async {
            let log = self.admin("GET", &path, None).await;
            (log.body["deliveries"].as_array().unwrap().len() == n).then_some(log)
        })
        .await
    }

    pub async fn create_account(&self) -> (String, String) {
        let reply = self
            .admin("POST", "/v1/accounts", Some(serde_json::json!({})))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        (
            reply.body["session_id"].as_str().unwrap().to_owned(),
            reply.body["phrase"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn stop(&mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.stop().await;
        }
    }
}

pub async fn into_reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply { status, body }
}

/// Polls `check` until it returns `Some`, failing after `secs` seconds. For state that has no
/// notification of its own (database rows seen through the API).
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- webhook receiver ----------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: Vec<u8>,
    pub json: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answer 200 and record.
    Up,
    /// Answer 503 without recording.
    Down,
    /// Never answer (the gateway times out).
    Hang,
    /// Refuse every second request with 503.
    Flaky,
}

#[derive(Clone)]
struct ReceiverState {
    mode: Arc<Mutex<Mode>>,
    received: Arc<Mutex<Vec<Received>>>,
    count: watch::Sender<usize>,
    attempts: watch::Sender<usize>,
    /// TCP connections accepted.
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

pub struct Receiver {
    pub url: String,
    state: ReceiverState,
    server: actix_web::dev::ServerHandle,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let mut attempt = 0;
    state.attempts.send_modify(|n| {
        *n += 1;
        attempt = *n;
    });
    let mode = *state.mode.lock().unwrap();
    match mode {
        Mode::Flaky if attempt % 2 == 0 => return HttpResponse::ServiceUnavailable().finish(),
        Mode::Flaky => {}
        Mode::Down => return HttpResponse::ServiceUnavailable().finish(),
        Mode::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return HttpResponse::ServiceUnavailable().finish();
        }
        Mode::Up => {}
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let received = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or(-1),
        signature: header("webhook-signature"),
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        body: body.to_vec(),
    };
    state.received.lock().unwrap().push(received);
    state.count.send_modify(|n| *n += 1);
    // A short body, as many receivers send.
    HttpResponse::Ok().json(serde_json::json!({"ok": true}))
}

impl Receiver {
    pub async fn start(mode: Mode) -> Self {
        let state = ReceiverState {
            mode: Arc::new(Mutex::new(mode)),
            received: Arc::default(),
            count: watch::channel(0).0,
            attempts: watch::channel(0).0,
            connections: Arc::default(),
        };
        let data = web::Data::new(state.clone());
        let connections = state.connections.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/hook", web::post().to(receive))
        })
        .on_connect(move |_, _| {
            connections.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url,
            state,
            server: handle,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` deliveries were accepted.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let mut rx = self.state.count.subscribe();
        tokio::time::timeout(Duration::from_secs(secs), rx.wait_for(|c| *c >= n))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "receiver got {} of {n} deliveries",
                    *self.state.count.borrow()
                )
            })
            .unwrap();
        self.received()
    }

    /// Waits until at least `n` requests arrived (accepted or refused).
    pub async fn wait_for_attempts(&self, n: usize, secs: u64) {
        let mut rx = self.state.attempts.subscribe();
        tokio::time::timeout(Duration::from_secs(secs), rx.wait_for(|c| *c >= n))
            .await
            .expect("attempts")
            .unwrap();
    }

    pub async fn stop(&self) {
        self.server.stop(false).await;
    }
}

/// An enabled webhook `id` for every event of every account, posting to a closed port, with
/// one secret (store tests that need deliveries but no receiver).
pub fn webhook(id: &str) -> session_gateway::store::webhooks::Webhook {
    session_gateway::store::webhooks::Webhook {
        id: id.into(),
        url: "http://127.0.0.1:9/hook".into(),
        events: None,
        accounts: None,
        secrets: vec![session_gateway::store::webhooks::WebhookSecret {
            secret: "whsec_AAAA".into(),
            expires_at: None,
        }],
        enabled: true,
        created_at: 1,
        updated_at: 1,
    }
}

/// A store on the current backend (a fresh database for `dir`'s test) holding one account,
/// `account`; keep the dir alive as long as the store.
pub async fn store_with_account(
    account: &str,
) -> (session_gateway::store::Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(dir.path()).await;
    let master = session_gateway::store::MasterKey::generate();
    let store = session_gateway::store::Store::open(&url, 10, master)
        .await
        .unwrap();
    let id = session_gateway::ids::SessionIdText::parse(account).unwrap();
    store
        .insert_account(&id, None, &[7; 16], 1)
        .await
        .unwrap()
        .unwrap();
    (store, dir)
}

/// Whether any file under `dir` (recursively: a PostgreSQL cluster has subdirectories)
/// contains `needle`.
pub fn data_dir_contains(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        if path.is_dir() {
            return data_dir_contains(&path, needle);
        }
        let bytes = std::fs::read(path).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle)
    })
}

/// The actors' dependencies around `store` and `network`, as the gateway builds them, on the
/// current runtime (for suites that run actors or their steps without a whole gateway).
pub fn deps(
    store: &session_gateway::store::Store,
    network: session_gateway::network::SessionNetwork,
    settings: &Settings,
) -> session_gateway::actors::Deps {
    use session_gateway::actors::{startup_permits, ActorSettings, Deps, Services};
    Deps::new(Services {
        store: store.clone(),
        network,
        metrics: session_gateway::metrics::Metrics::new(),
        settings: std::sync::Arc::new(ActorSettings::from_settings(settings)),
        io: tokio::runtime::Handle::current(),
        attachments: Default::default(),
        startups: startup_permits(),
        health: Default::default(),
        own_copies: Default::default(),
        settles: Default::default(),
    })
}
