//! The capture links panel of a verification's page in the dashboard: the links and
//! their state, revoke, and "e-mail a link to the applicant". The server functions check
//! the same permissions as the REST routes (`verifications.view` to list,
//! `verifications.manage` — the scope `verifications:write` — to send or revoke).

use super::{CaptureLink, CaptureLinkState};
use crate::{error::AppError, forms};
use leptos::prelude::*;

/// The links of verification `id`, newest first.
#[server(prefix = "/rpc", endpoint = "capture_links")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.capture_links", skip_all))]
pub async fn capture_links(slug: String, id: String) -> Result<Vec<CaptureLink>, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::VerificationsView).await?;
            let flow = crate::verifications::page::flow_of(&state, &member.workspace_id, &id).await?;
            super::service::list(&state.db, &member.workspace_id, flow, &id).await
        }
        .await,
    )
}

/// Creates a link and e-mails it to the applicant.
#[server(prefix = "/rpc", endpoint = "email_capture_link")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.email_capture_link", skip_all))]
pub async fn email_capture_link(slug: String, id: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::VerificationsManage).await?;
            let flow = crate::verifications::page::flow_of(&state, &member.workspace_id, &id).await?;
            super::service::send_by_email(&state, &member.workspace_id, flow, &id, &member.actor()).await.map(|_| ())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "revoke_capture_link")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.revoke_capture_link", skip_all))]
pub async fn revoke_capture_link(slug: String, id: String, link_id: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = crate::access::member::require(&state, &slug, crate::access::Permission::VerificationsManage).await?;
            let flow = crate::verifications::page::flow_of(&state, &member.workspace_id, &id).await?;
            super::service::revoke(&state.db, &state.files, &member.workspace_id, flow, &id, &link_id, &member.actor()).await
        }
        .await,
    )
}

/// The panel on `/w/:slug/verifications/:id`.
#[component]
pub fn CaptureLinksPanel(slug: String, id: String, open: bool, can_manage: bool) -> impl IntoView {
    let links = Resource::new(
        {
            let (slug, id) = (slug.clone(), id.clone());
            move || (slug.clone(), id.clone())
        },
        |(slug, id)| capture_links(slug, id),
    );
    let (slug_send, id_send) = (slug.clone(), id.clone());
    view! {
        <section class="panel" aria-labelledby="capture-heading">
            <h2 id="capture-heading">"Capture links"</h2>
            <p class="muted small">"A link lets the applicant photograph their documents on their phone, without signing in."</p>
            <Transition fallback=|| ()>
                {move || {
                    let (slug, id) = (slug.clone(), id.clone());
                    Suspend::new(async move {
                        match links.await {
                            Ok(list) if list.is_empty() => view! { <p class="muted" data-testid="capture-links-empty">"No link yet."</p> }.into_any(),
                            Ok(list) => view! {
                                <table class="data" aria-label="Capture links">
                                    <thead><tr><th scope="col">"Link"</th><th scope="col">"State"</th><th scope="col">"Expires (UTC)"</th><th scope="col">"Opened"</th><th scope="col">""</th></tr></thead>
                                    <tbody>{list.into_iter().map(|l| {
                                        let active = l.state == CaptureLinkState::Active;
                                        view! {
                                            <tr>
                                                <td><code>{l.id.clone()}</code></td>
                                                <td><span class=format!("badge link-{}", l.state.code())>{l.state.code()}</span></td>
                                                <td class="small">{crate::dates::to_minute(&l.expires_at)}</td>
                                                <td class="small">{l.opened_at.as_deref().map(crate::dates::to_minute).unwrap_or_else(|| "not yet".into())}</td>
                                                <td>{(can_manage && active).then(|| view! {
                                                    <form method="post" action={forms::action::<RevokeCaptureLink>()} class="inline">
                                                        <input type="hidden" name="slug" value=slug.clone()/>
                                                        <input type="hidden" name="id" value=id.clone()/>
                                                        <input type="hidden" name="link_id" value=l.id.clone()/>
                                                        <button type="submit" class="danger" aria-label=format!("Revoke link {}", l.id)>"Revoke"</button>
                                                    </form>
                                                })}</td>
                                            </tr>
                                        }
                                    }).collect_view()}</tbody>
                                </table>
                            }.into_any(),
                            Err(e) => view! { <p class="form-error" role="alert">{e.message()}</p> }.into_any(),
                        }
                    })
                }}
            </Transition>
            {(can_manage && open).then(|| view! {
                <form method="post" action={forms::action::<EmailCaptureLink>()} class="inline">
                    <input type="hidden" name="slug" value=slug_send/>
                    <input type="hidden" name="id" value=id_send/>
                    <button type="submit" class="primary">"E-mail a link to the applicant"</button>
                </form>
            })}
            {match forms::outcome::<EmailCaptureLink>() {
                Some(Ok(())) => Some(view! { <p class="saved" role="status">"The link was sent to the applicant."</p> }.into_any()),
                Some(Err(e)) => Some(view! { <p class="form-error" role="alert">{e.message()}</p> }.into_any()),
                None => None,
            }}
            {forms::error::<RevokeCaptureLink>().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        </section>
    }
}
