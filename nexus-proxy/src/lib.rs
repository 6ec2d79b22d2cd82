//! The Nexus worker: an S3-compatible interception proxy for the tiered storage of event-streaming
//! systems (Kafka with tiered storage, Pulsar offload, Pravega long-term storage, Redpanda).
//!
//! # Architecture
//! A request flows through named steps (see `docs/request-lifecycle.md`):
//! [`serve`] accepts (TCP_NODELAY, optional TLS) → [`edge`] assigns the request id, counts and
//! contains panics → s3s verifies SigV4 and parses the operation ([`access`], [`host`]) →
//! [`frontend`] classifies the key with the bucket's grammar → the [`store`] (embedded directory
//! or an S3 endpoint) answers. [`admin`] serves `/metrics`, `/healthz` and `/readyz` on a
//! separate port. [`app`] wires it all from a validated [`config::Config`].
//!
//! # Security
//! Every client request must be signed with the configured credentials (anonymous requests are
//! refused). The admin port carries no data and should stay on a private interface.

pub mod access;
pub mod admin;
pub mod app;
pub mod body;
pub mod config;
pub mod control;
pub mod edge;
pub mod frontend;
pub mod host;
pub mod mesh;
pub mod metrics;
pub mod named_stores;
pub mod pipeline;
pub mod request;
pub mod serve;
pub mod state;
pub mod store;
pub mod streamlet;
pub mod tls;
