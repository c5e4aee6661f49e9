//! Forms on server-rendered pages.
//!
//! A dashboard form is a plain `<form method="post">` whose action is its server
//! function's URL ([`action`]). The browser posts it, the server function runs, and
//! [`crate::error::respond`] sends the browser back to the page with the outcome in the
//! address, which the page reads with [`outcome`] and shows: an error under the form,
//! or a confirmation. Nothing here needs WebAssembly, so forms work before (and without)
//! the bundle. Results that must not travel in an address, such as a new token's secret,
//! are shown by islands that call their server function from the browser instead.

use crate::error::AppError;
use leptos::{either::Either, prelude::*};
use leptos_router::hooks::use_query_map;
use server_fn::{error::ServerFnUrlError, ServerFn};

/// The URL a form posts to for the server function `S`.
pub fn action<S: ServerFn>() -> &'static str {
    S::PATH
}

/// The outcome of the last post of `S` from this page, if the address names it.
pub fn outcome<S: ServerFn>() -> Option<Result<(), AppError>> {
    let query = use_query_map();
    let query = query.read_untracked();
    (query.get_str("__path")? == S::PATH).then(|| match query.get_str("__err") {
        Some(encoded) => Err(ServerFnUrlError::<AppError>::decode_err(encoded)),
        None => Ok(()),
    })
}

/// The error message of the last post of `S`, for the form's `role="alert"` line.
pub fn error<S: ServerFn>() -> Option<String> {
    outcome::<S>()?.err().map(|e| e.message())
}

/// Whether the last post of `S` succeeded.
pub fn done<S: ServerFn>() -> bool {
    matches!(outcome::<S>(), Some(Ok(())))
}

/// `true` once the surrounding island runs in the browser. Islands keep their submit
/// buttons disabled until then: a form whose answer is a secret must not be posted the
/// plain way, where the answer would be lost.
pub fn live() -> ReadSignal<bool> {
    let (live, set_live) = signal(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| set_live.set(true));
    live
}

/// The fields of a form an island submits, read in the browser. The island builds its
/// server function's arguments from them and dispatches the call itself; this avoids
/// `ActionForm`'s generic form decoding, a large part of the bundle.
pub struct Submitted(leptos::web_sys::FormData);

impl Submitted {
    /// Stops the browser's own submission and reads the form's fields.
    pub fn take(ev: &leptos::ev::SubmitEvent) -> Option<Self> {
        use leptos::{wasm_bindgen::JsCast, web_sys};
        ev.prevent_default();
        let form = ev.target()?.dyn_into::<web_sys::HtmlFormElement>().ok()?;
        web_sys::FormData::new_with_form(&form).ok().map(Submitted)
    }

    /// A field's value ("" when absent).
    pub fn text(&self, name: &str) -> String {
        self.0.get(name).as_string().unwrap_or_default()
    }

    /// Every value of a repeated field (checkboxes).
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.get_all(name).iter().filter_map(|v| v.as_string()).collect()
    }
}

/// A secret shown once, after the island's server function returned it: one value, or a
/// list (recovery codes). "Done" reloads the page, whose server-rendered lists then
/// include what was just created.
#[component]
pub fn ShownOnce(title: &'static str, testid: &'static str, values: Vec<String>) -> impl IntoView {
    let shown = if values.len() == 1 {
        Either::Left(view! { <code data-testid=testid>{values.into_iter().next()}</code> })
    } else {
        Either::Right(view! { <ul class="codes" data-testid=testid>{values.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}</ul> })
    };
    view! {
        <div class="secret" role="status">
            <p><strong>{title}</strong></p>
            {shown}
            <button type="button" on:click=|_| { let _ = window().location().reload(); }>"Done"</button>
        </div>
    }
}

/// A form error line, shown when the island's last call failed.
pub fn failure<T>(result: Option<Result<T, AppError>>) -> Option<impl IntoView> {
    result.and_then(Result::err).map(|e| view! { <p class="form-error" role="alert">{e.message()}</p> })
}
