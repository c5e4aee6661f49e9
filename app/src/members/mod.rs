//! People: global user accounts and their membership (with a role) in workspaces.

use crate::{
    access::{Actor, Role},
    activity::{self, Entry, RequestOrigin},
    auth::password,
    error::AppError,
    store::{ids::new_id, now_ms, Db},
    workspaces::service as workspaces,
};
use sqlx::Row;

/// Trims and lower-cases an email; lockouts and uniqueness use this form.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn validate_email(email: &str) -> Result<(), AppError> {
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(())
    } else {
        Err(AppError::invalid("email", "The email must be a valid email address."))
    }
}

/// Minimum length per NIST 800-63B; no composition rules.
pub fn validate_password(password: &str) -> Result<(), AppError> {
    if password.chars().count() < 12 {
        return Err(AppError::invalid("password", "The password must be at least 12 characters."));
    }
    if password.len() > 1024 {
        return Err(AppError::invalid("password", "The password may not be longer than 1024 bytes."));
    }
    Ok(())
}

/// Creates the user (or finds the existing one with that email, setting the password
/// when given) and makes them a member of the workspace `slug` with `role`.
/// Returns the user id.
pub async fn add_member(
    db: &Db,
    email: &str,
    password: Option<&str>,
    workspace_slug: &str,
    role: Role,
    actor: &Actor,
) -> Result<String, AppError> {
    let email = normalize_email(email);
    validate_email(&email)?;
    if let Some(password) = password {
        validate_password(password)?;
    }
    let workspace = workspaces::find_by_slug(db, workspace_slug).await?.ok_or_else(|| {
        AppError::invalid("workspace", format!("No workspace has the slug '{workspace_slug}'."))
    })?;
    let password_hash = match password {
        Some(p) => Some(password::hash(p.to_string()).await?),
        None => None,
    };

    let now = now_ms();
    let mut tx = db.pool().begin().await?;
    let existing = sqlx::query("SELECT id FROM users WHERE email = $1")
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await?;
    let user_id = match existing {
        Some(row) => {
            let id: String = row.try_get("id")?;
            if let Some(hash) = &password_hash {
                sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                    .bind(hash)
                    .bind(now)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            }
            id
        }
        None => {
            let id = new_id("usr");
            sqlx::query(
                "INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(&id)
            .bind(&email)
            .bind(password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    let updated = sqlx::query("UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3")
        .bind(role.code())
        .bind(&workspace.id)
        .bind(&user_id)
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&workspace.id)
            .bind(&user_id)
            .bind(role.code())
            .bind(now)
            .execute(&mut *tx)
            .await?;
    }
    activity::record(
        &mut *tx,
        Entry {
            workspace_id: Some(&workspace.id),
            actor,
            action: "member.added",
            target: Some(&user_id),
            detail: Some(serde_json::json!({ "email": email, "role": role.code() })),
        },
        &RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(user_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM "), "ada@example.com");
        assert!(validate_email("ada@example.com").is_ok());
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a da@example.com"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("correct horse battery").is_ok());
    }
}
