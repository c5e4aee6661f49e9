//! Capture links (issue 18): created through the API, opened by the applicant at
//! `/c/{token}` without signing in, each photo checked at once, the verification
//! submitted from the page with `verification.capture_completed`.

use crate::{
    both_engines,
    helpers::{usps_body, Api, Engine, TestApp},
    pipeline::{documents_for, models_available, spec},
    support::Receiver,
    webhooks::endpoint,
};
use serde_json::{json, Value};

/// Creates a link for verification `id` and returns `(link id, token)`.
async fn link(api: &Api<'_>, flow: &str, id: &str, body: Value) -> (String, String) {
    let (status, created) = api.post(&format!("/{flow}/verifications/{id}/capture-links"), body).await;
    assert_eq!(status, 201, "{created}");
    let url = created["url"].as_str().unwrap();
    assert!(created["expires_at"].as_str().is_some(), "{created}");
    (created["id"].as_str().unwrap().to_string(), url.rsplit_once("/c/").unwrap().1.to_string())
}

/// The applicant's browser: GET the page, `(status, html)`.
async fn page(app: &TestApp, token: &str) -> (u16, String) {
    let response = app.new_client().get(app.url(&format!("/c/{token}"))).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A plain form post of the page; answers where the browser is sent.
async fn post_form(app: &TestApp, token: &str, action: &str, fields: &[(&str, &str)], file: Option<Vec<u8>>) -> (u16, String) {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    if let Some(bytes) = file {
        form = form.part("file", reqwest::multipart::Part::bytes(bytes).file_name("photo.jpg"));
    }
    let response = app.client.post(app.url(&format!("/c/{token}/{action}"))).multipart(form).send().await.unwrap();
    let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
    (response.status().as_u16(), location)
}

async fn events_of(app: &TestApp, object_id: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT type FROM events WHERE object_id = $1 ORDER BY id").bind(object_id).fetch_all(app.db.pool()).await.unwrap()
}

fn licence_body() -> Value {
    json!({
        "reference": "capture-1",
        "applicant": {
            "first_name": "Ada", "last_name": "Lovelace", "date_of_birth": "1990-12-10", "email": "ada@example.com",
            "address": { "line1": "12 Main Street", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US" }
        },
        "photo_id": { "type": "drivers_license", "country": "US", "number": "L123-4567-8901" },
        "proof_of_address": { "type": "lease", "country": "US" }
    })
}

fn blurred_png(bytes: &[u8]) -> Vec<u8> {
    let img = attest_extract::image::load_from_memory(bytes).unwrap();
    let blurred = attest_extract::image::DynamicImage::ImageRgba8(attest_extract::image::imageops::blur(&img.to_rgba8(), 5.0));
    let mut out = std::io::Cursor::new(Vec::new());
    blurred.write_to(&mut out, attest_extract::image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// The whole applicant flow on the real pipeline: a blurred licence back is refused at
/// once and never kept; the retake, a lease and a selfie go in; submit decides.
async fn an_applicant_completes_a_verification_through_the_link(engine: Engine) {
    if !models_available(&format!("capture::an_applicant_completes_a_verification_through_the_link ({engine:?})")) {
        return;
    }
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let receiver = Receiver::start();
    let (_, secret) =
        endpoint(&api, &receiver.url("/ok"), json!(["verification.capture_completed", "verification.approved", "verification.needs_review"])).await;
    receiver.trust(&[&secret]);
    let id = api.create("usps1583", licence_body()).await;
    let (_, token) = link(&api, "usps1583", &id, json!({ "redirect_url": "https://integrator.example/done" })).await;

    let (status, html) = page(&app, &token).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Workspace acme") && html.contains("Hi Ada"), "the workspace and the first name are shown");
    assert!(!html.contains("Lovelace") && !html.contains("1990-12-10") && !html.contains("Main Street"), "nothing else of the applicant is");
    page(&app, &token).await;
    assert_eq!(events_of(&app, &id).await, ["verification.created", "verification.capture_opened"], "opened is recorded once");

    let docs = documents_for(spec(json!({})));
    let read = |name: &str| std::fs::read(docs.path().join(name)).unwrap();
    assert_eq!(post_form(&app, &token, "consent", &[("consent", "yes")], None).await, (303, format!("/c/{token}")));
    let started = std::time::Instant::now();
    let (_, to) = post_form(&app, &token, "upload", &[("step", "id_front"), ("type", "drivers_license")], Some(read("front.jpg"))).await;
    eprintln!("a licence front (face found) was answered in {:?}", started.elapsed());
    assert_eq!(to, format!("/c/{token}"));
    let (_, html) = page(&app, &token).await;
    assert!(html.contains("data-step=\"id_back\""), "the back is asked next");

    let started = std::time::Instant::now();
    let (_, to) = post_form(&app, &token, "upload", &[("step", "id_back")], Some(blurred_png(&read("back.png")))).await;
    eprintln!("a refused licence back was answered in {:?}", started.elapsed());
    assert!(to.ends_with("?problem=blurred") || to.ends_with("?problem=barcode_not_found"), "{to}");
    let (_, html) = page(&app, to.trim_start_matches("/c/")).await;
    assert!(html.contains("role=\"alert\""), "the page says what to fix");
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["documents"], json!([]), "the blurred back is not kept");

    let (_, to) = post_form(&app, &token, "upload", &[("step", "id_back")], Some(read("back.png"))).await;
    assert_eq!(to, format!("/c/{token}"));
    let (_, to) = post_form(&app, &token, "upload", &[("step", "proof_of_address"), ("type", "lease")], Some(read("poa.pdf"))).await;
    assert_eq!(to, format!("/c/{token}"));
    let (_, to) = post_form(&app, &token, "upload", &[("step", "selfie")], Some(read("selfie.jpg"))).await;
    assert_eq!(to, format!("/c/{token}"));
    let (_, html) = page(&app, &token).await;
    assert!(html.contains("data-step=\"review\""), "resumable: the page knows every step is done");

    assert_eq!(post_form(&app, &token, "submit", &[], None).await, (303, "https://integrator.example/done".to_string()));
    let (status, html) = page(&app, &token).await;
    assert_eq!(status, 200);
    assert!(html.contains("Thank you"), "a used link thanks, and shows nothing else");
    let mut v = Value::Null;
    for _ in 0..600 {
        v = api.get(&format!("/usps1583/verifications/{id}")).await.1;
        if v["status"] != "submitted" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(v["status"], "approved", "the real pipeline decided: {v:#}");
    let licence = v["documents"].as_array().unwrap().iter().find(|d| d["type"] == "drivers_license").unwrap();
    assert_eq!(licence["sides"], json!(["front", "back"]));
    let events = events_of(&app, &id).await;
    let completed = events.iter().position(|e| e == "verification.capture_completed").expect("capture_completed");
    assert!(events.iter().position(|e| e == "verification.submitted").unwrap() < completed, "{events:?}");
    // The integrator's receiver gets capture_completed and the decision, signed.
    let delivered = receiver.wait_for(2).await;
    let mut types: Vec<&str> = delivered.iter().map(|d| d["body"]["type"].as_str().unwrap()).collect();
    types.sort();
    assert_eq!(types, ["verification.approved", "verification.capture_completed"]);
    assert!(delivered.iter().all(|d| d["verified_with"] == json!([0]) && d["body"]["data"]["object"]["id"] == id.as_str()), "{delivered:?}");
    let (_, history) = api.get(&format!("/usps1583/verifications/{id}/history")).await;
    let by_applicant = history["data"].as_array().unwrap().iter().filter(|h| h["actor_type"] == "applicant").count();
    assert!(by_applicant >= 5, "the applicant is the actor of the uploads and the submit: {history:#}");
}
both_engines!(an_applicant_completes_a_verification_through_the_link);

/// A link cannot be had for another workspace's verification, nor with a read-only token.
async fn links_for_another_workspace_or_without_the_scope_are_refused(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let acme = app.api("acme").await;
    let other = app.api("globex").await;
    let id = acme.create("usps1583", usps_body()).await;
    let (status, body) = other.post(&format!("/usps1583/verifications/{id}/capture-links"), json!({})).await;
    assert_eq!((status, body), (404, json!({ "message": "Not found." })));
    let (link_id, _) = link(&acme, "usps1583", &id, json!({})).await;
    let (status, _) = other.delete(&format!("/usps1583/verifications/{id}/capture-links/{link_id}")).await;
    assert_eq!(status, 404);

    sqlx::query("UPDATE api_tokens SET scopes = 'verifications:read'").execute(app.db.pool()).await.unwrap();
    let (status, body) = acme.post(&format!("/usps1583/verifications/{id}/capture-links"), json!({})).await;
    assert_eq!((status, body), (403, json!({ "message": "This action is unauthorized." })));
    let (status, _) = acme.delete(&format!("/usps1583/verifications/{id}/capture-links/{link_id}")).await;
    assert_eq!(status, 403);
    let (status, list) = acme.get(&format!("/usps1583/verifications/{id}/capture-links")).await;
    assert_eq!(status, 200, "reading the links is verifications:read");
    assert_eq!(list["data"][0]["state"], "active");
    assert!(list["data"][0].get("url").is_none() && !list.to_string().contains("/c/"), "a list never shows the link: {list}");
}
both_engines!(links_for_another_workspace_or_without_the_scope_are_refused);

/// Only the SHA-256 of the token is stored, and the token carries at least 128 bits.
async fn the_stored_token_is_a_hash_not_the_link(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    let (link_id, token) = link(&api, "usps1583", &id, json!({})).await;
    assert!(token.len() >= 22, "at least 128 bits in base64url: {token}");
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id, token_sha256 FROM capture_links").fetch_all(app.db.pool()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, link_id);
    assert_ne!(rows[0].1, token);
    assert_eq!(rows[0].1, app::capture::service::hash_token(&token));
    let dump: Vec<String> = sqlx::query_scalar("SELECT data FROM history").fetch_all(app.db.pool()).await.unwrap();
    assert!(dump.iter().all(|d| !d.contains(&token)), "nor in the history");
}
both_engines!(the_stored_token_is_a_hash_not_the_link);

/// Expired, revoked, and links whose verification left `started` show "no longer
/// valid" (410) and accept nothing.
async fn expired_revoked_and_closed_links_are_no_longer_valid(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;

    let id = api.create("usps1583", usps_body()).await;
    let (_, expired) = link(&api, "usps1583", &id, json!({ "expires_in_minutes": 5 })).await;
    sqlx::query("UPDATE capture_links SET expires_at = $1").bind(app::store::now_ms() - 1).execute(app.db.pool()).await.unwrap();
    let (status, html) = page(&app, &expired).await;
    assert_eq!(status, 410);
    assert!(html.contains("This link is no longer valid"), "{html}");
    assert_eq!(post_form(&app, &expired, "consent", &[("consent", "yes")], None).await.1, format!("/c/{expired}"));
    let consented: Option<i64> = sqlx::query_scalar("SELECT consented_at FROM capture_links").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(consented, None, "an expired link changes nothing");

    let (link_id, revoked) = link(&api, "usps1583", &id, json!({})).await;
    let live = app.new_client().get(app.url(&format!("/c/{revoked}"))).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let csp = live.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert_eq!(csp, app::content_security_policy(csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap()), "the dashboard's CSP");
    assert_eq!(live.headers()["cache-control"], "no-store");
    let (status, _) = api.delete(&format!("/usps1583/verifications/{id}/capture-links/{link_id}")).await;
    assert_eq!(status, 204);
    assert_eq!(page(&app, &revoked).await.0, 410);
    let (status, _) = api.delete(&format!("/usps1583/verifications/{id}/capture-links/cap_unknown")).await;
    assert_eq!(status, 404);

    let (_, closed) = link(&api, "usps1583", &id, json!({})).await;
    post_form(&app, &closed, "consent", &[("consent", "yes")], None).await;
    let (status, _) = api.post(&format!("/usps1583/verifications/{id}/cancel"), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(page(&app, &closed).await.0, 410);
    let (_, to) = post_form(&app, &closed, "upload", &[("step", "selfie")], Some(crate::helpers::png_image())).await;
    assert_eq!(to, format!("/c/{closed}"), "the upload is not taken");
    let (status, body) = api.post(&format!("/usps1583/verifications/{id}/capture-links"), json!({})).await;
    assert_eq!((status, body), (400, json!({ "message": "The verification is canceled." })));
    assert_eq!(page(&app, "not-a-token").await.0, 410);
}
both_engines!(expired_revoked_and_closed_links_are_no_longer_valid);

/// `redirect_url` must be an absolute http(s) URL without control characters, and the
/// lifetime within bounds: anything else is 422 and no link is made.
async fn hostile_redirects_and_lifetimes_are_422(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    let path = format!("/usps1583/verifications/{id}/capture-links");
    for bad in
        ["javascript:alert(document.cookie)", "https://example.com/\r\nSet-Cookie: x=1", "https://exa\u{0}mple.com", "//evil.example/", "data:text/html,x"]
    {
        let (status, body) = api.post(&path, json!({ "redirect_url": bad })).await;
        assert_eq!(status, 422, "{bad:?}: {body}");
        assert!(body["errors"]["redirect_url"].is_array(), "{body}");
    }
    for minutes in [json!(0), json!(4), json!(10_081), json!(-5), json!("60")] {
        let (status, body) = api.post(&path, json!({ "expires_in_minutes": minutes })).await;
        assert_eq!(status, 422, "{minutes}: {body}");
        assert!(body["errors"]["expires_in_minutes"].is_array(), "{body}");
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM capture_links").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(count, 0);
    // No body at all: the defaults (one day).
    let response = app.client.post(api.url(&path)).bearer_auth(&api.token).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap()).unwrap().timestamp_millis();
    assert!((expires - app::store::now_ms() - 1440 * 60_000).abs() < 60_000, "{created}");
}
both_engines!(hostile_redirects_and_lifetimes_are_422);

/// One link gets a bounded number of requests a minute, however many arrive at once.
async fn a_flood_on_one_link_is_rate_limited(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    let (_, token) = link(&api, "usps1583", &id, json!({})).await;
    let (_, other) = link(&api, "usps1583", &id, json!({})).await;
    let limit = app::capture::service::REQUESTS_PER_MINUTE as usize;
    let requests = (0..limit + 20).map(|_| {
        let (client, url) = (app.new_client(), app.url(&format!("/c/{token}/consent")));
        tokio::spawn(async move { client.post(url).send().await.unwrap().status().as_u16() })
    });
    let statuses: Vec<u16> = futures::future::join_all(requests).await.into_iter().map(Result::unwrap).collect();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(limited, 20, "exactly the requests past the budget are refused: {statuses:?}");
    assert_eq!(page(&app, &token).await.0, 429);
    assert_eq!(page(&app, &other).await.0, 200, "another link has its own budget");
}
both_engines!(a_flood_on_one_link_is_rate_limited);

/// A photo that the extractors cannot use is refused at once and never becomes a
/// document: a grey card as a selfie (no face), a PDF as a licence back.
async fn unusable_photos_are_refused_at_once_and_not_kept(engine: Engine) {
    if !models_available(&format!("capture::unusable_photos_are_refused_at_once_and_not_kept ({engine:?})")) {
        return;
    }
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", licence_body()).await;
    let (_, token) = link(&api, "usps1583", &id, json!({})).await;
    post_form(&app, &token, "consent", &[("consent", "yes")], None).await;
    let (_, to) = post_form(&app, &token, "upload", &[("step", "selfie")], Some(crate::helpers::png_image())).await;
    assert_eq!(to, format!("/c/{token}?problem=no_face"));
    let (_, to) = post_form(&app, &token, "upload", &[("step", "id_front"), ("type", "drivers_license")], Some(b"not an image at all".to_vec())).await;
    assert_eq!(to, format!("/c/{token}?problem=not_an_image"));
    let (_, to) = post_form(&app, &token, "upload", &[("step", "id_front"), ("type", "social_security_card")], Some(crate::helpers::png_image())).await;
    assert_eq!(to, format!("/c/{token}?problem=type_not_accepted"));
    let dark = {
        let img = attest_extract::image::GrayImage::from_pixel(800, 600, attest_extract::image::Luma([12]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, attest_extract::image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let (_, to) = post_form(&app, &token, "upload", &[("step", "id_front"), ("type", "drivers_license")], Some(dark)).await;
    assert_eq!(to, format!("/c/{token}?problem=too_dark"));
    let json = app
        .client
        .post(app.url(&format!("/c/{token}/upload")))
        .header("Accept", "application/json")
        .multipart(reqwest::multipart::Form::new().text("step", "selfie").part("file", reqwest::multipart::Part::bytes(crate::helpers::png_image())))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 422);
    let body: Value = json.json().await.unwrap();
    assert_eq!(body["problem"], "no_face");
    let (_, v) = api.get(&format!("/usps1583/verifications/{id}")).await;
    assert_eq!(v["documents"], json!([]), "nothing refused was kept: {v:#}");
    let pending: Option<String> = sqlx::query_scalar("SELECT pending_blob FROM capture_links").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(pending, None);
}
both_engines!(unusable_photos_are_refused_at_once_and_not_kept);

/// The dashboard e-mails a link to the applicant (and revokes it) with the permission the
/// REST route asks for: a viewer can list links but neither send nor revoke one.
async fn the_dashboard_emails_a_link_only_with_verifications_manage(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let id = api.create("usps1583", usps_body()).await;
    app.seed_member("acme", "viewer@acme.test", "a long enough password", app::access::Role::Viewer).await;
    app.seed_member("acme", "reviewer@acme.test", "a long enough password", app::access::Role::Reviewer).await;
    let viewer = app.new_client();
    assert_eq!(app.login(&viewer, "viewer@acme.test", "a long enough password").await.status(), 200);
    let (status, _) = app.rpc(&viewer, "email_capture_link", &[("slug", "acme"), ("id", &id)]).await;
    assert_eq!(status, 403);
    assert!(app.outbox().iter().all(|m| !m.contains("/c/")), "nothing was sent");

    let reviewer = app.new_client();
    assert_eq!(app.login(&reviewer, "reviewer@acme.test", "a long enough password").await.status(), 200);
    let detail = |client: reqwest::Client| {
        let url = app.url(&format!("/w/acme/verifications/{id}"));
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let shown = detail(reviewer.clone()).await;
    assert!(shown.contains("Capture links") && shown.contains("No link yet.") && shown.contains("E-mail a link to the applicant"), "{shown}");
    assert!(!detail(viewer.clone()).await.contains("E-mail a link to the applicant"), "a viewer is not offered the button");
    let (status, body) = app.rpc(&reviewer, "email_capture_link", &[("slug", "acme"), ("id", &id)]).await;
    assert_eq!(status, 200, "{body}");
    let shown = detail(reviewer.clone()).await;
    assert!(shown.contains("link-active") && shown.contains("Revoke link cap_"), "the link and its state are shown");
    let mail = app.outbox().into_iter().find(|m| m.contains("To: ada@example.com") && m.contains("/c/")).expect("the link was mailed to the applicant");
    let token: String = mail[mail.find("/c/").unwrap() + 3..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    assert_eq!(page(&app, &token).await.0, 200, "the mailed link opens");

    let (status, links) = app.rpc(&viewer, "capture_links", &[("slug", "acme"), ("id", &id)]).await;
    assert_eq!(status, 200, "{links}");
    let link_id = links[0]["id"].as_str().unwrap().to_string();
    let (status, _) = app.rpc(&viewer, "revoke_capture_link", &[("slug", "acme"), ("id", &id), ("link_id", &link_id)]).await;
    assert_eq!(status, 403);
    assert_eq!(page(&app, &token).await.0, 200);
    let other = app.api("globex").await;
    let foreign = other.create("usps1583", usps_body()).await;
    let (status, _) = app.rpc(&reviewer, "email_capture_link", &[("slug", "acme"), ("id", &foreign)]).await;
    assert_eq!(status, 404, "another workspace's verification is not found");
    let (status, _) = app.rpc(&reviewer, "revoke_capture_link", &[("slug", "acme"), ("id", &id), ("link_id", &link_id)]).await;
    assert_eq!(status, 200);
    assert_eq!(page(&app, &token).await.0, 410);
}
both_engines!(the_dashboard_emails_a_link_only_with_verifications_manage);
