//! A verification's page (`/w/:slug/verifications/:id`): what was declared against what
//! the documents say, the decision, the rules, the documents with their viewers, the
//! history and the webhook events. One panel a component; the data comes from
//! `page::verification_detail`.

use super::{
    page::{verification_detail, CancelVerification, DecideDocument, DecideVerification, DocumentViewer, EventSummary, RequestNewDocument},
    HistoryEntry, RuleOutcome, Verification, VerificationStatus,
};
use crate::{
    documents::{Document, DocumentStatus},
    flows::DocumentRole,
    forms,
    layout::ErrorNotice,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// `/w/:slug/verifications/:id`
#[component]
pub fn DetailPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let id = move || params.read().get("id").unwrap_or_default();
    let data = Resource::new(move || (slug(), id()), |(slug, id)| verification_detail(slug, id));
    let error = || {
        forms::error::<DecideVerification>()
            .or_else(forms::error::<CancelVerification>)
            .or_else(forms::error::<DecideDocument>)
            .or_else(forms::error::<RequestNewDocument>)
    };
    view! {
        <Transition fallback=|| view! { <p class="muted" role="status">"Loading verification…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => {
                        let v = d.verification.clone();
                        let name = format!("{} {}", v.applicant.first_name, v.applicant.last_name);
                        view! {
                            <Title text=name.clone()/>
                            <h1>{name} " " <span class=format!("badge status-{}", v.status.code())>{v.status.code().replace('_', " ")}</span></h1>
                            <p class="muted small">{format!("{} · {} · reference {} · version {}", v.id, v.flow.code(), v.reference.clone().unwrap_or_else(|| "—".into()), v.version)}</p>
                            {v.redacted_at.clone().map(|at| view! { <p class="badge">{format!("Redacted on {}", crate::dates::to_minute(&at))}</p> })}
                            <p class="form-error" role="alert">{error()}</p>
                            <div class="grid-2">
                                <ComparePanel verification=v.clone() can_view_documents=d.can_view_documents/>
                                <DecisionPanel slug=slug() verification=v.clone() can_decide=d.can_decide can_manage=d.can_manage/>
                            </div>
                            {(v.flow == crate::flows::Flow::Usps1583 && v.status == VerificationStatus::Approved).then(|| view! {
                                <crate::compliance::page::RecordPanel slug=slug() id=v.id.clone() can_view_documents=d.can_view_documents can_manage=d.can_manage/>
                            })}
                            <crate::compliance::page::RedactionPanel slug=slug() verification=v.clone() can_manage=d.can_manage/>
                            <RulesPanel verification=v.clone()/>
                            <crate::capture::dashboard::CaptureLinksPanel slug=slug() id=v.id.clone() open=v.status == VerificationStatus::Started can_manage=d.can_manage/>
                            <DocumentsPanel slug=slug() verification=v can_decide=d.can_decide can_view_documents=d.can_view_documents/>
                            <HistoryPanel history=d.history.clone()/>
                            <EventsPanel events=d.events.clone()/>
                        }
                        .into_any()
                    }
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Declared applicant data next to what the photo ID says; differences marked.
#[component]
fn ComparePanel(verification: Verification, can_view_documents: bool) -> impl IntoView {
    let v = verification;
    let extracted =
        v.documents.iter().find(|doc| doc.role == DocumentRole::PhotoId && doc.status != DocumentStatus::Canceled).and_then(|doc| doc.extracted.clone());
    let e = extracted.clone().unwrap_or_default();
    let a = &v.applicant;
    let compare = |label: &'static str, declared: Option<String>, found: Option<String>| {
        let differs = matches!((&declared, &found), (Some(x), Some(y)) if x.to_lowercase() != y.to_lowercase());
        view! {
            <tr class=if differs { "differs" } else { "" }>
                <th scope="row">{label}</th>
                <td>{declared.unwrap_or_else(|| "—".into())}</td>
                <td>{found.unwrap_or_else(|| "—".into())}{differs.then(|| view! { <span class="visually-hidden">" (differs)"</span> })}</td>
            </tr>
        }
    };
    view! {
        <section class="panel" aria-labelledby="compare-heading">
            <h2 id="compare-heading">"Declared vs. extracted (photo ID)"</h2>
            {if can_view_documents {
                view! {
                    <table class="data compare">
                        <thead><tr><th scope="col">""</th><th scope="col">"Declared"</th><th scope="col">"On the document"</th></tr></thead>
                        <tbody>
                            {compare("First name", Some(a.first_name.clone()), e.first_name.clone())}
                            {compare("Last name", Some(a.last_name.clone()), e.last_name.clone())}
                            {compare("Date of birth", Some(a.date_of_birth.clone()), e.date_of_birth.clone())}
                            {compare("Document number", v.photo_id.as_ref().and_then(|p| p.number.clone()), e.document_number.clone())}
                            {compare("Country", v.photo_id.as_ref().map(|p| p.country.clone()), e.issuing_country.clone())}
                            {compare("Expiry", None, e.expiry_date.clone())}
                        </tbody>
                    </table>
                    {extracted.is_none().then(|| view! { <p class="muted small">"Nothing extracted yet."</p> })}
                }
                .into_any()
            } else {
                view! { <p class="muted">"Extracted data and document images need the documents.view permission."</p> }.into_any()
            }}
        </section>
    }
}

/// The decision taken, or the form to take it (and to cancel while still open).
#[component]
fn DecisionPanel(slug: String, verification: Verification, can_decide: bool, can_manage: bool) -> impl IntoView {
    let v = verification;
    let (slug_cancel, id_cancel, slug_request) = (slug.clone(), v.id.clone(), slug.clone());
    view! {
        <section class="panel" aria-labelledby="decision-heading">
            <h2 id="decision-heading">"Decision"</h2>
            {v.decision.clone().map(|dec| view! { <p>{format!("{} by {} at {}: {}", dec.outcome.code(), dec.by, crate::dates::to_minute(&dec.at), dec.reason.unwrap_or_default())}</p> })}
            {(can_decide && v.status == VerificationStatus::NeedsReview).then(|| view! {
                <form method="post" action={forms::action::<DecideVerification>()} class="stack">
                    <input type="hidden" name="slug" value=slug/>
                    <input type="hidden" name="id" value=v.id.clone()/>
                    <label for="decision-reason">"Reason"</label>
                    <textarea id="decision-reason" name="reason" rows="2" required maxlength="1000"></textarea>
                    <fieldset>
                        <legend>"Decision"</legend>
                        <label><input type="radio" name="decision" value="approved" required/>" Approve"</label>
                        <label><input type="radio" name="decision" value="rejected"/>" Reject"</label>
                    </fieldset>
                    <button type="submit" class="primary">"Submit decision"</button>
                </form>
            })}
            {(can_decide && v.status == VerificationStatus::NeedsReview).then(|| view! { <RequestDocumentForm slug=slug_request verification=v.clone()/> })}
            {(v.status == VerificationStatus::ResubmissionRequested).then(|| view! {
                <ul class="requested" aria-label="Requested documents">
                    {v.requested_documents.iter().map(|r| view! {
                        <li>{format!("New {} requested by {} at {}: {}", role_label(r.role), r.by, crate::dates::to_minute(&r.at), r.reason)}</li>
                    }).collect_view()}
                </ul>
            })}
            {(can_manage && matches!(v.status, VerificationStatus::Started | VerificationStatus::Submitted | VerificationStatus::ResubmissionRequested)).then(|| view! {
                <form method="post" action={forms::action::<CancelVerification>()} class="inline">
                    <input type="hidden" name="slug" value=slug_cancel/>
                    <input type="hidden" name="id" value=id_cancel/>
                    <button type="submit" class="danger">"Cancel verification"</button>
                </form>
            })}
            {v.selfie_match.clone().map(|s| view! { <p>{format!("Selfie match {:.2} (threshold {:.2})", s.score, s.threshold)}</p> })}
        </section>
    }
}

fn role_label(role: DocumentRole) -> &'static str {
    match role {
        DocumentRole::PhotoId => "photo ID",
        DocumentRole::ProofOfAddress => "proof of address",
        DocumentRole::Selfie => "selfie",
        DocumentRole::CourtOrder => "court order",
    }
}

/// Retake: ask the applicant for a new document of one of the roles this verification
/// has, with a reason.
#[component]
fn RequestDocumentForm(slug: String, verification: Verification) -> impl IntoView {
    let v = verification;
    let mut roles: Vec<DocumentRole> = v.documents.iter().filter(|d| d.status != DocumentStatus::Canceled).map(|d| d.role).collect();
    roles.sort_by_key(|r| DocumentRole::ALL.iter().position(|x| x == r));
    roles.dedup();
    view! {
        <form method="post" action={forms::action::<RequestNewDocument>()} class="stack" aria-labelledby="request-document-heading">
            <h3 id="request-document-heading">"Request new document"</h3>
            <input type="hidden" name="slug" value=slug/>
            <input type="hidden" name="id" value=v.id.clone()/>
            <label for="request-role">"Document"</label>
            <select id="request-role" name="role" required>
                {roles.into_iter().map(|r| view! { <option value=r.code()>{role_label(r)}</option> }).collect_view()}
            </select>
            <label for="request-reason">"Reason for the applicant"</label>
            <textarea id="request-reason" name="reason" rows="2" required maxlength="500"></textarea>
            <button type="submit">"Request new document"</button>
        </form>
    }
}

/// Each rule's result, with what was expected and found.
#[component]
fn RulesPanel(verification: Verification) -> impl IntoView {
    let rules = verification.rules;
    view! {
        <section class="panel" aria-labelledby="rules-heading">
            <h2 id="rules-heading">"Rules"</h2>
            {if rules.is_empty() {
                view! { <p class="muted">"No rules have run yet."</p> }.into_any()
            } else {
                view! {
                    <table class="data" aria-label="Rules">
                        <thead><tr><th scope="col">"Rule"</th><th scope="col">"Result"</th><th scope="col">"Expected"</th><th scope="col">"Found"</th></tr></thead>
                        <tbody>{rules.into_iter().map(|r| view! {
                            <tr class=if r.result == RuleOutcome::Fail { "differs" } else { "" }>
                                <td><code>{r.name}</code></td>
                                <td>{match r.result { RuleOutcome::Pass => "pass", RuleOutcome::Fail => "fail", RuleOutcome::NotApplicable => "not applicable" }}</td>
                                <td>{r.expected.unwrap_or_default()}</td>
                                <td>{r.found.unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}</tbody>
                    </table>
                }
                .into_any()
            }}
        </section>
    }
}

/// The documents, a decision form on each that can take one, and their images.
#[component]
fn DocumentsPanel(slug: String, verification: Verification, can_decide: bool, can_view_documents: bool) -> impl IntoView {
    let v = verification;
    let open = v.status != VerificationStatus::Canceled;
    let base = format!("/w/{slug}/documents");
    let viewers = can_view_documents.then(|| {
        view! {
            <div class="viewers">
                {v.documents.iter().filter(|doc| doc.status != DocumentStatus::Canceled).flat_map(|doc| {
                    doc.sides.iter().map(|side| (format!("{base}/{}/{side}", doc.id), format!("{} ({side})", doc.document_type))).collect::<Vec<_>>()
                }).map(|(src, label)| view! { <DocumentViewer src=src label=label/> }).collect_view()}
            </div>
        }
    });
    view! {
        <section class="panel" aria-labelledby="documents-heading">
            <h2 id="documents-heading">"Documents"</h2>
            <table class="data" aria-label="Documents">
                <thead><tr><th scope="col">"Type"</th><th scope="col">"Role"</th><th scope="col">"Country"</th><th scope="col">"Status"</th><th scope="col">"Problem"</th><th scope="col">"Decision"</th></tr></thead>
                <tbody>{v.documents.iter().map(|doc| {
                    let decidable = can_decide && open && matches!(doc.status, DocumentStatus::Extracted | DocumentStatus::ExtractionFailed | DocumentStatus::Approved | DocumentStatus::Rejected);
                    view! { <DocumentRow slug=slug.clone() verification_id=v.id.clone() document=doc.clone() decidable=decidable/> }
                }).collect_view()}</tbody>
            </table>
            {viewers}
        </section>
    }
}

#[component]
fn DocumentRow(slug: String, verification_id: String, document: Document, decidable: bool) -> impl IntoView {
    let doc = document;
    let (id, label) = (doc.id.clone(), doc.document_type.clone());
    view! {
        <tr>
            <td>
                {doc.document_type.clone()}
                {crate::flows::reader_for(doc.role, &doc.document_type).is_none().then(|| view! { <span class="badge">"manual review"</span> })}
            </td>
            <td>{doc.role.code()}</td>
            <td>{doc.country.clone()}</td>
            <td>{doc.status.code()}</td>
            <td>{doc.failure_reason.clone().unwrap_or_default()}</td>
            <td>
                {doc.decision.clone().map(|dec| view! { <div class="small">{format!("{} by {}: {}", dec.outcome.code(), dec.by, dec.reason.unwrap_or_default())}</div> })}
                {decidable.then(|| view! {
                    <form method="post" action={forms::action::<DecideDocument>()} class="inline-form compact">
                        <input type="hidden" name="slug" value=slug/>
                        <input type="hidden" name="id" value=verification_id/>
                        <input type="hidden" name="document_id" value=id.clone()/>
                        <label class="visually-hidden" for=format!("doc-decision-{id}")>{format!("Decision on {label}")}</label>
                        <select id=format!("doc-decision-{id}") name="decision">
                            <option value="approved">"approve"</option>
                            <option value="rejected">"reject"</option>
                        </select>
                        <label class="visually-hidden" for=format!("doc-reason-{id}")>{format!("Reason for {label}")}</label>
                        <input id=format!("doc-reason-{id}") type="text" name="reason" placeholder="reason" required maxlength="1000"/>
                        <button type="submit">"Record"</button>
                    </form>
                })}
            </td>
        </tr>
    }
}

#[component]
fn HistoryPanel(history: Vec<HistoryEntry>) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="history-heading">
            <h2 id="history-heading">"History"</h2>
            <ol class="timeline" aria-label="History">
                {history.into_iter().map(|h| view! {
                    <li><span class="small muted">{crate::dates::to_minute(&h.created_at)}</span> " " <code>{h.event}</code> " " <span class="small muted">{format!("by {}", h.actor_email.clone().unwrap_or(h.actor_type.clone()))}</span></li>
                }).collect_view()}
            </ol>
        </section>
    }
}

#[component]
fn EventsPanel(events: Vec<EventSummary>) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="events-heading">
            <h2 id="events-heading">"Webhook events"</h2>
            {if events.is_empty() {
                view! { <p class="muted">"No events yet."</p> }.into_any()
            } else {
                view! {
                    <table class="data" aria-label="Webhook events">
                        <thead><tr><th scope="col">"Event"</th><th scope="col">"Time"</th><th scope="col">"Delivered"</th></tr></thead>
                        <tbody>
                            {events.into_iter().map(|e| view! {
                                <tr>
                                    <td><code>{e.event_type}</code></td>
                                    <td class="small">{crate::dates::to_minute(&e.created_at)}</td>
                                    <td class="small">{if e.deliveries == 0 { "no endpoint subscribed".to_string() } else { format!("{} of {} endpoints", e.delivered, e.deliveries) }}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
            }}
        </section>
    }
}
