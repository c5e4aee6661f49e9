//! Review-queue search (SPEC §7: name, e-mail, reference, id) as index range scans.
//!
//! Each write of an applicant stores folded keys beside it (`search_name` "first last",
//! `search_name_rev` "last first", `search_email`), indexed per workspace. A query
//! matches a verification whose id or reference (in any case) is the query, or one of whose keys
//! starts with the folded query — so "hopper", "grace h", "Grâce Hopper" and
//! "grace9001@exa" all find Grace Hopper without reading other rows. The candidates
//! come from the indexes first ([`Search::candidates`]); the queue query then narrows
//! them by its other filters and pages them.

use super::Applicant;

/// The stored search keys of one applicant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    pub name: String,
    pub name_rev: String,
    pub email: Option<String>,
}

/// Folds an applicant to its search keys.
pub fn keys(applicant: &Applicant) -> Keys {
    let (first, last) = (fold(&applicant.first_name), fold(&applicant.last_name));
    Keys { name: format!("{first} {last}"), name_rev: format!("{last} {first}"), email: applicant.email.as_deref().map(|e| e.trim().to_lowercase()) }
}

/// Lower-case tokens without diacritics or punctuation, joined by one space.
fn fold(text: &str) -> String {
    attest_extract::normalize::name_tokens(text).join(" ").to_lowercase()
}

/// A parsed search: the query lower-cased, and folded like a name.
#[derive(Debug, Clone)]
pub struct Search {
    lower: String,
    name: String,
}

/// What the indexes found for a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidates {
    /// Every matching verification id (at most [`DENSE`]).
    Ids(Vec<String>),
    /// More than [`DENSE`] match (a common first name): cheaper to walk the queue
    /// newest-first and test each row than to sort every match.
    Many,
}

/// Beyond this many matches a search is "dense" (see [`Candidates::Many`]).
pub const DENSE: usize = 1000;

impl Search {
    /// `None` when the query is blank.
    pub fn parse(query: &str) -> Option<Search> {
        let raw = query.trim();
        (!raw.is_empty()).then(|| Search { lower: raw.to_lowercase(), name: fold(raw) })
    }

    /// The prefix ranges searched: `(column, start, end)`. Byte order on both engines
    /// puts every string starting with `start` in `[start, start + U+10FFFF)`.
    fn ranges(&self) -> Vec<(&'static str, String, String)> {
        let range = |column, start: &str| (column, start.to_string(), format!("{start}\u{10FFFF}"));
        let mut ranges = vec![range("search_email", &self.lower)];
        if !self.name.is_empty() {
            ranges.push(range("search_name", &self.name));
            ranges.push(range("search_name_rev", &self.name));
        }
        ranges
    }

    /// Looks the query up in each index on its own: one statement of single-index arms
    /// (each capped), so the plan does not depend on table statistics.
    pub async fn candidates(&self, db: &crate::store::Db, workspace_id: &str) -> Result<Candidates, sqlx::Error> {
        let mut arms = vec![
            "SELECT id FROM verifications WHERE workspace_id = $1 AND id = $2".to_string(),
            "SELECT id FROM verifications WHERE workspace_id = $1 AND lower(reference) = $2".to_string(),
        ];
        let ranges = self.ranges();
        for (i, (column, _, _)) in ranges.iter().enumerate() {
            let (lo, hi) = (3 + 2 * i, 4 + 2 * i);
            arms.push(format!(
                "SELECT id FROM (SELECT id FROM verifications WHERE workspace_id = $1 AND {column} >= ${lo} AND {column} < ${hi} LIMIT {limit}) AS {column}",
                limit = DENSE + 1
            ));
        }
        let sql = format!("{} LIMIT {}", arms.join(" UNION "), DENSE + 1);
        let mut query = sqlx::query_scalar::<_, String>(&sql).bind(workspace_id).bind(&self.lower);
        for (_, lo, hi) in &ranges {
            query = query.bind(lo).bind(hi);
        }
        let ids = query.fetch_all(db.pool()).await?;
        Ok(if ids.len() > DENSE { Candidates::Many } else { Candidates::Ids(ids) })
    }

    /// The same match as a row test (`?n` placeholders from 1) for a dense search.
    /// The keys are wrapped (`col || ''`) so neither engine walks their indexes: the
    /// queue's own order is the better plan when matches are everywhere.
    pub fn row_test(&self) -> (String, Vec<String>) {
        let mut clauses = vec!["id = ?1".to_string(), "lower(reference) = ?1".to_string()];
        let mut values = vec![self.lower.clone()];
        for (column, lo, hi) in self.ranges() {
            values.push(lo);
            values.push(hi);
            let (lo, hi) = (values.len() - 1, values.len());
            clauses.push(format!("(({column} || '') >= ?{lo} AND ({column} || '') < ?{hi})"));
        }
        (format!("({})", clauses.join(" OR ")), values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applicant(first: &str, last: &str, email: Option<&str>) -> Applicant {
        serde_json::from_value(serde_json::json!({
            "first_name": first, "last_name": last, "date_of_birth": "1990-01-01", "email": email,
            "address": { "line1": "1 Main St", "city": "Springfield", "state": "IL", "postal_code": "62701", "country": "US" },
        }))
        .unwrap()
    }

    #[test]
    fn keys_fold_case_diacritics_and_punctuation() {
        let keys = keys(&applicant("Zoë", "O'Brien-Smith", Some(" Zoe@Example.COM ")));
        assert_eq!(keys.name, "zoe obrien smith");
        assert_eq!(keys.name_rev, "obrien smith zoe");
        assert_eq!(keys.email.as_deref(), Some("zoe@example.com"));
    }

    #[test]
    fn a_query_is_a_prefix_range_on_each_key() {
        let search = Search::parse("  Grâce H ").unwrap();
        let ranges = search.ranges();
        assert_eq!(ranges[0], ("search_email", "grâce h".to_string(), "grâce h\u{10FFFF}".to_string()));
        assert_eq!(ranges[1], ("search_name", "grace h".to_string(), "grace h\u{10FFFF}".to_string()));
        assert_eq!(ranges[2].0, "search_name_rev");
        let (sql, values) = search.row_test();
        assert!(sql.contains("((search_name || '') >= ?4 AND (search_name || '') < ?5)"), "{sql}");
        assert!(sql.contains("lower(reference) = ?1"), "{sql}");
        assert_eq!(values[0], "grâce h");
        assert!(Search::parse("   ").is_none());
        assert_eq!(Search::parse("@@").unwrap().ranges().len(), 1, "nothing to match names with");
    }
}
