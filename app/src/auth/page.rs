//! The sign-in page.

use super::Login;
use crate::forms;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = query.read_untracked().get("next").unwrap_or_default();
    let error = forms::error::<Login>();
    let notice = || {
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
        <Title text="Sign in"/>
        <main class="auth-page">
            <section class="auth-card" aria-labelledby="sign-in-heading">
                <p class="brand">"Attest"</p>
                <h1 id="sign-in-heading">"Sign in"</h1>
                {notice().map(|n| view! { <p class="saved" role="status">{n}</p> })}
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
            </section>
        </main>
    }
}
