//! The applicant's page, `/c/:token`: no sign-in, server-rendered, every step a plain
//! `<form method="post" enctype="multipart/form-data">` that works without JavaScript.
//! The forms post to the server's capture routes, which check the photo at once and send
//! the browser back here, with `?problem=<code>` when something must be retaken. Where the
//! bundle runs, the camera island ([`super::camera`]) adds live capture on top.

use super::{type_label, CaptureView, LiveCapture, Problem, Step};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The page's data, read on the server only: not a server function, so the applicant's
/// page has no second public entry point besides its own (rate-limited) address.
async fn load(token: String) -> Result<CaptureView, AppError> {
    #[cfg(feature = "ssr")]
    {
        let state = crate::state::AppState::from_context()?;
        let view = super::service::view(&state, &token).await?;
        if view == CaptureView::Invalid {
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(http::StatusCode::GONE);
            }
        }
        Ok(view)
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = token;
        Err(AppError::Internal)
    }
}

/// `/c/:token`
#[component]
pub fn CapturePage() -> impl IntoView {
    let token = use_params_map().read_untracked().get("token").unwrap_or_default();
    let problem = use_query_map().read_untracked().get("problem").and_then(|p| Problem::parse(&p));
    let data = Resource::new(move || token.clone(), load);
    view! {
        <Title text="Verify your identity"/>
        <main class="capture">
            <Transition fallback=|| view! { <p class="muted" role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(CaptureView::Live(live)) => view! { <Live live=*live problem=problem/> }.into_any(),
                        Ok(CaptureView::Completed { workspace_name }) => view! {
                            <p class="capture-workspace">{workspace_name}</p>
                            <h1>"Thank you"</h1>
                            <p role="status">"Your documents were sent. You can close this page."</p>
                        }.into_any(),
                        Ok(CaptureView::Invalid) => view! {
                            <h1>"This link is no longer valid"</h1>
                            <p>"It has expired, was replaced, or was already used. Ask whoever sent it to you for a new one."</p>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.message()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </main>
    }
}

#[component]
fn Live(live: LiveCapture, problem: Option<Problem>) -> impl IntoView {
    let base = live.url.rsplit_once("/c/").map(|(_, token)| format!("/c/{token}")).unwrap_or_default();
    let current = live.current;
    let steps = live.steps.clone();
    view! {
        <header class="capture-head">
            <p class="capture-workspace">{live.workspace_name.clone()}</p>
            <h1>{format!("Hi {}, let's check your documents", live.first_name)}</h1>
        </header>
        <ol class="capture-steps" aria-label="Steps">
            {steps.into_iter().map(|s| view! {
                <li class:done=s.done aria-current=(s.step == current).then_some("step")>
                    {s.step.title()}
                    {s.done.then(|| view! { <span class="visually-hidden">" (done)"</span> })}
                </li>
            }).collect_view()}
        </ol>
        {problem.map(|p| view! { <p class="form-error capture-problem" role="alert" data-problem=p.code()>{p.message()}</p> })}
        <section class="panel capture-step" aria-labelledby="step-heading" data-step=current.code()>
            <h2 id="step-heading">{current.title()}</h2>
            <StepBody live=live.clone() base=base.clone()/>
        </section>
        <aside class="capture-phone" aria-labelledby="phone-heading">
            <h2 id="phone-heading">"Continue on your phone"</h2>
            <p class="small">"Scan this code with your phone's camera to take the photos there."</p>
            <div class="qr" inner_html=live.qr_svg.clone()></div>
        </aside>
    }
}

/// The accepted types as a sentence: "Accepted: Passport, Driver's license, …".
fn accepted(types: &[String]) -> String {
    format!("Accepted: {}.", types.iter().map(|t| type_label(t)).collect::<Vec<_>>().join(", "))
}

#[component]
fn TypeChoice(id: &'static str, types: Vec<String>, selected: String) -> impl IntoView {
    view! {
        <label for=id>"Document type"</label>
        <select id=id name="type">
            {types.into_iter().map(|t| view! { <option value=t.clone() selected=t == selected>{type_label(&t)}</option> }).collect_view()}
        </select>
    }
}

/// A photo upload: the camera (when the island runs), and always the plain file input.
#[component]
fn PhotoForm(base: String, step: Step, label: String, #[prop(optional)] children: Option<Children>) -> impl IntoView {
    let accept = if step == Step::ProofOfAddress { "image/*,application/pdf" } else { "image/*" };
    let capture = if step.uses_front_camera() { "user" } else { "environment" };
    let input_id = format!("file-{}", step.code());
    view! {
        <form method="post" enctype="multipart/form-data" action=format!("{base}/upload") class="stack capture-form">
            <input type="hidden" name="step" value=step.code()/>
            {children.map(|c| c())}
            <super::camera::Camera upload=format!("{base}/upload") step=step.code().to_string() front=step.uses_front_camera() card=step != Step::Selfie/>
            <label for=input_id.clone()>{label}</label>
            <input id=input_id type="file" name="file" accept=accept capture=(step != Step::ProofOfAddress).then_some(capture) required/>
            <p class="small muted">"JPEG, PNG, WebP, HEIC" {(step == Step::ProofOfAddress).then_some(" or PDF")} ", up to 10 MB."</p>
            <button type="submit" class="primary">"Upload"</button>
        </form>
    }
}

#[component]
fn StepBody(live: LiveCapture, base: String) -> impl IntoView {
    match live.current {
        Step::Consent => view! {
            <p>{format!("{} asks you to photograph your photo ID{}, and to take a selfie. Your images are sent encrypted and used only to verify who you are.", live.workspace_name, if live.proof_of_address_types.is_empty() { "" } else { " and a proof of address" })}</p>
            <form method="post" action=format!("{base}/consent") class="stack">
                <label class="check"><input type="checkbox" name="consent" value="yes" required/>" I agree to have my documents and selfie checked."</label>
                <button type="submit" class="primary">"Start"</button>
            </form>
        }.into_any(),
        Step::IdFront => view! {
            <p>{accepted(&live.photo_id_types)}</p>
            <p class="small">"Lay the document flat in good light. The whole front must be in the photo, with your picture visible."</p>
            <PhotoForm base=base step=Step::IdFront label="Photo of the front".into()>
                <TypeChoice id="photo-id-type" types=live.photo_id_types.clone() selected=live.photo_id_type.clone()/>
            </PhotoForm>
        }.into_any(),
        Step::IdBack => view! {
            <p>{format!("Now the back of your {}.", type_label(live.pending_type.as_deref().unwrap_or(&live.photo_id_type)).to_lowercase())}</p>
            <p class="small">"Hold the card flat so the barcode or the lines of letters are sharp and free of glare."</p>
            <PhotoForm base=base step=Step::IdBack label="Photo of the back".into()/>
        }.into_any(),
        Step::ProofOfAddress => view! {
            <p>{accepted(&live.proof_of_address_types)}</p>
            <p class="small">"A recent document showing your name and home address: a photo or a PDF."</p>
            <PhotoForm base=base step=Step::ProofOfAddress label="Photo or PDF of the document".into()>
                <TypeChoice id="poa-type" types=live.proof_of_address_types.clone() selected=live.proof_of_address_type.clone().unwrap_or_default()/>
            </PhotoForm>
        }.into_any(),
        Step::Selfie => view! {
            <p>"Take a photo of your face: look straight at the camera, in good light, without glasses or a hat."</p>
            <PhotoForm base=base step=Step::Selfie label="Photo of your face".into()/>
        }.into_any(),
        Step::Review | Step::Done => view! {
            <p>"Everything is in. Submit to send your documents for checking."</p>
            <ul class="capture-review">
                {live.steps.iter().filter(|s| s.done && s.step != Step::Consent).map(|s| view! { <li>{s.step.title()} " ✓"</li> }).collect_view()}
            </ul>
            <form method="post" action=format!("{base}/submit") class="stack">
                <button type="submit" class="primary">"Submit"</button>
            </form>
        }.into_any(),
    }
}
