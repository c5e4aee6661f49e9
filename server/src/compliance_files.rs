//! The dashboard's compliance downloads, for signed-in members (the REST API has the same
//! under `/api/v1/usps1583/…`): `GET /w/{slug}/verifications/{id}/form-1583[?format=pdf]`
//! and `GET /w/{slug}/verifications/{id}/evidence` (an activity entry), both holding
//! extracted PII so both `documents.view`, `GET /w/{slug}/compliance/quarterly?quarter=…&format=csv|pdf`.

use crate::{
    api::compliance::{download, output_format, report_response},
    document_files::session_member,
};
use app::{
    access::Permission,
    compliance::{evidence, quarterly, service},
    error::AppError,
    flows::Flow,
    state::AppState,
};
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use tower_sessions::Session;

#[derive(Debug, Deserialize)]
pub struct Params {
    format: Option<String>,
    quarter: Option<String>,
}

#[tracing::instrument(skip_all)]
pub async fn form_1583(
    State(state): State<AppState>,
    session: Session,
    Path((slug, id)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Response, AppError> {
    let member = session_member(&state, &session, &slug, Permission::DocumentsView).await?;
    match output_format(params.format.as_deref(), false)? {
        "pdf" => {
            Ok(download("application/pdf", &format!("form-1583-{id}.pdf"), service::form_1583_pdf(&state.db, &member.workspace_id, Flow::Usps1583, &id).await?))
        }
        _ => {
            let boxes = service::form_1583(&state.db, &member.workspace_id, Flow::Usps1583, &id).await?;
            let json = serde_json::to_vec_pretty(&boxes).map_err(|e| AppError::internal("form JSON", e))?;
            Ok(download("application/json", &format!("form-1583-{id}.json"), json))
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn evidence(State(state): State<AppState>, session: Session, Path((slug, id)): Path<(String, String)>) -> Result<Response, AppError> {
    let member = session_member(&state, &session, &slug, Permission::DocumentsView).await?;
    let zip = evidence::pack(&state.db, &state.files, &member.workspace_id, Flow::Usps1583, &id, &member.actor()).await?;
    Ok(download("application/zip", &format!("evidence-{id}.zip"), zip))
}

#[tracing::instrument(skip_all)]
pub async fn quarterly_report(
    State(state): State<AppState>,
    session: Session,
    Path(slug): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, AppError> {
    let member = session_member(&state, &session, &slug, Permission::VerificationsView).await?;
    let quarter = quarterly::parse(params.quarter.as_deref())?;
    let format = output_format(params.format.as_deref(), true)?;
    let report = quarterly::report(&state.db, &member.workspace_id, quarter, chrono::Utc::now().date_naive()).await?;
    Ok(match format {
        "json" => Json(report).into_response(),
        other => report_response(&report, other),
    })
}
