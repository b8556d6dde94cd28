//! session-gateway: run many Session messenger accounts as infrastructure.
//!
//! Layers (see `../shared/design.md` §3), each depending only on those listed after it:
//!
//! * [`api`]: actix-web REST under `/v1`, auth, OpenAPI, events long-poll, health, metrics.
//! * [`webhooks`]: the outbox delivery workers (Standard Webhooks signatures, retries).
//! * [`leases`]: which accounts this replica runs (account leases, heartbeats, rebalancing).
//! * [`store`]: sqlx repositories (SQLite by default, or PostgreSQL), secrets sealed at rest.
//! * [`devnet`]: a local Session network (seed, service nodes, file server) built from `protocol`.
//! * [`protocol`]: pure wire formats and cryptography. No I/O, no async, no clock reads.

pub mod api;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod devnet;
pub mod identities;
pub mod ids;
pub mod leases;
pub mod metrics;
pub mod protocol;
pub mod store;
pub mod webhooks;
