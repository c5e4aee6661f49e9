//! An applicant may not give the workspace's own CMRA as their residence (issue #16):
//! the CMRA address set in the settings (`PUT /{flow}/cmra`) fails `address_blacklisted`,
//! whatever suite or private mailbox is written after the street, and the rule says why.

use crate::{
    both_engines,
    helpers::{jpeg, Api, Engine, TestApp},
    pipeline::decided,
};
use serde_json::{json, Value};

/// Creates a sandbox usps1583 verification whose applicant declares `address`, uploads
/// its documents and submits it; returns the id.
async fn submit_at(api: &Api<'_>, reference: &str, address: Value) -> String {
    let body = json!({
        "reference": reference,
        "applicant": { "first_name": "Ada", "last_name": "sandbox-approve", "date_of_birth": "1990-12-10", "address": address },
        "photo_id": { "type": "drivers_license", "country": "US", "number": "D123-4567-8901" },
        "proof_of_address": { "type": "lease", "country": "US" }
    });
    let id = api.create("usps1583", body).await;
    for (kind, country) in [("drivers_license", "US"), ("lease", "US"), ("selfie", "US")] {
        let (status, doc) =
            api.upload(&format!("/usps1583/verifications/{id}/documents"), &[("type", kind), ("country", country)], vec![("file", jpeg())]).await;
        assert_eq!(status, 201, "{doc}");
    }
    let (status, submitted) = api.post(&format!("/usps1583/verifications/{id}/submit"), json!({})).await;
    assert_eq!((status, submitted["status"].as_str()), (200, Some("submitted")), "{submitted}");
    id
}

fn address_rule(v: &Value) -> Value {
    v["rules"].as_array().unwrap().iter().find(|r| r["name"] == "address_blacklisted").cloned().unwrap_or_else(|| panic!("{v:#}"))
}

async fn an_applicant_at_the_workspaces_own_cmra_fails_address_blacklisted(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let api = app.api("acme").await;
    let cmra = json!({ "line1": "500 Harbor Blvd", "line2": "Suite 100", "city": "Oakland", "state": "CA", "postal_code": "94607", "country": "US" });
    let (status, profile) = api.put("/usps1583/cmra", json!({ "name": "Harbor Mail Center", "address": cmra })).await;
    assert_eq!(status, 200, "{profile}");

    // The CMRA's street spelled out, with the box the applicant rents there.
    let at_cmra = json!({ "line1": "500 Harbor Boulevard", "line2": "PMB 45", "city": "Oakland", "state": "CA", "postal_code": "94607-1234", "country": "US" });
    let at_home = json!({ "line1": "12 Main Street", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US" });
    let refused = submit_at(&api, "cmra-applicant", at_cmra).await;
    let resident = submit_at(&api, "cmra-resident", at_home).await;

    let v = decided(&api, &refused).await;
    assert_eq!(v["status"], "needs_review", "{v:#}");
    let rule = address_rule(&v);
    assert_eq!(rule["result"], "fail", "{rule}");
    let found = rule["found"].as_str().unwrap_or_default();
    assert!(found.starts_with("500 HARBOR BLVD PMB 45, OAKLAND, CA") && found.ends_with(": the address of this workspace's CMRA"), "{found}");

    // Someone living elsewhere passes.
    let v = decided(&api, &resident).await;
    assert_eq!(address_rule(&v)["result"], "pass", "{v:#}");
    assert_eq!(v["status"], "approved", "{v:#}");
}
both_engines!(an_applicant_at_the_workspaces_own_cmra_fails_address_blacklisted);
