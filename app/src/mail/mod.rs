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

/// Whether lettre will refuse to talk to the server in clear text at `url`: `smtps://`
/// (implicit TLS) or `smtp://…?tls=required` (STARTTLS required).
pub fn requires_tls(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url.trim()) else { return false };
    let tls: Vec<String> = url.query_pairs().filter(|(k, _)| k == "tls").map(|(_, v)| v.into_owned()).collect();
    match url.scheme() {
        "smtps" => true,
        "smtp" => tls == ["required"],
        _ => false,
    }
}

#[derive(Debug, Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    /// `url`, as lettre reads it: `smtps://user:pass@host:port` (implicit TLS),
    /// `smtp://…?tls=required` (STARTTLS, refused if the server does not offer it),
    /// `smtp://…?tls=opportunistic` (STARTTLS when offered) or plain `smtp://…`, which
    /// sends credentials and codes in clear text: sandbox only, production refuses to
    /// start with anything but the first two ([`requires_tls`]).
    pub fn new(url: &str, from: &str) -> Result<SmtpMailer, String> {
        let from: Mailbox = from.parse().map_err(|e| format!("ATTEST_MAIL_FROM: {e}"))?;
        let transport =
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| format!("ATTEST_SMTP_URL: {e}"))?.timeout(Some(Duration::from_secs(15))).build();
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    /// An SMTP server on loopback that does not offer STARTTLS; returns its port and
    /// every command it received.
    async fn plain_smtp_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let log = log.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                        return;
                    }
                    while let Ok(Some(line)) = lines.next_line().await {
                        log.lock().unwrap().push(line.clone());
                        let upper = line.to_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") {
                            b"250-sink\r\n250 AUTH PLAIN LOGIN\r\n"
                        } else if upper.starts_with("DATA") {
                            b"354 go on\r\n"
                        } else if upper.starts_with("QUIT") {
                            b"221 bye\r\n"
                        } else {
                            b"250 ok\r\n"
                        };
                        if write.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (port, received)
    }

    #[test]
    fn only_smtps_and_required_starttls_count_as_tls() {
        for url in ["smtps://u:p@mail:465", "smtp://u:p@mail:587?tls=required", "smtp://mail?foo=1&tls=required"] {
            assert!(requires_tls(url), "{url}");
        }
        for url in [
            "smtp://u:p@mail:25",
            "smtp://mail?tls=opportunistic",
            "smtp://mail?tls=none",
            "smtp://mail?tls=required&tls=none",
            "smtp://mail#?tls=required",
            "http://mail?tls=required",
        ] {
            assert!(!requires_tls(url), "{url}");
        }
    }

    #[tokio::test]
    async fn required_starttls_never_sends_credentials_or_codes_in_clear_text() {
        let (port, received) = plain_smtp_server().await;
        let email = Email { to: "ada@example.com".into(), subject: "Your sign-in code 123456".into(), body: "123456".into() };
        let required = SmtpMailer::new(&format!("smtp://user:hunter2@127.0.0.1:{port}?tls=required"), "Attest <no-reply@attest.test>").unwrap();
        assert!(required.send(email.clone()).await.is_err(), "a server without STARTTLS is refused");
        let said = received.lock().unwrap().join("\n");
        assert!(!said.contains("AUTH") && !said.contains("MAIL FROM") && !said.contains("123456"), "{said}");
        // Plain smtp:// (sandbox only) would have sent it all in clear text.
        let plain = SmtpMailer::new(&format!("smtp://user:hunter2@127.0.0.1:{port}"), "Attest <no-reply@attest.test>").unwrap();
        let _ = plain.send(email).await;
        assert!(received.lock().unwrap().iter().any(|l| l.starts_with("AUTH")), "the sink saw the clear-text exchange");
    }
}
