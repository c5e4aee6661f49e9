//! The quarterly certification a CMRA makes to the Postal Service (due Jan 15, Apr 15,
//! Jul 15, Oct 15): for a quarter, the boxes opened and closed, the records changed, the
//! photo IDs expiring next quarter, and the two blocking lists (IDs expired on open
//! boxes, open boxes without an approved record). With both empty the quarter can be
//! certified once it has ended; a certification is recorded once and never changed (the
//! table refuses updates and deletes).

use super::{service::mailbox_records, BoxRow, Certification, Quarter, QuarterlyReport, BAD_QUARTER};
use crate::{
    access::Actor,
    error::AppError,
    journal,
    store::{ids::new_id, now_ms, Db},
    verifications::{service::actor_label, VerificationStatus},
};
use chrono::NaiveDate;
use serde_json::json;
use sqlx::Row;
use std::collections::HashSet;

/// A quarter from the query string, or a 422.
pub fn parse(text: Option<&str>) -> Result<Quarter, AppError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Err(AppError::invalid("quarter", "The quarter field is required (e.g. 2026-Q4).")),
        Some(t) => Quarter::parse(t).ok_or_else(|| AppError::invalid("quarter", BAD_QUARTER)),
    }
}

fn day_start_ms(day: &str) -> i64 {
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc().timestamp_millis()).unwrap_or(0)
}

/// The report of `quarter` for the workspace, as of `today` (expired IDs are counted at
/// the quarter's end, or today while it runs).
pub async fn report(db: &Db, workspace_id: &str, quarter: Quarter, today: NaiveDate) -> Result<QuarterlyReport, AppError> {
    let (start, end) = quarter.bounds();
    let (next_start, next_end) = quarter.next().bounds();
    let today = today.to_string();
    let as_of = if today < end { today } else { end.clone() };
    let records = mailbox_records(db, Some(workspace_id), false).await?;
    let approved: Vec<_> = records.iter().filter(|r| r.status == VerificationStatus::Approved).collect();
    let in_quarter = |day: &Option<String>| day.as_deref().is_some_and(|d| d >= start.as_str() && d <= end.as_str());
    let open_at = |r: &&crate::compliance::service::MailboxRecord, day: &str| {
        r.mailbox.opened_on.as_deref().is_none_or(|o| o <= day) && r.mailbox.closed_on.as_deref().is_none_or(|c| c > day)
    };
    let rows = |list: Vec<&&crate::compliance::service::MailboxRecord>| -> Vec<BoxRow> { list.into_iter().map(|r| r.row()).collect() };

    let boxes_opened = rows(approved.iter().filter(|r| in_quarter(&r.mailbox.opened_on)).collect());
    let boxes_closed = rows(approved.iter().filter(|r| in_quarter(&r.mailbox.closed_on)).collect());
    let changed: HashSet<String> = sqlx::query(
        "SELECT DISTINCT h.verification_id FROM history h JOIN verifications v ON v.id = h.verification_id \
         WHERE h.workspace_id = $1 AND h.event IN ('verification.updated', 'verification.reverified') \
         AND h.created_at >= $2 AND h.created_at < $3 AND v.decision_at IS NOT NULL AND h.created_at > v.decision_at",
    )
    .bind(workspace_id)
    .bind(day_start_ms(&start))
    .bind(day_start_ms(&next_start))
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| r.try_get("verification_id"))
    .collect::<Result<_, _>>()?;
    let records_changed = rows(approved.iter().filter(|r| changed.contains(&r.id)).collect());
    let ids_expiring_next_quarter = rows(
        approved
            .iter()
            .filter(|r| open_at(r, &end) && r.id_expires_on.as_deref().is_some_and(|e| e >= next_start.as_str() && e <= next_end.as_str()))
            .collect(),
    );
    let ids_expired_on_open_boxes =
        rows(approved.iter().filter(|r| open_at(r, &as_of) && r.id_expires_on.as_deref().is_some_and(|e| e < as_of.as_str())).collect());
    let approved_open_pmbs: HashSet<&str> = approved.iter().filter(|r| open_at(r, &end)).map(|r| r.mailbox.pmb.as_str()).collect();
    let unapproved: Vec<_> = records
        .iter()
        .filter(|r| !matches!(r.status, VerificationStatus::Approved | VerificationStatus::Canceled))
        .filter(|r| r.mailbox.opened_on.as_deref().is_some_and(|o| o <= end.as_str()) && r.mailbox.closed_on.as_deref().is_none_or(|c| c > end.as_str()))
        .filter(|r| !approved_open_pmbs.contains(r.mailbox.pmb.as_str()))
        .collect();
    let open_boxes_without_approved_record = unapproved.iter().map(|r| r.row()).collect::<Vec<_>>();
    let ready_to_certify = ids_expired_on_open_boxes.is_empty() && open_boxes_without_approved_record.is_empty();
    Ok(QuarterlyReport {
        quarter: quarter.code(),
        starts_on: start,
        ends_on: end,
        boxes_opened,
        boxes_closed,
        records_changed,
        ids_expiring_next_quarter,
        ids_expired_on_open_boxes,
        open_boxes_without_approved_record,
        ready_to_certify,
        certification: certification(db, workspace_id, &quarter.code()).await?,
    })
}

async fn certification(db: &Db, workspace_id: &str, quarter: &str) -> Result<Option<Certification>, AppError> {
    let row = sqlx::query("SELECT id, quarter, actor_kind, actor_id, created_at FROM compliance_certifications WHERE workspace_id = $1 AND quarter = $2")
        .bind(workspace_id)
        .bind(quarter)
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| {
        let kind: String = r.try_get("actor_kind")?;
        let id: Option<String> = r.try_get("actor_id")?;
        Ok(Certification {
            id: r.try_get("id")?,
            quarter: r.try_get("quarter")?,
            by: id.map(|id| format!("{kind}:{id}")).unwrap_or(kind),
            at: crate::dates::rfc3339(r.try_get("created_at")?),
        })
    })
    .transpose()
}

/// Certifies `quarter`: only once it has ended, only when ready, only once. Records who
/// and when, with the report as certified, and an activity entry.
pub async fn certify(db: &Db, workspace_id: &str, quarter: Quarter, today: NaiveDate, actor: &Actor) -> Result<Certification, AppError> {
    let report = report(db, workspace_id, quarter, today).await?;
    if report.ends_on >= today.to_string() {
        return Err(AppError::BadRequest(format!("A quarter can be certified once it has ended: {} ends on {}.", report.quarter, report.ends_on)));
    }
    if let Some(done) = report.certification {
        return Err(AppError::Conflict(format!("{} was already certified on {} by {}.", done.quarter, crate::dates::to_minute(&done.at), done.by)));
    }
    if !report.ready_to_certify {
        return Err(AppError::BadRequest(format!(
            "{} cannot be certified yet: {} ID(s) expired on open boxes and {} open box(es) without an approved record.",
            report.quarter,
            report.ids_expired_on_open_boxes.len(),
            report.open_boxes_without_approved_record.len()
        )));
    }
    let id = new_id("cert");
    let now = now_ms();
    let (kind, actor_id) = actor.kind_and_id();
    let snapshot = serde_json::to_string(&report).map_err(|e| AppError::internal("certified report", e))?;
    let mut tx = db.begin_write().await?;
    let inserted = sqlx::query(
        "INSERT INTO compliance_certifications (id, workspace_id, quarter, actor_kind, actor_id, report, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (workspace_id, quarter) DO NOTHING",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(report.quarter.as_str())
    .bind(kind)
    .bind(actor_id)
    .bind(snapshot)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(AppError::Conflict(format!("{} was already certified.", report.quarter)));
    }
    journal::note(&mut tx, workspace_id, actor, "compliance.quarter_certified", &id, Some(json!({ "quarter": report.quarter }))).await?;
    tx.commit().await?;
    Ok(Certification { id, quarter: report.quarter, by: actor_label(actor), at: crate::dates::rfc3339(now) })
}

/// A spreadsheet cell: quoted when needed, and never read as a formula.
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text.to_string() };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The report as CSV: one line per mailbox per list.
pub fn csv(report: &QuarterlyReport) -> String {
    let mut out = String::from("quarter,list,verification_id,pmb,name,status,opened_on,closed_on,id_expires_on\n");
    for (key, _, rows) in report.lists() {
        for r in rows {
            let fields = [
                report.quarter.as_str(),
                key,
                &r.verification_id,
                &r.pmb,
                &r.name,
                &r.status,
                r.opened_on.as_deref().unwrap_or(""),
                r.closed_on.as_deref().unwrap_or(""),
                r.id_expires_on.as_deref().unwrap_or(""),
            ];
            out.push_str(&fields.iter().map(|f| cell(f)).collect::<Vec<_>>().join(","));
            out.push('\n');
        }
    }
    out
}

/// The report as a printable PDF.
pub fn pdf(report: &QuarterlyReport) -> Vec<u8> {
    let state = match &report.certification {
        Some(c) => format!("Certified on {} by {}.", crate::dates::to_minute(&c.at), c.by),
        None if report.ready_to_certify => "Ready to certify: no blocking list has an entry.".to_string(),
        None => "Not ready to certify: a blocking list has entries.".to_string(),
    };
    let intro = vec![format!("From {} to {}.", report.starts_on, report.ends_on), state];
    let sections: Vec<super::pdf::Section> = report
        .lists()
        .iter()
        .map(|(_, title, rows)| super::pdf::Section {
            heading: format!("{title}: {}", rows.len()),
            rows: rows
                .iter()
                .map(|r| {
                    (
                        format!("PMB {} - {}", r.pmb, r.name),
                        format!(
                            "{} ({}); opened {}; closed {}; ID expires {}",
                            r.verification_id,
                            r.status,
                            r.opened_on.as_deref().unwrap_or("-"),
                            r.closed_on.as_deref().unwrap_or("-"),
                            r.id_expires_on.as_deref().unwrap_or("-")
                        ),
                    )
                })
                .collect(),
        })
        .collect();
    super::pdf::render(&format!("CMRA quarterly certification report - {}", report.quarter), &intro, &sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(cell("Ada"), "Ada");
        assert_eq!(cell("Lovelace, Ada"), "\"Lovelace, Ada\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    }
}
