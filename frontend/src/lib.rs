#![forbid(unsafe_code)]
//! The browser half of the dashboard, compiled to WebAssembly: the `#[island]`s of the
//! `app` crate and nothing else (pages themselves render on the server only).

use wasm_bindgen::prelude::wasm_bindgen;

// Links the islands: each `#[island]` in `app` is a wasm-bindgen export that leptos'
// island script calls for its `<leptos-island>` element.
#[allow(unused_imports)]
use app::*;

/// Called by leptos' island script once the bundle has loaded, right before it walks
/// the page hydrating each island (in the same task, so nothing runs in between).
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    if let Some(root) = leptos::prelude::document().get_element_by_id("root") {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
