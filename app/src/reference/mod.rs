//! The API reference page: every operation of the OpenAPI document the server
//! generates from its routes, with a link to the document itself.

use crate::{error::AppError, layout::ErrorNotice};
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// One operation of the public API, as listed on the reference page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiOperation {
    pub method: String,
    pub path: String,
    pub tag: String,
    pub summary: String,
    pub statuses: Vec<String>,
}

/// A sandbox magic last name and what it makes the pipeline do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxName {
    pub last_name: String,
    pub effect: String,
}

/// What the reference page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceData {
    pub operations: Vec<ApiOperation>,
    pub sandbox: Vec<SandboxName>,
}

#[server(prefix = "/rpc", endpoint = "api_reference")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.api_reference", skip_all))]
pub async fn api_reference() -> Result<ReferenceData, AppError> {
    crate::error::respond(
        async move {
            crate::auth::service::require_user().await?;
            let state = crate::state::AppState::from_context()?;
            let sandbox = crate::pipeline::sandbox::SCENARIOS
                .iter()
                .map(|(name, _, effect)| SandboxName { last_name: name.to_string(), effect: effect.to_string() })
                .collect();
            Ok(ReferenceData { operations: state.api_reference.as_ref().clone(), sandbox })
        }
        .await,
    )
}

/// `/api-reference`
#[component]
pub fn ApiReferencePage() -> impl IntoView {
    let operations = Resource::new(|| (), |_| api_reference());
    view! {
        <Title text="API reference"/>
        <h1>"API reference"</h1>
        <p>
            "Base URL " <code>"/api/v1"</code> ". Authenticate with " <code>"Authorization: Bearer <token>"</code>
            " (create tokens on a workspace's API tokens page). Errors are JSON " <code>"{\"message\": …}"</code>
            ", with " <code>"errors"</code> " keyed by field path on 422. The machine-readable OpenAPI 3.1 document is at "
            <a href="/api/v1/openapi.json" rel="external">"/api/v1/openapi.json"</a> "."
        </p>
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match operations.await {
                    Ok(ReferenceData { operations: list, sandbox }) => view! {
                        <table class="data" aria-label="API operations">
                            <thead><tr><th scope="col">"Method"</th><th scope="col">"Path"</th><th scope="col">"What it does"</th><th scope="col">"Responses"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|op| view! {
                                    <tr>
                                        <td><span class=format!("method {}", op.method.to_lowercase())>{op.method.clone()}</span></td>
                                        <td><code>{op.path.clone()}</code></td>
                                        <td>{op.summary.clone()}</td>
                                        <td class="muted">{op.statuses.join(" ")}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <h2 id="sandbox-heading">"Sandbox test data"</h2>
                        <p>
                            "In the sandbox environment, an applicant whose " <code>"last_name"</code>
                            " is one of these drives the pipeline to a known outcome without a real ID (any letter case). Production refuses them (422) on create and update."
                        </p>
                        <table class="data" aria-labelledby="sandbox-heading">
                            <thead><tr><th scope="col">"Last name"</th><th scope="col">"What happens"</th></tr></thead>
                            <tbody>
                                {sandbox.into_iter().map(|s| view! {
                                    <tr><td><code>{s.last_name}</code></td><td>{s.effect}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}
