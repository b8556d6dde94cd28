//! session-gateway: run many Session messenger accounts as infrastructure.
//!
//! Layers (see `../shared/design.md` §3), each depending only on those listed after it:
//!
//! * [`actors`]: actix actors: Supervisor, Identity per account, Conversation per peer, PathPool.
//! * [`api`]: actix-web REST under `/v1`, auth, OpenAPI, events long-poll, health, metrics.
//! * [`chat`]: the chat domain both the API and the actors call (queue, react, unsend, read,
//!   requests, apply an incoming message).
//! * [`webhooks`]: the outbox delivery workers (Standard Webhooks signatures, retries).
//! * [`leases`]: which accounts this replica runs (account leases, heartbeats, rebalancing).
//! * [`events`]: the typed event bodies (one per event type) and their OpenAPI schemas.
//! * [`store`]: sqlx repositories (SQLite by default, or PostgreSQL), secrets sealed at rest.
//! * [`devnet`]: a local Session network (seed, service nodes, file server) built from `protocol`.
//! * [`network`]: the onion network client (pool, paths, swarms, clock, storage operations).
//! * [`telemetry`] and [`metrics`]: logs, OpenTelemetry traces, Prometheus metrics.
//! * [`memory`]: the process's allocator and its pages.
//! * [`protocol`]: pure wire formats and cryptography. No I/O, no async, no clock reads.
//!
//! Which module may import which is written down as data, and enforced, in `tests/layering.rs`.

pub mod actors;
pub mod api;
pub mod app;
pub mod chat;
pub mod cli;
pub mod clock;
pub mod config;
pub mod devnet;
pub mod events;
pub mod identities;
pub mod ids;
pub mod leases;
pub mod memory;
pub mod metrics;
pub mod network;
pub mod protocol;
pub mod store;
pub mod telemetry;
pub mod webhooks;
