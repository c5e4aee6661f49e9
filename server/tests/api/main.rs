//! Integration tests: each test starts `attest` on port 0 with a fresh database, once on
//! SQLite and once on the PostgreSQL server named by `ATTEST_TEST_POSTGRES_URL`.

mod helpers;

mod api;
mod api_documents;
mod api_verifications;
mod cli;
mod backup;
mod metrics;
mod dashboard;
mod dashboard_settings;
mod security;
mod security_mfa;
mod security_sign_in;
mod security_http;
mod first_minutes;
mod security_tenants;
mod webhooks;
mod pipeline;
mod review;
mod health;
