//! Per-workspace flow configuration, stored as JSON; defaults until a workspace edits it.

use super::{DocumentRole, Flow, FlowConfig, NEVER_ACCEPTED};
use crate::{
    error::AppError,
    store::{cache::Cached, now_ms, Db},
};
use sqlx::Row;

/// The workspace's configuration of `flow` (the defaults when never edited).
pub async fn load(db: &Db, workspace_id: &str, flow: Flow) -> Result<FlowConfig, AppError> {
    // Read on every create and upload; kept until `flow_configs` changes.
    db.cached(Cached::FlowConfig, &format!("{workspace_id}/{}", flow.code()), || async {
        let row = sqlx::query("SELECT config FROM flow_configs WHERE workspace_id = $1 AND flow = $2")
            .bind(workspace_id)
            .bind(flow.code())
            .fetch_optional(db.pool())
            .await?;
        match row {
            Some(row) => {
                let text: String = row.try_get("config")?;
                serde_json::from_str(&text).map_err(|e| AppError::internal("stored flow configuration", e))
            }
            None => Ok(FlowConfig::default_for(flow)),
        }
    })
    .await
}

/// The rules every stored configuration follows, whoever saves it: type codes are
/// `[a-z0-9_]`, never a type USPS refuses, at least one photo ID type, accepted proof of
/// address types when one is required, and a selfie threshold in `[0, 1]`.
pub fn check(config: &FlowConfig) -> Result<(), AppError> {
    for (field, types) in [("photo_id_types", &config.photo_id_types), ("proof_of_address_types", &config.proof_of_address_types)] {
        for t in types {
            if !(2..=50).contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
                return Err(AppError::invalid(field, "Document type codes are lower-case letters, digits and _.".to_string()));
            }
            if NEVER_ACCEPTED.contains(&t.as_str()) {
                return Err(AppError::invalid(field, format!("{t} is never accepted for PS Form 1583.")));
            }
        }
    }
    for r in &config.country_restrictions {
        let t = &r.document_type;
        if !(2..=50).contains(&t.len()) || !t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(AppError::invalid("country_restrictions", "Document type codes are lower-case letters, digits and _.".to_string()));
        }
        if r.allowed_countries.is_empty() || r.allowed_countries.iter().any(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase())) {
            return Err(AppError::invalid("country_restrictions", format!("{t}: allowed countries are ISO 3166-1 alpha-2 codes (e.g. US), at least one.")));
        }
    }
    if let Some(unknown) = config.disabled_rules.iter().find(|r| !crate::verifications::page::RULES.contains(&r.as_str())) {
        return Err(AppError::invalid("disabled_rules", format!("{unknown} is not a rule.")));
    }
    if config.photo_id_types.is_empty() {
        return Err(AppError::invalid("photo_id_types", "At least one photo ID type is required."));
    }
    if config.required_roles.contains(&DocumentRole::ProofOfAddress) && config.proof_of_address_types.is_empty() {
        return Err(AppError::invalid("proof_of_address_types", "A required proof of address needs at least one accepted type."));
    }
    if !(0.0..=1.0).contains(&config.selfie_threshold) {
        return Err(AppError::invalid("selfie_threshold", "The selfie threshold must be a number between 0 and 1."));
    }
    Ok(())
}

/// Replaces the workspace's configuration of `config.flow`, once it passes [`check`].
pub async fn save(db: &Db, workspace_id: &str, config: &FlowConfig, actor: &crate::access::Actor) -> Result<(), AppError> {
    check(config)?;
    let text = serde_json::to_string(config).map_err(|e| AppError::internal("flow configuration", e))?;
    let mut tx = db.begin_write().await?;
    let updated = sqlx::query("UPDATE flow_configs SET config = $1, updated_at = $2 WHERE workspace_id = $3 AND flow = $4")
        .bind(&text)
        .bind(now_ms())
        .bind(workspace_id)
        .bind(config.flow.code())
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        sqlx::query("INSERT INTO flow_configs (workspace_id, flow, config, updated_at) VALUES ($1, $2, $3, $4)")
            .bind(workspace_id)
            .bind(config.flow.code())
            .bind(&text)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
    }
    crate::activity::record(
        &mut *tx,
        crate::activity::Entry { workspace_id: Some(workspace_id), actor, action: "settings.flow_updated", target: Some(config.flow.code()), detail: None },
        &crate::activity::RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The workspace's blacklisted addresses, one per entry, as entered.
pub async fn blacklist(db: &Db, workspace_id: &str) -> Result<Vec<String>, AppError> {
    Ok(sqlx::query_scalar("SELECT address FROM address_blacklist WHERE workspace_id = $1 ORDER BY address").bind(workspace_id).fetch_all(db.pool()).await?)
}

/// Replaces the blacklist with `addresses` (blank lines dropped, duplicates merged).
pub async fn save_blacklist(db: &Db, workspace_id: &str, addresses: &[String], actor: &crate::access::Actor) -> Result<(), AppError> {
    let mut unique: Vec<String> = addresses.iter().map(|a| a.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|a| !a.is_empty()).collect();
    unique.sort();
    unique.dedup();
    if unique.len() > 5000 || unique.iter().any(|a| a.len() > 300) {
        return Err(AppError::invalid("addresses", "The blacklist takes at most 5000 addresses of at most 300 characters."));
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM address_blacklist WHERE workspace_id = $1").bind(workspace_id).execute(&mut *tx).await?;
    for address in &unique {
        sqlx::query("INSERT INTO address_blacklist (workspace_id, address, created_at) VALUES ($1, $2, $3)")
            .bind(workspace_id)
            .bind(address)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
    }
    crate::activity::record(
        &mut *tx,
        crate::activity::Entry {
            workspace_id: Some(workspace_id),
            actor,
            action: "settings.blacklist_updated",
            target: None,
            detail: Some(serde_json::json!({ "count": unique.len() })),
        },
        &crate::activity::RequestOrigin::default(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_caller_gets_the_same_rules() {
        let valid = FlowConfig::default_for(Flow::Usps1583);
        assert!(check(&valid).is_ok());
        type Spoil = fn(&mut FlowConfig);
        let refused: [(&str, Spoil); 8] = [
            ("country_restrictions", |c| c.country_restrictions[0].allowed_countries = vec!["usa".into()]),
            ("country_restrictions", |c| c.country_restrictions[0].allowed_countries.clear()),
            ("disabled_rules", |c| c.disabled_rules = vec!["no_such_rule".into()]),
            ("photo_id_types", |c| c.photo_id_types = vec!["Passport!".into()]),
            ("photo_id_types", |c| c.photo_id_types = vec!["social_security_card".into()]),
            ("photo_id_types", |c| c.photo_id_types.clear()),
            ("proof_of_address_types", |c| c.proof_of_address_types.clear()),
            ("selfie_threshold", |c| c.selfie_threshold = f64::NAN),
        ];
        for (field, spoil) in refused {
            let mut config = valid.clone();
            spoil(&mut config);
            match check(&config) {
                Err(AppError::Validation(errors)) => assert!(errors.contains_key(field), "{field}: {errors:?}"),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
