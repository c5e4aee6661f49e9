//! Forms on server-rendered pages.
//!
//! A dashboard form is a plain `<form method="post">` whose action is its server
//! function's URL ([`action`]). The browser posts it, the server function runs, and
//! [`crate::error::respond`] sends the browser back to the page with the outcome in the
//! address ([`back_to_page`]), which the page reads with [`outcome`] and shows: an error
//! under the form, or a confirmation. The outcome is signed, so a link cannot make a page
//! say "Saved." or show a message of the sender's choosing. Nothing here needs WebAssembly, so forms work before (and without)
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

/// The query parameters of an outcome: the server function, its encoded error (absent
/// on success), when it stops being shown (unix seconds) and the signature over those
/// and the browser's session.
#[cfg(feature = "ssr")]
const OUTCOME_KEYS: [&str; 4] = ["__path", "__err", "__exp", "__sig"];

/// How long an outcome in an address is shown: long enough for the redirect back, short
/// enough that a copied link says nothing later.
#[cfg(feature = "ssr")]
const OUTCOME_TTL_SECS: i64 = 10 * 60;

/// The outcome of the last post of `S` from this page, if the address names it and its
/// signature holds.
pub fn outcome<S: ServerFn>() -> Option<Result<(), AppError>> {
    let query = use_query_map();
    let query = query.read_untracked();
    if query.get_str("__path")? != S::PATH {
        return None;
    }
    let error = query.get_str("__err");
    if !genuine(S::PATH, error.unwrap_or_default(), query.get_str("__exp").unwrap_or_default(), query.get_str("__sig").unwrap_or_default()) {
        return None;
    }
    Some(match error {
        Some(encoded) => Err(ServerFnUrlError::<AppError>::decode_err(encoded)),
        None => Ok(()),
    })
}

/// The browser's session id (its session cookie), which an outcome is bound to: a link
/// with an outcome shows it to nobody but the browser it was made for. Empty before the
/// first session.
#[cfg(feature = "ssr")]
fn session_binding() -> String {
    let Some(parts) = use_context::<http::request::Parts>() else { return String::new() };
    parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "attest_session" || *name == "__Host-attest_session")
        .map(|(_, value)| value.to_string())
        .unwrap_or_default()
}

/// The `__sig` of an outcome: an HMAC (key derived from the master key) over the server
/// function, the encoded error, the expiry and the browser's session id.
#[cfg(feature = "ssr")]
pub fn outcome_signature(master: &crate::documents::crypto::MasterKey, path: &str, error: &str, expires: &str, session: &str) -> String {
    use hmac::{Hmac, Mac};
    let key = master.derive("form-outcome");
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key length");
    for part in [path, error, expires, session] {
        mac.update(part.as_bytes());
        mac.update(b"\n");
    }
    hex::encode(&mac.finalize().into_bytes()[..16])
}

#[cfg(feature = "ssr")]
fn signature(path: &str, error: &str, expires: &str) -> Option<String> {
    let state = crate::state::AppState::from_context().ok()?;
    Some(outcome_signature(&state.files.master, path, error, expires, &session_binding()))
}

#[cfg(feature = "ssr")]
fn genuine(path: &str, error: &str, expires: &str, sig: &str) -> bool {
    use subtle::ConstantTimeEq;
    let live = expires.parse::<i64>().is_ok_and(|exp| exp >= crate::store::now_ms() / 1000);
    live && signature(path, error, expires).is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(sig.as_bytes())))
}

/// Pages render on the server only; there is no outcome to read in the browser.
#[cfg(not(feature = "ssr"))]
fn genuine(_path: &str, _error: &str, _expires: &str, _sig: &str) -> bool {
    false
}

/// Where a plain form post of the server function at `path` sends the browser: back to
/// `referer`, without any earlier outcome, plus `__path=<path>`, the encoded error when
/// it failed (`__err`, as server_fn encodes it) and the signature (`__sig`).
#[cfg(feature = "ssr")]
pub fn back_to_page(referer: &str, path: &str, error: Option<&AppError>) -> String {
    use base64::{engine::general_purpose::URL_SAFE, Engine};
    use server_fn::error::FromServerFnError;
    let (page, query) = referer.split_once('?').unwrap_or((referer, ""));
    let mut pairs: Vec<String> =
        query.split('&').filter(|pair| !pair.is_empty() && !OUTCOME_KEYS.contains(&pair.split('=').next().unwrap_or_default())).map(str::to_string).collect();
    // A call that could not even be decoded may quote what was sent: never echo it.
    let unreadable = AppError::BadRequest("The form could not be read. Reload the page and try again.".into());
    let error = error.map(|e| if matches!(e, AppError::Transport(_)) { &unreadable } else { e });
    let encoded = error.map(|e| URL_SAFE.encode(e.ser())).unwrap_or_default();
    let expires = (crate::store::now_ms() / 1000 + OUTCOME_TTL_SECS).to_string();
    pairs.push(format!("__path={path}"));
    if error.is_some() {
        // URL_SAFE's alphabet needs no escaping in a query, except its '=' padding.
        pairs.push(format!("__err={}", encoded.replace('=', "%3D")));
    }
    pairs.push(format!("__exp={expires}"));
    pairs.push(format!("__sig={}", signature(path, &encoded, &expires).unwrap_or_default()));
    format!("{page}?{}", pairs.join("&"))
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

/// An island form's `on:submit`: stops the browser's own submission and hands the
/// form's fields to `dispatch`, which calls the server function.
pub fn on_submit(dispatch: impl Fn(Submitted) + 'static) -> impl Fn(leptos::ev::SubmitEvent) + 'static {
    move |ev| {
        if let Some(fields) = Submitted::take(&ev) {
            dispatch(fields);
        }
    }
}

impl Submitted {
    /// Stops the browser's own submission and reads the form's fields.
    fn take(ev: &leptos::ev::SubmitEvent) -> Option<Self> {
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

/// What an island's last call answered, for its view: the error under the form, or
/// `show` of the value (a secret shown once, the next step). Nothing before the first call.
pub fn answer<T, V: IntoView>(result: Option<Result<T, AppError>>, show: impl FnOnce(T) -> V) -> Option<impl IntoView> {
    result.map(|result| match result {
        Ok(value) => Either::Left(show(value)),
        Err(e) => Either::Right(view! { <p class="form-error" role="alert">{e.message()}</p> }),
    })
}
