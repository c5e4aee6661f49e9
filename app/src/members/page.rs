//! The members page, the invitation page and the email-change confirmation page.

use super::*;
use crate::{forms, layout::ErrorNotice};
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// `/w/:slug/members`
#[component]
pub fn MembersPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let roles = Resource::new(slug, list_roles);
    let members = Resource::new(slug, list_members);
    let last_error = forms::error::<ChangeMemberRole>()
        .or_else(forms::error::<RemoveMember>)
        .or_else(forms::error::<UnlockMember>)
        .or_else(forms::error::<ResetMemberMfa>)
        .or_else(forms::error::<CorrectMemberEmail>);

    view! {
        <Title text="Members"/>
        <h1>"Members"</h1>
        <section class="panel" aria-labelledby="invite-heading">
            <h2 id="invite-heading">"Invite someone"</h2>
            <form method="post" action={forms::action::<InviteMember>()} class="inline-form">
                <input type="hidden" name="slug" value=slug/>
                <label for="invite-email">"Email"</label>
                <input id="invite-email" type="email" name="email" required/>
                <label for="invite-role">"Role"</label>
                <select id="invite-role" name="role">
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            roles.await.unwrap_or_default().into_iter().map(|r| view! { <option value=r.value.clone() selected=r.value == "reviewer">{r.label}</option> }).collect_view()
                        })}
                    </Transition>
                </select>
                <button type="submit" class="primary">"Send invitation"</button>
            </form>
            {match forms::outcome::<InviteMember>() {
                Some(Ok(())) => Some(view! { <p class="saved" role="status">"Invitation sent."</p> }.into_any()),
                Some(Err(e)) => Some(view! { <p class="form-error" role="alert">{e.message()}</p> }.into_any()),
                None => None,
            }}
        </section>
        <p class="form-error" role="alert">{last_error}</p>
        {forms::done::<CorrectMemberEmail>().then(|| view! {
            <p class="saved" role="status">"A confirmation link was sent to the new address, and a notice to the current one. The sign-in email changes when the link is used."</p>
        })}
        <section class="panel" aria-labelledby="roles-heading">
            <h2 id="roles-heading">"Custom roles"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let custom: Vec<RoleChoice> = roles.await.unwrap_or_default().into_iter().filter(|r| r.custom).collect();
                    view! {
                        <ul class="role-list" aria-label="Custom roles">
                            {custom.into_iter().map(|r| view! {
                                <li>
                                    <strong>{r.label.clone()}</strong> " " <span class="muted">{r.permissions.join(", ")}</span>
                                    <form method="post" action={forms::action::<DeleteRole>()} class="inline">
                                        <input type="hidden" name="slug" value=slug/>
                                        <input type="hidden" name="role_id" value=r.value.clone()/>
                                        <button type="submit" class="danger" aria-label=format!("Delete role {}", r.label)>"Delete"</button>
                                    </form>
                                </li>
                            }).collect_view()}
                        </ul>
                    }
                })}
            </Transition>
            <form method="post" action={forms::action::<CreateRole>()} class="stack">
                <input type="hidden" name="slug" value=slug/>
                <label for="role-name">"Role name"</label>
                <input id="role-name" type="text" name="name" required maxlength="50" placeholder="e.g. Auditor"/>
                <fieldset class="permissions">
                    <legend>"Permissions"</legend>
                    {crate::access::Permission::ALL.into_iter().enumerate().map(|(i, p)| view! {
                        <label><input type="checkbox" name=format!("permissions[{i}]") value=p.code()/>" " {p.code()}</label>
                    }).collect_view()}
                </fieldset>
                <button type="submit" class="primary">"Create role"</button>
            </form>
            {forms::error::<CreateRole>().or_else(forms::error::<DeleteRole>).map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        </section>
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading members…"</p> }>
            {move || Suspend::new(async move {
                let choices = roles.await.unwrap_or_default();
                match members.await {
                    Ok(list) => view! {
                        <table class="data" aria-label="Members">
                            <thead><tr>
                                <th scope="col">"Member"</th><th scope="col">"Role"</th><th scope="col">"Second factor"</th>
                                <th scope="col">"Status"</th><th scope="col">"Actions"</th>
                            </tr></thead>
                            <tbody>
                                {list.into_iter().map(|m| view! {
                                    <MemberRow member=m slug=slug() roles=choices.clone()/>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Hidden(slug: String, user_id: String) -> impl IntoView {
    view! {
        <input type="hidden" name="slug" value=slug/>
        <input type="hidden" name="user_id" value=user_id/>
    }
}

#[component]
fn MemberRow(member: MemberView, slug: String, roles: Vec<RoleChoice>) -> impl IntoView {
    let m = member;
    // Copyable handles: each form's children take their own copies.
    let email = StoredValue::new(m.email.clone());
    let s = StoredValue::new(slug);
    let u = StoredValue::new(m.user_id.clone());
    view! {
        <tr>
            <td>
                <div>{m.email.clone()}</div>
                <form method="post" action={forms::action::<CorrectMemberEmail>()} class="inline-form compact">
                    <Hidden slug=s.get_value() user_id=u.get_value()/>
                    <label class="visually-hidden" for=format!("email-{}", u.get_value())>{format!("New email for {}", email.get_value())}</label>
                    <input id=format!("email-{}", u.get_value()) type="email" name="email" placeholder="Correct email" required/>
                    <button type="submit">"Send confirmation"</button>
                </form>
            </td>
            <td>
                <form method="post" action={forms::action::<ChangeMemberRole>()} class="inline-form compact">
                    <Hidden slug=s.get_value() user_id=u.get_value()/>
                    <label class="visually-hidden" for=format!("role-{}", u.get_value())>{format!("Role of {}", email.get_value())}</label>
                    <select id=format!("role-{}", u.get_value()) name="role">
                        {roles.into_iter().map(|r| view! { <option value=r.value.clone() selected=r.value == m.role>{r.label}</option> }).collect_view()}
                    </select>
                    <button type="submit">"Change role"</button>
                </form>
            </td>
            <td>{m.mfa.clone()}</td>
            <td>{match (&m.locked_until, m.mfa_locked) {
                (Some(until), _) => view! { <span class="badge revoked">{format!("locked until {}", crate::dates::to_minute(until))}</span> }.into_any(),
                (None, true) => view! { <span class="badge revoked">"second factor locked"</span> }.into_any(),
                (None, false) => view! { <span class="badge active">"active"</span> }.into_any(),
            }}</td>
            <td class="actions">
                {(m.locked_until.is_some() || m.mfa_locked).then(|| view! {
                    <form method="post" action={forms::action::<UnlockMember>()} class="inline"><Hidden slug=s.get_value() user_id=u.get_value()/><button type="submit" aria-label=format!("Unlock {}", email.get_value())>"Unlock"</button></form>
                })}
                <form method="post" action={forms::action::<ResetMemberMfa>()} class="inline"><Hidden slug=s.get_value() user_id=u.get_value()/><button type="submit" aria-label=format!("Reset MFA of {}", email.get_value())>"Reset MFA"</button></form>
                <form method="post" action={forms::action::<RemoveMember>()} class="inline">
                    <Hidden slug=s.get_value() user_id=u.get_value()/>
                    {(m.api_tokens > 0).then(|| view! {
                        <p class="small warning" id=format!("remove-note-{}", u.get_value())>
                            {format!("{} API token{} created by this member will be revoked.", m.api_tokens, if m.api_tokens == 1 { "" } else { "s" })}
                        </p>
                    })}
                    <button type="submit" class="danger" aria-label=format!("Remove {}", email.get_value()) aria-describedby=(m.api_tokens > 0).then(|| format!("remove-note-{}", u.get_value()))>"Remove"</button>
                </form>
            </td>
        </tr>
    }
}

/// `/invite/:token`
#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    view! {
        <crate::layout::AuthCard title="Accept invitation" labelled_by="invite-heading">
            <h1 id="invite-heading">"Set your password"</h1>
            <p class="muted">"At least 12 characters. A passphrase of several words is easiest to remember."</p>
            <form method="post" action={forms::action::<AcceptInvitation>()} class="stack">
                <input type="hidden" name="token" value=token/>
                <label for="new-password">"Password"</label>
                <input id="new-password" type="password" name="password" autocomplete="new-password" required minlength="12"/>
                <p class="form-error" role="alert">{forms::error::<AcceptInvitation>()}</p>
                <button type="submit" class="primary">"Join"</button>
            </form>
        </crate::layout::AuthCard>
    }
}

/// `/confirm-email/:token`: the link mailed to a new sign-in address. A button, not the
/// visit itself, confirms (mail scanners open links).
#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    view! {
        <crate::layout::AuthCard title="Confirm your email" labelled_by="confirm-email-heading">
            <h1 id="confirm-email-heading">"Confirm your new sign-in email"</h1>
            {match forms::outcome::<ConfirmEmailChange>() {
                Some(Ok(())) => view! {
                    <p class="saved" role="status">"Your sign-in email is changed. Sign in with the new address."</p>
                    <a href="/login" class="button primary">"Sign in"</a>
                }.into_any(),
                other => view! {
                    <p class="muted">"After this you sign in to Attest with this address."</p>
                    <form method="post" action={forms::action::<ConfirmEmailChange>()} class="stack">
                        <input type="hidden" name="token" value=token/>
                        <p class="form-error" role="alert">{other.and_then(|o| o.err()).map(|e| e.message())}</p>
                        <button type="submit" class="primary">"Confirm"</button>
                    </form>
                }.into_any(),
            }}
        </crate::layout::AuthCard>
    }
}
