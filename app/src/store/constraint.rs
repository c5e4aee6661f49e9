//! Constraint violations, named in one place. A person can run into a few uniqueness
//! rules (a taken slug, e-mail or role name); each is recognised here, on both engines,
//! and answered 4xx. Any other violation that reaches `AppError::from` is a 409 rather
//! than a 500: the request conflicted with stored data, nothing broke.

/// The uniqueness rules with a meaning for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    WorkspaceSlug,
    UserEmail,
    RoleName,
    /// The primary key of a row (a random id met twice, a replayed insert).
    PrimaryKey,
    Other,
}

/// PostgreSQL constraint name, SQLite's "table.column[, table.column]" text, and the rule.
const KNOWN: [(&str, &str, Unique); 3] = [
    ("workspaces_slug_key", "workspaces.slug", Unique::WorkspaceSlug),
    ("users_email_key", "users.email", Unique::UserEmail),
    ("custom_roles_workspace_id_name_key", "custom_roles.workspace_id, custom_roles.name", Unique::RoleName),
];

/// Which uniqueness rule `err` broke, if it is a unique violation.
pub fn unique_violation(err: &sqlx::Error) -> Option<Unique> {
    let sqlx::Error::Database(db) = err else { return None };
    if !db.is_unique_violation() {
        return None;
    }
    // PostgreSQL names the constraint; SQLite says "UNIQUE constraint failed: t.c, t.c".
    let named = db.constraint().and_then(|name| KNOWN.iter().find(|(pg, _, _)| *pg == name));
    let columns = db.message().rsplit_once("constraint failed: ").map(|(_, cols)| cols.trim());
    let listed = columns.and_then(|cols| KNOWN.iter().find(|(_, sqlite, _)| *sqlite == cols));
    Some(match named.or(listed) {
        Some((_, _, rule)) => *rule,
        None if db.constraint().is_some_and(|name| name.ends_with("_pkey")) || columns.is_some_and(|c| c.ends_with(".id")) => Unique::PrimaryKey,
        None => Unique::Other,
    })
}

/// Whether a database error is a unique-constraint violation.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    unique_violation(err).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;

    /// Each known rule is recognised from a real violation, on SQLite here and on
    /// PostgreSQL in the API suite (a taken slug, a taken role name).
    #[tokio::test]
    async fn sqlite_violations_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display())).await.unwrap();
        db.migrate().await.unwrap();
        let insert = |id: &str, slug: &str| {
            sqlx::query("INSERT INTO workspaces (id, slug, name, created_at) VALUES ($1, $2, 'n', 0)").bind(id.to_string()).bind(slug.to_string())
        };
        insert("ws_1", "acme").execute(db.pool()).await.unwrap();
        let err = insert("ws_2", "acme").execute(db.pool()).await.unwrap_err();
        assert_eq!(unique_violation(&err), Some(Unique::WorkspaceSlug));
        let err = insert("ws_1", "other").execute(db.pool()).await.unwrap_err();
        assert_eq!(unique_violation(&err), Some(Unique::PrimaryKey));
        assert!(matches!(crate::error::AppError::from(err), crate::error::AppError::Conflict(_)));
    }
}
