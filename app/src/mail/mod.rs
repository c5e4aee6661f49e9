//! Outgoing mail: sign-in codes, invitations, MFA-reset notices.
//!
//! [`SmtpMailer`] sends through a real SMTP server with lettre; without one (sandbox
//! only; production refuses to start) [`OutboxMailer`] writes each message as an
//! `.eml` file into `<data-dir>/outbox/`, which the operator can read.

use crate::error::AppError;
use async_trait::async_trait;
use lettre::{
    message::{header::ContentType, Mailbox},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use std::{path::PathBuf, time::Duration};

/// One message to one recipient, plain text.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    async fn send(&self, email: Email) -> Result<(), AppError>;
}

fn build(from: &Mailbox, email: &Email) -> Result<Message, AppError> {
    let to: Mailbox = email.to.parse().map_err(|_| AppError::invalid("email", "The email address cannot receive mail."))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(email.body.clone())
        .map_err(|e| AppError::internal("building an email", e))
}

#[derive(Debug, Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// `url`: `smtp://user:pass@host:port` (STARTTLS when offered… see lettre) or
    /// `smtps://…` (implicit TLS). `smtp://` on loopback is plain, for local sinks.
    pub fn new(url: &str, from: &str) -> Result<SmtpMailer, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("ATTEST_MAIL_FROM: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("ATTEST_SMTP_URL: {e}"))?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        Ok(SmtpMailer { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: Email) -> Result<(), AppError> {
        let message = build(&self.from, &email)?;
        self.transport.send(message).await.map_err(|e| AppError::internal("sending mail over SMTP", e))?;
        tracing::info!(subject = %email.subject, "mail sent");
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl OutboxMailer {
    pub fn new(dir: PathBuf, from: &str) -> Result<OutboxMailer, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("ATTEST_MAIL_FROM: {e}"))?;
        Ok(OutboxMailer { dir, from })
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, email: Email) -> Result<(), AppError> {
        let message = build(&self.from, &email)?;
        tokio::fs::create_dir_all(&self.dir).await.map_err(|e| AppError::internal("creating the mail outbox", e))?;
        let path = self.dir.join(format!("{}.eml", crate::store::ids::new_id("mail")));
        tokio::fs::write(&path, message.formatted()).await.map_err(|e| AppError::internal("writing to the mail outbox", e))?;
        tracing::info!(path = %path.display(), subject = %email.subject, "mail written to the local outbox (no SMTP configured)");
        Ok(())
    }
}
