//! The workspace home pages: the list of the user's workspaces, and one workspace.

use super::{my_workspaces, workspace, WorkspaceSummary};
use crate::{access::Permission, layout::ErrorNotice};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Outlet, A},
    hooks::use_params_map,
};

/// `/`: every workspace the signed-in user belongs to.
#[component]
pub fn HomePage() -> impl IntoView {
    let workspaces = Resource::new(|| (), |_| my_workspaces());
    view! {
        <Title text="Your workspaces"/>
        <h1>"Your workspaces"</h1>
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading workspaces…"</p> }>
            {move || Suspend::new(async move {
                match workspaces.await {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"You are not a member of any workspace yet. Ask an admin to invite you."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="card-list" aria-label="Workspaces">
                            {list.into_iter().map(|w| view! { <WorkspaceCard workspace=w/> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn WorkspaceCard(workspace: WorkspaceSummary) -> impl IntoView {
    let href = format!("/w/{}", workspace.slug);
    view! {
        <li class="card">
            <a href=href class="card-link">
                <span class="card-title">{workspace.name}</span>
                <span class="badge">{workspace.role.label()}</span>
            </a>
        </li>
    }
}

/// `/w/:slug/…`: the workspace's sub-navigation (only what the role may open) and its
/// pages; 403 when the user is not a member.
#[component]
pub fn WorkspaceLayout() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let current = Resource::new(slug, workspace);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match current.await {
                    Ok(w) => {
                        let base = format!("/w/{}", w.slug);
                        view! {
                            <nav class="subnav" aria-label="Workspace">
                                <span class="subnav-title">{w.name.clone()}</span>
                                <A href=base.clone() exact=true>"Overview"</A>
                                <A href=format!("{base}/verifications")>"Verifications"</A>
                                {w.role.has(Permission::ApiTokensManage).then(|| view! { <A href=format!("{base}/tokens")>"API tokens"</A> })}
                                {w.role.has(Permission::WebhooksView).then(|| view! { <A href=format!("{base}/webhooks")>"Webhooks"</A> })}
                                {w.role.has(Permission::MembersManage).then(|| view! { <A href=format!("{base}/members")>"Members"</A> })}
                                <A href=format!("{base}/compliance")>"Compliance"</A>
                                {w.role.has(Permission::ActivityView).then(|| view! { <A href=format!("{base}/activity")>"Activity"</A> })}
                                {w.role.has(Permission::SettingsManage).then(|| view! { <A href=format!("{base}/settings")>"Settings"</A> })}
                            </nav>
                        }.into_any()
                    }
                    Err(_) => ().into_any(),
                }
            })}
        </Transition>
        <Outlet/>
    }
}
