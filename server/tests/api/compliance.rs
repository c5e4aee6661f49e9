//! CMRA compliance (issue 17, part A): the PS Form 1583 record (JSON by box, PDF read back
//! with poppler's `pdftotext`), the evidence pack, the photo-ID expiry job on a clock the
//! test controls, re-verification, and the quarterly certification on a seeded quarter.

use crate::{
    both_engines,
    helpers::{jpeg, Api, Engine, TestApp},
    pipeline::{decided, documents_for, models_available, spec},
};
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::io::Read;

const CMRA: &str = "Harbor Mail Center";

/// A usps1583 body for `last_name` with a US licence as photo ID and `mailbox`.
fn body(last_name: &str, mailbox: Value) -> Value {
    json!({
        "reference": format!("cmra-{last_name}"),
        "applicant": {
            "first_name": "Ada", "last_name": last_name, "date_of_birth": "1990-12-10", "email": "ada@example.com", "phone": "+1 555 0100",
            "address": { "line1": "12 Main Street", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US" }
        },
        "photo_id": { "type": "drivers_license", "country": "US", "number": "L123-4567-8901" },
        "proof_of_address": { "type": "lease", "country": "US" },
        "mailbox": mailbox
    })
}

async fn set_cmra(api: &Api<'_>) {
    let (status, profile) = api
        .put(
            "/usps1583/cmra",
            json!({ "name": CMRA, "address": { "line1": "500 Harbor Blvd", "city": "Oakland", "state": "CA", "postal_code": "94607", "country": "US" } }),
        )
        .await;
    assert_eq!(status, 200, "{profile}");
}

/// Documents to upload: (type, [(part name, bytes)]).
type Uploads<'a> = Vec<(&'a str, Vec<(&'a str, Vec<u8>)>)>;

/// Uploads each document, submits, and waits for the pipeline's decision.
async fn submit_and_decide(api: &Api<'_>, id: &str, uploads: Uploads<'_>) -> Value {
    for (kind, files) in uploads {
        let (status, doc) = api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", "US")], files).await;
        assert_eq!(status, 201, "{doc}");
    }
    let (status, submitted) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!(status, 200, "{submitted}");
    decided(api, id).await
}

/// A sandbox verification (`sandbox-approve` or another magic name) with `mailbox`, decided by the pipeline.
async fn sandbox_record(api: &Api<'_>, last_name: &str, mailbox: Value) -> (String, Value) {
    let id = api.create("usps1583", body(last_name, mailbox)).await;
    let v =
        submit_and_decide(api, &id, vec![("drivers_license", vec![("file", jpeg())]), ("lease", vec![("file", jpeg())]), ("selfie", vec![("file", jpeg())])])
            .await;
    (id, v)
}

async fn approved_record(api: &Api<'_>, mailbox: Value) -> String {
    let (id, v) = sandbox_record(api, "sandbox-approve", mailbox).await;
    assert_eq!(v["status"], "approved", "{v:#}");
    id
}

async fn get_bytes(api: &Api<'_>, path: &str) -> (u16, String, Vec<u8>) {
    let response = api.app.client.get(api.url(path)).bearer_auth(&api.token).send().await.unwrap();
    let status = response.status().as_u16();
    let media_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, media_type, response.bytes().await.unwrap().to_vec())
}

/// The text of a PDF as poppler's `pdftotext -layout` reads it.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("form.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext").arg("-layout").arg(&path).arg("-").output().expect("pdftotext (poppler-utils) is installed");
    assert!(out.status.success(), "pdftotext could not read the PDF: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The line of `text` that starts with box `key`.
fn box_line<'t>(text: &'t str, key: &str) -> &'t str {
    text.lines().find(|l| l.trim_start().starts_with(&format!("{key} "))).unwrap_or_else(|| panic!("box {key} is not in the PDF:\n{text}"))
}

/// A token of the workspace with only `scopes`.
async fn token_with(app: &TestApp, slug: &str, scopes: &str) -> String {
    app::access::tokens::create_with_scopes(&app.db, app.config.environment, slug, "limited", None, Some(scopes), &app::access::Actor::Operator)
        .await
        .unwrap()
        .token
}

async fn a_licence_record_is_filled_from_the_barcode_and_printable(engine: Engine) {
    if !models_available(&format!("compliance::a_licence_record_is_filled_from_the_barcode_and_printable ({engine:?})")) {
        return;
    }
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    set_cmra(&api).await;
    let docs = documents_for(spec(json!({})));
    let id = api.create("usps1583", body("Lovelace", json!({ "pmb": "101", "opened_on": "2026-10-05", "service_type": "residential" }))).await;

    // Before the decision there is no record yet.
    let (status, early) = api.get(&format!("/usps1583/verifications/{id}/form-1583")).await;
    assert_eq!((status, early["message"].as_str()), (409, Some("The PS Form 1583 record exists once the verification is approved.")));

    let read = |name: &str| std::fs::read(docs.path().join(name)).unwrap();
    let v = submit_and_decide(
        &api,
        &id,
        vec![
            ("drivers_license", vec![("file", read("front.jpg")), ("back", read("back.png"))]),
            ("lease", vec![("file", read("poa.pdf"))]),
            ("selfie", vec![("file", read("selfie.jpg"))]),
        ],
    )
    .await;
    assert_eq!(v["status"], "approved", "{v:#}");

    let (status, form) = api.get(&format!("/usps1583/verifications/{id}/form-1583")).await;
    assert_eq!(status, 200, "{form}");
    assert_eq!(form["1a"], "2026-10-05");
    assert_eq!(form["1b"], Value::Null);
    assert_eq!(form["2"], "Harbor Mail Center, 500 Harbor Blvd, Oakland, CA 94607, US (PMB 101)");
    assert_eq!(form["3"], "residential");
    assert_eq!((form["4a"].as_str(), form["4b"].as_str(), form["4d"].as_str()), (Some("Lovelace"), Some("Ada"), Some("1990-12-10")));
    assert_eq!(form["4j"], "+1 555 0100 / ada@example.com");
    assert_eq!(form["4k"], "No");
    // Box 8 as the AAMVA barcode says it.
    assert_eq!(form["8a"], "ADA LOVELACE");
    assert_eq!(form["8b"], "L123-4567-8901");
    assert_eq!(form["8c"], "IL, US");
    assert_eq!(form["8d"], "2031-05-01");
    assert_eq!(form["8e"], "Driver's license");
    // Box 9 from the lease's text.
    assert_eq!(form["9e"], "62701");
    assert_eq!(form["9g"], "Lease");
    for business in ["5", "6", "7"] {
        assert!(form.get(business).is_none(), "a residential box has no box {business}: {form:#}");
    }

    let (status, media_type, pdf) = get_bytes(&api, &format!("/usps1583/verifications/{id}/form-1583?format=pdf")).await;
    assert_eq!((status, media_type.as_str()), (200, "application/pdf"));
    let text = pdf_text(&pdf);
    assert!(text.contains("PS Form 1583 record - PMB 101"), "{text}");
    assert!(box_line(&text, "8d").contains("Photo ID expiration date") && box_line(&text, "8d").contains("2031-05-01"), "{text}");
    assert!(box_line(&text, "8b").contains("L123-4567-8901"), "{text}");
    assert!(box_line(&text, "2").contains(CMRA), "{text}");
    assert!(box_line(&text, "4a").contains("Lovelace"), "{text}");
    for (key, _) in app::compliance::BOXES.iter().filter(|(k, _)| !app::compliance::BUSINESS_BOXES.contains(k)) {
        box_line(&text, key);
    }
}
both_engines!(a_licence_record_is_filled_from_the_barcode_and_printable);

async fn a_passport_record_is_filled_from_the_mrz(engine: Engine) {
    if !models_available(&format!("compliance::a_passport_record_is_filled_from_the_mrz ({engine:?})")) {
        return;
    }
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let docs = documents_for(spec(json!({
        "passport": { "surname": "Lovelace", "given_names": "Ada King", "number": "X1234567", "nationality": "GBR",
                      "date_of_birth": "1990-12-10", "expiry": "2032-03-04", "sex": "F" }
    })));
    let mut b = body(
        "Lovelace",
        json!({ "pmb": "7B", "opened_on": "2026-11-02", "service_type": "business",
                "business": { "name": "Lovelace Analytics LLC", "type": "LLC", "registered_in": "Delaware" } }),
    );
    b["applicant"]["middle_name"] = json!("King");
    b["photo_id"] = json!({ "type": "passport", "country": "GB", "number": "X1234567" });
    let id = api.create("usps1583", b).await;
    let read = |name: &str| std::fs::read(docs.path().join(name)).unwrap();
    for (kind, country, file) in [("passport", "GB", "passport.png"), ("lease", "US", "poa.pdf"), ("selfie", "US", "selfie.jpg")] {
        let (status, doc) =
            api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", country)], vec![("file", read(file))]).await;
        assert_eq!(status, 201, "{doc}");
    }
    let (status, _) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!(status, 200);
    let v = decided(&api, &id).await;
    assert_eq!(v["status"], "approved", "{v:#}");

    let (status, form) = api.get(&format!("/usps1583/verifications/{id}/form-1583")).await;
    assert_eq!(status, 200, "{form}");
    assert_eq!(form["8a"], "ADA KING LOVELACE");
    assert_eq!(form["8b"], "X1234567");
    assert_eq!(form["8c"], "GB");
    assert_eq!(form["8d"], "2032-03-04");
    assert_eq!(form["8e"], "Passport");
    assert_eq!(form["4c"], "King");
    assert_eq!(form["3"], "business");
    assert_eq!(form["5"], "Lovelace Analytics LLC");
    assert_eq!(form["7"], "LLC, registered in Delaware");
    // No CMRA profile yet: box 2 still names the PMB.
    assert_eq!(form["2"], "PMB 7B");

    let (_, _, pdf) = get_bytes(&api, &format!("/usps1583/verifications/{id}/form-1583?format=pdf")).await;
    let text = pdf_text(&pdf);
    assert!(box_line(&text, "8e").contains("Passport"), "{text}");
    assert!(box_line(&text, "5").contains("Lovelace Analytics LLC"), "{text}");
}
both_engines!(a_passport_record_is_filled_from_the_mrz);

async fn a_record_is_not_readable_from_another_workspace_or_without_documents_read(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = approved_record(&api, json!({ "pmb": "12", "opened_on": "2026-10-01" })).await;
    let (status, _) = api.get(&format!("/usps1583/verifications/{id}/form-1583")).await;
    assert_eq!(status, 200);

    let other = app.api("other").await;
    for path in [
        format!("/usps1583/verifications/{id}/form-1583"),
        format!("/usps1583/verifications/{id}/form-1583?format=pdf"),
        format!("/usps1583/verifications/{id}/evidence"),
    ] {
        let (status, body) = other.get(&path).await;
        assert_eq!((status, body["message"].as_str()), (404, Some("Not found.")), "{path}");
    }

    let reader = Api { app: &app, token: token_with(&app, "acme", "verifications:read verifications:write").await };
    for path in [format!("/usps1583/verifications/{id}/form-1583"), format!("/usps1583/verifications/{id}/evidence")] {
        let (status, body) = reader.get(&path).await;
        assert_eq!((status, body["message"].as_str()), (403, Some("This action is unauthorized.")), "{path}");
    }
    let (status, _) = api.get(&format!("/identity/verifications/{id}/form-1583")).await;
    assert_eq!(status, 404, "identity has no 1583 record");
    let downloads: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE action = 'verification.evidence_downloaded'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(downloads, 0, "refused downloads leave no pack behind");
}
both_engines!(a_record_is_not_readable_from_another_workspace_or_without_documents_read);

async fn an_approved_record_only_takes_its_closing_date(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    // While started, the mailbox may change like the rest.
    let started = api.create("usps1583", body("Lovelace", json!({ "pmb": "5" }))).await;
    let (status, v) =
        api.patch(&format!("/usps1583/verifications/{started}"), json!({ "mailbox": { "opened_on": "2026-10-01", "service_type": "residential" } })).await;
    assert_eq!((status, v["mailbox"]["opened_on"].as_str(), v["mailbox"]["pmb"].as_str()), (200, Some("2026-10-01"), Some("5")), "{v}");

    let id = approved_record(&api, json!({ "pmb": "9", "opened_on": "2026-10-01", "service_type": "residential" })).await;
    let path = format!("/usps1583/verifications/{id}");
    let only = "Once the verification is approved only mailbox.closed_on may change.";
    let (status, refused) = api.patch(&path, json!({ "applicant": { "last_name": "King" } })).await;
    assert_eq!((status, refused["errors"]["applicant"][0].as_str()), (422, Some(only)), "{refused}");
    let (status, refused) = api.patch(&path, json!({ "mailbox": { "pmb": "10", "closed_on": "2026-11-30" } })).await;
    assert_eq!((status, refused["errors"]["mailbox.pmb"][0].as_str()), (422, Some(only)), "{refused}");
    let (status, refused) = api.patch(&path, json!({ "mailbox": { "closed_on": "2026-09-30" } })).await;
    assert_eq!(status, 422, "closed before it opened: {refused}");

    let before = api.get(&path).await.1;
    let (status, closed) = api.patch(&path, json!({ "mailbox": { "closed_on": "2026-11-30" } })).await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!((closed["mailbox"]["closed_on"].as_str(), closed["mailbox"]["pmb"].as_str()), (Some("2026-11-30"), Some("9")));
    assert_eq!(closed["applicant"], before["applicant"]);
    assert!(closed["version"].as_i64() > before["version"].as_i64());
    let (_, form) = api.get(&format!("{path}/form-1583")).await;
    assert_eq!(form["1b"], "2026-11-30");
    let history = api.get(&format!("{path}/history")).await.1;
    let last = history["data"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["event"].as_str(), last["data"]["closed_on"].as_str()), (Some("verification.updated"), Some("2026-11-30")), "{last}");
}
both_engines!(an_approved_record_only_takes_its_closing_date);

async fn the_evidence_pack_holds_every_file_with_its_hash(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = approved_record(&api, json!({ "pmb": "44", "opened_on": "2026-10-01" })).await;
    let (status, media_type, bytes) = get_bytes(&api, &format!("/usps1583/verifications/{id}/evidence")).await;
    assert_eq!((status, media_type.as_str()), (200, "application/zip"));
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut files = std::collections::BTreeMap::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).unwrap();
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        files.insert(file.name().unwrap().to_string(), content);
    }
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), files.len() - 1, "every file but the manifest is listed: {manifest:#}");
    for entry in listed {
        let path = entry["path"].as_str().unwrap();
        let content = files.get(path).unwrap_or_else(|| panic!("{path} is listed but not in the zip"));
        assert_eq!(entry["sha256"].as_str().unwrap(), hex::encode(Sha256::digest(content)), "{path}");
    }
    let images: Vec<&String> = files.keys().filter(|k| k.starts_with("documents/")).collect();
    assert_eq!(images.len(), 3, "{images:?}");
    assert!(files.values().filter(|c| c.as_slice() == jpeg().as_slice()).count() == 3, "the images are decrypted");
    for name in ["form-1583.pdf", "form-1583.json", "verification.json", "history.json", "decision.json"] {
        assert!(files.contains_key(name), "{name} missing from {:?}", files.keys());
    }
    assert!(pdf_text(&files["form-1583.pdf"]).contains("PMB 44"));
    let decision: Value = serde_json::from_slice(&files["decision.json"]).unwrap();
    assert_eq!(decision["decision"]["outcome"], "approved");

    let row: (String, Option<String>) =
        sqlx::query_as("SELECT actor_kind, target FROM activity WHERE action = 'verification.evidence_downloaded'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(row, ("api_token".to_string(), Some(id.clone())));

    let reviewer_scopes = Api { app: &app, token: token_with(&app, "acme", "verifications:read decisions:write").await };
    let (status, _) = reviewer_scopes.get(&format!("/usps1583/verifications/{id}/evidence")).await;
    assert_eq!(status, 403);
}
both_engines!(the_evidence_pack_holds_every_file_with_its_hash);

async fn expiring_ids_are_announced_once_per_threshold(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    let api = app.api("acme").await;
    // Sandbox licences expire on 2031-12-31.
    let open = api.create("usps1583", body("sandbox-approve", json!({ "pmb": "1", "opened_on": "2026-10-01" }))).await;
    let closed = api.create("usps1583", body("sandbox-approve", json!({ "pmb": "2", "opened_on": "2026-10-01" }))).await;
    for id in [&open, &closed] {
        for kind in ["drivers_license", "lease", "selfie"] {
            let (status, _) =
                api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", "US")], vec![("file", jpeg())]).await;
            assert_eq!(status, 201);
        }
        api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    }
    app.run_pending().await;
    let (status, _) = api.patch(&format!("/usps1583/verifications/{closed}"), json!({ "mailbox": { "closed_on": "2027-01-10" } })).await;
    assert_eq!(status, 200);

    let mailer = app.state.mailer.clone();
    let check = |day: (i32, u32, u32)| {
        let mailer = mailer.clone();
        let db = app.db.clone();
        async move {
            let now = Utc.with_ymd_and_hms(day.0, day.1, day.2, 6, 0, 0).unwrap();
            app::compliance::expiry::check(&db, mailer.as_ref(), "http://attest.test", now).await.unwrap()
        }
    };
    let events = || async {
        sqlx::query_as::<_, (String, String)>("SELECT type, payload FROM events WHERE type LIKE 'verification.id_%' ORDER BY id")
            .fetch_all(app.db.pool())
            .await
            .unwrap()
            .into_iter()
            .map(|(t, p)| (t, serde_json::from_str::<Value>(&p).unwrap()))
            .collect::<Vec<_>>()
    };

    assert_eq!(check((2031, 10, 1)).await.expiring, 0, "91 days left: nothing yet");
    let first = check((2031, 11, 16)).await;
    assert_eq!((first.expiring, first.digests), (1, 1), "45 days left: the 60-day notice, for the open box only");
    assert_eq!(check((2031, 11, 20)).await.expiring, 0, "the 60-day notice is sent once");
    assert_eq!(check((2031, 12, 6)).await.expiring, 1, "25 days left: the 30-day notice");
    assert_eq!(check((2031, 12, 6)).await.expiring, 0);
    assert_eq!(check((2031, 12, 28)).await.expiring, 1, "3 days left: the 7-day notice");
    let expired = check((2032, 1, 2)).await;
    assert_eq!((expired.expired, expired.expiring), (1, 0));
    assert_eq!(check((2032, 1, 3)).await.expired, 0, "expired is announced once");

    let sent = events().await;
    let summary: Vec<(String, i64, String)> =
        sent.iter().map(|(t, p)| (t.clone(), p["data"]["days_left"].as_i64().unwrap(), p["data"]["object"]["id"].as_str().unwrap().to_string())).collect();
    assert_eq!(
        summary,
        vec![
            ("verification.id_expiring".to_string(), 45, open.clone()),
            ("verification.id_expiring".to_string(), 25, open.clone()),
            ("verification.id_expiring".to_string(), 3, open.clone()),
            ("verification.id_expired".to_string(), -2, open.clone()),
        ]
    );
    assert_eq!(sent[0].1["data"]["expires_on"], "2031-12-31");
    let history = api.get(&format!("/usps1583/verifications/{open}/history")).await.1;
    assert_eq!(history["data"].as_array().unwrap().iter().filter(|h| h["event"] == "verification.id_expiring").count(), 3);

    let digest = app.outbox().into_iter().find(|m| m.contains("photo ID notice")).expect("a digest to the owner");
    assert!(digest.contains("To: owner@acme.test") && digest.contains("PMB 1"), "{digest}");
    assert!(!digest.contains("PMB 2 "), "closed boxes are left out: {digest}");

    // The daily schedule is claimed once per day, however many workers ask.
    let today = Utc.with_ymd_and_hms(2032, 1, 4, 0, 1, 0).unwrap();
    let claims = futures::future::join_all((0..4).map(|_| app::compliance::expiry::schedule_daily(&app.db, today))).await;
    assert_eq!(claims.into_iter().filter(|c| *c.as_ref().unwrap()).count(), 1);
    let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'compliance.id_expiry'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(jobs, 1);
    assert_eq!(app.run_pending().await.compliance, 1);
}
both_engines!(expiring_ids_are_announced_once_per_threshold);

async fn a_reverification_renews_box_8_of_the_record(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = approved_record(&api, json!({ "pmb": "77", "opened_on": "2026-10-01" })).await;
    let (status, follow_up) = api.post(&format!("/usps1583/verifications/{id}/reverify"), json!({})).await;
    assert_eq!(status, 201, "{follow_up}");
    assert_eq!((follow_up["status"].as_str(), follow_up["applicant"]["last_name"].as_str()), (Some("started"), Some("sandbox-approve")));
    assert_eq!(follow_up["metadata"]["reverification_of"], id.as_str());
    assert_eq!(follow_up["photo_id"]["number"], Value::Null, "the new ID's number is not the old one");
    let follow_up = follow_up["id"].as_str().unwrap().to_string();
    let (status, again) = api.post(&format!("/usps1583/verifications/{id}/reverify"), json!({})).await;
    assert_eq!(status, 409, "{again}");
    // The expiring list shows the re-verification in progress (sandbox IDs expire at the end of 2031).
    let (status, list) = api.get("/usps1583/compliance/expiring-ids?within=3650&q=77").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!((list["data"][0]["verification_id"].as_str(), list["data"][0]["reverification_id"].as_str()), (Some(id.as_str()), Some(follow_up.as_str())));
    assert_eq!(list["data"][0]["expires_on"], "2031-12-31");
    let (status, _) = api.get("/usps1583/compliance/expiring-ids?state=soon").await;
    assert_eq!(status, 422);

    // Only the photo ID and the selfie: no proof of address.
    let v = submit_and_decide(&api, &follow_up, vec![("drivers_license", vec![("file", jpeg())]), ("selfie", vec![("file", jpeg())])]).await;
    assert_eq!(v["status"], "approved", "{v:#}");

    let (_, form) = api.get(&format!("/usps1583/verifications/{id}/form-1583")).await;
    assert_eq!(form["8b"], "S0000001", "box 8 is the follow-up's photo ID now");
    let original = api.get(&format!("/usps1583/verifications/{id}/history")).await.1;
    let events: Vec<&str> = original["data"].as_array().unwrap().iter().map(|h| h["event"].as_str().unwrap()).collect();
    assert!(events.contains(&"verification.reverification_started") && events.contains(&"verification.reverified"), "{events:?}");
    let theirs = api.get(&format!("/usps1583/verifications/{follow_up}/history")).await.1;
    assert!(theirs["data"].as_array().unwrap().iter().any(|h| h["event"] == "verification.reverification_applied" && h["data"]["original_id"] == id.as_str()));
    let sent: Vec<String> = sqlx::query_scalar("SELECT type FROM events WHERE object_id = $1 ORDER BY id").bind(&id).fetch_all(app.db.pool()).await.unwrap();
    assert!(sent.ends_with(&["verification.reverification_started".to_string(), "verification.reverified".to_string()]), "{sent:?}");
}
both_engines!(a_reverification_renews_box_8_of_the_record);

async fn a_quarter_is_certified_only_when_its_records_are_current(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    // 2026-Q3, seeded: two boxes opened and approved, one of them on an expired ID
    // (approved by a reviewer over the failed rule), one box opened without an approved record.
    let current = approved_record(&api, json!({ "pmb": "301", "opened_on": "2026-07-15" })).await;
    let (stale, v) = sandbox_record(&api, "sandbox-expired", json!({ "pmb": "302", "opened_on": "2026-08-01" })).await;
    assert_eq!(v["status"], "needs_review");
    let (status, _) = api.post(&format!("/usps1583/verifications/{stale}/decision"), json!({ "decision": "approved", "reason": "Seen in person." })).await;
    assert_eq!(status, 200);
    let pending = api.create("usps1583", body("Pending", json!({ "pmb": "303", "opened_on": "2026-09-01" }))).await;
    let earlier = approved_record(&api, json!({ "pmb": "299", "opened_on": "2026-04-01" })).await;

    let (status, report) = api.get("/usps1583/compliance/quarterly?quarter=2026-Q3").await;
    assert_eq!(status, 200, "{report}");
    let ids = |list: &str| -> Vec<String> { report[list].as_array().unwrap().iter().map(|r| r["verification_id"].as_str().unwrap().to_string()).collect() };
    assert_eq!((report["starts_on"].as_str(), report["ends_on"].as_str()), (Some("2026-07-01"), Some("2026-09-30")));
    assert_eq!(ids("boxes_opened"), vec![current.clone(), stale.clone()]);
    assert_eq!(ids("ids_expired_on_open_boxes"), vec![stale.clone()]);
    assert_eq!(ids("open_boxes_without_approved_record"), vec![pending.clone()]);
    assert!(!ids("boxes_opened").contains(&earlier));
    assert_eq!(report["ready_to_certify"], false);
    let (status, refused) = api.post("/usps1583/compliance/quarterly/certify", json!({ "quarter": "2026-Q3" })).await;
    assert_eq!(status, 400, "{refused}");

    // Close the stale box within the quarter and cancel the pending one: ready.
    let (status, _) = api.patch(&format!("/usps1583/verifications/{stale}"), json!({ "mailbox": { "closed_on": "2026-09-20" } })).await;
    assert_eq!(status, 200);
    let (status, _) = api.post(&format!("/usps1583/verifications/{pending}/cancel"), json!({})).await;
    assert_eq!(status, 200);
    let (_, report) = api.get("/usps1583/compliance/quarterly?quarter=2026-Q3").await;
    let ids = |list: &str| -> Vec<String> { report[list].as_array().unwrap().iter().map(|r| r["verification_id"].as_str().unwrap().to_string()).collect() };
    assert_eq!(ids("boxes_closed"), vec![stale.clone()]);
    assert!(ids("ids_expired_on_open_boxes").is_empty() && ids("open_boxes_without_approved_record").is_empty(), "{report:#}");
    assert_eq!(report["ready_to_certify"], true);

    let (status, csv_type, csv) = get_bytes(&api, "/usps1583/compliance/quarterly?quarter=2026-Q3&format=csv").await;
    assert_eq!((status, csv_type.as_str()), (200, "text/csv; charset=utf-8"));
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("quarter,list,verification_id,pmb,"), "{csv}");
    assert!(csv.contains(&format!("2026-Q3,boxes_closed,{stale},302,")), "{csv}");
    let (status, _, pdf) = get_bytes(&api, "/usps1583/compliance/quarterly?quarter=2026-Q3&format=pdf").await;
    assert_eq!(status, 200);
    let text = pdf_text(&pdf);
    assert!(text.contains("2026-Q3") && text.contains("Boxes opened: 2") && text.contains("Ready to certify"), "{text}");

    let (status, certified) = api.post("/usps1583/compliance/quarterly/certify", json!({ "quarter": "2026-Q3" })).await;
    assert_eq!(status, 201, "{certified}");
    assert!(certified["by"].as_str().unwrap().starts_with("api_token:"));
    let (status, _) = api.post("/usps1583/compliance/quarterly/certify", json!({ "quarter": "2026-Q3" })).await;
    assert_eq!(status, 409, "once only");
    let (_, report) = api.get("/usps1583/compliance/quarterly?quarter=2026-Q3").await;
    assert_eq!(report["certification"]["id"], certified["id"]);
    let noted: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE action = 'compliance.quarter_certified' AND target = $1")
        .bind(certified["id"].as_str().unwrap())
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(noted, 1);
    // Immutable even to a hand-written statement.
    assert!(sqlx::query("UPDATE compliance_certifications SET actor_id = 'someone'").execute(app.db.pool()).await.is_err());
    assert!(sqlx::query("DELETE FROM compliance_certifications").execute(app.db.pool()).await.is_err());

    for bad in ["2026-Q5", "2026Q3", "Q3-2026", ""] {
        let (status, body) = api.get(&format!("/usps1583/compliance/quarterly?quarter={bad}")).await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(body["errors"]["quarter"].is_array(), "{body}");
    }
    let (status, _) = api.post("/usps1583/compliance/quarterly/certify", json!({ "quarter": "2027-Q4" })).await;
    assert_eq!(status, 400, "a quarter that has not ended");
}
both_engines!(a_quarter_is_certified_only_when_its_records_are_current);

async fn the_dashboard_serves_the_record_and_the_report_by_permission(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = approved_record(&api, json!({ "pmb": "88", "opened_on": "2026-10-01" })).await;
    let [viewer, reviewer, owner] = &app.viewer_reviewer_owner().await;
    let get = |client: &reqwest::Client, path: String| client.get(app.url(&path)).send();

    for path in [
        format!("/w/acme/verifications/{id}/form-1583"),
        format!("/w/acme/verifications/{id}/form-1583?format=pdf"),
        format!("/w/acme/verifications/{id}/evidence"),
    ] {
        assert_eq!(get(viewer, path.clone()).await.unwrap().status(), 403, "{path}: a viewer has no documents.view");
    }
    let form = get(reviewer, format!("/w/acme/verifications/{id}/form-1583")).await.unwrap();
    assert_eq!(form.status(), 200);
    assert_eq!(form.json::<Value>().await.unwrap()["8d"], "2031-12-31");
    let pdf = get(reviewer, format!("/w/acme/verifications/{id}/form-1583?format=pdf")).await.unwrap();
    assert!(pdf_text(&pdf.bytes().await.unwrap()).contains("PMB 88"));
    let pack = get(reviewer, format!("/w/acme/verifications/{id}/evidence")).await.unwrap();
    assert_eq!(pack.status(), 200);
    assert!(zip::ZipArchive::new(std::io::Cursor::new(pack.bytes().await.unwrap().to_vec())).is_ok());
    let by: String =
        sqlx::query_scalar("SELECT actor_kind FROM activity WHERE action = 'verification.evidence_downloaded'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(by, "user");

    let detail = get(reviewer, format!("/w/acme/verifications/{id}")).await.unwrap().text().await.unwrap();
    assert!(detail.contains("PS Form 1583 record") && detail.contains("Download evidence pack") && detail.contains("Re-verify"), "the record panel");
    let page = get(viewer, "/w/acme/compliance?quarter=2026-Q4".into()).await.unwrap().text().await.unwrap();
    assert!(page.contains("Boxes opened: 1") && page.contains("PMB"), "{page}");
    let csv = get(viewer, "/w/acme/compliance/quarterly?quarter=2026-Q4&format=csv".into()).await.unwrap().text().await.unwrap();
    assert!(csv.contains(&format!("2026-Q4,boxes_opened,{id},88,")), "{csv}");
    let expiring = get(viewer, "/w/acme/compliance/expiring?within=60".into()).await.unwrap().text().await.unwrap();
    assert!(expiring.contains("Expiring IDs") && expiring.contains("No photo ID expires"), "{expiring}");

    let (status, _) = app.rpc(viewer, "certify_quarter", &[("slug", "acme"), ("quarter", "2026-Q3")]).await;
    assert_eq!(status, 403, "certifying needs settings.manage");
    let (status, body) = app.rpc(owner, "certify_quarter", &[("slug", "acme"), ("quarter", "2026-Q3")]).await;
    assert_eq!(status, 200, "{body}");
    let certified: (String, Option<String>) =
        sqlx::query_as("SELECT actor_kind, actor_id FROM compliance_certifications WHERE quarter = '2026-Q3'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(certified.0, "user");

    let (status, body) = app
        .rpc(
            owner,
            "save_cmra_settings",
            &[
                ("slug", "acme"),
                ("cmra[name]", CMRA),
                ("cmra[line1]", "500 Harbor Blvd"),
                ("cmra[line2]", ""),
                ("cmra[city]", "Oakland"),
                ("cmra[state]", "CA"),
                ("cmra[postal_code]", "94607"),
                ("cmra[country]", "us"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, profile) = api.get("/usps1583/cmra").await;
    assert_eq!((status, profile["name"].as_str(), profile["address"]["country"].as_str()), (200, Some(CMRA), Some("US")));
    let (status, _) = app.rpc(reviewer, "save_cmra_settings", &[("slug", "acme"), ("cmra[name]", "Mine")]).await;
    assert_eq!(status, 403);
}
both_engines!(the_dashboard_serves_the_record_and_the_report_by_permission);

/// Box 4k: a court-ordered protected individual's record needs the court order before
/// it is submitted; the order goes to a reviewer (never auto-approved), is named in the
/// record, and its file is in the evidence pack. Only usps1583 takes one.
async fn a_protected_individual_needs_the_court_order_attached(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", body("sandbox-approve", json!({ "pmb": "45", "opened_on": "2026-10-01", "protected_individual": true }))).await;
    for kind in ["drivers_license", "lease", "selfie"] {
        let (status, doc) = api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", "US")], vec![("file", jpeg())]).await;
        assert_eq!(status, 201, "{doc}");
    }
    let (status, refused) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["message"], app::verifications::service::COURT_ORDER_MISSING, "{refused}");
    let (_, still) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(still["status"], "started");

    let mut order = b"%PDF-1.4\n".to_vec();
    order.extend_from_slice(b"court order for the protected applicant\n%%EOF\n");
    let (status, doc) =
        api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", "court_order"), ("country", "US")], vec![("file", order.clone())]).await;
    assert_eq!((status, doc["role"].as_str()), (201, Some("court_order")), "{doc}");
    let order_id = doc["id"].as_str().unwrap().to_string();
    let (status, submitted) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!(status, 200, "{submitted}");
    let v = decided(&api, &id).await;
    assert_eq!(v["status"], "needs_review", "a person reads the court order: {v:#}");
    let (status, approved) =
        api.post(&format!("/usps1583/verifications/{id}/decision"), json!({ "decision": "approved", "reason": "court order checked" })).await;
    assert_eq!((status, approved["status"].as_str()), (200, Some("approved")), "{approved}");

    let (_, form) = api.get(&format!("/usps1583/verifications/{id}/form-1583")).await;
    assert_eq!(form["4k"], format!("Yes (court order attached: {order_id})"), "{form:#}");
    let (status, _, bytes) = get_bytes(&api, &format!("/usps1583/verifications/{id}/evidence")).await;
    assert_eq!(status, 200);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let name = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
        .find(|n| n.contains("court_order"))
        .expect("the court order is in the pack");
    let mut content = Vec::new();
    zip.by_name(&name).unwrap().read_to_end(&mut content).unwrap();
    assert_eq!(content, order, "decrypted, byte for byte");

    // Not a type the identity flow takes; and a record without box 4k says "No".
    let other = api
        .create("identity", json!({ "applicant": body("Lovelace", json!(null))["applicant"].clone(), "photo_id": { "type": "passport", "country": "GB" } }))
        .await;
    let (status, error) =
        api.upload(&format!("/identity/verifications/{other}/documents"), &[("type", "court_order"), ("country", "US")], vec![("file", order)]).await;
    assert_eq!((status, error["message"].as_str()), (400, Some(app::documents::service::TYPE_NOT_ALLOWED)), "{error}");
    let plain = approved_record(&api, json!({ "pmb": "46", "opened_on": "2026-10-01" })).await;
    let (_, form) = api.get(&format!("/usps1583/verifications/{plain}/form-1583")).await;
    assert_eq!(form["4k"], "No");
}
both_engines!(a_protected_individual_needs_the_court_order_attached);
