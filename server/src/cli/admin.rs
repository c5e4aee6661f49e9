//! `attest admin …`: operator commands over the same services the dashboard uses.

use crate::{config::Config, startup};
use app::{
    access::{tokens, Actor, Role},
    members,
    store::ids::random_secret,
    workspaces::service as workspaces,
};
use clap::Subcommand;
use std::io::Read;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a workspace (the tenant).
    CreateWorkspace {
        #[arg(long)]
        name: String,
        /// URL-safe identifier; derived from the name when omitted.
        #[arg(long)]
        slug: Option<String>,
    },
    /// Create a user (or reuse the one with that email) and add them to a workspace.
    CreateUser {
        #[arg(long)]
        email: String,
        /// Workspace slug.
        #[arg(long)]
        workspace: String,
        /// owner, admin, reviewer, developer or viewer.
        #[arg(long)]
        role: Role,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Create an API token; it is printed once, alone on the last line.
    CreateToken {
        /// Workspace slug.
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "D")]
        expires_in_days: Option<i64>,
        /// Comma-separated scopes (verifications:read, verifications:write, documents:read,
        /// decisions:write, webhooks:manage); all of them when omitted.
        #[arg(long, value_name = "SCOPES")]
        scopes: Option<String>,
    },
    /// Set a workspace's API rate limit (requests a minute, shared by its tokens; default 600).
    SetRateLimit {
        /// Workspace slug.
        #[arg(long)]
        workspace: String,
        #[arg(long, value_name = "N")]
        per_minute: i64,
    },
    /// Lift a sign-in lockout.
    Unlock {
        #[arg(long)]
        email: String,
    },
    /// Clear a user's authenticator app and recovery codes (they are emailed); the next
    /// sign-in uses an email code.
    ResetMfa {
        #[arg(long)]
        email: String,
    },
    /// Sandbox only: create the demo workspace and print a fresh sign-in for it.
    SeedDemo,
    #[command(flatten)]
    Backup(super::backup::BackupCommand),
    #[command(flatten)]
    Key(super::rotate::KeyCommand),
    #[command(flatten)]
    Copy(super::copy::CopyCommand),
    #[command(flatten)]
    Blobs(super::migrate_blobs::BlobsCommand),
}

/// Turns a service error into an operator-facing message.
pub(super) fn explain(err: app::error::AppError) -> anyhow::Error {
    match err {
        app::error::AppError::Validation(fields) => {
            let lines: Vec<String> = fields.into_iter().map(|(field, messages)| format!("{field}: {}", messages.join(" "))).collect();
            anyhow::anyhow!(lines.join("; "))
        }
        other => anyhow::anyhow!(other.to_string()),
    }
}

pub async fn run(command: AdminCommand, config: &Config) -> anyhow::Result<()> {
    let command = match command {
        AdminCommand::Backup(command) => return super::backup::run(command, config).await,
        AdminCommand::Key(command) => return super::rotate::run(command, config).await,
        AdminCommand::Copy(command) => return super::copy::run(command, config).await,
        AdminCommand::Blobs(command) => return super::migrate_blobs::run(command, config).await,
        other => other,
    };
    let db = startup::open_database(config).await?;
    let actor = Actor::Operator;
    match command {
        AdminCommand::CreateWorkspace { name, slug } => {
            let workspace = workspaces::create(&db, &name, slug.as_deref(), &actor).await.map_err(explain)?;
            println!("created workspace {} ({}) with slug {}", workspace.name, workspace.id, workspace.slug);
        }
        AdminCommand::CreateUser { email, workspace, role, password_stdin } => {
            let (password, generated) = if password_stdin {
                let mut input = String::new();
                std::io::stdin().read_to_string(&mut input)?;
                (input.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (random_secret(15), true)
            };
            let user_id = members::service::add_member(&db, &email, Some(&password), &workspace, role, &actor).await.map_err(explain)?;
            println!("user {} ({user_id}) is {role} of {workspace}", members::service::normalize_email(&email));
            if generated {
                println!("password (shown once): {password}");
            }
        }
        AdminCommand::CreateToken { workspace, name, expires_in_days, scopes } => {
            let created =
                tokens::create_with_scopes(&db, config.environment, &workspace, &name, expires_in_days, scopes.as_deref(), &actor).await.map_err(explain)?;
            let expires = created
                .expires_at
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_else(|| "never".into());
            println!(
                "token {} for {workspace} expires {expires}, scopes {}; it is shown once:",
                created.id,
                created.scopes.iter().map(|s| s.code()).collect::<Vec<_>>().join(",")
            );
            println!("{}", created.token);
        }
        AdminCommand::SetRateLimit { workspace, per_minute } => {
            workspaces::set_rate_limit(&db, &workspace, per_minute, &actor).await.map_err(explain)?;
            println!("{workspace} may make {per_minute} API requests a minute");
        }
        AdminCommand::Unlock { email } => {
            let was_locked = members::service::unlock_email(&db, &email, &actor).await.map_err(explain)?;
            println!("{}: {}", members::service::normalize_email(&email), if was_locked { "unlocked" } else { "was not locked" });
        }
        AdminCommand::ResetMfa { email } => {
            let mailer = startup::mailer(config)?;
            members::service::reset_mfa(&db, mailer.as_ref(), None, &email, &actor).await.map_err(|e| match e {
                app::error::AppError::NotFound => anyhow::anyhow!("no user has the email {email}"),
                other => explain(other),
            })?;
            println!("MFA reset for {}; they were emailed", members::service::normalize_email(&email));
        }
        AdminCommand::Backup(_) | AdminCommand::Key(_) | AdminCommand::Copy(_) | AdminCommand::Blobs(_) => {
            unreachable!("handled before the database is opened")
        }
        AdminCommand::SeedDemo => {
            if config.environment.is_production() {
                anyhow::bail!("seed-demo is for sandbox instances only (ATTEST_ENV=production)");
            }
            let workspace = match workspaces::find_by_slug(&db, "demo").await.map_err(explain)? {
                Some(workspace) => workspace,
                None => workspaces::create(&db, "Demo Mailboxes", Some("demo"), &actor).await.map_err(explain)?,
            };
            let email = "demo@attest.test";
            let password = random_secret(15);
            let owner_id = members::service::add_member(&db, email, Some(&password), "demo", Role::Owner, &actor).await.map_err(explain)?;
            let state = startup::app_state(config, db.clone())?;
            let owner = Actor::User { id: owner_id, workspace_id: workspace.id.clone(), role: app::access::RoleRef::Builtin(Role::Owner) };
            match super::demo::seed(&state, &workspace.id, &owner).await? {
                0 => println!("The demo samples are there already."),
                n => println!("{n} sample verifications created and decided by the pipeline."),
            }
            println!("Demo workspace 'Demo Mailboxes' (slug demo) is ready.");
            println!("Sign in at http://{}/login", config.addr);
            println!("  email:    {email}");
            println!("  password: {password}");
            if config.mfa_required && config.smtp_url.is_none() {
                if config.sandbox_mailbox_enabled() {
                    println!("Sign-in codes are emailed; with no SMTP server configured, read them at http://{}/sandbox/mailbox", config.addr);
                } else {
                    println!("Sign-in codes are emailed; with no SMTP server configured they are written to {}/", config.data_dir.join("outbox").display());
                }
            }
        }
    }
    db.close().await;
    Ok(())
}
