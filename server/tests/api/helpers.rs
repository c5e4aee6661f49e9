//! A running app per test, on SQLite or PostgreSQL, and an HTTP client with cookies.

use app::{access::Actor, store::Db};
use server::config::{Config, FlagConfig};
use std::collections::HashMap;
use tempfile::TempDir;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Runs an async test body on both engines: `both_engines!(name_of_async_fn);`
#[macro_export]
macro_rules! both_engines {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Engine::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_available(concat!(module_path!(), "::postgres")) {
                    super::$name($crate::helpers::Engine::Postgres).await
                }
            }
        }
    };
}

/// Whether a PostgreSQL server is configured. Without one, `test` is skipped (and says
/// so) on a developer's machine, and fails under `CI` or `ATTEST_TEST_REQUIRE_POSTGRES=1`
/// ([`attest_test_support::needs`] decides).
pub fn postgres_available(test: &str) -> bool {
    let configured = std::env::var("ATTEST_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty());
    attest_test_support::needs::check(&attest_test_support::needs::POSTGRES, configured, test)
}

/// A fresh, empty PostgreSQL database on the test server; returns its URL.
pub async fn fresh_postgres_database() -> String {
    use sqlx::Connection;
    let admin_url = std::env::var("ATTEST_TEST_POSTGRES_URL").expect("ATTEST_TEST_POSTGRES_URL");
    let name = format!("attest_t_{}", app::store::ids::new_id("db").trim_start_matches("db_"));
    let mut conn = sqlx::PgConnection::connect(&admin_url).await.expect("connect to the test PostgreSQL server");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
    let base = admin_url.rsplit_once('/').map(|(base, _)| base).unwrap_or(&admin_url);
    format!("{base}/{name}")
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Db,
    pub config: Config,
    /// The state the server runs with (its pipeline, deliverer, files).
    pub state: app::state::AppState,
    _data_dir: TempDir,
}

impl TestApp {
    pub async fn spawn(engine: Engine) -> TestApp {
        TestApp::spawn_with(engine, &[]).await
    }

    pub async fn spawn_with(engine: Engine, extra_env: &[(&str, &str)]) -> TestApp {
        server::telemetry::init();
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut env: HashMap<String, String> = HashMap::new();
        env.insert("ATTEST_ENV".into(), "sandbox".into());
        env.insert("ATTEST_MFA_REQUIRED".into(), "false".into());
        env.insert("ATTEST_SITE_ROOT".into(), concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site").into());
        // The extraction models, installed by scripts/models (the pipeline's tests need them).
        if let Ok(models) = std::env::var("ATTEST_MODELS_DIR") {
            env.insert("ATTEST_MODELS_DIR".into(), models);
        }
        if engine == Engine::Postgres {
            env.insert("DATABASE_URL".into(), fresh_postgres_database().await);
        }
        for (k, v) in extra_env {
            env.insert(k.to_string(), v.to_string());
        }
        let flags = FlagConfig { config_file: None, addr: Some("127.0.0.1:0".into()), data_dir: Some(data_dir.path().to_path_buf()) };
        let config = Config::from_sources(&flags, &env).expect("test configuration");
        let db = server::startup::open_database(&config).await.expect("database opens and migrates");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let address = format!("http://{}", listener.local_addr().unwrap());
        let state = server::startup::app_state(&config, db.clone()).expect("state");
        let (serving, served) = (config.clone(), state.clone());
        tokio::spawn(async move { server::startup::serve_configured(listener, served, &serving, std::future::pending()).await });

        TestApp { address, client: client(), db, config, state, _data_dir: data_dir }
    }

    /// Runs every due job (pipeline, webhook deliveries) until none is left due, and
    /// says what ran ([`app::jobs::run_pending`]). For a pass nothing else races, spawn
    /// the app with `ATTEST_WORKERS=false`.
    pub async fn run_pending(&self) -> app::jobs::Drained {
        app::jobs::run_pending(&self.state).await.expect("the queue runs")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A second browser: its own cookie jar.
    pub fn new_client(&self) -> reqwest::Client {
        client()
    }

    /// Creates workspace `slug` and a member with `password`; returns the user id.
    pub async fn seed_member(&self, slug: &str, email: &str, password: &str, role: app::access::Role) -> String {
        if app::workspaces::service::find_by_slug(&self.db, slug).await.unwrap().is_none() {
            app::workspaces::service::create(&self.db, &format!("Workspace {slug}"), Some(slug), &Actor::Operator).await.unwrap();
        }
        app::members::service::add_member(&self.db, email, Some(password), slug, role, &Actor::Operator).await.unwrap()
    }

    /// Calls the `login` server function the way the hydrated page does.
    /// Signed-in dashboard clients of acme's viewer, reviewer and owner (the first two
    /// seeded here, with the owner's password).
    pub async fn viewer_reviewer_owner(&self) -> [reqwest::Client; 3] {
        let password = "a long enough password";
        let mut clients = Vec::new();
        for (email, role) in
            [("vera@acme.test", Some(app::access::Role::Viewer)), ("rita@acme.test", Some(app::access::Role::Reviewer)), ("owner@acme.test", None)]
        {
            if let Some(role) = role {
                self.seed_member("acme", email, password, role).await;
            }
            let client = self.new_client();
            assert_eq!(self.login(&client, email, password).await.status(), 200, "{email} signs in");
            clients.push(client);
        }
        clients.try_into().expect("three clients")
    }

    pub async fn login(&self, client: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
        client
            .post(self.url("/rpc/login"))
            .header("Accept", "application/json")
            .header("Sec-Fetch-Site", "same-origin")
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap()
    }
}

/// A browser-like client. Every request gives up after a minute, so a request the server
/// never answers fails its test by name instead of hanging the whole run.
fn client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).timeout(std::time::Duration::from_secs(60)).build().unwrap()
}

/// An API client for one workspace's token.
pub struct Api<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl TestApp {
    /// A workspace `slug` with an owner and a token with every scope.
    pub async fn api(&self, slug: &str) -> Api<'_> {
        self.seed_member(slug, &format!("owner@{slug}.test"), "a long enough password", app::access::Role::Owner).await;
        let created = app::access::tokens::create(&self.db, self.config.environment, slug, "tests", None, &Actor::Operator).await.unwrap();
        Api { app: self, token: created.token }
    }
}

impl Api<'_> {
    pub fn url(&self, path: &str) -> String {
        self.app.url(&format!("/api/v1{path}"))
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.app.client.get(self.url(path)).bearer_auth(&self.token).send().await.unwrap();
        split(response).await
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self.app.client.post(self.url(path)).bearer_auth(&self.token).json(&body).send().await.unwrap();
        split(response).await
    }

    pub async fn patch(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self.app.client.patch(self.url(path)).bearer_auth(&self.token).json(&body).send().await.unwrap();
        split(response).await
    }

    pub async fn put(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self.app.client.put(self.url(path)).bearer_auth(&self.token).json(&body).send().await.unwrap();
        split(response).await
    }

    pub async fn delete(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.app.client.delete(self.url(path)).bearer_auth(&self.token).send().await.unwrap();
        split(response).await
    }

    pub async fn upload(&self, path: &str, fields: &[(&str, &str)], files: Vec<(&str, Vec<u8>)>) -> (u16, serde_json::Value) {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        for (name, bytes) in files {
            form = form.part(name.to_string(), reqwest::multipart::Part::bytes(bytes).file_name("upload.bin"));
        }
        let response = self.app.client.post(self.url(path)).bearer_auth(&self.token).multipart(form).send().await.unwrap();
        split(response).await
    }

    /// Creates a verification from `body` (201) and returns its id.
    pub async fn create(&self, flow: &str, body: serde_json::Value) -> String {
        let (status, created) = self.post(&format!("/{flow}/verifications"), body).await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap().to_string()
    }

    /// A usps1583 verification with a licence, a lease and a selfie (synthetic files
    /// that extract nothing), submitted; returns its id and the documents as uploaded.
    pub async fn submitted(&self, reference: &str) -> (String, Vec<serde_json::Value>) {
        let id = self
            .create(
                "usps1583",
                serde_json::json!({
                    "reference": reference,
                    "applicant": { "first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1990-12-10",
                        "address": { "line1": "12 Main Street", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US" } },
                    "photo_id": { "type": "drivers_license", "country": "US" },
                    "proof_of_address": { "type": "lease", "country": "US" }
                }),
            )
            .await;
        let mut docs = Vec::new();
        for (kind, file) in [("drivers_license", jpeg()), ("lease", pdf()), ("selfie", jpeg())] {
            let (status, doc) =
                self.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", "US")], vec![("file", file)]).await;
            assert_eq!(status, 201, "{doc}");
            docs.push(doc);
        }
        let (status, _) = self.post(&format!("/usps1583/verifications/{id}/submit"), serde_json::json!({})).await;
        assert_eq!(status, 200);
        (id, docs)
    }
}

async fn split(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

/// A valid usps1583 create body.
pub fn usps_body() -> serde_json::Value {
    serde_json::json!({
        "reference": "cust_42",
        "applicant": {
            "first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1990-12-10", "email": "ada@example.com",
            "address": { "line1": "12 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US" }
        },
        "photo_id": { "type": "passport", "country": "GB", "number": "123456789" },
        "proof_of_address": { "type": "lease", "country": "US" },
        "mailbox": { "pmb": "101" },
        "metadata": { "crm_id": 7 }
    })
}

/// A tiny real JPEG header followed by filler: sniffed as JPEG.
pub fn jpeg() -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01];
    bytes.extend(std::iter::repeat_n(0x42, 2048));
    bytes
}

pub fn pdf() -> Vec<u8> {
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

impl TestApp {
    /// The messages written to the local outbox (no SMTP configured), oldest first.
    pub fn outbox(&self) -> Vec<String> {
        let dir = self.config.data_dir.join("outbox");
        let mut files: Vec<_> = std::fs::read_dir(&dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
        files.sort();
        files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect()
    }

    /// The sign-in code of the newest mail to `email`.
    pub fn latest_code(&self, email: &str) -> String {
        let mail = self
            .outbox()
            .into_iter()
            .rev()
            .find(|m| m.contains(&format!("To: {email}")) && m.contains("sign-in code is"))
            .expect("a sign-in code mailed to the user");
        sign_in_code(&mail)
    }

    /// Calls a server function with a form body, as the hydrated page does.
    pub async fn rpc(&self, client: &reqwest::Client, name: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let response = client
            .post(self.url(&format!("/rpc/{name}")))
            .header("Accept", "application/json")
            .header("Sec-Fetch-Site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    }
}

/// The 6-digit code in a sign-in mail's body (never in its subject).
pub fn sign_in_code(mail: &str) -> String {
    let at = mail.find("sign-in code is ").expect("a sign-in code in the mail") + "sign-in code is ".len();
    mail[at..].chars().take(6).collect()
}

/// A real 320×240 PNG (a grey card with a dark band): decodes, but holds no document.
pub fn png_image() -> Vec<u8> {
    use attest_extract::image::{GrayImage, Luma};
    let img = GrayImage::from_fn(320, 240, |_, y| Luma([if (100..140).contains(&y) { 40 } else { 200 }]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, attest_extract::image::ImageFormat::Png).unwrap();
    out.into_inner()
}
