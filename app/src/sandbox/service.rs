//! Reading the outbox: `.eml` files that the outbox mailer wrote, parsed with `mailparse`
//! (headers decoded, quoted-printable bodies undone).

use super::{MailSummary, MailView};
use crate::error::AppError;
use std::path::Path;

/// Outbox files are named by our own ids (`mail_…`); nothing else is ever opened.
fn valid_id(id: &str) -> bool {
    id.starts_with("mail_") && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

struct Parsed {
    to: String,
    from: String,
    subject: String,
    date: String,
    body: String,
}

fn parse(raw: &[u8]) -> Result<Parsed, AppError> {
    use mailparse::MailHeaderMap;
    let mail = mailparse::parse_mail(raw).map_err(|e| AppError::internal("parsing an outbox message", e))?;
    let header = |name: &str| mail.headers.get_first_value(name).unwrap_or_default();
    let date = mailparse::dateparse(&header("Date"))
        .ok()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    let body = mail.get_body().map_err(|e| AppError::internal("decoding an outbox message", e))?;
    Ok(Parsed { to: header("To"), from: header("From"), subject: header("Subject"), date, body })
}

/// Every message, newest first (ids sort by time).
pub async fn list(dir: &Path) -> Result<Vec<MailSummary>, AppError> {
    let mut ids = Vec::new();
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(AppError::internal("reading the outbox", e)),
    };
    while let Some(entry) = entries.next_entry().await.map_err(|e| AppError::internal("reading the outbox", e))? {
        if let Some(id) = entry.file_name().to_str().and_then(|n| n.strip_suffix(".eml")).filter(|id| valid_id(id)) {
            ids.push(id.to_string());
        }
    }
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let mut out = Vec::with_capacity(ids.len().min(200));
    for id in ids.into_iter().take(200) {
        let raw = tokio::fs::read(dir.join(format!("{id}.eml"))).await.map_err(|e| AppError::internal("reading an outbox message", e))?;
        let parsed = parse(&raw)?;
        out.push(MailSummary { id, to: parsed.to, subject: parsed.subject, date: parsed.date });
    }
    Ok(out)
}

/// One message by id.
pub async fn read(dir: &Path, id: &str) -> Result<MailView, AppError> {
    if !valid_id(id) {
        return Err(AppError::NotFound);
    }
    let raw = match tokio::fs::read(dir.join(format!("{id}.eml"))).await {
        Ok(raw) => raw,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(AppError::NotFound),
        Err(e) => return Err(AppError::internal("reading an outbox message", e)),
    };
    let p = parse(&raw)?;
    Ok(MailView { to: p.to, from: p.from, subject: p.subject, date: p.date, body: p.body })
}

#[cfg(test)]
mod tests {
    use super::valid_id;

    #[test]
    fn only_outbox_ids_are_opened() {
        assert!(valid_id("mail_01m965ph71d9ncpbs1btmvxqa0"));
        for bad in ["../master.key", "mail_../../x", "mail_a/b", "attest.db", "", "mail_a.eml"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
