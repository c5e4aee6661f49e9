//! The MFA challenge page (`/mfa`): enter the emailed code (or the authenticator's, or a
//! recovery code), resend after the cooldown; a clear way back when the challenge is gone.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaView {
    /// `email` or `totp`.
    pub method: String,
    /// The address the code went to, partly hidden.
    pub sent_to: String,
    pub expires_in_secs: i64,
    pub resend_in_secs: i64,
    pub attempts_left: i64,
}

#[cfg_attr(not(feature = "ssr"), allow(dead_code))]
fn mask(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}…@{domain}", local.chars().next().unwrap_or('*')),
        None => "your email".into(),
    }
}

#[server(prefix = "/rpc", endpoint = "mfa_state")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.mfa_state", skip_all))]
pub async fn mfa_state() -> Result<MfaView, AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let pending = super::service::pending_mfa().await?;
            let challenge = super::mfa::live(&state.db, &pending.challenge_id).await?;
            let now = crate::store::now_ms();
            Ok(MfaView {
                method: if challenge.method == super::mfa::Method::Totp { "totp".into() } else { "email".into() },
                sent_to: mask(&pending.email),
                expires_in_secs: (challenge.expires_at - now) / 1000,
                resend_in_secs: ((challenge.resend_available_at - now).max(0) + 999) / 1000,
                attempts_left: challenge.attempts_left,
            })
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "verify_mfa")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.verify_mfa", skip_all))]
pub async fn verify_mfa(code: String) -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let origin = super::service::request_origin().await;
            let pending = super::service::pending_mfa().await?;
            if code.len() > 64 {
                return Err(AppError::WrongCode);
            }
            let verified = super::mfa::verify(&state.db, &state.files.master, state.mailer.as_ref(), &pending.challenge_id, &pending.email, &code).await?;
            match verified {
                Ok(_) => {
                    super::service::finish_mfa(&pending, &origin, &state.db).await?;
                    leptos_axum::redirect(&super::service::landing(&state.db, &pending.user_id, &pending.next).await?);
                    Ok(())
                }
                Err(refusal) => {
                    let action = match refusal {
                        super::mfa::Refusal::Wrong => "mfa.failed",
                        super::mfa::Refusal::ChallengeVoided => "mfa.challenge_voided",
                        super::mfa::Refusal::LockedNow => "mfa.locked",
                        super::mfa::Refusal::Locked => "mfa.refused_locked",
                    };
                    match refusal {
                        super::mfa::Refusal::Wrong => metrics::counter!("attest_mfa_failures_total", "result" => "wrong").increment(1),
                        super::mfa::Refusal::LockedNow => metrics::counter!("attest_mfa_failures_total", "result" => "locked").increment(1),
                        _ => {}
                    }
                    crate::activity::record(
                        state.db.pool(),
                        crate::activity::Entry {
                            workspace_id: None,
                            actor: &crate::access::Actor::Account { id: pending.user_id.clone() },
                            action,
                            target: Some(&pending.user_id),
                            detail: None,
                        },
                        &origin,
                    )
                    .await?;
                    Err(refusal.error())
                }
            }
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "resend_mfa")]
#[cfg_attr(feature = "ssr", tracing::instrument(name = "rpc.resend_mfa", skip_all))]
pub async fn resend_mfa() -> Result<(), AppError> {
    crate::error::respond(
        async move {
            let state = crate::state::AppState::from_context()?;
            let pending = super::service::pending_mfa().await?;
            super::mfa::resend(&state.db, &state.files.master, state.mailer.as_ref(), &pending.challenge_id, &pending.email).await
        }
        .await,
    )
}

/// `/mfa`
#[component]
pub fn MfaPage() -> impl IntoView {
    let state = Resource::new(|| (), |_| mfa_state());
    let verify_error = || crate::forms::outcome::<VerifyMfa>().and_then(Result::err);
    let resend_result = crate::forms::outcome::<ResendMfa>;

    view! {
        <crate::layout::AuthCard title="Enter your sign-in code" labelled_by="mfa-heading">
            <Transition fallback=|| view! { <p class="muted" role="status">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let expired = matches!(verify_error(), Some(AppError::MfaExpired));
                    let locked = matches!(verify_error(), Some(AppError::MfaLocked));
                    match state.await {
                        _ if locked => view! {
                            <h1 id="mfa-heading">"Sign-in locked"</h1>
                            <p role="alert">{AppError::MfaLocked.to_string()}</p>
                            <a href="/login" class="button">"Back to sign-in"</a>
                        }.into_any(),
                        Ok(view) if !expired => {
                            let totp = view.method == "totp";
                            view! {
                                <h1 id="mfa-heading">"Enter your sign-in code"</h1>
                                <p class="muted">
                                    {if totp {
                                        "Open your authenticator app and enter the 6-digit code, or use one of your recovery codes.".to_string()
                                    } else {
                                        format!("We emailed a 6-digit code to {}. It expires in {} minutes.", view.sent_to, (view.expires_in_secs + 59) / 60)
                                    }}
                                </p>
                                <form method="post" action={crate::forms::action::<VerifyMfa>()} class="stack">
                                    <label for="code">{if totp { "Code" } else { "Code from the email" }}</label>
                                    <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="20" autofocus/>
                                    <p class="form-error" role="alert">{verify_error().map(|e| e.to_string())}</p>
                                    <button type="submit" class="primary">"Verify"</button>
                                </form>
                                {(!totp).then(|| view! {
                                    <form method="post" action={crate::forms::action::<ResendMfa>()} class="inline">
                                        <button type="submit" class="link" disabled={view.resend_in_secs > 0}>
                                            {if view.resend_in_secs > 0 { format!("Resend code (in {} s)", view.resend_in_secs) } else { "Resend code".to_string() }}
                                        </button>
                                    </form>
                                })}
                                {match resend_result() {
                                    Some(Ok(())) => Some(view! { <p class="saved" role="status">"A new code is on its way. The previous code no longer works."</p> }.into_any()),
                                    Some(Err(e)) => Some(view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any()),
                                    None => None,
                                }}
                                <p class="muted small">"Not receiving the email? Check your spam folder, wait a minute and resend, or ask an administrator to check your address."</p>
                            }.into_any()
                        }
                        Ok(_) | Err(AppError::MfaExpired) => view! {
                            <h1 id="mfa-heading">"Sign-in expired"</h1>
                            <p role="alert">{AppError::MfaExpired.to_string()}</p>
                            <a href="/login" class="button">"Log in again"</a>
                        }.into_any(),
                        Err(e) => view! {
                            <h1 id="mfa-heading">"Something went wrong"</h1>
                            <p role="alert">{e.to_string()}</p>
                            <a href="/login" class="button">"Log in again"</a>
                        }.into_any(),
                    }
                })}
            </Transition>
        </crate::layout::AuthCard>
    }
}
