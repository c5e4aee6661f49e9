//! The signed-in frame: header with navigation and sign-out, and shared notices.

use crate::{
    auth::{current_user, Logout},
    error::AppError,
    forms,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Outlet, A};

/// Layout of every signed-in page. Pages slot into the `<Outlet/>`.
#[component]
pub fn Shell() -> impl IntoView {
    let user = Resource::new(|| (), |_| current_user());
    view! {
        <header class="topbar">
            <a href="/" class="brand">"Attest"</a>
            <nav aria-label="Main">
                <A href="/" exact=true>"Workspaces"</A>
                <A href="/api-reference">"API reference"</A>
            </nav>
            <div class="account">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(u)) => view! {
                                <a href="/account" class="muted" data-testid="signed-in-as" title="Account security">{u.email}</a>
                                <form method="post" action={forms::action::<Logout>()} class="inline">
                                    <button type="submit" class="link">"Sign out"</button>
                                </form>
                            }.into_any(),
                            _ => view! { <a href="/login">"Sign in"</a> }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </header>
        <main class="content">
            <Outlet/>
        </main>
    }
}

/// A clear message for an error returned by a server function.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    let (title, body) = match &error {
        AppError::Unauthenticated => ("Signed out", "Your session has ended. Sign in again to continue.".to_string()),
        AppError::Forbidden => {
            ("Not allowed", "You do not have permission to open this. Ask an administrator of the workspace if you need access.".to_string())
        }
        AppError::NotFound => ("Not found", "There is nothing here.".to_string()),
        other => ("Something went wrong", other.to_string()),
    };
    let sign_in = matches!(error, AppError::Unauthenticated);
    view! {
        <section class="notice" role="alert">
            <h1>{title}</h1>
            <p>{body}</p>
            {sign_in.then(|| view! { <a href="/login" class="button">"Sign in"</a> })}
        </section>
    }
}

/// The card that the signed-out pages sit in (sign-in, code, password reset,
/// invitation, sandbox mailbox): the page's title, the brand, then `children`.
#[component]
pub fn AuthCard(
    /// The browser tab's title.
    title: &'static str,
    /// The id of the heading that names the card.
    labelled_by: &'static str,
    /// A wider card, for tables.
    #[prop(optional)]
    wide: bool,
    children: Children,
) -> impl IntoView {
    view! {
        <Title text=title/>
        <main class="auth-page">
            <section class=if wide { "auth-card wide" } else { "auth-card" } aria-labelledby=labelled_by>
                <p class="brand">"Attest"</p>
                {children()}
            </section>
        </main>
    }
}

/// Shown for any path the dashboard does not know.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Not found"/>
        <main class="content">
            <section class="notice" role="alert">
                <h1>"Page not found"</h1>
                <p>"There is no page at this address."</p>
                <a href="/" class="button">"Go to your workspaces"</a>
            </section>
        </main>
    }
}
