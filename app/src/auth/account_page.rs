//! The account security page (`/account`): authenticator app enrollment with a QR code,
//! recovery codes, and ending the user's other sessions. Changing MFA settings asks for
//! the password again.

use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityView {
    pub email: String,
    pub totp_enabled: bool,
    pub recovery_codes_left: i64,
    pub other_sessions: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpSetup {
    pub secret: String,
    pub qr_svg: String,
}

#[cfg(feature = "ssr")]
/// The password asked again before a change to the account's security: through the same
/// hashing slot, throttle and lockout as sign-in, so the account page is no way around
/// them.
async fn reauthenticate(state: &crate::state::AppState, password: &str) -> Result<super::SessionUser, AppError> {
    let user = super::service::require_user().await?;
    if password.is_empty() || password.len() > 1024 {
        return Err(AppError::invalid("password", "The password is not correct."));
    }
    let origin = super::service::request_origin().await;
    match super::service::check_password(state, &user.email, password, &origin).await {
        Ok(_) => Ok(user),
        Err(AppError::InvalidCredentials) => Err(AppError::invalid("password", "The password is not correct.")),
        Err(other) => Err(other),
    }
}

#[cfg(feature = "ssr")]
async fn log(state: &crate::state::AppState, user_id: &str, action: &str) -> Result<(), AppError> {
    let origin = super::service::request_origin().await;
    crate::activity::record(
        state.db.pool(),
        crate::activity::Entry {
            workspace_id: None,
            actor: &crate::access::Actor::Account { id: user_id.to_string() },
            action,
            target: Some(user_id),
            detail: None,
        },
        &origin,
    )
    .await?;
    Ok(())
}

#[server(prefix = "/rpc", endpoint = "security_state")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.security_state", skip_all))]
pub async fn security_state() -> Result<SecurityView, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let user = super::service::require_user().await?;
            let current = super::service::session().await?.id().map(|id| id.to_string()).unwrap_or_default();
            let other_sessions = super::service::other_sessions(&state.db, &user.id, &current).await?;
            Ok(SecurityView {
                totp_enabled: super::totp::is_enrolled(&state.db, &user.id).await?,
                recovery_codes_left: super::totp::recovery_codes_left(&state.db, &user.id).await?,
                email: user.email,
                other_sessions,
            })
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "begin_totp")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.begin_totp", skip_all))]
pub async fn begin_totp(password: String) -> Result<TotpSetup, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let user = reauthenticate(&state, &password).await?;
            let enrollment = super::totp::begin(&state.db, &state.files.master, &user.id, &user.email).await?;
            Ok(TotpSetup { secret: enrollment.secret_base32, qr_svg: enrollment.qr_svg })
        }
        .await,
    )
}

/// Confirms the authenticator with a code; returns the 10 recovery codes, shown once.
#[server(prefix = "/rpc", endpoint = "confirm_totp")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.confirm_totp", skip_all))]
pub async fn confirm_totp(code: String) -> Result<Vec<String>, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let user = super::service::require_user().await?;
            let codes = super::totp::confirm(&state.db, &state.files.master, &user.id, &user.email, &code).await?;
            log(&state, &user.id, "mfa.totp_enrolled").await?;
            Ok(codes)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "disable_totp")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.disable_totp", skip_all))]
pub async fn disable_totp(password: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let user = reauthenticate(&state, &password).await?;
            let mut tx = state.db.begin_write().await?;
            super::totp::clear(&mut tx, &user.id).await?;
            tx.commit().await?;
            log(&state, &user.id, "mfa.totp_removed").await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "new_recovery_codes")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.new_recovery_codes", skip_all))]
pub async fn new_recovery_codes(password: String) -> Result<Vec<String>, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let user = reauthenticate(&state, &password).await?;
            if !super::totp::is_enrolled(&state.db, &user.id).await? {
                return Err(AppError::BadRequest("Set up an authenticator app first.".into()));
            }
            let codes = super::totp::regenerate_recovery_codes(&state.db, &state.files.master, &user.id).await?;
            log(&state, &user.id, "mfa.recovery_codes_regenerated").await?;
            Ok(codes)
        }
        .await,
    )
}

/// Session key of the e-mailed code that confirms a password change.
#[cfg(feature = "ssr")]
const STEP_UP_KEY: &str = "step_up_challenge";

/// How a password change proves the second factor for this user.
#[cfg(feature = "ssr")]
async fn change_factor(state: &crate::state::AppState, user_id: &str) -> Result<&'static str, AppError> {
    Ok(if super::totp::is_enrolled(&state.db, user_id).await? {
        "totp"
    } else if state.settings.mfa_required {
        "email"
    } else {
        "none"
    })
}

/// Mails a code that confirms a password change (users without an authenticator app).
#[server(prefix = "/rpc", endpoint = "send_password_change_code")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.send_password_change_code", skip_all))]
pub async fn send_password_change_code() -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let user = super::service::require_user().await?;
            if change_factor(&state, &user.id).await? != "email" {
                return Err(AppError::BadRequest("Use the code from your authenticator app.".into()));
            }
            let session = super::service::session().await?;
            if let Some(previous) = session.get::<String>(STEP_UP_KEY).await.map_err(|e| AppError::internal("reading session", e))? {
                if let Ok(challenge) = super::mfa::live(&state.db, &previous).await {
                    let now = crate::store::now_ms();
                    if now < challenge.resend_available_at {
                        let wait = (challenge.resend_available_at - now + 999) / 1000;
                        return Err(AppError::BadRequest(format!("You can request a new code in {wait} seconds.")));
                    }
                }
            }
            let id = super::mfa::open(&state.db, &state.files.master, state.mailer.as_ref(), &user.id, &user.email, super::mfa::Method::Email).await?;
            session.insert(STEP_UP_KEY, id).await.map_err(|e| AppError::internal("writing session", e))
        }
        .await,
    )
}

/// Changes the password: the current one, the second factor, the new one. The user's
/// other sessions end.
#[server(prefix = "/rpc", endpoint = "change_password")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.change_password", skip_all))]
pub async fn change_password(current_password: String, new_password: String, code: Option<String>) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let user = super::service::require_user().await?;
            let origin = super::service::request_origin().await;
            let session = super::service::session().await?;
            let current = session.id().map(|id| id.to_string()).unwrap_or_default();
            let challenge: Option<String> = session.get(STEP_UP_KEY).await.map_err(|e| AppError::internal("reading session", e))?;
            let code = code.unwrap_or_default();
            let factor = match change_factor(&state, &user.id).await? {
                "totp" => super::passwords::SecondFactor::Authenticator(&code),
                "email" => super::passwords::SecondFactor::EmailChallenge { challenge_id: challenge.as_deref(), code: &code },
                _ => super::passwords::SecondFactor::NotNeeded,
            };
            super::passwords::change(&state, &user, &current, &current_password, factor, &new_password, &origin).await?;
            session.remove::<String>(STEP_UP_KEY).await.map_err(|e| AppError::internal("writing session", e))?;
            Ok(())
        }
        .await,
    )
}

/// Which second factor the password form asks for: `totp`, `email` or `none`.
#[server(prefix = "/rpc", endpoint = "password_change_factor")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.password_change_factor", skip_all))]
pub async fn password_change_factor() -> Result<String, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let user = super::service::require_user().await?;
            Ok(change_factor(&state, &user.id).await?.to_string())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "end_other_sessions")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.end_other_sessions", skip_all))]
pub async fn end_other_sessions() -> Result<u64, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let user = super::service::require_user().await?;
            let current = super::service::session().await?.id().map(|id| id.to_string()).unwrap_or_default();
            let origin = super::service::request_origin().await;
            super::service::end_other_sessions(&state.db, &user.id, &current, &origin).await
        }
        .await,
    )
}

/// `/account`
#[component]
pub fn AccountPage() -> impl IntoView {
    let view_state = Resource::new(|| (), |_| security_state());
    view! {
        <Title text="Account security"/>
        <h1>"Account security"</h1>
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match view_state.await {
                    Ok(s) => view! {
                        <section class="panel" aria-labelledby="totp-heading">
                            <h2 id="totp-heading">"Authenticator app"</h2>
                            {if s.totp_enabled {
                                view! {
                                    <p>"An authenticator app is set up. " {format!("{} recovery codes left.", s.recovery_codes_left)}</p>
                                    <NewCodes/>
                                    <form method="post" action={crate::forms::action::<DisableTotp>()} class="inline-form">
                                        <label for="disable-password">"Password"</label>
                                        <input id="disable-password" type="password" name="password" autocomplete="current-password" required/>
                                        <button type="submit" class="danger">"Remove authenticator"</button>
                                    </form>
                                    <p class="form-error" role="alert">{crate::forms::error::<DisableTotp>()}</p>
                                }.into_any()
                            } else {
                                view! {
                                    <p>"Sign-in codes now come by email, a weak factor. An authenticator app (Google Authenticator, 1Password, Authy…) is safer."</p>
                                    {crate::forms::done::<DisableTotp>().then(|| view! { <p class="saved" role="status">"The authenticator app is removed."</p> })}
                                    <Enrollment/>
                                }.into_any()
                            }}
                        </section>
                        <PasswordChange/>
                        <section class="panel" aria-labelledby="sessions-heading">
                            <h2 id="sessions-heading">"Sessions"</h2>
                            <p>{format!("You are signed in as {}, with {} other active session(s).", s.email, s.other_sessions)}</p>
                            {crate::forms::done::<EndOtherSessions>().then(|| view! { <p class="saved" role="status">"Your other sessions are signed out."</p> })}
                            <form method="post" action={crate::forms::action::<EndOtherSessions>()} class="inline">
                                <button type="submit">"Sign out everywhere else"</button>
                            </form>
                        </section>
                    }.into_any(),
                    Err(e) => view! { <crate::layout::ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The "Password" panel: current password, the second factor, the new password.
#[component]
fn PasswordChange() -> impl IntoView {
    let factor = Resource::new(|| (), |_| password_change_factor());
    view! {
        <section class="panel" aria-labelledby="password-heading">
            <h2 id="password-heading">"Password"</h2>
            {crate::forms::done::<ChangePassword>().then(|| view! { <p class="saved" role="status">"Your password is changed. Your other sessions are signed out."</p> })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let factor = factor.await.unwrap_or_else(|_| "none".into());
                    view! {
                        {(factor == "email").then(|| view! {
                            <form method="post" action={crate::forms::action::<SendPasswordChangeCode>()} class="inline">
                                <button type="submit">"E-mail me a code"</button>
                            </form>
                            {match crate::forms::outcome::<SendPasswordChangeCode>() {
                                Some(Ok(())) => Some(view! { <p class="saved" role="status">"A code is on its way to your e-mail."</p> }.into_any()),
                                Some(Err(e)) => Some(view! { <p class="form-error" role="alert">{e.message()}</p> }.into_any()),
                                None => None,
                            }}
                        })}
                        <form method="post" action={crate::forms::action::<ChangePassword>()} class="stack narrow">
                            <label for="current-password">"Current password"</label>
                            <input id="current-password" type="password" name="current_password" autocomplete="current-password" required/>
                            {(factor != "none").then(|| view! {
                                <label for="change-code">{if factor == "totp" { "Code from your authenticator app (or a recovery code)" } else { "Code from the e-mail" }}</label>
                                <input id="change-code" type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="24"/>
                            })}
                            <label for="new-password">"New password"</label>
                            <input id="new-password" type="password" name="new_password" autocomplete="new-password" required minlength="12"/>
                            <p class="form-error" role="alert">{crate::forms::error::<ChangePassword>()}</p>
                            <button type="submit" class="primary">"Change password"</button>
                        </form>
                    }
                })}
            </Suspense>
        </section>
    }
}

const CODES_TITLE: &str = "Your recovery codes. Store them safely: each works once, and they will not be shown again.";

/// Setting up an authenticator app: the password, then the key and QR code, then a code
/// from the app, then the recovery codes. An island: the key and the codes come back from
/// server functions to the browser only.
#[island]
fn Enrollment() -> impl IntoView {
    let begin = ServerAction::<BeginTotp>::new();
    let confirm = ServerAction::<ConfirmTotp>::new();
    let live = crate::forms::live();
    let start = crate::forms::on_submit(move |f| {
        begin.dispatch(BeginTotp { password: f.text("password") });
    });
    view! {
        <form method="post" action={crate::forms::action::<BeginTotp>()} class="inline-form" on:submit=start>
            <label for="totp-password">"Password"</label>
            <input id="totp-password" type="password" name="password" autocomplete="current-password" required/>
            <button type="submit" class="primary" disabled=move || !live.get()>"Set up authenticator app"</button>
        </form>
        {move || crate::forms::answer(begin.value().get(), move |setup| view! {
            <div class="totp-setup">
                <div class="qr" inner_html=setup.qr_svg role="img" aria-label="QR code for your authenticator app"></div>
                <p>"Scan the code, or enter this key: " <code data-testid="totp-secret">{setup.secret}</code></p>
                <form method="post" action={crate::forms::action::<ConfirmTotp>()} class="inline-form"
                      on:submit=crate::forms::on_submit(move |f| { confirm.dispatch(ConfirmTotp { code: f.text("code") }); })>
                    <label for="totp-code">"Code from the app"</label>
                    <input id="totp-code" type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="6"/>
                    <button type="submit" class="primary">"Confirm"</button>
                </form>
            </div>
        })}
        {move || crate::forms::answer(confirm.value().get(), |codes| view! { <crate::forms::ShownOnce title=CODES_TITLE testid="recovery-codes" values=codes/> })}
    }
}

/// New recovery codes (the old ones stop working), shown once.
#[island]
fn NewCodes() -> impl IntoView {
    let regenerate = ServerAction::<NewRecoveryCodes>::new();
    let live = crate::forms::live();
    let submit = crate::forms::on_submit(move |f| {
        regenerate.dispatch(NewRecoveryCodes { password: f.text("password") });
    });
    view! {
        <form method="post" action={crate::forms::action::<NewRecoveryCodes>()} class="inline-form" on:submit=submit>
            <label for="regen-password">"Password"</label>
            <input id="regen-password" type="password" name="password" autocomplete="current-password" required/>
            <button type="submit" disabled=move || !live.get()>"New recovery codes"</button>
        </form>
        {move || crate::forms::answer(regenerate.value().get(), |codes| view! { <crate::forms::ShownOnce title=CODES_TITLE testid="recovery-codes" values=codes/> })}
    }
}
