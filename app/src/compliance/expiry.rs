//! Photo IDs that expire. Once a day (whatever the number of workers: the day is claimed
//! in `schedule_runs`) a job looks at every approved usps1583 record whose box is open:
//! a photo ID within 60, 30 or 7 days of its expiry gets `verification.id_expiring`
//! (with `days_left`), an expired one `verification.id_expired`, each once per threshold
//! and expiry date; the workspace's owners and admins get one e-mail digest of the day's
//! notices. The dashboard's "Expiring IDs" list reads the same records.

use super::{
    service::{mailbox_records, MailboxRecord},
    ExpiringId, EXPIRY_THRESHOLDS,
};
use crate::{
    access::Actor,
    error::AppError,
    flows::Flow,
    jobs::Job,
    journal::Change,
    mail::{Email, Mailer},
    store::{now_ms, Db},
    verifications::service as verifications,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// The job kind (and the schedule's name).
pub const JOB: &str = "compliance.id_expiry";

/// The daily compliance jobs: the photo-ID expiry check and the retention run
/// ([`super::retention`]), enqueued together by one claim of the day.
pub const DAILY_JOBS: [&str; 2] = [JOB, super::retention::JOB];

/// Claims today's run of the daily compliance jobs (the expiry check and the retention
/// run) and enqueues them, once per UTC day across every process; returns whether this
/// call did.
pub async fn schedule_daily(db: &Db, now: DateTime<Utc>) -> Result<bool, AppError> {
    let day = now.date_naive().to_string();
    // Every worker asks every minute: a read answers all but the first ask of the day.
    let taken: Option<i64> =
        sqlx::query_scalar("SELECT created_at FROM schedule_runs WHERE name = $1 AND day = $2").bind(JOB).bind(&day).fetch_optional(db.pool()).await?;
    if taken.is_some() {
        return Ok(false);
    }
    let mut tx = db.begin_write().await?;
    let claimed = sqlx::query("INSERT INTO schedule_runs (name, day, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(JOB)
        .bind(&day)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if claimed {
        for job in DAILY_JOBS {
            crate::jobs::enqueue(&mut tx, job, &json!({ "day": day }), now_ms(), 5).await?;
        }
    }
    tx.commit().await?;
    if claimed {
        db.wake_workers();
    }
    Ok(claimed)
}

/// What one check announced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checked {
    pub expiring: usize,
    pub expired: usize,
    /// Digests e-mailed (one per workspace with news).
    pub digests: usize,
}

/// Days from `today` to `expires_on`; negative once expired.
fn days_left(expires_on: &str, today: NaiveDate) -> Option<i64> {
    NaiveDate::parse_from_str(expires_on, "%Y-%m-%d").ok().map(|d| (d - today).num_days())
}

/// The event and the threshold a record is due for: the tightest of 60/30/7 that
/// `days_left` is within (0 for expired), with every looser one it passed.
fn due(days_left: i64) -> Option<(&'static str, i64, Vec<i64>)> {
    if days_left < 0 {
        return Some(("verification.id_expired", 0, vec![0]));
    }
    let passed: Vec<i64> = EXPIRY_THRESHOLDS.into_iter().filter(|t| days_left <= *t).collect();
    passed.iter().min().map(|tightest| ("verification.id_expiring", *tightest, passed.clone()))
}

/// The check itself, at `now` (the job passes the clock; tests pass their own).
pub async fn check(db: &Db, mailer: &dyn Mailer, public_url: &str, now: DateTime<Utc>) -> Result<Checked, AppError> {
    let today = now.date_naive();
    let day = today.to_string();
    let mut checked = Checked::default();
    let mut news: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for record in mailbox_records(db, None, true).await? {
        if record.closed_by(&day) {
            continue;
        }
        let Some(expires_on) = record.id_expires_on.clone() else { continue };
        let Some(left) = days_left(&expires_on, today) else { continue };
        let Some((event, tightest, passed)) = due(left) else { continue };
        if announce(db, &record, &expires_on, event, tightest, &passed, left).await? {
            if left < 0 {
                checked.expired += 1;
            } else {
                checked.expiring += 1;
            }
            let state = if left < 0 { format!("expired on {expires_on}") } else { format!("expires on {expires_on} ({left} days left)") };
            news.entry(record.workspace_id.clone())
                .or_default()
                .push(format!("PMB {} - {} - photo ID {state}: {{url}}/verifications/{}", record.mailbox.pmb, record.name, record.id));
        }
    }
    if checked.expiring + checked.expired > 0 {
        db.wake_workers();
    }
    for (workspace_id, lines) in news {
        if send_digest(db, mailer, public_url, &workspace_id, &lines).await? {
            checked.digests += 1;
        }
    }
    Ok(checked)
}

/// Records the notice (once per verification, expiry date and threshold) with its
/// history entry and event; false when another run already did.
async fn announce(db: &Db, record: &MailboxRecord, expires_on: &str, event: &str, tightest: i64, passed: &[i64], left: i64) -> Result<bool, AppError> {
    let mut tx = db.begin_write().await?;
    let mut claimed = false;
    for threshold in passed {
        let inserted = sqlx::query(
            "INSERT INTO id_expiry_notices (verification_id, expires_on, threshold, workspace_id, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(&record.id)
        .bind(expires_on)
        .bind(*threshold)
        .bind(&record.workspace_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        claimed |= *threshold == tightest && inserted == 1;
    }
    if !claimed {
        tx.rollback().await?;
        return Ok(false);
    }
    let mut extra = serde_json::Map::new();
    extra.insert("days_left".into(), json!(left));
    extra.insert("expires_on".into(), json!(expires_on));
    let change = Change {
        workspace_id: &record.workspace_id,
        verification_id: &record.id,
        document_id: None,
        event,
        actor: &Actor::System,
        data: json!({ "days_left": left, "expires_on": expires_on, "threshold": tightest }),
    };
    verifications::touch_and_record_with(&mut tx, &record.workspace_id, Flow::Usps1583, &record.id, change, extra).await?;
    tx.commit().await?;
    Ok(true)
}

/// One e-mail to each owner and admin of the workspace listing the day's notices.
async fn send_digest(db: &Db, mailer: &dyn Mailer, public_url: &str, workspace_id: &str, lines: &[String]) -> Result<bool, AppError> {
    let workspace = sqlx::query("SELECT slug, name FROM workspaces WHERE id = $1").bind(workspace_id).fetch_one(db.pool()).await?;
    let (slug, name): (String, String) = (workspace.try_get("slug")?, workspace.try_get("name")?);
    let admins: Vec<String> = sqlx::query_scalar(
        "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 AND m.role IN ('owner', 'admin') ORDER BY u.email",
    )
    .bind(workspace_id)
    .fetch_all(db.pool())
    .await?;
    let base = format!("{}/w/{slug}", public_url.trim_end_matches('/'));
    let body = format!(
        "Photo IDs of open mailboxes in {name} that expire soon or have expired (PS Form 1583 box 8d).\n\
         An expired ID is not acceptable: start a re-verification from each record.\n\n{}\n\nAll expiring IDs: {base}/compliance/expiring\n",
        lines.iter().map(|l| format!("- {}", l.replace("{url}", &base))).collect::<Vec<_>>().join("\n")
    );
    let mut sent = 0;
    for to in &admins {
        let email = Email { to: to.clone(), subject: format!("{name}: {} photo ID notice(s) for PS Form 1583", lines.len()), body: body.clone() };
        // The notices are recorded and their events sent: a mail server that refuses one
        // recipient must not stop the others (the list stays on the Expiring IDs page).
        match mailer.send(email).await {
            Ok(()) => sent += 1,
            Err(e) => tracing::error!(workspace = %workspace_id, error = %e, "the photo-ID digest could not be mailed to an admin"),
        }
    }
    Ok(sent > 0)
}

/// Runs a leased expiry job and removes it.
pub async fn run(state: &crate::state::AppState, job: &Job, worker: &str) -> Result<Checked, AppError> {
    let checked = check(&state.db, state.mailer.as_ref(), &state.settings.public_url, Utc::now()).await?;
    crate::jobs::complete(state.db.pool(), &job.id, worker).await?;
    tracing::info!(expiring = checked.expiring, expired = checked.expired, digests = checked.digests, "photo-ID expiry check done");
    Ok(checked)
}

/// A daily job ([`DAILY_JOBS`], by its kind) as a worker runs it: a failure is logged
/// and the job retried by its backoff; whether it ran.
pub async fn run_leased(state: &crate::state::AppState, job: &Job, worker: &str) -> bool {
    let done =
        if job.kind == super::retention::JOB { super::retention::run(state, job, worker).await.map(|_| ()) } else { run(state, job, worker).await.map(|_| ()) };
    let Err(e) = done else { return true };
    tracing::error!(error = %e, kind = %job.kind, "a daily compliance job failed; it is retried");
    if let Err(e) = crate::jobs::fail(state.db.pool(), job, worker, &e.to_string(), crate::jobs::backoff_ms(job.attempts)).await {
        tracing::warn!(error = %e, "recording the failed compliance job failed; its lease runs out and it runs again");
    }
    false
}

/// Filters of the "Expiring IDs" list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpiringFilter {
    /// At most this many days left (default 60).
    pub within_days: Option<i64>,
    /// `expiring`, `expired` or everything.
    pub state: Option<String>,
    /// Part of the PMB or the name.
    pub search: Option<String>,
}

/// Approved records of open boxes whose photo ID expires within the filter's days (or
/// has expired), soonest first, with any re-verification in progress.
pub async fn expiring(db: &Db, workspace_id: &str, today: NaiveDate, filter: &ExpiringFilter) -> Result<Vec<ExpiringId>, AppError> {
    let day = today.to_string();
    let within = filter.within_days.unwrap_or(60);
    let search = filter.search.as_deref().map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
    let pending: HashMap<String, String> = sqlx::query("SELECT original_id, follow_up_id FROM reverifications WHERE workspace_id = $1 AND applied_at IS NULL")
        .bind(workspace_id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("original_id")?, r.try_get("follow_up_id")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    let mut list: Vec<ExpiringId> = mailbox_records(db, Some(workspace_id), true)
        .await?
        .into_iter()
        .filter(|r| !r.closed_by(&day))
        .filter_map(|r| {
            let expires_on = r.id_expires_on.clone()?;
            let left = days_left(&expires_on, today)?;
            let keep = match filter.state.as_deref() {
                Some("expired") => left < 0,
                Some("expiring") => (0..=within).contains(&left),
                _ => left <= within,
            };
            let matches = search.as_ref().is_none_or(|s| r.mailbox.pmb.to_lowercase().contains(s) || r.name.to_lowercase().contains(s));
            (keep && matches).then(|| ExpiringId {
                reverification_id: pending.get(&r.id).cloned(),
                verification_id: r.id,
                pmb: r.mailbox.pmb,
                name: r.name,
                expires_on,
                days_left: left,
            })
        })
        .collect();
    list.sort_by(|a, b| a.days_left.cmp(&b.days_left).then_with(|| a.pmb.cmp(&b.pmb)));
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_threshold_is_due_with_the_ones_it_passed() {
        assert_eq!(due(61), None);
        assert_eq!(due(60), Some(("verification.id_expiring", 60, vec![60])));
        assert_eq!(due(25), Some(("verification.id_expiring", 30, vec![60, 30])));
        assert_eq!(due(0), Some(("verification.id_expiring", 7, vec![60, 30, 7])));
        assert_eq!(due(-1), Some(("verification.id_expired", 0, vec![0])));
    }
}
