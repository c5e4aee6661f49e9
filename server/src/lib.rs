#![forbid(unsafe_code)]
//! The `attest` server: configuration, start-up, the REST API, middleware and the
//! operator CLI. Pages, server functions and services live in the `app` crate.

pub mod api;
pub mod capture;
pub mod cli;
pub mod compliance_files;
pub mod config;
pub mod document_files;
pub mod metrics;
pub mod middleware;
pub mod startup;
pub mod telemetry;
pub mod worker;
