//! The camera of the capture page, an island: live capture with `getUserMedia` (the rear
//! camera for documents, the front one for the selfie), a card- or face-shaped guide, and
//! the photo taken at the camera's full resolution, posted through the same route as the
//! file input. Where the camera cannot start (no permission, no camera, an in-app browser,
//! a page not served over HTTPS) it says why and the plain file input below stays the way.

use leptos::{prelude::*, task::spawn_local};
use wasm_bindgen::{closure::Closure, JsCast, JsValue};
use web_sys::{HtmlCanvasElement, HtmlFormElement, HtmlVideoElement, MediaStream};

/// The reason `getUserMedia` gave, in words.
fn why_not(error: &JsValue) -> &'static str {
    match error.dyn_ref::<web_sys::DomException>().map(|e| e.name()).as_deref() {
        Some("NotAllowedError") => "camera access was not allowed",
        Some("NotFoundError" | "OverconstrainedError") => "no camera was found",
        Some("NotReadableError") => "the camera is in use by another app",
        Some("SecurityError") => "this page may not use the camera",
        _ => "this browser does not offer the camera here",
    }
}

async fn start(video: HtmlVideoElement, front: bool) -> Result<MediaStream, &'static str> {
    let devices =
        window().navigator().media_devices().map_err(|_| "this browser does not offer the camera here (an in-app browser, or a page without HTTPS)")?;
    let wanted = js_sys::Object::new();
    let set = |object: &js_sys::Object, key: &str, value: JsValue| {
        let _ = js_sys::Reflect::set(object, &key.into(), &value);
    };
    set(&wanted, "facingMode", (if front { "user" } else { "environment" }).into());
    // Ask for as many pixels as the camera has: the barcode and the MRZ need them.
    for (key, ideal) in [("width", 4096.0), ("height", 2160.0)] {
        let range = js_sys::Object::new();
        set(&range, "ideal", ideal.into());
        set(&wanted, key, range.into());
    }
    let constraints = web_sys::MediaStreamConstraints::new();
    constraints.set_video(&wanted.into());
    constraints.set_audio(&false.into());
    let promise = devices.get_user_media_with_constraints(&constraints).map_err(|e| why_not(&e))?;
    let stream: MediaStream = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(|e| why_not(&e))?.unchecked_into();
    video.set_src_object(Some(&stream));
    if let Ok(playing) = video.play() {
        let _ = wasm_bindgen_futures::JsFuture::from(playing).await;
    }
    Ok(stream)
}

/// The current frame at the video's own size, as a JPEG blob.
async fn snapshot(video: &HtmlVideoElement) -> Option<web_sys::Blob> {
    let canvas: HtmlCanvasElement = document().create_element("canvas").ok()?.unchecked_into();
    canvas.set_width(video.video_width());
    canvas.set_height(video.video_height());
    let context: web_sys::CanvasRenderingContext2d = canvas.get_context("2d").ok()??.unchecked_into();
    context.draw_image_with_html_video_element(video, 0.0, 0.0).ok()?;
    let promise = js_sys::Promise::new(&mut |resolve: js_sys::Function, _reject: js_sys::Function| {
        let done = Closure::once_into_js(move |blob: JsValue| {
            let _ = resolve.call1(&JsValue::NULL, &blob);
        });
        let _ = canvas.to_blob_with_type_and_encoder_options(done.unchecked_ref(), "image/jpeg", &JsValue::from_f64(0.92));
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.ok()?.dyn_into().ok()
}

/// Posts the photo with the form's other fields (step, type); `Ok(next page)` or the
/// applicant's message.
async fn send(form: &HtmlFormElement, upload: &str, photo: &web_sys::Blob) -> Result<String, String> {
    let failed = || "The photo could not be sent. Check your connection and try again.".to_string();
    let fields = web_sys::FormData::new_with_form(form).map_err(|_| failed())?;
    fields.delete("file");
    fields.append_with_blob_and_filename("file", photo, "camera.jpg").map_err(|_| failed())?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(&fields);
    let headers = web_sys::Headers::new().map_err(|_| failed())?;
    headers.set("Accept", "application/json").map_err(|_| failed())?;
    init.set_headers(&headers);
    let response: web_sys::Response =
        wasm_bindgen_futures::JsFuture::from(window().fetch_with_str_and_init(upload, &init)).await.map_err(|_| failed())?.unchecked_into();
    let body = wasm_bindgen_futures::JsFuture::from(response.json().map_err(|_| failed())?).await.map_err(|_| failed())?;
    let field = |name: &str| js_sys::Reflect::get(&body, &name.into()).ok();
    if field("ok").and_then(|v| v.as_bool()) == Some(true) {
        let page = upload.trim_end_matches("/upload").to_string();
        Ok(field("redirect").and_then(|v| v.as_string()).unwrap_or(page))
    } else {
        Err(field("message").and_then(|v| v.as_string()).unwrap_or_else(failed))
    }
}

/// "Use the camera", the live view with its guide, "Take photo". Shown only once the
/// bundle runs; until then (or without JavaScript) the file input does the job.
#[island]
pub fn Camera(upload: String, step: String, front: bool, card: bool) -> impl IntoView {
    let live = crate::forms::live();
    let running = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let note = RwSignal::new(None::<String>);
    let problem = RwSignal::new(None::<String>);
    let video = NodeRef::<leptos::html::Video>::new();
    let on_start = move |_| {
        let Some(element) = video.get_untracked() else { return };
        spawn_local(async move {
            match start(element, front).await {
                Ok(_) => running.set(true),
                Err(why) => note.set(Some(format!("The camera could not start: {why}. Use the button below to take or choose a photo instead."))),
            }
        });
    };
    let on_take = move |ev: leptos::ev::MouseEvent| {
        let Some(element) = video.get_untracked() else { return };
        let form = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).and_then(|e| e.closest("form").ok().flatten());
        let Some(form) = form.and_then(|f| f.dyn_into::<HtmlFormElement>().ok()) else { return };
        let upload = upload.clone();
        busy.set(true);
        problem.set(None);
        spawn_local(async move {
            let outcome = match snapshot(&element).await {
                Some(photo) => send(&form, &upload, &photo).await,
                None => Err("The photo could not be taken. Try again.".to_string()),
            };
            busy.set(false);
            match outcome {
                Ok(next) => {
                    let _ = window().location().set_href(&next);
                }
                Err(message) => problem.set(Some(message)),
            }
        });
    };
    let guide = if card { "camera-guide" } else { "camera-guide face" };
    view! {
        <div class="camera" data-step=step>
            <button type="button" on:click=on_start hidden=move || !live.get() || running.get()>"Use the camera"</button>
            <div class="camera-frame" hidden=move || !running.get()>
                <video node_ref=video autoplay=true playsinline=true muted=true aria-label="Camera view"></video>
                <div class=guide aria-hidden="true"></div>
            </div>
            <button type="button" class="primary" on:click=on_take hidden=move || !running.get() disabled=move || busy.get()>
                {move || if busy.get() { "Checking the photo…" } else { "Take photo" }}
            </button>
            <p class="form-error" role="alert" hidden=move || problem.get().is_none()>{move || problem.get()}</p>
            <p class="small" role="status" hidden=move || note.get().is_none()>{move || note.get()}</p>
        </div>
    }
}
