//! The operator's runbook, end to end: `attest admin rotate-master-key` (both engines) and
//! `attest admin copy-database` (SQLite → PostgreSQL). Data is made through the API and
//! the dashboard's server functions, the commands run as the real binary, and a real
//! `attest serve` afterwards reads it all back: documents byte for byte, sign-in with an
//! authenticator and with a recovery code, webhook signatures checked by the third-party
//! `standardwebhooks` package, an idempotent response replayed.

use crate::{
    both_engines,
    helpers::{jpeg, usps_body, Engine, TestApp},
    support::{attest, failed, said, succeeded, Receiver, Serving},
};
use app::documents::{
    blobs::{BlobStore, LocalBlobStore},
    crypto::{self, MasterKey},
};
use serde_json::{json, Value};
use std::{collections::BTreeMap, path::Path, time::Duration};

const PASSWORD: &str = "correct horse battery staple";
const ADA: &str = "ada@acme.test";

/// `attest serve` (with its workers) on `database_url` and `data_dir` with `key`
/// (`None`: the one in `<data-dir>/master.key`).
async fn serve(data_dir: &Path, database_url: &str, key: Option<&str>) -> Serving {
    Serving::start(data_dir, database_url, &[("ATTEST_MASTER_KEY", key.unwrap_or_default()), ("ATTEST_MFA_REQUIRED", "true")]).await
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).timeout(Duration::from_secs(60)).build().unwrap()
}

/// A server function called as the hydrated page does.
async fn rpc(client: &reqwest::Client, base: &str, name: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response =
        client.post(format!("{base}/rpc/{name}")).header("Accept", "application/json").header("Sec-Fetch-Site", "same-origin").form(form).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Ada signs in with her password, then `code` as her second factor: the status of that step.
async fn sign_in(base: &str, code: &str) -> u16 {
    let client = browser();
    let (status, body) = rpc(&client, base, "login", &[("email", ADA), ("password", PASSWORD)]).await;
    assert_eq!(status, 200, "the password step: {body}");
    let (status, state) = rpc(&client, base, "mfa_state", &[]).await;
    assert_eq!((status, state["method"].as_str()), (200, Some("totp")), "{state}");
    let (status, _) = rpc(&client, base, "verify_mfa", &[("code", code)]).await;
    if status == 200 {
        assert_eq!(rpc(&client, base, "my_workspaces", &[]).await.0, 200, "signed in");
    }
    status
}

/// Ada (an admin of acme) enrolls an authenticator through the dashboard's server
/// functions; returns her TOTP secret and her recovery codes.
async fn enroll_ada(app: &TestApp) -> (String, Vec<String>) {
    app.seed_member("acme", ADA, PASSWORD, app::access::Role::Admin).await;
    let client = app.new_client();
    app.login(&client, ADA, PASSWORD).await;
    let code = app.latest_code(ADA);
    assert_eq!(app.rpc(&client, "verify_mfa", &[("code", &code)]).await.0, 200);
    let (status, setup) = app.rpc(&client, "begin_totp", &[("password", PASSWORD)]).await;
    assert_eq!(status, 200, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_string();
    let now_code = app::auth::totp::current_code_for(&secret, ADA).unwrap();
    let (status, codes) = app.rpc(&client, "confirm_totp", &[("code", &now_code)]).await;
    assert_eq!(status, 200, "{codes}");
    (secret, serde_json::from_value(codes).unwrap())
}

/// A fresh authenticator code that the server will take: the last accepted step is moved
/// back, as if a minute had passed.
async fn fresh_totp(db: &app::store::Db, secret: &str) -> String {
    sqlx::query("UPDATE users SET totp_last_step = totp_last_step - 2 WHERE email = $1").bind(ADA).execute(db.pool()).await.unwrap();
    app::auth::totp::current_code_for(secret, ADA).unwrap()
}

/// What was uploaded: document id → (verification id, front, back).
type Uploaded = BTreeMap<String, (String, Vec<u8>, Vec<u8>)>;

/// A verification with a two-sided passport of unique bytes.
async fn create_with_document(client: &reqwest::Client, base: &str, token: &str, n: usize, uploaded: &mut Uploaded) {
    let created = client.post(format!("{base}/api/v1/usps1583/verifications")).bearer_auth(token).json(&usps_body()).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let mut front = jpeg();
    front.extend(format!("front side {n} of {id}").as_bytes());
    let mut back = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    back.extend(format!("back side {n} of {id}").as_bytes());
    let form = reqwest::multipart::Form::new()
        .text("type", "passport")
        .text("country", "GB")
        .part("file", reqwest::multipart::Part::bytes(front.clone()).file_name("front.jpg"))
        .part("back", reqwest::multipart::Part::bytes(back.clone()).file_name("back.png"));
    let response = client.post(format!("{base}/api/v1/usps1583/verifications/{id}/documents")).bearer_auth(token).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let doc = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    uploaded.insert(doc, (id, front, back));
}

/// Every uploaded document reads back through the API of `base`, byte for byte.
async fn read_back_every_document(base: &str, token: &str, uploaded: &Uploaded) {
    let client = reqwest::Client::new();
    for (doc, (verification, front, back)) in uploaded {
        for (side, expected) in [("front", front), ("back", back)] {
            let response = client
                .get(format!("{base}/api/v1/usps1583/verifications/{verification}/documents/{doc}/file?side={side}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{doc} {side}");
            assert_eq!(&response.bytes().await.unwrap().to_vec(), expected, "{doc} {side} reads back byte for byte");
        }
    }
}

/// An endpoint for `verification.canceled` whose secret was rotated once (so both its
/// current and its previous secret are sealed); returns (current, previous).
async fn webhook_endpoint(app: &TestApp, token: &str, url: &str) -> (String, String) {
    let client = reqwest::Client::new();
    let created: Value = client
        .post(app.url("/api/v1/webhook-endpoints"))
        .bearer_auth(token)
        .json(&json!({ "url": url, "description": "ops", "event_types": ["verification.canceled"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let rotated: Value = client
        .post(app.url(&format!("/api/v1/webhook-endpoints/{id}/rotate-secret")))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (rotated["secret"].as_str().unwrap().to_string(), created["secret"].as_str().unwrap().to_string())
}

/// Cancels a new verification through `base` and checks the delivery verifies with the
/// current and the previous secret.
async fn webhook_still_verifies(base: &str, token: &str, receiver: &Receiver) {
    let client = reqwest::Client::new();
    let created: Value =
        client.post(format!("{base}/api/v1/usps1583/verifications")).bearer_auth(token).json(&usps_body()).send().await.unwrap().json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let canceled = client.post(format!("{base}/api/v1/usps1583/verifications/{id}/cancel")).bearer_auth(token).json(&json!({})).send().await.unwrap();
    assert_eq!(canceled.status(), 200);
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0]["body"]["data"]["object"]["id"], json!(id));
    assert_eq!(got[0]["verified_with"], json!([0, 1]), "signed with the current and the previous secret, as before: {}", got[0]);
}

/// An API request with an Idempotency-Key; returns (status, body, replayed?).
async fn idempotent_create(base: &str, token: &str) -> (u16, Value, bool) {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/usps1583/verifications"))
        .bearer_auth(token)
        .header("Idempotency-Key", "ops-replay-1")
        .json(&usps_body())
        .send()
        .await
        .unwrap();
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    (response.status().as_u16(), response.json().await.unwrap(), replayed)
}

/// The sealed files of every document, as stored (local store under the data directory).
async fn stored_blobs(app: &TestApp) -> BTreeMap<String, Vec<u8>> {
    let keys = app::documents::rotation::document_blob_keys(&app.db).await.unwrap();
    keys.into_iter().map(|k| (k.clone(), std::fs::read(app.config.data_dir.join("documents").join(&k)).unwrap())).collect()
}

async fn a_rotated_master_key_opens_everything_and_the_old_one_nothing(engine: Engine) {
    let old = MasterKey::generate();
    let app = TestApp::spawn_with(engine, &[("ATTEST_MASTER_KEY", &old.to_base64()), ("ATTEST_MFA_REQUIRED", "true"), ("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    let mut uploaded = Uploaded::new();
    for n in 0..3 {
        create_with_document(&app.client, &app.address, &api.token, n, &mut uploaded).await;
    }
    let (secret, recovery) = enroll_ada(&app).await;
    let receiver = Receiver::start();
    let (current, previous) = webhook_endpoint(&app, &api.token, &receiver.url("/ok")).await;
    receiver.trust(&[&current, &previous]);
    let (status, first_body, replayed) = idempotent_create(&app.address, &api.token).await;
    assert_eq!((status, replayed), (201, false));
    let data_dir = app.config.data_dir.clone();
    let url = app.config.database_url().to_string();
    let store = LocalBlobStore::new(data_dir.join("documents"));

    // A rotation to another key, interrupted after one file, then reversed by running it
    // with the keys swapped: everything is back under the old key, recovery codes included.
    let detour = MasterKey::generate();
    let first_file = app::documents::rotation::document_blob_keys(&app.db).await.unwrap().remove(0);
    assert_eq!(app::documents::rotation::rewrap_blob(&store, &first_file, &old, &detour).await.unwrap(), app::documents::rotation::BlobOutcome::Rewrapped);
    let back =
        attest(&data_dir, &url, &["admin", "rotate-master-key"], &[("ATTEST_MASTER_KEY", &detour.to_base64()), ("ATTEST_NEW_MASTER_KEY", &old.to_base64())]);
    let back = succeeded(&back);
    assert!(back.contains("1 rewrapped, 5 already under the new key") && back.contains("0 secrets re-sealed"), "{back}");

    // Bob is half-way through an emailed-code sign-in when the key changes.
    app.seed_member("acme", "bob@acme.test", PASSWORD, app::access::Role::Viewer).await;
    let bob = browser();
    assert_eq!(rpc(&bob, &app.address, "login", &[("email", "bob@acme.test"), ("password", PASSWORD)]).await.0, 200);
    let bob_code = app.latest_code("bob@acme.test");

    let before = stored_blobs(&app).await;
    assert_eq!(before.len(), 6);
    let sealed_secrets = || async {
        let totp: Vec<Option<String>> = sqlx::query_scalar("SELECT totp_secret_enc FROM users ORDER BY id").fetch_all(app.db.pool()).await.unwrap();
        let hooks: Vec<String> = sqlx::query_scalar("SELECT secret_enc FROM webhook_endpoints").fetch_all(app.db.pool()).await.unwrap();
        (totp, hooks)
    };
    let secrets_before = sealed_secrets().await;

    let work = tempfile::tempdir().unwrap();
    let new = MasterKey::generate();
    let new_key_file = work.path().join("new.key");
    std::fs::write(&new_key_file, new.to_base64()).unwrap();
    let rotate = |key: &MasterKey| {
        attest(&data_dir, &url, &["admin", "rotate-master-key", "--new-key-file", new_key_file.to_str().unwrap()], &[("ATTEST_MASTER_KEY", &key.to_base64())])
    };

    // A key that did not seal this data is refused, and nothing changes.
    let refused = rotate(&MasterKey::generate());
    assert!(failed(&refused).contains("does not open with the current master key"), "{}", said(&refused));
    assert_eq!(stored_blobs(&app).await, before, "no document file touched");
    assert_eq!(sealed_secrets().await, secrets_before, "no secret touched");

    // An interrupted rotation: part of the files already under the new key.
    for key in before.keys().take(2) {
        let outcome = app::documents::rotation::rewrap_blob(&store, key, &old, &new).await.unwrap();
        assert_eq!(outcome, app::documents::rotation::BlobOutcome::Rewrapped);
    }
    let output = rotate(&old);
    let out = succeeded(&output);
    assert!(out.contains("4 rewrapped, 2 already under the new key"), "the run completes what was left: {out}");
    for key in [&old, &new] {
        assert!(!said(&output).contains(&key.to_base64()), "keys are never printed");
    }
    let again = succeeded(&rotate(&old));
    assert!(again.contains("0 rewrapped, 6 already under the new key") && again.contains("0 secrets re-sealed"), "a re-run finds nothing to do: {again}");

    // Only the header changed; the old key opens nothing, the new one everything.
    let after = stored_blobs(&app).await;
    for (key, sealed) in &after {
        assert_eq!(sealed[64..], before[key][64..], "{key}: the document is not re-encrypted");
        assert!(crypto::open(&old, sealed).is_err(), "{key}: the old key no longer opens it");
        assert!(crypto::open(&new, sealed).is_ok(), "{key}");
        assert!(store.get(key).await.unwrap().is_some());
    }
    let (totp_after, hooks_after) = sealed_secrets().await;
    assert_ne!(hooks_after, secrets_before.1, "webhook secrets re-sealed");
    assert_ne!(totp_after, secrets_before.0, "authenticator secrets re-sealed");
    assert!(out.contains("personal data") && !out.contains("0 values re-sealed"), "applicants re-sealed: {out}");
    let applicants: Vec<String> = sqlx::query_scalar("SELECT applicant FROM verifications").fetch_all(app.db.pool()).await.unwrap();
    let under_new = format!("pii1.{}.", app::documents::pii::key_id(&new));
    assert!(!applicants.is_empty() && applicants.iter().all(|a| a.starts_with(&under_new)), "every applicant is sealed by the new key: {applicants:?}");

    // `attest serve` with the NEW key reads it all.
    let serving = serve(&data_dir, &url, Some(&new.to_base64())).await;
    read_back_every_document(&serving.base, &api.token, &uploaded).await;
    let (status, replay_body, replayed) = idempotent_create(&serving.base, &api.token).await;
    assert_eq!((status, replayed), (201, true), "the stored response is replayed: {replay_body}");
    assert_eq!(replay_body, first_body);
    assert_eq!(sign_in(&serving.base, &fresh_totp(&app.db, &secret).await).await, 200, "an authenticator code signs in");
    assert_eq!(sign_in(&serving.base, &recovery[0]).await, 200, "a recovery code issued before the rotation signs in");
    assert_eq!(sign_in(&serving.base, &recovery[0]).await, 401, "…once");
    let voided: Vec<Option<i64>> =
        sqlx::query_scalar("SELECT c.voided_at FROM mfa_challenges c JOIN users u ON u.id = c.user_id WHERE u.email = 'bob@acme.test'")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
    assert!(!voided.is_empty() && voided.iter().all(Option::is_some), "an emailed code pending across the rotation is void (it was hashed under the old key)");
    assert_eq!(rpc(&bob, &serving.base, "verify_mfa", &[("code", &bob_code)]).await.0, 410, "Bob is sent back to sign in again");
    // The webhook endpoint made before the rotation still signs with both of its secrets.
    webhook_still_verifies(&serving.base, &api.token, &receiver).await;
}
both_engines!(a_rotated_master_key_opens_everything_and_the_old_one_nothing);

/// The generated `<data-dir>/master.key` of a sandbox install is replaced by the new key
/// when the rotation completes, so `attest serve` keeps starting without configuration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_master_key_file_is_replaced_only_when_the_rotation_completes() {
    let app = TestApp::spawn_with(Engine::Sqlite, &[("ATTEST_WORKERS", "false"), ("ATTEST_MFA_REQUIRED", "true")]).await;
    let api = app.api("acme").await;
    let mut uploaded = Uploaded::new();
    create_with_document(&app.client, &app.address, &api.token, 0, &mut uploaded).await;
    let (secret, recovery) = enroll_ada(&app).await;
    let data_dir = app.config.data_dir.clone();
    let url = app.config.database_url().to_string();
    let key_file = data_dir.join("master.key");
    let old_text = std::fs::read_to_string(&key_file).unwrap();
    let new = MasterKey::generate();
    let rotate = |key: &MasterKey| attest(&data_dir, &url, &["admin", "rotate-master-key"], &[("ATTEST_NEW_MASTER_KEY", &key.to_base64())]);

    let missing = attest(&data_dir, &url, &["admin", "rotate-master-key"], &[]);
    assert!(failed(&missing).contains("ATTEST_NEW_MASTER_KEY"), "the new key must be given");
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), old_text);

    let output = rotate(&new);
    let out = succeeded(&output);
    assert!(out.contains("now holds the new key") && out.contains("their key is now sealed by the new master key"), "{out}");
    assert!(!said(&output).contains(&new.to_base64()) && !said(&output).contains(old_text.trim()), "keys are never printed");
    assert_eq!(MasterKey::from_base64(&std::fs::read_to_string(&key_file).unwrap()).unwrap().to_base64(), new.to_base64());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o077, 0, "owner-only");
    }
    // Run again (the file now holds the new key): a check that finds everything under it.
    let again = succeeded(&rotate(&new));
    assert!(again.contains("already the key in use") && again.contains("0 rewrapped, 2 already"), "{again}");

    // A second rotation carries the recovery-code key on again.
    let newer = MasterKey::generate();
    let out = succeeded(&rotate(&newer));
    assert!(out.contains("2 rewrapped") && out.contains("their key re-sealed"), "{out}");
    let serving = serve(&data_dir, &url, None).await;
    read_back_every_document(&serving.base, &api.token, &uploaded).await;
    assert_eq!(sign_in(&serving.base, &recovery[3]).await, 200, "a recovery code from before both rotations signs in");
    assert_eq!(sign_in(&serving.base, &fresh_totp(&app.db, &secret).await).await, 200);
}

async fn row_counts(db: &app::store::Db, tables: &[String]) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for table in tables {
        counts.insert(table.clone(), sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(db.pool()).await.unwrap());
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_install_moves_to_postgres_with_every_row_document_and_secret() {
    if !crate::helpers::postgres_available("operations::a_sqlite_install_moves_to_postgres_with_every_row_document_and_secret") {
        return;
    }
    let app = TestApp::spawn_with(Engine::Sqlite, &[("ATTEST_MFA_REQUIRED", "true"), ("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    app.api("globex").await;
    let mut uploaded = Uploaded::new();
    for n in 0..3 {
        create_with_document(&app.client, &app.address, &api.token, n, &mut uploaded).await;
    }
    let (secret, recovery) = enroll_ada(&app).await;
    let receiver = Receiver::start();
    let (current, previous) = webhook_endpoint(&app, &api.token, &receiver.url("/ok")).await;
    receiver.trust(&[&current, &previous]);
    let (_, first_body, _) = idempotent_create(&app.address, &api.token).await;
    let ids = |page: &Value| page["data"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let (_, listed) = api.get("/usps1583/verifications").await;
    let listed = ids(&listed);
    assert_eq!(listed.len(), 4);

    let data_dir = app.config.data_dir.clone();
    let sqlite_url = app.config.database_url().to_string();
    let key = std::fs::read_to_string(data_dir.join("master.key")).unwrap().trim().to_string();
    // A target that already holds data is refused, and left as it was.
    let busy = crate::helpers::fresh_postgres_database().await;
    let busy_db = app::store::Db::connect(&busy).await.unwrap();
    busy_db.migrate().await.unwrap();
    app::workspaces::service::create(&busy_db, "Someone else", Some("else"), &app::access::Actor::Operator).await.unwrap();
    let refused = attest(&data_dir, &sqlite_url, &["admin", "copy-database", "--to", &busy], &[]);
    assert!(failed(&refused).contains("not empty"), "{}", said(&refused));
    assert_eq!(row_counts(&busy_db, &["workspaces".to_string(), "users".to_string()]).await.values().sum::<i64>(), 1);
    busy_db.close().await;
    let foreign = crate::helpers::fresh_postgres_database().await;
    let foreign_db = app::store::Db::connect(&foreign).await.unwrap();
    sqlx::query("CREATE TABLE invoices (id BIGINT PRIMARY KEY)").execute(foreign_db.pool()).await.unwrap();
    let refused = attest(&data_dir, &sqlite_url, &["admin", "copy-database", "--to", &foreign], &[]);
    assert!(failed(&refused).contains("not Attest's"), "another application's database is left alone: {}", said(&refused));
    let untouched: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()").fetch_one(foreign_db.pool()).await.unwrap();
    assert_eq!(untouched, 1, "no Attest table was created there");
    foreign_db.close().await;

    // Counters: no Attest table has one today, a later migration might. The copy keeps
    // their values and moves PostgreSQL's sequence past them.
    for sql in [
        "CREATE TABLE ops_serial (n INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL)",
        "CREATE TABLE ops_identity (n INTEGER PRIMARY KEY, label TEXT NOT NULL)",
        "INSERT INTO ops_serial (label) VALUES ('a'), ('b')",
        "INSERT INTO ops_serial (n, label) VALUES (10, 'c')",
        "INSERT INTO ops_identity (n, label) VALUES (1, 'a'), (7, 'b')",
    ] {
        sqlx::query(sql).execute(app.db.pool()).await.unwrap();
    }
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name <> '_sqlx_migrations' ORDER BY name")
            .fetch_all(app.db.pool())
            .await
            .unwrap();
    let counts = row_counts(&app.db, &tables).await;
    for table in [
        "workspaces",
        "users",
        "memberships",
        "api_tokens",
        "verifications",
        "documents",
        "webhook_endpoints",
        "recovery_codes",
        "idempotency_keys",
        "events",
        "history",
    ] {
        assert!(counts[table] > 0, "the test has {table} rows to move");
    }

    // The move, into a fresh database (the URL from the environment, off the command line).
    let target = crate::helpers::fresh_postgres_database().await;
    let prepared = app::store::Db::connect(&target).await.unwrap();
    prepared.migrate().await.unwrap();
    for sql in [
        "CREATE TABLE ops_serial (n BIGSERIAL PRIMARY KEY, label TEXT NOT NULL)",
        "CREATE TABLE ops_identity (n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label TEXT NOT NULL)",
    ] {
        sqlx::query(sql).execute(prepared.pool()).await.unwrap();
    }
    prepared.close().await;
    let output = attest(&data_dir, &sqlite_url, &["admin", "copy-database"], &[("ATTEST_COPY_TO_DATABASE_URL", &target)]);
    let out = succeeded(&output);
    assert!(out.contains(&format!("verifications: {}", counts["verifications"])), "{out}");
    let pg = app::store::Db::connect(&target).await.unwrap();
    assert_eq!(row_counts(&pg, &tables).await, counts, "every table, every row");
    for table in ["ops_serial", "ops_identity"] {
        let n: i64 = sqlx::query_scalar(&format!("INSERT INTO {table} (label) VALUES ('new') RETURNING n")).fetch_one(pg.pool()).await.unwrap();
        assert_eq!(n, if table == "ops_serial" { 11 } else { 8 }, "{table}: a new row numbers after the copied ones");
    }
    // Ids, timestamps and sealed secrets exactly as they were.
    for (table, columns) in [
        ("verifications", "id, workspace_id, status, applicant, version, created_at, updated_at"),
        ("documents", "id, verification_id, front_blob, back_blob, front_size, extracted, created_at"),
        ("users", "id, email, password_hash, totp_secret_enc, totp_last_step, created_at"),
        ("webhook_endpoints", "id, secret_enc, previous_secret_enc, previous_secret_until, created_at"),
        ("recovery_codes", "user_id, code_hash, used_at, created_at"),
        ("api_tokens", "id, token_hash, scopes, expires_at, created_at"),
        ("idempotency_keys", "workspace_id, key, request_hash, response_status, response_sealed, created_at"),
        ("activity", "id, action, detail, created_at"),
    ] {
        let sql = format!("SELECT {columns} FROM {table}");
        let read = |db: &app::store::Db| {
            let sql = sql.clone();
            let pool = db.pool().clone();
            async move {
                let rows = sqlx::query(&sql).fetch_all(&pool).await.unwrap();
                rows.iter()
                    .map(|row| {
                        use sqlx::{Row, ValueRef};
                        (0..row.len())
                            .map(|i| {
                                let raw = row.try_get_raw(i).unwrap();
                                if raw.is_null() {
                                    "null".to_string()
                                } else if let Ok(v) = row.try_get::<i64, _>(i) {
                                    v.to_string()
                                } else if let Ok(v) = row.try_get::<f64, _>(i) {
                                    v.to_string()
                                } else {
                                    row.try_get::<String, _>(i).unwrap()
                                }
                            })
                            .collect::<Vec<_>>()
                            .join(" | ")
                    })
                    .collect::<std::collections::BTreeSet<String>>()
            }
        };
        assert_eq!(read(&pg).await, read(&app.db).await, "{table} is copied as it was");
    }
    let again = attest(&data_dir, &sqlite_url, &["admin", "copy-database", "--to", &target], &[]);
    assert!(failed(&again).contains("not empty"), "a second copy into the filled database is refused");
    assert!(!said(&output).contains(&key), "the key is never printed");

    // `attest serve` on PostgreSQL, same data directory and master key, reads it all back.
    let serving = serve(&data_dir, &target, Some(&key)).await;
    let client = reqwest::Client::new();
    let listed_after: Value =
        client.get(format!("{}/api/v1/usps1583/verifications", serving.base)).bearer_auth(&api.token).send().await.unwrap().json().await.unwrap();
    assert_eq!(ids(&listed_after), listed, "the token works and the list is the same, in the same order");
    read_back_every_document(&serving.base, &api.token, &uploaded).await;
    let (status, replay, replayed) = idempotent_create(&serving.base, &api.token).await;
    assert_eq!((status, replayed, &replay), (201, true, &first_body), "an idempotent response recorded on SQLite replays on PostgreSQL");
    assert_eq!(sign_in(&serving.base, &fresh_totp(&pg, &secret).await).await, 200, "an authenticator code signs in");
    assert_eq!(sign_in(&serving.base, &recovery[0]).await, 200, "a recovery code signs in");
    webhook_still_verifies(&serving.base, &api.token, &receiver).await;

    // New rows insert fine next to the copied ones.
    let mut more = Uploaded::new();
    create_with_document(&client, &serving.base, &api.token, 9, &mut more).await;
    read_back_every_document(&serving.base, &api.token, &more).await;
    let token =
        succeeded(&attest(&data_dir, &target, &["admin", "create-token", "--workspace", "acme", "--name", "after the move"], &[("ATTEST_MASTER_KEY", &key)]));
    let token = token.lines().last().unwrap().trim().to_string();
    let me = client.get(format!("{}/api/v1/usps1583/verifications", serving.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 200);
    pg.close().await;
}
