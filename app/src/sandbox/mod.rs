//! The sandbox mailbox (`/sandbox/mailbox`): with no SMTP server configured, sandbox mail
//! goes to `<data-dir>/outbox/*.eml`, and this page shows it in the dashboard's style, so
//! a newcomer reads their sign-in code without opening files (the convention of
//! letter_opener_web, Swoosh's `/dev/mailbox`, Mailpit).
//!
//! It exists only in sandbox, only when mail goes to the outbox, and only when the server
//! listens on loopback, unless `ATTEST_SANDBOX_MAILBOX=true` says otherwise (never in
//! production): anyone who can reach the page can read every code.

#[cfg(feature = "ssr")]
pub mod service;

use crate::error::AppError;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

/// One message in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailSummary {
    pub id: String,
    pub to: String,
    pub subject: String,
    pub date: String,
}

/// One message, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailView {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub date: String,
    pub body: String,
}

/// Whether this server offers the sandbox mailbox (the sign-in page links to it).
#[server(prefix = "/rpc", endpoint = "sandbox_mailbox_enabled")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.sandbox_mailbox_enabled", skip_all))]
pub async fn sandbox_mailbox_enabled() -> Result<bool, AppError> {
    crate::error::respond(async move { Ok(crate::state::AppState::from_context()?.settings.sandbox_mailbox.is_some()) }.await)
}

/// The outbox, newest first; 404 where the mailbox is off.
#[server(prefix = "/rpc", endpoint = "sandbox_mailbox")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.sandbox_mailbox", skip_all))]
pub async fn sandbox_mailbox() -> Result<Vec<MailSummary>, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let dir = state.settings.sandbox_mailbox.clone().ok_or(AppError::NotFound)?;
            service::list(&dir).await
        }
        .await,
    )
}

/// One message of the outbox; 404 where the mailbox is off or the id is unknown.
#[server(prefix = "/rpc", endpoint = "sandbox_mail")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.sandbox_mail", skip_all))]
pub async fn sandbox_mail(id: String) -> Result<MailView, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let dir = state.settings.sandbox_mailbox.clone().ok_or(AppError::NotFound)?;
            service::read(&dir, &id).await
        }
        .await,
    )
}

/// `/sandbox/mailbox`
#[component]
pub fn MailboxPage() -> impl IntoView {
    let mails = Resource::new(|| (), |_| sandbox_mailbox());
    view! {
        <crate::layout::AuthCard title="Sandbox mailbox" labelled_by="mailbox-heading" wide=true>
            <h1 id="mailbox-heading">"Sandbox mailbox"</h1>
            <p class="muted">"No SMTP server is configured, so this sandbox keeps its mail here. Newest first."</p>
            <Suspense fallback=|| view! { <p class="muted" role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match mails.await {
                        Ok(list) if list.is_empty() => view! { <p class="empty">"No mail yet. Sign in, and your code arrives here."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="data" aria-label="Mail">
                                <thead><tr><th scope="col">"To"</th><th scope="col">"Subject"</th><th scope="col">"Sent (UTC)"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|m| view! {
                                        <tr>
                                            <td>{m.to}</td>
                                            <td><a href=format!("/sandbox/mailbox/{}", m.id)>{m.subject}</a></td>
                                            <td>{m.date}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(e) => view! { <crate::layout::ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Suspense>
            <p><a href="/login">"Back to sign-in"</a></p>
        </crate::layout::AuthCard>
    }
}

/// `/sandbox/mailbox/{id}`
#[component]
pub fn MailPage() -> impl IntoView {
    let params = use_params_map();
    let id = params.read_untracked().get("id").unwrap_or_default();
    let mail = Resource::new(move || id.clone(), sandbox_mail);
    view! {
        <crate::layout::AuthCard title="Sandbox mail" labelled_by="mail-heading" wide=true>
            <Suspense fallback=|| view! { <p class="muted" role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match mail.await {
                        Ok(m) => view! {
                            <h1 id="mail-heading">{m.subject}</h1>
                            <dl class="mail-headers">
                                <dt>"From"</dt><dd>{m.from}</dd>
                                <dt>"To"</dt><dd>{m.to}</dd>
                                <dt>"Sent (UTC)"</dt><dd>{m.date}</dd>
                            </dl>
                            <pre class="mail-body" data-testid="mail-body">{m.body}</pre>
                        }.into_any(),
                        Err(e) => view! { <h1 id="mail-heading">"Mail"</h1><crate::layout::ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Suspense>
            <p><a href="/sandbox/mailbox">"All mail"</a>" · "<a href="/login">"Sign in"</a></p>
        </crate::layout::AuthCard>
    }
}
