//! What a newcomer meets first (issue #19): pages without stray text from mis-parsed
//! view attributes.

use crate::{
    both_engines,
    helpers::{Engine, TestApp},
};
use app::access::Role;

const PASSWORD: &str = "correct horse battery staple";

/// The visible text of an HTML page: tags, scripts and styles dropped.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let skip_to = if after.starts_with("<script") { after.find("</script>").map(|i| i + 9) } else if after.starts_with("<style") { after.find("</style>").map(|i| i + 8) } else { after.find('>').map(|i| i + 1) };
        match skip_to {
            Some(n) => rest = &after[n..],
            None => break,
        }
        out.push(' ');
    }
    out
}

async fn the_code_page_has_no_stray_text_and_its_resend_button_waits(engine: Engine) {
    let app = TestApp::spawn_with(engine, &[("ATTEST_MFA_REQUIRED", "true")]).await;
    app.seed_member("acme", "ada@acme.test", PASSWORD, Role::Reviewer).await;
    assert_eq!(app.login(&app.client, "ada@acme.test", PASSWORD).await.status(), 200);
    let html = app.client.get(app.url("/mfa")).send().await.unwrap().text().await.unwrap();
    let text = visible_text(&html);
    assert!(text.contains("Resend code (in"), "{text}");
    for stray in ["0 >", "true >", "false >", "> 0", "=>"] {
        assert!(!text.contains(stray), "stray {stray:?} in the page text: {text}");
    }
    let button = html.split("<button").find(|b| b.contains("Resend code")).unwrap();
    assert!(button.split('>').next().unwrap().contains("disabled"), "the resend button waits out its cooldown: <button{button}");
}
both_engines!(the_code_page_has_no_stray_text_and_its_resend_button_waits);
