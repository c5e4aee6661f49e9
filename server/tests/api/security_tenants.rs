//! Tenants and roles (issue #13, items 8–10): account-wide changes need the right to
//! manage the user in every workspace of theirs, email changes are confirmed from the new
//! address, tokens never exceed their creator's role and die with their creator's
//! membership, invitations never demote, and the last owner survives concurrent demotions.

use crate::{
    both_engines,
    helpers::{Engine, TestApp},
};
use app::access::{tokens, Actor, Role};
use serde_json::{json, Value};

const PASSWORD: &str = "correct horse battery staple";

async fn signed_in(app: &TestApp, email: &str) -> reqwest::Client {
    let client = app.new_client();
    assert_eq!(app.login(&client, email, PASSWORD).await.status(), 200, "{email} signs in");
    client
}

fn refused(status: u16, body: &Value, what: &str) {
    assert_eq!(status, 403, "{what}: {body}");
    assert_eq!(body["kind"], "refused", "{what}: a 403 with its reason: {body}");
    assert!(body["detail"].as_str().is_some_and(|m| m.len() > 20), "{what}: {body}");
}

async fn an_admin_of_another_workspace_cannot_take_over_a_shared_account(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    // Ada owns A and is a reviewer in B; Bob is a viewer in A and in B; Mallory administers B.
    let ada = app.seed_member("alpha", "ada@a.test", PASSWORD, Role::Owner).await;
    app.seed_member("beta", "ada@a.test", PASSWORD, Role::Reviewer).await;
    let bob = app.seed_member("alpha", "bob@a.test", PASSWORD, Role::Viewer).await;
    app.seed_member("beta", "bob@a.test", PASSWORD, Role::Viewer).await;
    let mallory_id = app.seed_member("beta", "mallory@b.test", PASSWORD, Role::Admin).await;
    let mallory = signed_in(&app, "mallory@b.test").await;

    for (victim, who) in [(&ada, "the owner of A"), (&bob, "a plain member of A")] {
        let (status, body) = app.rpc(&mallory, "correct_member_email", &[("slug", "beta"), ("user_id", victim), ("email", "mallory+x@b.test")]).await;
        refused(status, &body, &format!("email change of {who}"));
        let (status, body) = app.rpc(&mallory, "reset_member_mfa", &[("slug", "beta"), ("user_id", victim)]).await;
        refused(status, &body, &format!("MFA reset of {who}"));
        let (status, body) = app.rpc(&mallory, "unlock_member", &[("slug", "beta"), ("user_id", victim)]).await;
        refused(status, &body, &format!("unlock of {who}"));
    }
    let changes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM email_changes").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(changes, 0, "nothing was requested");
    assert!(!app.outbox().iter().any(|m| m.contains("were reset")), "no reset happened");
    assert_eq!(app.login(&app.new_client(), "ada@a.test", PASSWORD).await.status(), 200, "Ada still signs in");

    // Made an admin of A as well, Mallory may manage Bob everywhere, but not the owner Ada.
    app::members::service::add_member(&app.db, "mallory@b.test", None, "alpha", Role::Admin, &Actor::Operator).await.unwrap();
    let mallory = signed_in(&app, "mallory@b.test").await;
    assert_eq!(app.rpc(&mallory, "reset_member_mfa", &[("slug", "beta"), ("user_id", &bob)]).await.0, 200);
    assert_eq!(app.rpc(&mallory, "unlock_member", &[("slug", "beta"), ("user_id", &bob)]).await.0, 200);
    let (status, body) = app.rpc(&mallory, "reset_member_mfa", &[("slug", "alpha"), ("user_id", &ada)]).await;
    refused(status, &body, "an admin resetting an owner's MFA in the owner's own workspace");
    let (status, body) = app.rpc(&mallory, "correct_member_email", &[("slug", "alpha"), ("user_id", &ada), ("email", "mallory+y@b.test")]).await;
    refused(status, &body, "an admin changing an owner's email");
    assert!(!mallory_id.is_empty());

    // The operator may always.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
        .args(["admin", "reset-mfa", "--email", "ada@a.test"])
        .env("ATTEST_DATA_DIR", &app.config.data_dir)
        .env("DATABASE_URL", app.config.database_url())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}
both_engines!(an_admin_of_another_workspace_cannot_take_over_a_shared_account);

/// The link in the newest mail to `to` whose body contains `path`.
fn link_in_mail(app: &TestApp, to: &str, path: &str) -> String {
    let mail =
        app.outbox().into_iter().rev().find(|m| m.contains(&format!("To: {to}")) && m.contains(path)).unwrap_or_else(|| panic!("a mail to {to} with {path}"));
    let line = mail.lines().find(|l| l.contains(path)).unwrap().trim().to_string();
    line.rsplit('/').next().unwrap().to_string()
}

async fn an_email_change_waits_for_the_new_address_and_warns_the_old(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "owner@acme.test", PASSWORD, Role::Owner).await;
    let bob = app.seed_member("acme", "bob@acme.test", PASSWORD, Role::Reviewer).await;
    let owner = signed_in(&app, "owner@acme.test").await;
    assert_eq!(app.rpc(&owner, "correct_member_email", &[("slug", "acme"), ("user_id", &bob), ("email", "Bob.New@acme.test")]).await.0, 200);

    assert_eq!(app.login(&app.new_client(), "bob@acme.test", PASSWORD).await.status(), 200, "nothing changed yet");
    assert_eq!(app.login(&app.new_client(), "bob.new@acme.test", PASSWORD).await.status(), 401);
    assert!(
        app.outbox().iter().any(|m| m.contains("To: bob@acme.test") && m.contains("bob.new@acme.test") && m.contains("about to change")),
        "the old address is told"
    );
    let token = link_in_mail(&app, "bob.new@acme.test", "/confirm-email/");

    let page = app.client.get(app.url(&format!("/confirm-email/{token}"))).send().await.unwrap();
    assert_eq!(page.status(), 200, "the confirmation page is public");
    assert!(page.text().await.unwrap().contains("Confirm your new sign-in email"));
    assert_eq!(app.rpc(&app.new_client(), "confirm_email_change", &[("token", &token)]).await.0, 200);
    assert_eq!(app.login(&app.new_client(), "bob.new@acme.test", PASSWORD).await.status(), 200, "the new address signs in");
    assert_eq!(app.login(&app.new_client(), "bob@acme.test", PASSWORD).await.status(), 401);
    assert_eq!(app.rpc(&app.new_client(), "confirm_email_change", &[("token", &token)]).await.0, 400, "single use");
    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM activity WHERE action LIKE 'member.email%' ORDER BY id").fetch_all(app.db.pool()).await.unwrap();
    assert_eq!(actions, ["member.email_change_requested", "member.email_changed"]);
}
both_engines!(an_email_change_waits_for_the_new_address_and_warns_the_old);

async fn an_email_change_does_not_reveal_accounts_of_other_workspaces(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "owner@acme.test", PASSWORD, Role::Owner).await;
    let bob = app.seed_member("acme", "bob@acme.test", PASSWORD, Role::Reviewer).await;
    app.seed_member("zeta", "carol@zeta.test", PASSWORD, Role::Owner).await;
    let owner = signed_in(&app, "owner@acme.test").await;
    let taken = app.rpc(&owner, "correct_member_email", &[("slug", "acme"), ("user_id", &bob), ("email", "carol@zeta.test")]).await;
    let free = app.rpc(&owner, "correct_member_email", &[("slug", "acme"), ("user_id", &bob), ("email", "nobody@zeta.test")]).await;
    assert_eq!(taken, free, "the same answer whether or not the address has an account");
    assert_eq!(taken.0, 200);

    // Carol's mailbox got a link; using it fails cleanly and changes nothing.
    app.rpc(&owner, "correct_member_email", &[("slug", "acme"), ("user_id", &bob), ("email", "carol@zeta.test")]).await;
    let token = link_in_mail(&app, "carol@zeta.test", "/confirm-email/");
    let (status, body) = app.rpc(&app.new_client(), "confirm_email_change", &[("token", &token)]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("already uses this address"), "{body}");
    assert_eq!(app.login(&app.new_client(), "bob@acme.test", PASSWORD).await.status(), 200);
    assert_eq!(app.login(&app.new_client(), "carol@zeta.test", PASSWORD).await.status(), 200);
}
both_engines!(an_email_change_does_not_reveal_accounts_of_other_workspaces);

async fn a_developer_token_cannot_decide_or_download_documents(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "dev@acme.test", PASSWORD, Role::Developer).await;
    let dev = signed_in(&app, "dev@acme.test").await;
    for scope in ["documents:read", "decisions:write", "verifications:read documents:read"] {
        let (status, body) = app.rpc(&dev, "create_token", &[("slug", "acme"), ("name", "ci"), ("expires_in_days", "30"), ("scopes", scope)]).await;
        refused(status, &body, scope);
        assert!(body["detail"].as_str().unwrap().contains("needs"), "names the missing permission: {body}");
    }
    let (status, granted) = app.rpc(&dev, "grantable_scopes", &[("slug", "acme")]).await;
    assert_eq!((status, granted), (200, json!(["verifications:read", "verifications:write", "webhooks:manage"])));
    let (status, token) = app.rpc(&dev, "create_token", &[("slug", "acme"), ("name", "ci"), ("expires_in_days", "30")]).await;
    assert_eq!(status, 200, "{token}");
    let api = crate::helpers::Api { app: &app, token: token.as_str().unwrap().to_string() };
    let (_, list) = app.rpc(&dev, "list_tokens", &[("slug", "acme")]).await;
    assert_eq!(list[0]["scopes"], json!(["verifications:read", "verifications:write", "webhooks:manage"]), "the default is what the developer may grant");

    let id = api.create("usps1583", crate::helpers::usps_body()).await;
    let (status, body) = api.post(&format!("/usps1583/verifications/{id}/decision"), json!({ "decision": "approved", "reason": "looks fine" })).await;
    assert_eq!((status, body), (403, json!({ "message": "This action is unauthorized." })), "403 before 'not awaiting review'");
    let (status, _) = api.post(&format!("/usps1583/verifications/{id}/documents/doc_missing/decision"), json!({ "decision": "approved" })).await;
    assert_eq!(status, 403, "document decisions too, before 404");
    let (status, _) = api.get(&format!("/usps1583/verifications/{id}/documents/doc_missing/file")).await;
    assert_eq!(status, 403, "the file download is refused before 404");
    let (status, _) = api.get("/nowhere/verifications/ver_x/documents/doc_x/file").await;
    assert_eq!(status, 403, "before the flow is even looked at");
    let response = app
        .client
        .post(api.url(&format!("/usps1583/verifications/{id}/decision")))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "before the body is read");

    // The operator may grant any scope, and say which.
    let created = tokens::create_with_scopes(&app.db, app.config.environment, "acme", "ops", None, Some("documents:read,decisions:write"), &Actor::Operator)
        .await
        .unwrap();
    assert_eq!(created.scopes, [app::access::Scope::DocumentsRead, app::access::Scope::DecisionsWrite]);
}
both_engines!(a_developer_token_cannot_decide_or_download_documents);

async fn removing_a_member_revokes_the_tokens_they_created(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "owner@acme.test", PASSWORD, Role::Owner).await;
    let dev_id = app.seed_member("acme", "dev@acme.test", PASSWORD, Role::Developer).await;
    let admin_id = app.seed_member("acme", "admin@acme.test", PASSWORD, Role::Admin).await;
    let dev = signed_in(&app, "dev@acme.test").await;
    let admin = signed_in(&app, "admin@acme.test").await;
    let owner = signed_in(&app, "owner@acme.test").await;
    let create = |client: reqwest::Client, scopes: Option<&'static str>| {
        let app = &app;
        async move {
            let mut form = vec![("slug", "acme"), ("name", "ci"), ("expires_in_days", "30")];
            form.extend(scopes.map(|s| ("scopes", s)));
            let (status, token) = app.rpc(&client, "create_token", &form).await;
            assert_eq!(status, 200, "{token}");
            token.as_str().unwrap().to_string()
        }
    };
    let dev_token = create(dev.clone(), None).await;
    let admin_reader = create(admin.clone(), Some("documents:read verifications:read")).await;
    let admin_plain = create(admin.clone(), Some("verifications:read")).await;
    let status_of = |token: String| {
        let app = &app;
        async move { app.client.get(app.url("/api/v1/identity/verifications")).bearer_auth(token).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status_of(dev_token.clone()).await, 200);

    let (_, members) = app.rpc(&owner, "list_members", &[("slug", "acme")]).await;
    let row = members.as_array().unwrap().iter().find(|m| m["user_id"] == dev_id.as_str()).unwrap().clone();
    assert_eq!(row["api_tokens"], 1);
    let html = owner.get(app.url("/w/acme/members")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("1 API token created by this member will be revoked."), "the removal form warns first");

    assert_eq!(app.rpc(&owner, "remove_member", &[("slug", "acme"), ("user_id", &dev_id)]).await.0, 200);
    assert_eq!(status_of(dev_token).await, 401, "the removed member's token is revoked at once");

    // A role change revokes only the tokens the new role does not cover.
    assert_eq!(app.rpc(&owner, "change_member_role", &[("slug", "acme"), ("user_id", &admin_id), ("role", "developer")]).await.0, 200);
    assert_eq!(status_of(admin_reader).await, 401, "documents:read needs documents.view, which a developer lacks");
    assert_eq!(status_of(admin_plain).await, 200, "verifications:read is still covered");

    let revoked: Vec<Value> = sqlx::query_scalar::<_, String>("SELECT detail FROM activity WHERE action = 'api_token.revoked' ORDER BY id")
        .fetch_all(app.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(revoked.len(), 2, "one activity entry per revoked token: {revoked:?}");
    assert_eq!(revoked[0]["created_by"], dev_id.as_str());
    assert_eq!(revoked[1]["created_by"], admin_id.as_str());
}
both_engines!(removing_a_member_revokes_the_tokens_they_created);

async fn delivery_logs_hide_payloads_without_documents_view(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WEBHOOK_RETRY_SCHEDULE", "0"), ("ATTEST_WEBHOOK_TIMEOUT_SECS", "1")]).await;
    let api = app.api("acme").await;
    let (status, endpoint) = api.post("/webhook-endpoints", json!({ "url": "http://127.0.0.1:9/hook", "event_types": ["verification.created"] })).await;
    assert_eq!(status, 201, "{endpoint}");
    let endpoint_id = endpoint["id"].as_str().unwrap().to_string();
    api.create("usps1583", crate::helpers::usps_body()).await;
    let path = format!("/webhook-endpoints/{endpoint_id}/deliveries");
    let mut log = Value::Null;
    for _ in 0..200 {
        log = api.get(&path).await.1;
        if log["data"][0]["attempt_log"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(log["data"][0]["attempt_log"][0]["request_body"].as_str().unwrap().contains("verification.created"), "documents:read sees it: {log}");

    let hooks_only =
        tokens::create_with_scopes(&app.db, app.config.environment, "acme", "hooks", None, Some("webhooks:manage"), &Actor::Operator).await.unwrap();
    let hooks = crate::helpers::Api { app: &app, token: hooks_only.token };
    let (_, hidden) = hooks.get(&path).await;
    assert_eq!(hidden["data"][0]["attempt_log"][0]["request_body"], app::webhooks::PAYLOAD_HIDDEN);

    app.seed_member("acme", "dev@acme.test", PASSWORD, Role::Developer).await;
    let dev = signed_in(&app, "dev@acme.test").await;
    let (_, view) = app.rpc(&dev, "webhooks_view", &[("slug", "acme")]).await;
    assert_eq!(view["deliveries"][0]["attempt_log"][0]["request_body"], app::webhooks::PAYLOAD_HIDDEN, "a developer lacks documents.view");
    let owner = app.new_client();
    assert_eq!(app.login(&owner, "owner@acme.test", "a long enough password").await.status(), 200);
    let (_, view) = app.rpc(&owner, "webhooks_view", &[("slug", "acme")]).await;
    assert!(view["deliveries"][0]["attempt_log"][0]["request_body"].as_str().unwrap().contains("verification.created"));
}
both_engines!(delivery_logs_hide_payloads_without_documents_view);

async fn an_invitation_as_viewer_does_not_demote_an_owner(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Owner).await;
    app.seed_member("acme", "bob@acme.test", PASSWORD, Role::Owner).await;
    app.seed_member("acme", "vic@acme.test", PASSWORD, Role::Viewer).await;
    let bob = signed_in(&app, "bob@acme.test").await;
    for (email, role) in [("ada@acme.test", "viewer"), ("vic@acme.test", "developer")] {
        assert_eq!(app.rpc(&bob, "invite_member", &[("slug", "acme"), ("email", email), ("role", role)]).await.0, 200);
        let token = link_in_mail(&app, email, "/invite/");
        assert_eq!(app.rpc(&app.new_client(), "accept_invitation", &[("token", &token), ("password", "whatever they type here")]).await.0, 200);
    }
    let ada = signed_in(&app, "ada@acme.test").await;
    let (_, ws) = app.rpc(&ada, "workspace", &[("slug", "acme")]).await;
    assert_eq!(ws["role"]["builtin"], "owner", "the invitation did not lower her membership");
    let vic = signed_in(&app, "vic@acme.test").await;
    let (_, ws) = app.rpc(&vic, "workspace", &[("slug", "acme")]).await;
    assert_eq!(ws["role"]["builtin"], "developer", "an invitation may raise a membership");
}
both_engines!(an_invitation_as_viewer_does_not_demote_an_owner);

async fn two_owners_demoting_each_other_at_once_leave_an_owner(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let ada_id = app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Owner).await;
    let bob_id = app.seed_member("acme", "bob@acme.test", PASSWORD, Role::Owner).await;
    for round in 0..8 {
        for email in ["ada@acme.test", "bob@acme.test"] {
            app::members::service::add_member(&app.db, email, None, "acme", Role::Owner, &Actor::Operator).await.unwrap();
        }
        let (ada, bob) = (signed_in(&app, "ada@acme.test").await, signed_in(&app, "bob@acme.test").await);
        let demote_bob = [("slug", "acme"), ("user_id", bob_id.as_str()), ("role", "viewer")];
        let demote_ada = [("slug", "acme"), ("user_id", ada_id.as_str()), ("role", "viewer")];
        let ((a, _), (b, _)) = tokio::join!(app.rpc(&ada, "change_member_role", &demote_bob), app.rpc(&bob, "change_member_role", &demote_ada));
        let owners: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE role = 'owner'").fetch_one(app.db.pool()).await.unwrap();
        assert_eq!(owners, 1, "round {round}: exactly one demotion went through ({a}, {b})");
        assert_eq!([a, b].iter().filter(|s| **s == 200).count(), 1, "round {round}: one refused (400 last owner, or 403 once demoted): {a}, {b}");
    }
}
both_engines!(two_owners_demoting_each_other_at_once_leave_an_owner);
