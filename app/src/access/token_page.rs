//! The API tokens page (`api_tokens.manage`): create (the secret is shown once),
//! list with expiry, last use and creator, revoke.

use crate::{error::AppError, forms, layout::ErrorNotice};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSummary {
    pub id: String,
    pub name: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    pub active: bool,
}

#[server(prefix = "/rpc", endpoint = "list_tokens")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.list_tokens", skip_all))]
pub async fn list_tokens(slug: String) -> Result<Vec<TokenSummary>, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = super::member::require(&state, &slug, super::Permission::ApiTokensManage).await?;
            super::tokens::list(&state.db, &member.workspace_id).await
        }
        .await,
    )
}

/// The scopes the signed-in member may give a token (SPEC §3: none beyond their role).
#[server(prefix = "/rpc", endpoint = "grantable_scopes")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.grantable_scopes", skip_all))]
pub async fn grantable_scopes(slug: String) -> Result<Vec<String>, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = super::member::require(&state, &slug, super::Permission::ApiTokensManage).await?;
            Ok(super::tokens::grantable(&member.actor()).into_iter().map(|s| s.code().to_string()).collect())
        }
        .await,
    )
}

/// Creates a token and returns its secret, the only time it is shown. `scopes` is space
/// separated; absent, the token gets every scope the member may grant.
#[server(prefix = "/rpc", endpoint = "create_token")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.create_token", skip_all))]
pub async fn create_token(slug: String, name: String, expires_in_days: String, scopes: Option<String>) -> Result<String, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = super::member::require(&state, &slug, super::Permission::ApiTokensManage).await?;
            let days = expires_in_days.trim().parse::<i64>().map_err(|_| AppError::invalid("expires_in_days", "The expiry must be a whole number of days."))?;
            let created =
                super::tokens::create_with_scopes(&state.db, state.settings.environment, &slug, &name, Some(days), scopes.as_deref(), &member.actor()).await?;
            Ok(created.token)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "revoke_token")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.revoke_token", skip_all))]
pub async fn revoke_token(slug: String, token_id: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let member = super::member::require(&state, &slug, super::Permission::ApiTokensManage).await?;
            super::tokens::revoke(&state.db, &member.workspace_id, &token_id, &member.actor()).await
        }
        .await,
    )
}

fn day(time: &Option<String>) -> String {
    time.as_deref().map(crate::dates::to_minute).unwrap_or_else(|| "—".into())
}

/// `/w/:slug/tokens`
#[component]
pub fn TokensPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let tokens = Resource::new(slug, list_tokens);
    let grantable = Resource::new(slug, grantable_scopes);
    view! {
        <Title text="API tokens"/>
        <h1>"API tokens"</h1>
        <p class="muted">"Tokens authenticate your software's calls to the Attest API. A token is shown once, when it is created; Attest keeps only a hash of it."</p>
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading tokens…"</p> }>
            {move || Suspend::new(async move {
                let grantable = grantable.await.unwrap_or_default();
                match tokens.await {
                    Ok(list) => view! {
                        <section class="panel" aria-labelledby="new-token">
                            <h2 id="new-token">"Create a token"</h2>
                            <NewToken slug=slug() grantable/>
                        </section>
                        <p class="form-error" role="alert">{forms::error::<RevokeToken>()}</p>
                        {if list.is_empty() {
                            view! { <p class="empty">"No tokens yet. Create one above: it is shown once, then your software sends it as " <code>"Authorization: Bearer …"</code> ". The " <a href="/api-reference">"API reference"</a> " shows every call."</p> }.into_any()
                        } else {
                            view! { <TokenTable slug=slug() list/> }.into_any()
                        }}
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TokenTable(slug: String, list: Vec<TokenSummary>) -> impl IntoView {
    view! {
        <table class="data" aria-label="API tokens">
            <thead><tr>
                <th scope="col">"Name"</th><th scope="col">"Token"</th><th scope="col">"Scopes"</th><th scope="col">"Created by"</th>
                <th scope="col">"Created"</th><th scope="col">"Expires"</th><th scope="col">"Last used"</th>
                <th scope="col">"Status"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
            </tr></thead>
            <tbody>
                {list.into_iter().map(|t| {
                    let status = if t.revoked_at.is_some() { "revoked" } else if t.active { "active" } else { "expired" };
                    view! {
                        <tr>
                            <td>{t.name.clone()}</td>
                            <td><code>{format!("{}…", t.prefix)}</code></td>
                            <td class="small">{t.scopes.join(", ")}</td>
                            <td>{t.created_by.clone()}</td>
                            <td>{day(&Some(t.created_at.clone()))}</td>
                            <td>{day(&t.expires_at)}</td>
                            <td>{t.last_used_at.as_ref().map(|_| day(&t.last_used_at)).unwrap_or_else(|| "never".into())}</td>
                            <td><span class=format!("badge {status}")>{status}</span></td>
                            <td>
                                {t.active.then(|| view! {
                                    <form method="post" action={forms::action::<RevokeToken>()} class="inline">
                                        <input type="hidden" name="slug" value=slug.clone()/>
                                        <input type="hidden" name="token_id" value=t.id.clone()/>
                                        <button type="submit" class="danger" aria-label=format!("Revoke {}", t.name)>"Revoke"</button>
                                    </form>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The create form and the new token, shown once. An island: the secret comes back from
/// the server function to the browser and never travels in an address. The scopes the
/// member may grant are checked by default; the others cannot be chosen.
#[island]
fn NewToken(slug: String, grantable: Vec<String>) -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let live = forms::live();
    let submit = forms::on_submit(move |f| {
        let scopes = Some(f.all("scopes").join(" "));
        create.dispatch(CreateToken { slug: slug.clone(), name: f.text("name"), expires_in_days: f.text("expires_in_days"), scopes });
    });
    view! {
        <form method="post" action={forms::action::<CreateToken>()} class="stack" on:submit=submit>
            <label for="token-name">"Name"</label>
            <input id="token-name" type="text" name="name" required maxlength="100" placeholder="e.g. CRM integration"/>
            <label for="token-expiry">"Expires after (days)"</label>
            <input id="token-expiry" type="number" name="expires_in_days" min="1" max="3650" value="180" required class="narrow"/>
            <fieldset class="permissions">
                <legend>"Scopes"</legend>
                {super::Scope::ALL.into_iter().map(|scope| {
                    let (scope, help) = (scope.code(), scope.help());
                    let allowed = grantable.iter().any(|g| g == scope);
                    view! {
                        <label class:muted=!allowed>
                            <input type="checkbox" name="scopes" value=scope checked=allowed disabled=!allowed/>
                            " " <code>{scope}</code> " " <span class="small">{if allowed { help.to_string() } else { format!("{help}: your role does not have it") }}</span>
                        </label>
                    }
                }).collect_view()}
            </fieldset>
            <button type="submit" class="primary" disabled=move || !live.get() || create.pending().get()>"Create token"</button>
        </form>
        {move || forms::answer(create.value().get(), |token| view! {
            <forms::ShownOnce title="Copy this token now. It will not be shown again." testid="new-token" values=vec![token]/>
        })}
    }
}
