//! "Forgot password?" (`/forgot-password`) and the e-mailed reset link
//! (`/reset-password/{token}`): public pages, plain forms that work without the bundle.

use crate::{error::AppError, forms};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// The answer to every reset request, whether or not the address has an account.
pub const RESET_REQUESTED: &str = "If an account uses that address, we sent it a link to choose a new password. The link works once, for 30 minutes.";

/// Mails a reset link when `email` has an account; answers the same either way.
#[server(prefix = "/rpc", endpoint = "request_password_reset")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.request_password_reset", skip_all))]
pub async fn request_password_reset(email: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let origin = super::service::request_origin().await;
            super::passwords::request_reset(&state, &email, &origin).await
        }
        .await,
    )
}

/// Sets a new password through a reset link, then sends the browser to sign in.
#[server(prefix = "/rpc", endpoint = "reset_password")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.reset_password", skip_all))]
pub async fn reset_password(token: String, password: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let origin = super::service::request_origin().await;
            super::passwords::reset(&state, &token, &password, &origin).await?;
            leptos_axum::redirect("/login?reset=1");
            Ok(())
        }
        .await,
    )
}

/// Whether the reset link of the page still works.
#[server(prefix = "/rpc", endpoint = "reset_link_state")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.reset_link_state", skip_all))]
pub async fn reset_link_state(token: String) -> Result<bool, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            super::passwords::reset_link_live(&state.db, &token).await
        }
        .await,
    )
}

/// `/forgot-password`
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    view! {
        <crate::layout::AuthCard title="Reset your password" labelled_by="forgot-heading">
            <h1 id="forgot-heading">"Reset your password"</h1>
            {if forms::done::<RequestPasswordReset>() {
                view! { <p class="saved" role="status">{RESET_REQUESTED}</p> }.into_any()
            } else {
                view! {
                    <p class="muted">"Enter the address you sign in with. We will mail you a link to choose a new password."</p>
                    <form method="post" action={forms::action::<RequestPasswordReset>()} class="stack">
                        <label for="email">"Email"</label>
                        <input id="email" type="email" name="email" autocomplete="username" required/>
                        <p class="form-error" role="alert">{forms::error::<RequestPasswordReset>()}</p>
                        <button type="submit" class="primary">"Send the link"</button>
                    </form>
                }
                .into_any()
            }}
            <p><a href="/login">"Back to sign-in"</a></p>
        </crate::layout::AuthCard>
    }
}

/// `/reset-password/{token}`
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let params = use_params_map();
    let token = params.read_untracked().get("token").unwrap_or_default();
    let live = Resource::new(move || (), {
        let token = token.clone();
        move |_| reset_link_state(token.clone())
    });
    view! {
        <crate::layout::AuthCard title="Choose a new password" labelled_by="reset-heading">
            <h1 id="reset-heading">"Choose a new password"</h1>
            <Suspense fallback=|| view! { <p class="muted" role="status">"Loading…"</p> }>
                {move || {
                    let token = token.clone();
                    Suspend::new(async move {
                        match live.await {
                            Ok(true) => view! {
                                <p class="muted">"At least 12 characters. A passphrase of several unrelated words is easiest to remember. Your other sessions will be signed out."</p>
                                <form method="post" action={forms::action::<ResetPassword>()} class="stack">
                                    <input type="hidden" name="token" value=token/>
                                    <label for="new-password">"New password"</label>
                                    <input id="new-password" type="password" name="password" autocomplete="new-password" required minlength="12"/>
                                    <p class="form-error" role="alert">{forms::error::<ResetPassword>()}</p>
                                    <button type="submit" class="primary">"Set the password"</button>
                                </form>
                            }
                            .into_any(),
                            _ => view! {
                                <p role="alert">"This reset link has expired or was already used."</p>
                                <a href="/forgot-password" class="button">"Ask for a new link"</a>
                            }
                            .into_any(),
                        }
                    })
                }}
            </Suspense>
        </crate::layout::AuthCard>
    }
}
