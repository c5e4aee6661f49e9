//! `attest admin seed-demo`: the demo workspace with something real on every page.
//!
//! A dozen sample verifications go through the same services the API uses: created,
//! given generated document images, submitted, and decided by the processing pipeline run
//! here in-process (sandbox test data drives each outcome, SPEC §5.5), then one is
//! rejected by the demo owner and one canceled. A webhook endpoint receives their events.
//! Samples carry the references `demo-01`… so running the command again adds nothing.

use app::{
    access::Actor,
    documents::service::{self as documents, Part, Upload},
    flows::Flow,
    jobs,
    state::AppState,
    verifications::service as verifications,
    webhooks::service as webhooks,
};
use attest_extract::image::{GrayImage, ImageFormat, Luma};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// What a sample ends as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// Submitted and left to the pipeline.
    Decided,
    /// Submitted, then rejected by a reviewer.
    Rejected,
    /// Created with one document, not submitted.
    Started,
    /// Created, then canceled.
    Canceled,
}

struct Sample {
    reference: &'static str,
    flow: Flow,
    first_name: &'static str,
    last_name: &'static str,
    photo_id: &'static str,
    ending: Ending,
}

const SAMPLES: [Sample; 12] = [
    Sample {
        reference: "demo-01",
        flow: Flow::Usps1583,
        first_name: "Grace",
        last_name: "sandbox-approve",
        photo_id: "drivers_license",
        ending: Ending::Decided,
    },
    Sample { reference: "demo-02", flow: Flow::Identity, first_name: "Alan", last_name: "sandbox-approve", photo_id: "passport", ending: Ending::Decided },
    Sample {
        reference: "demo-03",
        flow: Flow::Usps1583,
        first_name: "Katherine",
        last_name: "sandbox-name-mismatch",
        photo_id: "drivers_license",
        ending: Ending::Decided,
    },
    Sample { reference: "demo-04", flow: Flow::Usps1583, first_name: "Dorothy", last_name: "sandbox-expired", photo_id: "passport", ending: Ending::Decided },
    Sample {
        reference: "demo-05",
        flow: Flow::Usps1583,
        first_name: "Edsger",
        last_name: "sandbox-blacklisted",
        photo_id: "drivers_license",
        ending: Ending::Decided,
    },
    Sample {
        reference: "demo-06",
        flow: Flow::Usps1583,
        first_name: "Barbara",
        last_name: "sandbox-selfie-mismatch",
        photo_id: "passport",
        ending: Ending::Decided,
    },
    Sample {
        reference: "demo-07",
        flow: Flow::Identity,
        first_name: "Frances",
        last_name: "sandbox-dob-mismatch",
        photo_id: "passport",
        ending: Ending::Decided,
    },
    Sample {
        reference: "demo-08",
        flow: Flow::Usps1583,
        first_name: "Radia",
        last_name: "sandbox-extraction-failed",
        photo_id: "drivers_license",
        ending: Ending::Decided,
    },
    Sample {
        reference: "demo-09",
        flow: Flow::Identity,
        first_name: "Leslie",
        last_name: "sandbox-country-mismatch",
        photo_id: "passport",
        ending: Ending::Decided,
    },
    Sample {
        reference: "demo-10",
        flow: Flow::Usps1583,
        first_name: "John",
        last_name: "sandbox-expired",
        photo_id: "drivers_license",
        ending: Ending::Rejected,
    },
    Sample { reference: "demo-11", flow: Flow::Usps1583, first_name: "Ken", last_name: "sandbox-approve", photo_id: "passport", ending: Ending::Started },
    Sample { reference: "demo-12", flow: Flow::Identity, first_name: "Margaret", last_name: "sandbox-approve", photo_id: "passport", ending: Ending::Canceled },
];

/// A plain generated image (a card, a page, a portrait frame): real PNG bytes that the
/// upload checks and the pipeline's intake accept.
fn image(width: u32, height: u32, shade: u8) -> Vec<u8> {
    let img = GrayImage::from_fn(width, height, |x, y| {
        let band = (y * 8 / height).is_multiple_of(2) && x > width / 10 && x < width * 9 / 10;
        Luma([if band { shade.saturating_sub(90) } else { shade }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).expect("encoding a PNG in memory");
    out.into_inner()
}

fn body(sample: &Sample) -> Value {
    let mut body = json!({
        "reference": sample.reference,
        "applicant": {
            "first_name": sample.first_name, "last_name": sample.last_name, "date_of_birth": "1988-04-12",
            "email": format!("{}@demo.attest.test", sample.first_name.to_lowercase()),
            "address": { "line1": "1600 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US" }
        },
        "photo_id": { "type": sample.photo_id, "country": "US" },
        "metadata": { "demo": true }
    });
    if sample.flow == Flow::Usps1583 {
        body["proof_of_address"] = json!({ "type": "lease", "country": "US" });
        body["mailbox"] = json!({ "pmb": sample.reference.trim_start_matches("demo-") });
    }
    body
}

fn upload(document_type: &str, front: Vec<u8>, back: Option<Vec<u8>>) -> Upload {
    Upload {
        document_type: Some(document_type.to_string()),
        country: Some("US".to_string()),
        front: Part::Bytes(front),
        back: back.map(Part::Bytes).unwrap_or(Part::Missing),
    }
}

/// Whether the samples are there already.
async fn seeded(state: &AppState, workspace_id: &str) -> anyhow::Result<bool> {
    let query = verifications::ListQuery { reference: Some(SAMPLES[0].reference.to_string()), limit: 1, ..Default::default() };
    let page = verifications::list(&state.db, workspace_id, SAMPLES[0].flow, &query).await.map_err(super::admin::explain)?;
    Ok(!page.data.is_empty())
}

/// Creates the samples in the workspace `workspace_id` (once) and runs the pipeline on
/// them. Returns how many were created.
pub async fn seed(state: &AppState, workspace_id: &str, owner: &Actor) -> anyhow::Result<usize> {
    if seeded(state, workspace_id).await? {
        return Ok(0);
    }
    let explain = super::admin::explain;
    let environment = state.settings.environment;
    let operator = Actor::Operator;
    // A receiver that is not there: its deliveries fail, retry and show in the log.
    let endpoint = webhooks::EndpointInput {
        url: Some("http://127.0.0.1:9/demo-receiver".into()),
        description: Some("Demo receiver (nothing listens: deliveries fail and retry)".into()),
        event_types: Some(vec!["verification.approved".into(), "verification.rejected".into(), "verification.needs_review".into()]),
        active: Some(true),
    };
    webhooks::create(&state.db, &state.files.master, environment, workspace_id, endpoint, &operator).await.map_err(explain)?;

    let mut decided = Vec::new();
    for (i, sample) in SAMPLES.iter().enumerate() {
        let created = verifications::create(&state.db, environment, workspace_id, sample.flow, &body(sample), &operator).await.map_err(explain)?;
        let shade = 200 + (i as u8 % 5) * 10;
        let licence = sample.photo_id == "drivers_license";
        let photo_id = upload(sample.photo_id, image(1012, 638, shade), licence.then(|| image(1012, 638, shade - 20)));
        documents::upload(&state.db, &state.files, workspace_id, sample.flow, &created.id, photo_id, &operator).await.map_err(explain)?;
        if sample.ending == Ending::Started {
            continue;
        }
        if sample.flow == Flow::Usps1583 {
            let lease = upload("lease", image(850, 1100, 245), None);
            documents::upload(&state.db, &state.files, workspace_id, sample.flow, &created.id, lease, &operator).await.map_err(explain)?;
        }
        let selfie = upload("selfie", image(640, 800, 180), None);
        documents::upload(&state.db, &state.files, workspace_id, sample.flow, &created.id, selfie, &operator).await.map_err(explain)?;
        if sample.ending == Ending::Canceled {
            verifications::cancel(&state.db, workspace_id, sample.flow, &created.id, &operator).await.map_err(explain)?;
            continue;
        }
        verifications::submit(&state.db, workspace_id, sample.flow, &created.id, &operator).await.map_err(explain)?;
        decided.push((sample, created.id));
    }

    let submitted: Vec<(Flow, &str)> = decided.iter().map(|(sample, id)| (sample.flow, id.as_str())).collect();
    run_pipeline(state, workspace_id, &submitted).await?;

    for (sample, id) in &decided {
        if sample.ending == Ending::Rejected {
            let decision = app::verifications::requests::DecisionInput {
                decision: Some("rejected".into()),
                reason: Some("The photo ID has expired; asked the customer for a current one.".into()),
            };
            verifications::decide(&state.db, workspace_id, sample.flow, id, &decision, owner).await.map_err(explain)?;
        }
    }
    Ok(SAMPLES.len())
}

/// Runs the pipeline here until every submitted sample is decided (a running `attest
/// serve` may take some of the jobs: then this waits for it), or a minute passes.
async fn run_pipeline(state: &AppState, workspace_id: &str, submitted: &[(Flow, &str)]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let worker = app::store::ids::new_id("seed");
    while Instant::now() < deadline {
        let leased = jobs::lease(&state.db, &worker, &[app::pipeline::JOB], 2, state.settings.job_lease_ms).await?;
        for job in &leased {
            if let Err(e) = app::pipeline::process(&state.db, &state.files, &state.pipeline, job, &worker).await {
                jobs::fail(state.db.pool(), job, &worker, &e.to_string(), 0).await?;
            }
        }
        let mut waiting = 0;
        for (flow, id) in submitted {
            let verification = verifications::get(&state.db, workspace_id, *flow, id).await.map_err(super::admin::explain)?;
            waiting += usize::from(verification.status == app::verifications::VerificationStatus::Submitted);
        }
        if waiting == 0 {
            return Ok(());
        }
        if leased.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    anyhow::bail!("the demo verifications were not all processed within a minute")
}
