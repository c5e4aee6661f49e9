//! The workspace overview: counts by status and flow, verifications per day, and queue
//! health — the first things to look at when verifications seem stuck in `submitted`.

#[cfg(feature = "ssr")]
use crate::access::Permission;
use crate::{error::AppError, layout::ErrorNotice};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub name: String,
    pub role: String,
    pub permissions: Vec<String>,
    /// `(flow, status, count)`.
    pub counts: Vec<(String, String, i64)>,
    /// `(day as YYYY-MM-DD, count)` for the last 14 days, oldest first.
    pub per_day: Vec<(String, i64)>,
    pub jobs_queued: i64,
    pub oldest_job_age_secs: f64,
    pub jobs_failed: i64,
    pub extraction_failures: i64,
    /// Verifications sent to review because processing itself failed (a document's file
    /// could not be read, or every attempt failed): not the applicant's doing.
    pub processing_failures: i64,
    /// Extraction models this server could not load: documents that need them wait for
    /// a person.
    pub missing_models: Vec<String>,
}

#[server(prefix = "/rpc", endpoint = "workspace_overview")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.workspace_overview", skip_all))]
pub async fn workspace_overview(slug: String) -> Result<Overview, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, Permission::VerificationsView).await?;
            let workspace = super::service::find_by_slug(&state.db, &slug).await?.ok_or(AppError::NotFound)?;
            let figures = super::service::figures(&state.db, &member.workspace_id).await?;
            let stats = crate::jobs::stats(&state.db).await?;
            Ok(Overview {
                processing_failures: figures.processing_failures,
                name: workspace.name,
                role: member.role.label(),
                permissions: Permission::ALL.into_iter().filter(|p| member.role.has(*p)).map(|p| p.code().to_string()).collect(),
                counts: figures.counts,
                per_day: figures.per_day,
                jobs_queued: stats.depth,
                oldest_job_age_secs: stats.oldest_age_secs,
                jobs_failed: stats.failed,
                extraction_failures: figures.extraction_failures,
                missing_models: state.pipeline.provider.missing_models().into_iter().map(str::to_string).collect(),
            })
        }
        .await,
    )
}

/// `/w/:slug`
#[component]
pub fn OverviewPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let data = Resource::new(slug, workspace_overview);
    view! {
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading overview…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(o) => {
                        let max = o.per_day.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
                        let total: i64 = o.counts.iter().map(|(_, _, n)| *n).sum();
                        let chart_label = o.per_day.iter().map(|(d, n)| format!("{d}: {n}")).collect::<Vec<_>>().join(", ");
                        view! {
                            <Title text=o.name.clone()/>
                            <h1>{o.name.clone()}</h1>
                            <p>"Your role: " <span class="badge">{o.role.clone()}</span></p>
                            <div class="grid-2">
                                <section class="panel" aria-labelledby="counts-heading">
                                    <h2 id="counts-heading">{format!("Verifications ({total})")}</h2>
                                    <table class="data" aria-label="Verifications by flow and status">
                                        <thead><tr><th scope="col">"Flow"</th><th scope="col">"Status"</th><th scope="col">"Count"</th></tr></thead>
                                        <tbody>{o.counts.iter().map(|(flow, status, n)| view! {
                                            <tr><td>{flow.clone()}</td><td><span class=format!("badge status-{status}")>{status.replace('_', " ")}</span></td><td>{*n}</td></tr>
                                        }).collect_view()}</tbody>
                                    </table>
                                </section>
                                <section class="panel" aria-labelledby="health-heading">
                                    <h2 id="health-heading">"Processing health"</h2>
                                    {(!o.missing_models.is_empty()).then(|| view! {
                                        <p class="form-error" role="alert" data-testid="missing-models">
                                            {format!("Extraction models missing on this server: {}. Documents that need them fail with provider_error; install them with scripts/models (or set ATTEST_MODELS_DIR).", o.missing_models.join(", "))}
                                        </p>
                                    })}
                                    <dl class="health">
                                        <dt>"Jobs waiting or running"</dt><dd data-testid="jobs-queued">{o.jobs_queued}</dd>
                                        <dt>"Oldest job"</dt><dd>{format!("{:.0} s", o.oldest_job_age_secs)}</dd>
                                        <dt>"Jobs that failed every attempt"</dt><dd>{o.jobs_failed}</dd>
                                        <dt>"Documents that could not be read"</dt><dd>{o.extraction_failures}</dd>
                                        <dt>"Sent to review because processing failed"</dt><dd data-testid="processing-failures">{o.processing_failures}</dd>
                                    </dl>
                                </section>
                            </div>
                            <section class="panel" aria-labelledby="chart-heading">
                                <h2 id="chart-heading">"Created per day (last 14 days)"</h2>
                                <div class="bars" role="img" aria-label=chart_label>
                                    {o.per_day.iter().map(|(day, n)| view! {
                                        <div class="bar" title=format!("{day}: {n}")>
                                            <span class="fill" style=format!("height: {}%", n * 100 / max)></span>
                                            <span class="label">{day[5..].to_string()}</span>
                                        </div>
                                    }).collect_view()}
                                </div>
                            </section>
                            <details>
                                <summary>"What your role can do here"</summary>
                                <ul class="permission-list">{o.permissions.into_iter().map(|p| view! { <li><code>{p}</code></li> }).collect_view()}</ul>
                            </details>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}
