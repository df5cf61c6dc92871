//! rosgate's composition root: wiring and adapters, nothing else.
//!
//! - [`wiring`] builds the [`AppState`] (services and ports, [`state`])
//!   from the [`config`]; [`main`](../rosgate/index.html) and [`cli`] run it;
//! - [`enforce`]: the one admission path every entry point goes through
//!   (authentication, budgets, the gate, the request's trail, tool calls,
//!   stable codes);
//! - [`rest`] (the REST API and its OpenAPI document), [`mcp`] (the MCP
//!   endpoint) and [`web`] (browser login, well-known metadata): the entry
//!   points, thin adapters over domain services;
//! - [`http`]: plumbing below every route (problem documents, request ids,
//!   the request log, the body limit); [`jobs`]: background loops;
//! - [`demo`], [`resolver`], [`checkpoint`], [`server`]: demo data, the DNS
//!   adapter, the audit keys and checkpoint file, the listener.
//!
//! Architecture invariant: handlers here are thin adapters. They parse
//! input, pass the gate ([`enforce::gate`]), call a domain service and
//! shape the reply. They never name `sea_orm`.

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
