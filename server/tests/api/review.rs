//! The reviewer's pages over their server functions: the queue, the detail (PII only
//! with documents.view), decisions (verifications.decide) and cancel.

use crate::{
    both_engines,
    helpers::{jpeg, usps_body, Engine, TestApp},
};
use app::access::Role;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

async fn reviewers_find_decide_and_see_the_history(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let mut ids = Vec::new();
    for (i, name) in ["Ada", "Grace", "Linus"].iter().enumerate() {
        let mut body = usps_body();
        body["applicant"]["first_name"] = json!(name);
        body["reference"] = json!(format!("ref-{i}"));
        ids.push(api.create("usps1583", body).await);
    }
    let (status, doc) =
        api.upload(&format!("/usps1583/verifications/{}/documents", ids[1]), &[("type", "passport"), ("country", "GB")], vec![("file", jpeg())]).await;
    assert_eq!(status, 201, "{doc}");
    sqlx::query("UPDATE verifications SET status = 'needs_review', rules = $1, failed_rules = ',name_mismatch,' WHERE id = $2")
        .bind(json!([{ "name": "name_mismatch", "result": "fail", "expected": "Grace Lovelace", "found": "Grace Hopper" }]).to_string())
        .bind(&ids[1])
        .execute(app.db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE documents SET status = 'extracted', extracted = $1")
        .bind(json!({ "first_name": "Grace", "last_name": "Hopper" }).to_string())
        .execute(app.db.pool())
        .await
        .unwrap();

    app.seed_member("acme", "rev@acme.test", PASSWORD, Role::Reviewer).await;
    let reviewer = app.new_client();
    app.login(&reviewer, "rev@acme.test", PASSWORD).await;
    let (status, queue) = app.rpc(&reviewer, "review_queue", &[("slug", "acme")]).await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["rows"].as_array().unwrap().len(), 1, "needs_review by default");
    assert_eq!(queue["rows"][0]["failed_rules"], json!(["name_mismatch"]));
    assert!(queue["counts"].as_array().unwrap().contains(&json!(["started", 2])));
    let (_, all) = app.rpc(&reviewer, "review_queue", &[("slug", "acme"), ("status", "all"), ("q", "linus")]).await;
    assert_eq!(all["rows"][0]["id"], json!(ids[2]), "search by name");
    let (_, by_rule) = app.rpc(&reviewer, "review_queue", &[("slug", "acme"), ("status", "all"), ("filters[rule]", "name_mismatch")]).await;
    assert_eq!(by_rule["rows"].as_array().unwrap().len(), 1, "filter by failed rule: {by_rule}");
    let (_, other_rule) = app.rpc(&reviewer, "review_queue", &[("slug", "acme"), ("status", "all"), ("filters[rule]", "document_expired")]).await;
    assert_eq!(other_rule["rows"], json!([]));
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
    let (_, future) = app.rpc(&reviewer, "review_queue", &[("slug", "acme"), ("status", "all"), ("filters[from]", &tomorrow)]).await;
    assert_eq!(future["rows"], json!([]), "date range");
    let (status, _) = app.rpc(&reviewer, "review_queue", &[("slug", "acme"), ("filters[from]", "yesterday")]).await;
    assert_eq!(status, 422);
    let (_, by_ref) = app.rpc(&reviewer, "review_queue", &[("slug", "acme"), ("status", "all"), ("q", "REF-0")]).await;
    assert_eq!(by_ref["rows"][0]["id"], json!(ids[0]), "search by reference");

    let (_, detail) = app.rpc(&reviewer, "verification_detail", &[("slug", "acme"), ("id", &ids[1])]).await;
    assert_eq!(detail["can_decide"], true);
    assert_eq!(detail["verification"]["documents"][0]["extracted"]["last_name"], "Hopper");
    let (status, _) = app.rpc(&reviewer, "decide_verification", &[("slug", "acme"), ("id", &ids[1]), ("decision", "approved"), ("reason", "")]).await;
    assert_eq!(status, 422, "a reason is required");
    let (status, _) = app
        .rpc(
            &reviewer,
            "decide_verification",
            &[("slug", "acme"), ("id", &ids[1]), ("decision", "approved"), ("reason", "Married name; marriage certificate on file.")],
        )
        .await;
    assert_eq!(status, 200);
    let (_, detail) = app.rpc(&reviewer, "verification_detail", &[("slug", "acme"), ("id", &ids[1])]).await;
    assert_eq!(detail["verification"]["status"], "approved");
    let last = detail["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["event"].clone(), last["actor_type"].clone()), (json!("verification.approved"), json!("user")));
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE type = 'verification.approved'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(events, 1, "the decision is an event for webhooks");
    let doc_id = detail["verification"]["documents"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = app
        .rpc(
            &reviewer,
            "decide_document",
            &[("slug", "acme"), ("id", &ids[1]), ("document_id", &doc_id), ("decision", "rejected"), ("reason", "Glare over the photo.")],
        )
        .await;
    assert_eq!(status, 200, "per-document decision");
    let (_, after) = app.rpc(&reviewer, "verification_detail", &[("slug", "acme"), ("id", &ids[1])]).await;
    assert_eq!(after["verification"]["documents"][0]["status"], "rejected");
    assert_eq!(after["verification"]["documents"][0]["decision"]["reason"], "Glare over the photo.");
    let (_, approved) = app.rpc(&reviewer, "review_queue", &[("slug", "acme"), ("status", "all"), ("filters[decision]", "approved")]).await;
    assert_eq!(approved["rows"][0]["id"], json!(ids[1]), "filter by decision");
    let page = reviewer.get(app.url(&format!("/w/acme/verifications/{}", ids[1]))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Grace Lovelace") && page.contains("verification.approved"), "the detail page renders on the server");
}
both_engines!(reviewers_find_decide_and_see_the_history);

/// Search (SPEC §7) goes through the folded, indexed keys: any case or accents, first or
/// last name first, e-mail prefix, whole reference, id; a PATCHed applicant is found by
/// the new name; a name shared by more than a thousand rows still pages newest-first.
async fn search_finds_applicants_by_folded_keys(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let mut body = usps_body();
    body["applicant"]["first_name"] = json!("Zoë");
    body["applicant"]["last_name"] = json!("O'Brien-Smith");
    body["applicant"]["email"] = json!("Zoe.OBrien@Example.com");
    body["reference"] = json!("CRM-7731");
    let zoe = api.create("usps1583", body).await;
    let ada = api.create("usps1583", usps_body()).await;
    app.seed_member("acme", "rev@acme.test", PASSWORD, Role::Reviewer).await;
    let reviewer = app.new_client();
    app.login(&reviewer, "rev@acme.test", PASSWORD).await;
    let search = |q: &str| {
        let (app, reviewer, q) = (&app, &reviewer, q.to_string());
        async move {
            let (status, queue) = app.rpc(reviewer, "review_queue", &[("slug", "acme"), ("status", "all"), ("q", &q)]).await;
            assert_eq!(status, 200, "{queue}");
            queue["rows"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        }
    };
    for q in ["zoe", "ZOË O", "obrien smith", "O'Brien-Smith Zoe", "zoe.obrien@", "crm-7731", zoe.as_str()] {
        assert_eq!(search(q).await, vec![zoe.clone()], "search {q:?}");
    }
    for q in ["brien", "crm-77", "example.com", "zzz"] {
        assert_eq!(search(q).await, Vec::<String>::new(), "no infix or partial-reference match for {q:?}");
    }
    assert_eq!(search("lovelace").await, vec![ada.clone()]);
    let (status, _) = api.patch(&format!("/usps1583/verifications/{ada}"), json!({ "applicant": { "last_name": "Byron" } })).await;
    assert_eq!(status, 200);
    assert_eq!(search("ada byron").await, vec![ada.clone()], "the keys follow an updated applicant");
    assert_eq!(search("lovelace").await, Vec::<String>::new());

    // A thousand more "Grace Hopper"s: too many to collect, so the queue is walked instead.
    let workspace: String = sqlx::query_scalar("SELECT workspace_id FROM verifications WHERE id = $1").bind(&ada).fetch_one(app.db.pool()).await.unwrap();
    let applicant = json!({ "first_name": "Grace", "last_name": "Hopper", "date_of_birth": "1990-01-01",
        "address": { "line1": "1 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US" } });
    let values: Vec<String> = (0..1005)
        .map(|i| {
            format!(
                "('ver_dense{i:06}', '{workspace}', 'usps1583', 'started', '{applicant}', 1, {i}, {i}, 'grace hopper', 'hopper grace', 'grace{i}@example.com')"
            )
        })
        .collect();
    sqlx::query(&format!(
        "INSERT INTO verifications (id, workspace_id, flow, status, applicant, version, created_at, updated_at, search_name, search_name_rev, search_email) VALUES {}",
        values.join(", ")
    ))
    .execute(app.db.pool())
    .await
    .unwrap();
    let dense = search("hopper").await;
    assert_eq!(dense.len(), 50, "one page");
    assert_eq!((dense[0].as_str(), dense[49].as_str()), ("ver_dense001004", "ver_dense000955"), "newest first");
    assert_eq!(search("grace1004@").await, vec!["ver_dense001004".to_string()]);
}
both_engines!(search_finds_applicants_by_folded_keys);

async fn viewers_see_no_pii_and_cannot_decide(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    // The PII must be there to be hidden: the upload succeeds and carries it.
    let (status, doc) =
        api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", "passport"), ("country", "GB")], vec![("file", jpeg())]).await;
    assert_eq!(status, 201, "{doc}");
    let marked = sqlx::query("UPDATE documents SET extracted = $1 WHERE id = $2")
        .bind(json!({ "document_number": "X99887766" }).to_string())
        .bind(doc["id"].as_str().unwrap())
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(marked.rows_affected(), 1);
    sqlx::query("UPDATE verifications SET status = 'needs_review'").execute(app.db.pool()).await.unwrap();
    app.seed_member("acme", "rev@acme.test", PASSWORD, Role::Reviewer).await;
    let reviewer = app.new_client();
    app.login(&reviewer, "rev@acme.test", PASSWORD).await;
    let (status, detail) = app.rpc(&reviewer, "verification_detail", &[("slug", "acme"), ("id", &id)]).await;
    assert_eq!(status, 200);
    assert!(detail.to_string().contains("X99887766"), "with documents.view the extracted PII is shown: {detail}");
    app.seed_member("acme", "view@acme.test", PASSWORD, Role::Viewer).await;
    let viewer = app.new_client();
    app.login(&viewer, "view@acme.test", PASSWORD).await;
    let (status, detail) = app.rpc(&viewer, "verification_detail", &[("slug", "acme"), ("id", &id)]).await;
    assert_eq!(status, 200);
    assert_eq!((detail["can_decide"].clone(), detail["can_view_documents"].clone()), (json!(false), json!(false)));
    assert!(!detail.to_string().contains("X99887766"), "no extracted PII without documents.view");
    let page = viewer.get(app.url(&format!("/w/acme/verifications/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("Submit decision") && !page.contains("value=\"approved\""), "no decision form for a viewer");
    let (status, _) = app.rpc(&viewer, "decide_verification", &[("slug", "acme"), ("id", &id), ("decision", "approved"), ("reason", "x")]).await;
    assert_eq!(status, 403, "and a direct request is refused");
    assert_eq!(app.rpc(&viewer, "cancel_verification", &[("slug", "acme"), ("id", &id)]).await.0, 403);
    app.seed_member("other", "o@other.test", PASSWORD, Role::Owner).await;
    let outsider = app.new_client();
    app.login(&outsider, "o@other.test", PASSWORD).await;
    assert_eq!(app.rpc(&outsider, "verification_detail", &[("slug", "other"), ("id", &id)]).await.0, 404, "another workspace's id is not found");
    assert_eq!(app.rpc(&outsider, "verification_detail", &[("slug", "acme"), ("id", &id)]).await.0, 403);
}
both_engines!(viewers_see_no_pii_and_cannot_decide);

async fn document_images_are_served_only_with_documents_view(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    let (status, doc) =
        api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", "passport"), ("country", "GB")], vec![("file", jpeg())]).await;
    assert_eq!(status, 201, "{doc}");
    let url = app.url(&format!("/w/acme/documents/{}/front", doc["id"].as_str().unwrap()));
    app.seed_member("acme", "rev@acme.test", PASSWORD, Role::Reviewer).await;
    app.seed_member("acme", "view@acme.test", PASSWORD, Role::Viewer).await;
    let reviewer = app.new_client();
    app.login(&reviewer, "rev@acme.test", PASSWORD).await;
    let image = reviewer.get(&url).send().await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/jpeg");
    assert_eq!(image.headers()["cache-control"], "private, no-store");
    assert_eq!(image.bytes().await.unwrap().to_vec(), jpeg(), "decrypted on the fly");
    let viewer = app.new_client();
    app.login(&viewer, "view@acme.test", PASSWORD).await;
    let refused = viewer.get(&url).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.json::<serde_json::Value>().await.unwrap(), json!({ "message": "This action is unauthorized." }));
    app.seed_member("other", "o@other.test", PASSWORD, Role::Owner).await;
    let outsider = app.new_client();
    app.login(&outsider, "o@other.test", PASSWORD).await;
    assert_eq!(outsider.get(&url).send().await.unwrap().status(), 403);
    assert_eq!(outsider.get(url.replace("/w/acme/", "/w/other/")).send().await.unwrap().status(), 404, "not in their workspace");
    assert_eq!(app.new_client().get(&url).send().await.unwrap().status().as_u16() / 100, 3, "signed out: to the sign-in page");
}
both_engines!(document_images_are_served_only_with_documents_view);
