#![forbid(unsafe_code)]
//! Attest's dashboard and the types it shares with the server.
//!
//! Pages and server functions are grouped by capability (`auth`, `workspaces`, …); each
//! capability keeps its server-side service (SQL, rules) in a `service` module compiled
//! only with the `ssr` feature, so the hydrating bundle never carries it.

pub mod access;
pub mod auth;
pub mod documents;
pub mod error;
pub mod flows;
#[cfg(feature = "ssr")]
pub mod jobs;
pub mod layout;
#[cfg(feature = "ssr")]
pub mod pipeline;
pub mod reference;
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
    path,
};

/// The HTML document around every server-rendered page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The dashboard: public sign-in, and the signed-in area inside [`layout::Shell`].
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser, so this marks the moment hydration finished;
    // end-to-end tests wait for it before they interact.
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));

    view! {
        <Stylesheet id="attest" href="/pkg/attest.css"/>
        <Title formatter=|page: String| if page.is_empty() { "Attest".to_string() } else { format!("{page} · Attest") }/>
        <div id="root" data-hydrated=move || if hydrated.get() { "true" } else { "false" }>
            <Router>
                <Routes fallback=layout::NotFound>
                    <Route path=path!("/login") view=auth::page::LoginPage/>
                    <Route path=path!("/mfa") view=auth::mfa_page::MfaPage/>
                    <Route path=path!("/invite/:token") view=members::page::InvitePage/>
                    <ParentRoute path=path!("") view=layout::Shell>
                        <Route path=path!("") view=workspaces::page::HomePage/>
                        <Route path=path!("/api-reference") view=reference::ApiReferencePage/>
                        <Route path=path!("/account") view=auth::account::AccountPage/>
                        <ParentRoute path=path!("/w/:slug") view=workspaces::page::WorkspaceLayout>
                            <Route path=path!("") view=workspaces::overview::OverviewPage/>
                            <Route path=path!("/verifications") view=verifications::page::QueuePage/>
                            <Route path=path!("/verifications/:id") view=verifications::page::DetailPage/>
                            <Route path=path!("/tokens") view=access::token_page::TokensPage/>
                            <Route path=path!("/settings") view=flows::page::SettingsPage/>
                            <Route path=path!("/members") view=members::page::MembersPage/>
                            <Route path=path!("/activity") view=activity::ActivityPage/>
                            <Route path=path!("/webhooks") view=webhooks::page::WebhooksPage/>
                        </ParentRoute>
                    </ParentRoute>
                </Routes>
            </Router>
        </div>
    }
}
