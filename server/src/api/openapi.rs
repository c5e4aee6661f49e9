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
        (name = "configuration", description = "The flow's accepted document types")
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
