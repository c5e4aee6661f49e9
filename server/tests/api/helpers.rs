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
                if $crate::helpers::postgres_available() {
                    super::$name($crate::helpers::Engine::Postgres).await
                }
            }
        }
    };
}

/// Whether a PostgreSQL server is configured; fails the test when the run requires one.
pub fn postgres_available() -> bool {
    match std::env::var("ATTEST_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => true,
        _ => {
            assert!(
                std::env::var("ATTEST_TEST_REQUIRE_POSTGRES").is_err(),
                "ATTEST_TEST_REQUIRE_POSTGRES is set but ATTEST_TEST_POSTGRES_URL is not"
            );
            eprintln!("skipping the PostgreSQL variant: ATTEST_TEST_POSTGRES_URL is not set (scripts/test sets it)");
            false
        }
    }
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
        if engine == Engine::Postgres {
            env.insert("DATABASE_URL".into(), fresh_postgres_database().await);
        }
        for (k, v) in extra_env {
            env.insert(k.to_string(), v.to_string());
        }
        let flags = FlagConfig {
            config_file: None,
            addr: Some("127.0.0.1:0".into()),
            data_dir: Some(data_dir.path().to_path_buf()),
        };
        let config = Config::from_sources(&flags, &env).expect("test configuration");
        let db = server::startup::open_database(&config).await.expect("database opens and migrates");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let address = format!("http://{}", listener.local_addr().unwrap());
        let state = server::startup::app_state(&config, db.clone()).expect("state");
        tokio::spawn(server::startup::serve(listener, state, std::future::pending()));

        TestApp { address, client: client(), db, config, _data_dir: data_dir }
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
            app::workspaces::service::create(&self.db, &format!("Workspace {slug}"), Some(slug), &Actor::Operator)
                .await
                .unwrap();
        }
        app::members::add_member(&self.db, email, Some(password), slug, role, &Actor::Operator).await.unwrap()
    }

    /// Calls the `login` server function the way the hydrated page does.
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

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}
