//! rosgate's composition root: configuration, the REST API with its
//! generated OpenAPI document, demo data, and the wiring of domain services
//! to storage adapters.
//!
//! Architecture invariant: handlers here are thin adapters. They parse
//! input, pass through the enforcement gate ([`api::gate`]), call a domain
//! service and shape the reply. They never name `sea_orm`.

// `ApiError` carries a whole problem document so poem-openapi can describe
// it; it is built once per failed request, so its size costs nothing.
#![allow(clippy::result_large_err)]

pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod demo;
pub mod enforce;
pub mod http;
pub mod jobs;
pub mod mcp;
pub mod resolver;
pub mod rest;
pub mod server;
pub mod state;
pub mod web;
pub mod wiring;

pub use config::Config;
pub use state::AppState;
