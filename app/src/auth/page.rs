//! The sign-in page.

use super::Login;
use crate::forms;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// In a sandbox that keeps its mail locally, where the sign-in code can be read.
#[component]
fn MailboxLink() -> impl IntoView {
    let enabled = Resource::new(|| (), |_| crate::sandbox::sandbox_mailbox_enabled());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                enabled.await.unwrap_or(false).then(|| view! {
                    <p class="muted small">"Sandbox: no mail server is configured. Your sign-in code arrives in the "<a href="/sandbox/mailbox">"sandbox mailbox"</a>"."</p>
                })
            })}
        </Suspense>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = query.read_untracked().get("next").unwrap_or_default();
    let error = forms::error::<Login>();
    let notice = {
        let q = query.read_untracked();
        if q.get("invited").is_some() || q.get("reset").is_some() {
            Some("Your password is set. Sign in to continue.")
        } else if q.get("expired").is_some() {
            Some("Your session has ended. Sign in again.")
        } else {
            None
        }
    };

    view! {
        <crate::layout::AuthCard title="Sign in" labelled_by="sign-in-heading">
            <h1 id="sign-in-heading">"Sign in"</h1>
            {notice.map(|n| view! { <p class="saved" role="status">{n}</p> })}
            <form method="post" action={forms::action::<Login>()} class="stack" aria-describedby="sign-in-error">
                <input type="hidden" name="next" value=next/>
                <label for="email">"Email"</label>
                <input id="email" type="email" name="email" autocomplete="username" required/>
                <label for="password">"Password"</label>
                <input id="password" type="password" name="password" autocomplete="current-password" required/>
                <p id="sign-in-error" class="form-error" role="alert">{error}</p>
                <button type="submit" class="primary">"Sign in"</button>
            </form>
            <p><a href="/forgot-password">"Forgot password?"</a></p>
            <MailboxLink/>
        </crate::layout::AuthCard>
    }
}
