//! The OpenAPI 3.1 document, generated from the route handlers' annotations.

use axum::{response::IntoResponse, Json};
use std::sync::Arc;
use utoipa::{
    openapi::{
        security::{Http, HttpAuthScheme, SecurityScheme},
        OpenApi as Doc,
    },
    Modify, OpenApi,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Attest API",
        version = "1",
        description = "Identity verification for USPS PS Form 1583 and plain identity checks. \
            Authenticate with `Authorization: Bearer <token>`. Errors are JSON: `{\"message\": …}`, \
            plus `errors` keyed by field path on 422."
    ),
    servers((url = "/api/v1")),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "verifications", description = "Create, read, update, submit, cancel and decide verifications"),
        (name = "documents", description = "Upload, read, cancel and decide a verification's documents"),
        (name = "configuration", description = "The flow's accepted document types"),
        (name = "webhooks", description = "Webhook endpoints, their delivery log, resend")
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Doc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

pub fn base() -> Doc {
    ApiDoc::openapi()
}

pub async fn serve(doc: Arc<Doc>) -> impl IntoResponse {
    Json(doc.as_ref().clone())
}

/// The whole document, for the dashboard's reference page and tests.
pub fn document() -> Doc {
    super::routes().split_for_parts().1
}

/// The operations for the dashboard's reference page, in document order.
pub fn operations() -> Vec<app::reference::ApiOperation> {
    let doc = document();
    let mut out = Vec::new();
    for (path, item) in doc.paths.paths.iter() {
        let methods = [("GET", &item.get), ("POST", &item.post), ("PATCH", &item.patch), ("DELETE", &item.delete), ("PUT", &item.put)];
        for (method, operation) in methods {
            let Some(operation) = operation else { continue };
            out.push(app::reference::ApiOperation {
                method: method.to_string(),
                path: format!("/api/v1{path}"),
                tag: operation.tags.as_ref().and_then(|t| t.first().cloned()).unwrap_or_default(),
                summary: operation.summary.clone().or_else(|| operation.description.clone()).unwrap_or_default(),
                statuses: operation.responses.responses.keys().cloned().collect(),
            });
        }
    }
    out
}
