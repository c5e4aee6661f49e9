//! The one way dynamic SQL is built here: a statement grown from optional filters.
//!
//! Each clause numbers its own values `?1`, `?2`, …; they are renumbered to the
//! statement's `$n` as the clause is added, so both engines take the result. sqlx's
//! `QueryBuilder` is not used because under the `Any` driver it writes `?`
//! placeholders, which PostgreSQL refuses.

use sqlx::{any::AnyArguments, query::Query, Any};

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
}

impl From<String> for Bind {
    fn from(value: String) -> Self {
        Bind::Text(value)
    }
}

impl From<&str> for Bind {
    fn from(value: &str) -> Self {
        Bind::Text(value.to_string())
    }
}

impl From<&String> for Bind {
    fn from(value: &String) -> Self {
        Bind::Text(value.clone())
    }
}

impl From<i64> for Bind {
    fn from(value: i64) -> Self {
        Bind::Int(value)
    }
}

/// `SELECT … WHERE <base>` followed by `AND` clauses and a tail (`ORDER BY`, `LIMIT`).
#[derive(Debug, Clone)]
pub struct Filtered {
    sql: String,
    binds: Vec<Bind>,
}

impl Filtered {
    /// `base` ends in a `WHERE` condition whose values are `?1`, `?2`, … of `values`.
    pub fn new<B: Into<Bind>>(base: &str, values: impl IntoIterator<Item = B>) -> Self {
        let mut this = Filtered { sql: String::new(), binds: Vec::new() };
        this.push(base, values);
        this
    }

    /// Adds `AND (<clause>)`.
    pub fn and<B: Into<Bind>>(&mut self, clause: &str, values: impl IntoIterator<Item = B>) -> &mut Self {
        self.sql.push_str(" AND (");
        self.push(clause, values);
        self.sql.push(')');
        self
    }

    /// Adds `AND <column> IN (…)`; an empty list matches nothing.
    pub fn and_in(&mut self, column: &str, values: &[String]) -> &mut Self {
        if values.is_empty() {
            return self.and("1 = 0", Vec::<Bind>::new());
        }
        let list: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
        self.and(&format!("{column} IN ({})", list.join(", ")), values)
    }

    /// Appends SQL without values (`ORDER BY …`, `LIMIT …`).
    pub fn tail(&mut self, sql: &str) -> &mut Self {
        self.sql.push(' ');
        self.sql.push_str(sql);
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The statement with its values bound, ready to fetch.
    pub fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        let mut query = sqlx::query(&self.sql);
        for bind in &self.binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.as_str()),
                Bind::Int(n) => query.bind(*n),
            };
        }
        query
    }

    fn push<B: Into<Bind>>(&mut self, clause: &str, values: impl IntoIterator<Item = B>) {
        let values: Vec<Bind> = values.into_iter().map(Into::into).collect();
        let base = self.binds.len();
        let mut clause = clause.to_string();
        // Highest first, so `?1` does not rewrite the start of `?10`.
        for i in (1..=values.len()).rev() {
            clause = clause.replace(&format!("?{i}"), &format!("${}", base + i));
        }
        self.sql.push_str(&clause);
        self.binds.extend(values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_are_renumbered_in_order() {
        let mut select = Filtered::new("SELECT id FROM t WHERE a = ?1", ["x"]);
        select.and("b = ?1 OR c = ?2", ["y", "z"]).and_in("id", &["1".into(), "2".into()]).and("n >= ?1", [5i64]).tail("ORDER BY id DESC LIMIT 3");
        assert_eq!(select.sql(), "SELECT id FROM t WHERE a = $1 AND (b = $2 OR c = $3) AND (id IN ($4, $5)) AND (n >= $6) ORDER BY id DESC LIMIT 3");
        assert_eq!(select.binds.len(), 6);
        assert_eq!(select.binds[5], Bind::Int(5));
    }

    #[test]
    fn ten_or_more_values_keep_their_numbers() {
        let values: Vec<String> = (0..11).map(|i| i.to_string()).collect();
        let mut select = Filtered::new("SELECT 1 WHERE x = ?1", ["a"]);
        select.and_in("id", &values);
        assert!(select.sql().ends_with("$10, $11, $12))"), "{}", select.sql());
    }

    #[test]
    fn an_empty_list_matches_nothing() {
        let mut select = Filtered::new("SELECT 1 WHERE x = ?1", ["a"]);
        select.and_in("id", &[]);
        assert_eq!(select.sql(), "SELECT 1 WHERE x = $1 AND (1 = 0)");
    }
}
