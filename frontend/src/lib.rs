#![forbid(unsafe_code)]
//! The hydrating half of the dashboard, compiled to WebAssembly.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by leptos' hydration script once the bundle has loaded.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
