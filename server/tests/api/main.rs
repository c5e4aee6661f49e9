//! Integration tests: each test starts `attest` on port 0 with a fresh database, once on
//! SQLite and once on the PostgreSQL server named by `ATTEST_TEST_POSTGRES_URL`.

mod helpers;
mod support;

mod api;
mod api_documents;
mod api_protocol;
mod api_verifications;
mod backup;
mod capture;
mod cli;
mod cmra_address;
mod compliance;
mod dashboard;
mod dashboard_records;
mod dashboard_settings;
mod first_minutes;
mod health;
mod jobs;
mod metrics;
mod operations;
mod pipeline;
mod retake;
mod retention;
mod review;
mod s3;
mod scale;
mod security;
mod security_http;
mod security_mfa;
mod security_sign_in;
mod security_tenants;
mod stuck;
mod webhooks;
