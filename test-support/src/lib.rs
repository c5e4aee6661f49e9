#![forbid(unsafe_code)]
//! Test-only helpers shared by the workspace's test suites (a dev-dependency, never in
//! a shipped binary).
//!
//! [`needs`]: the one place that decides whether a test whose dependency (a PostgreSQL
//! server, the extraction models, a command-line tool) is missing is skipped or fails.

pub mod needs;
