//! Lockout, the per-address throttle, admin unlock, and the role × server-function
//! matrix: every workspace server function refuses (403) each role that lacks its
//! permission, and lets the others through.

use crate::{
    both_engines,
    helpers::{jpeg, usps_body, Api, Engine, TestApp},
};
use app::access::{Permission, Role};
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

async fn five_failures_lock_the_email_until_the_period_ends(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    for attempt in 1..=4 {
        let (status, body) = app.rpc(&app.client, "login", &[("email", "ada@acme.test"), ("password", "wrong password")]).await;
        assert_eq!((status, body), (401, json!({ "kind": "invalid_credentials" })), "attempt {attempt}");
    }
    let (status, body) = app.rpc(&app.client, "login", &[("email", "ada@acme.test"), ("password", "wrong password")]).await;
    assert_eq!(status, 423, "the fifth failure locks");
    assert_eq!(body["kind"], "locked");
    let (status, _) = app.rpc(&app.client, "login", &[("email", "ADA@acme.test"), ("password", PASSWORD)]).await;
    assert_eq!(status, 423, "even the right password is refused while locked (normalized email)");

    // Unknown emails lock the same way: the lock does not reveal which emails exist.
    for _ in 0..5 {
        app.rpc(&app.client, "login", &[("email", "ghost@acme.test"), ("password", "whatever it is")]).await;
    }
    assert_eq!(app.rpc(&app.client, "login", &[("email", "ghost@acme.test"), ("password", "x")]).await.0, 423);

    let actions: Vec<String> =
        sqlx::query_scalar("SELECT action FROM activity WHERE action LIKE 'login.%' ORDER BY id").fetch_all(app.db.pool()).await.unwrap();
    assert_eq!(actions.iter().filter(|a| *a == "login.locked").count(), 2);
    assert!(actions.contains(&"login.refused_locked".to_string()));

    // The period ends (moved into the past here): the right password works again.
    sqlx::query("UPDATE login_lockouts SET locked_until = $1").bind(app::store::now_ms() - 1).execute(app.db.pool()).await.unwrap();
    assert_eq!(app.rpc(&app.client, "login", &[("email", "ada@acme.test"), ("password", PASSWORD)]).await.0, 200);
}
both_engines!(five_failures_lock_the_email_until_the_period_ends);

async fn the_threshold_and_period_are_configurable(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_LOCKOUT_THRESHOLD", "2"), ("ATTEST_LOCKOUT_MINUTES", "1")]).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    app.rpc(&app.client, "login", &[("email", "ada@acme.test"), ("password", "wrong password")]).await;
    let (status, body) = app.rpc(&app.client, "login", &[("email", "ada@acme.test"), ("password", "wrong password")]).await;
    assert_eq!(status, 423);
    let until: i64 = sqlx::query_scalar("SELECT locked_until FROM login_lockouts").fetch_one(app.db.pool()).await.unwrap();
    let minutes = (until - app::store::now_ms()) as f64 / 60_000.0;
    assert!((0.9..=1.0).contains(&minutes), "locked for the configured minute: {minutes}");
    assert!(body["detail"]["until"].is_string());
}
both_engines!(the_threshold_and_period_are_configurable);

async fn admins_and_operators_unlock(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let admin = app.new_client();
    app.seed_member("acme", "admin@acme.test", PASSWORD, Role::Admin).await;
    let ada = app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    assert_eq!(app.login(&admin, "admin@acme.test", PASSWORD).await.status(), 200);
    for _ in 0..5 {
        app.rpc(&app.client, "login", &[("email", "ada@acme.test"), ("password", "wrong password")]).await;
    }
    let (_, members) = app.rpc(&admin, "list_members", &[("slug", "acme")]).await;
    let row = members.as_array().unwrap().iter().find(|m| m["email"] == "ada@acme.test").unwrap().clone();
    assert!(row["locked_until"].is_string(), "the members page shows the lock: {row}");
    assert_eq!(app.rpc(&admin, "unlock_member", &[("slug", "acme"), ("user_id", &ada)]).await.0, 200);
    assert_eq!(app.rpc(&app.client, "login", &[("email", "ada@acme.test"), ("password", PASSWORD)]).await.0, 200);

    for _ in 0..5 {
        app.rpc(&app.new_client(), "login", &[("email", "ada@acme.test"), ("password", "wrong password")]).await;
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_attest"))
        .args(["admin", "unlock", "--email", "Ada@acme.test"])
        .env("ATTEST_DATA_DIR", &app.config.data_dir)
        .env("DATABASE_URL", app.config.database_url())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("ada@acme.test: unlocked"), "{output:?}");
    assert_eq!(app.rpc(&app.new_client(), "login", &[("email", "ada@acme.test"), ("password", PASSWORD)]).await.0, 200);
    let unlocks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE action = 'member.unlocked'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(unlocks, 2);
}
both_engines!(admins_and_operators_unlock);

async fn one_address_failing_across_many_emails_is_throttled(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    // The allowance (50), then one slowed attempt; the next must wait.
    for i in 0..51 {
        let email = format!("user{i}@acme.test");
        app.rpc(&app.client, "login", &[("email", &email), ("password", "guess")]).await;
    }
    let (status, body) = app.rpc(&app.client, "login", &[("email", "fresh@acme.test"), ("password", "guess")]).await;
    assert_eq!(status, 429);
    assert_eq!(body["kind"], "too_many_attempts");
}
both_engines!(one_address_failing_across_many_emails_is_throttled);

/// A server function's name, its arguments and the permission it needs.
type Guarded = (&'static str, Vec<(&'static str, String)>, Permission);

/// What one role's calls act on, made fresh for that role: so a call the role may make
/// has something real to act on and must succeed, not merely "not be refused".
struct Targets {
    token: String,
    member: String,
    removable: String,
    role: String,
    verification: String,
    in_review: String,
    document: String,
    endpoint: String,
    deletable_endpoint: String,
    delivery: String,
    n: &'static str,
}

async fn targets(app: &TestApp, api: &Api<'_>, n: &'static str) -> Targets {
    let actor = app::access::Actor::Operator;
    let workspace_id: String = sqlx::query_scalar("SELECT id FROM workspaces WHERE slug = 'acme'").fetch_one(app.db.pool()).await.unwrap();
    let token = app::access::tokens::create(&app.db, app.config.environment, "acme", &format!("revocable-{n}"), None, &actor).await.unwrap().id;
    let member = app.seed_member("acme", &format!("member-{n}@acme.test"), PASSWORD, Role::Viewer).await;
    let removable = app.seed_member("acme", &format!("removable-{n}@acme.test"), PASSWORD, Role::Viewer).await;
    let role = app::access::roles::create(&app.db, &workspace_id, &format!("Deletable {n}"), &["verifications.view".to_string()], &actor).await.unwrap().id;
    let verification = api.create("usps1583", usps_body()).await;
    let in_review = api.create("usps1583", usps_body()).await;
    let (status, doc) =
        api.upload(&format!("/usps1583/verifications/{in_review}/documents"), &[("type", "passport"), ("country", "GB")], vec![("file", jpeg())]).await;
    assert_eq!(status, 201, "{doc}");
    let document = doc["id"].as_str().unwrap().to_string();
    sqlx::query("UPDATE verifications SET status = 'needs_review' WHERE id = $1").bind(&in_review).execute(app.db.pool()).await.unwrap();
    sqlx::query("UPDATE documents SET status = 'extracted' WHERE id = $1").bind(&document).execute(app.db.pool()).await.unwrap();
    let mut endpoints = Vec::new();
    for _ in 0..2 {
        let (status, created) = api.post("/webhook-endpoints", json!({ "url": "http://127.0.0.1:9/hook", "description": "target" })).await;
        assert_eq!(status, 201, "{created}");
        endpoints.push(created["id"].as_str().unwrap().to_string());
    }
    let delivery = app::webhooks::service::send_test(&app.db, &workspace_id, &endpoints[0], &actor).await.unwrap();
    let [endpoint, deletable_endpoint] = endpoints.try_into().unwrap();
    Targets { token, member, removable, role, verification, in_review, document, endpoint, deletable_endpoint, delivery, n }
}

/// Every workspace server function, with arguments that succeed for a role allowed to
/// call it, and the permission it needs.
fn workspace_functions(t: &Targets) -> Vec<Guarded> {
    let args = |pairs: &[(&'static str, &str)]| pairs.iter().map(|(k, v)| (*k, v.to_string())).collect::<Vec<_>>();
    vec![
        ("list_tokens", vec![], Permission::ApiTokensManage),
        ("grantable_scopes", vec![], Permission::ApiTokensManage),
        ("create_token", args(&[("name", "matrix"), ("expires_in_days", "30")]), Permission::ApiTokensManage),
        ("revoke_token", args(&[("token_id", &t.token)]), Permission::ApiTokensManage),
        ("get_settings", vec![], Permission::SettingsManage),
        ("save_blacklist", args(&[("addresses", "1 Main St")]), Permission::SettingsManage),
        (
            "save_flow_settings",
            args(&[
                ("flow", "identity"),
                ("settings[photo_id_types]", "passport"),
                ("settings[proof_of_address_types]", ""),
                ("settings[require_selfie]", "on"),
                ("settings[selfie_threshold]", "0.6"),
                ("settings[on_pass]", "auto_approve"),
                ("settings[on_fail]", "manual_review"),
            ]),
            Permission::SettingsManage,
        ),
        ("list_members", vec![], Permission::MembersManage),
        ("invite_member", args(&[("email", &format!("invited-{}@acme.test", t.n)), ("role", "viewer")]), Permission::MembersManage),
        ("change_member_role", args(&[("user_id", &t.member), ("role", "reviewer")]), Permission::MembersManage),
        ("remove_member", args(&[("user_id", &t.removable)]), Permission::MembersManage),
        ("unlock_member", args(&[("user_id", &t.member)]), Permission::MembersManage),
        ("reset_member_mfa", args(&[("user_id", &t.member)]), Permission::MembersManage),
        ("correct_member_email", args(&[("user_id", &t.member), ("email", &format!("corrected-{}@acme.test", t.n))]), Permission::MembersManage),
        ("list_activity", vec![], Permission::ActivityView),
        ("list_roles", vec![], Permission::MembersManage),
        ("create_role", args(&[("name", &format!("Matrix {}", t.n)), ("permissions[0]", "verifications.view")]), Permission::MembersManage),
        ("delete_role", args(&[("role_id", &t.role)]), Permission::MembersManage),
        ("workspace", vec![], Permission::VerificationsView),
        ("workspace_overview", vec![], Permission::VerificationsView),
        ("review_queue", vec![], Permission::VerificationsView),
        ("verification_detail", args(&[("id", &t.verification)]), Permission::VerificationsView),
        ("decide_verification", args(&[("id", &t.in_review), ("decision", "approved"), ("reason", "Checked by hand.")]), Permission::VerificationsDecide),
        ("cancel_verification", args(&[("id", &t.verification)]), Permission::VerificationsManage),
        (
            "create_verification",
            args(&[
                ("verification[flow]", "identity"),
                ("verification[first_name]", "Matrix"),
                ("verification[last_name]", t.n),
                ("verification[date_of_birth]", "1990-12-10"),
                ("verification[line1]", "12 Main St"),
                ("verification[city]", "Springfield"),
                ("verification[state]", "IL"),
                ("verification[postal_code]", "62701"),
                ("verification[country]", "US"),
                ("verification[photo_id_type]", "passport"),
                ("verification[photo_id_country]", "GB"),
            ]),
            Permission::VerificationsManage,
        ),
        (
            "decide_document",
            args(&[("id", &t.in_review), ("document_id", &t.document), ("decision", "approved"), ("reason", "Checked by hand.")]),
            Permission::VerificationsDecide,
        ),
        ("webhooks_view", vec![], Permission::WebhooksView),
        ("create_webhook", args(&[("url", "http://127.0.0.1:9/hook"), ("description", "matrix")]), Permission::WebhooksManage),
        (
            "update_webhook",
            args(&[("endpoint_id", &t.endpoint), ("url", "http://127.0.0.1:9/edited"), ("description", "edited"), ("events[0]", "verification.approved")]),
            Permission::WebhooksManage,
        ),
        ("set_webhook_active", args(&[("endpoint_id", &t.endpoint), ("active", "false")]), Permission::WebhooksManage),
        ("rotate_webhook_secret", args(&[("endpoint_id", &t.endpoint)]), Permission::WebhooksManage),
        ("delete_webhook", args(&[("endpoint_id", &t.deletable_endpoint)]), Permission::WebhooksManage),
        ("send_test_webhook", args(&[("endpoint_id", &t.endpoint)]), Permission::WebhooksManage),
        ("resend_webhook", args(&[("delivery_id", &t.delivery)]), Permission::WebhooksManage),
    ]
}

/// Each role against every workspace server function: refused (403, nothing written)
/// without the permission; with it, the call acts on a real target and succeeds (2xx).
async fn every_server_function_checks_its_permission(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_WORKERS", "false")]).await;
    app::workspaces::service::create(&app.db, "Acme", Some("acme"), &app::access::Actor::Operator).await.unwrap();
    let token = app::access::tokens::create(&app.db, app.config.environment, "acme", "targets", None, &app::access::Actor::Operator).await.unwrap().token;
    let api = Api { app: &app, token };
    for role in Role::ALL {
        let email = format!("{}@acme.test", role.code());
        app.seed_member("acme", &email, PASSWORD, role).await;
        let client = app.new_client();
        assert_eq!(app.login(&client, &email, PASSWORD).await.status(), 200);
        let targets = targets(&app, &api, role.code()).await;
        for (name, args, permission) in workspace_functions(&targets) {
            let mut form = vec![("slug", "acme".to_string())];
            form.extend(args);
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, body) = app.rpc(&client, name, &form).await;
            if role.has(permission) {
                assert!((200..300).contains(&status), "{role} may call {name}, which must succeed: {status} {body}");
            } else {
                assert_eq!((status, body), (403, json!({ "kind": "forbidden" })), "{role} must not call {name}");
            }
        }
    }
    // Nothing a refused call would have written exists.
    let invited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invitations").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(invited, 2, "only owner and admin invited");
    let roles: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM custom_roles WHERE name LIKE 'Matrix %'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(roles, 2, "only owner and admin created roles");
    let endpoints: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE description = 'matrix'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(endpoints, 3, "owner, admin and developer may create endpoints; the others may not");
    let edited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE description = 'edited'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(edited, 3, "owner, admin and developer may edit endpoints; the others may not");
    let created: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM verifications WHERE flow = 'identity'").fetch_one(app.db.pool()).await.unwrap();
    let managers = Role::ALL.iter().filter(|r| r.has(Permission::VerificationsManage)).count() as i64;
    assert_eq!(created, managers, "only roles with verifications.manage create verifications");
}
both_engines!(every_server_function_checks_its_permission);

async fn admins_cannot_touch_owners_and_the_last_owner_stays(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let owner = app.seed_member("acme", "owner@acme.test", PASSWORD, Role::Owner).await;
    app.seed_member("acme", "admin@acme.test", PASSWORD, Role::Admin).await;
    let admin = app.new_client();
    app.login(&admin, "admin@acme.test", PASSWORD).await;
    assert_eq!(app.rpc(&admin, "change_member_role", &[("slug", "acme"), ("user_id", &owner), ("role", "viewer")]).await.0, 403);
    assert_eq!(app.rpc(&admin, "remove_member", &[("slug", "acme"), ("user_id", &owner)]).await.0, 403);
    let owner_client = app.new_client();
    app.login(&owner_client, "owner@acme.test", PASSWORD).await;
    let (status, body) = app.rpc(&owner_client, "remove_member", &[("slug", "acme"), ("user_id", &owner)]).await;
    assert_eq!(status, 400);
    assert_eq!(body["detail"], "A workspace needs at least one owner.");
}
both_engines!(admins_cannot_touch_owners_and_the_last_owner_stays);

async fn invitations_set_the_password_and_grant_the_role(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "admin@acme.test", PASSWORD, Role::Admin).await;
    let admin = app.new_client();
    app.login(&admin, "admin@acme.test", PASSWORD).await;
    assert_eq!(app.rpc(&admin, "invite_member", &[("slug", "acme"), ("email", "New@Acme.test"), ("role", "developer")]).await.0, 200);
    let mail = app.outbox().into_iter().find(|m| m.contains("To: new@acme.test")).expect("invitation mailed");
    let link = mail.lines().find(|l| l.contains("/invite/")).unwrap().trim().to_string();
    let token = link.rsplit('/').next().unwrap();
    let invited = app.new_client();
    assert_eq!(app.rpc(&invited, "accept_invitation", &[("token", token), ("password", "short")]).await.0, 422);
    assert_eq!(app.rpc(&invited, "accept_invitation", &[("token", token), ("password", "a brand new passphrase")]).await.0, 200);
    assert_eq!(app.rpc(&invited, "accept_invitation", &[("token", token), ("password", "a brand new passphrase")]).await.0, 400, "single use");
    assert_eq!(app.login(&invited, "new@acme.test", "a brand new passphrase").await.status(), 200);
    let (_, ws) = app.rpc(&invited, "workspace", &[("slug", "acme")]).await;
    assert_eq!(ws["role"]["builtin"], "developer");
}
both_engines!(invitations_set_the_password_and_grant_the_role);

async fn custom_roles_grant_exactly_their_permissions(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    app.seed_member("acme", "owner@acme.test", PASSWORD, Role::Owner).await;
    let auditor = app.seed_member("acme", "audit@acme.test", PASSWORD, Role::Viewer).await;
    let owner = app.new_client();
    app.login(&owner, "owner@acme.test", PASSWORD).await;

    let (status, body) = app.rpc(&owner, "create_role", &[("slug", "acme"), ("name", "Auditor")]).await;
    assert_eq!(status, 422, "a role needs permissions: {body}");
    let form = [("slug", "acme"), ("name", "Auditor"), ("permissions[1]", "verifications.view"), ("permissions[9]", "activity.view")];
    assert_eq!(app.rpc(&owner, "create_role", &form).await.0, 200);
    assert_eq!(app.rpc(&owner, "create_role", &form).await.0, 422, "names are unique per workspace");
    let (_, roles) = app.rpc(&owner, "list_roles", &[("slug", "acme")]).await;
    let custom = roles.as_array().unwrap().iter().find(|r| r["custom"] == true).unwrap().clone();
    assert_eq!(custom["label"], "Auditor");
    assert_eq!(custom["permissions"], json!(["verifications.view", "activity.view"]));
    let role_id = custom["value"].as_str().unwrap().to_string();

    assert_eq!(app.rpc(&owner, "change_member_role", &[("slug", "acme"), ("user_id", &auditor), ("role", &role_id)]).await.0, 200);
    let client = app.new_client();
    app.login(&client, "audit@acme.test", PASSWORD).await;
    let (_, ws) = app.rpc(&client, "workspace", &[("slug", "acme")]).await;
    assert_eq!(ws["role"]["custom"]["name"], "Auditor");
    assert_eq!(app.rpc(&client, "list_activity", &[("slug", "acme")]).await.0, 200);
    for (name, permission) in
        [("list_members", Permission::MembersManage), ("list_tokens", Permission::ApiTokensManage), ("get_settings", Permission::SettingsManage)]
    {
        assert_eq!(app.rpc(&client, name, &[("slug", "acme")]).await.0, 403, "{} is not in the role", permission.code());
    }
    let (status, body) = app.rpc(&owner, "delete_role", &[("slug", "acme"), ("role_id", &role_id)]).await;
    assert_eq!((status, body["detail"].clone()), (400, json!("The role is assigned to 1 member(s). Give them another role first.")));
    app.rpc(&owner, "change_member_role", &[("slug", "acme"), ("user_id", &auditor), ("role", "viewer")]).await;
    assert_eq!(app.rpc(&owner, "delete_role", &[("slug", "acme"), ("role_id", &role_id)]).await.0, 200);
    app.seed_member("other", "owner@other.test", PASSWORD, Role::Owner).await;
    let (status, _) = app.rpc(&owner, "change_member_role", &[("slug", "acme"), ("user_id", &auditor), ("role", "role_from_elsewhere")]).await;
    assert_eq!(status, 422, "only this workspace's roles can be given");
}
both_engines!(custom_roles_grant_exactly_their_permissions);
