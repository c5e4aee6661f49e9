#![forbid(unsafe_code)]
//! Attest's dashboard and the types it shares with the server.
//!
//! Pages and server functions are grouped by capability (`auth`, `workspaces`, …); each
//! capability keeps its server-side service (SQL, rules) in a `service` module compiled
//! only with the `ssr` feature, so the hydrating bundle never carries it.

pub mod access;
pub mod auth;
pub mod capture;
pub mod compliance;
pub mod dates;
pub mod documents;
pub mod error;
pub mod flows;
pub mod forms;
#[cfg(feature = "ssr")]
pub mod jobs;
#[cfg(feature = "ssr")]
pub mod journal;
pub mod layout;
#[cfg(feature = "ssr")]
pub mod pipeline;
pub mod reference;
pub mod sandbox;
pub mod settings;
pub mod verifications;
pub mod webhooks;
pub mod workspaces;

pub mod activity;
#[cfg(feature = "ssr")]
pub mod mail;
pub mod members;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, SsrMode,
};

/// The Content-Security-Policy of a page: scripts only from us and the page's own
/// inline bootstrap (its nonce), WebAssembly allowed to compile, no plug-ins, no
/// framing, forms post only to us. Style attributes are allowed (the viewer's rotation,
/// the overview's bars); style sheets only from us.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; style-src-attr 'unsafe-inline'; \
         img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// The HTML document around every server-rendered page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<leptos_axum::ResponseOptions>()) {
        if let Ok(value) = http::HeaderValue::from_str(&content_security_policy(&nonce.to_string())) {
            response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The dashboard: public sign-in, and the signed-in area inside [`layout::Shell`].
///
/// Pages render on the server only (Leptos islands): links are real links and forms
/// post to their server function, which redirects back (see [`forms`]). Only the parts
/// marked `#[island]` (secrets shown once, the document viewer…) ship to the browser
/// and hydrate, which keeps the WebAssembly bundle small. Every route renders
/// `SsrMode::Async`, so islands are in the first HTML the browser gets, never in a
/// streamed fragment that arrives after hydration ran.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let page = SsrMode::Async;
    view! {
        <Stylesheet id="attest" href="/pkg/attest.css"/>
        <Title formatter=|page: String| if page.is_empty() { "Attest".to_string() } else { format!("{page} · Attest") }/>
        // `frontend::hydrate` sets `data-hydrated` once the islands are live; end-to-end
        // tests wait for it before they click anything that needs them.
        <div id="root" data-hydrated="false">
            <Router>
                <Routes fallback=layout::NotFound>
                    <Route path=path!("/login") ssr=page.clone() view=auth::page::LoginPage/>
                    <Route path=path!("/c/:token") ssr=page.clone() view=capture::page::CapturePage/>
                    <Route path=path!("/mfa") ssr=page.clone() view=auth::mfa_page::MfaPage/>
                    <Route path=path!("/invite/:token") ssr=page.clone() view=members::page::InvitePage/>
                    <Route path=path!("/forgot-password") ssr=page.clone() view=auth::password_page::ForgotPasswordPage/>
                    <Route path=path!("/sandbox/mailbox") ssr=page.clone() view=sandbox::MailboxPage/>
                    <Route path=path!("/sandbox/mailbox/:id") ssr=page.clone() view=sandbox::MailPage/>
                    <Route path=path!("/reset-password/:token") ssr=page.clone() view=auth::password_page::ResetPasswordPage/>
                    <Route path=path!("/confirm-email/:token") ssr=page.clone() view=members::page::ConfirmEmailPage/>
                    <ParentRoute path=path!("") ssr=page.clone() view=layout::Shell>
                        <Route path=path!("") ssr=page.clone() view=workspaces::page::HomePage/>
                        <Route path=path!("/api-reference") ssr=page.clone() view=reference::ApiReferencePage/>
                        <Route path=path!("/account") ssr=page.clone() view=auth::account_page::AccountPage/>
                        <ParentRoute path=path!("/w/:slug") ssr=page.clone() view=workspaces::page::WorkspaceLayout>
                            <Route path=path!("") ssr=page.clone() view=workspaces::overview::OverviewPage/>
                            <Route path=path!("/verifications") ssr=page.clone() view=verifications::page::QueuePage/>
                            <Route path=path!("/verifications/:id") ssr=page.clone() view=verifications::detail::DetailPage/>
                            <Route path=path!("/tokens") ssr=page.clone() view=access::token_page::TokensPage/>
                            <Route path=path!("/settings") ssr=page.clone() view=settings::page::SettingsPage/>
                            <Route path=path!("/members") ssr=page.clone() view=members::page::MembersPage/>
                            <Route path=path!("/activity") ssr=page.clone() view=activity::page::ActivityPage/>
                            <Route path=path!("/webhooks") ssr=page.clone() view=webhooks::page::WebhooksPage/>
                            <Route path=path!("/compliance") ssr=page.clone() view=compliance::page::CompliancePage/>
                            <Route path=path!("/compliance/expiring") ssr=page.clone() view=compliance::page::ExpiringIdsPage/>
                        </ParentRoute>
                    </ParentRoute>
                </Routes>
            </Router>
        </div>
    }
}
