//! The shared Nexus model, used by the worker and the CLI. No IO, except in [`meta`].
//!
//! - [`deploy`]: checking a streamlet module against its descriptor, and storing both.
//! - [`format`]: `NXF1`, the framed and indexed stored format of transformed objects.
//! - [`keys`]: the key grammars of the tiering systems (Kafka/Aiven, Pulsar, Pravega, Redpanda,
//!   generic): object key → system, kind, stream, partition, sequence.
//! - [`resource`]: the resource model (policies, stores, streamlets, swarmlets), its two-tier
//!   validation and the compiled policy set workers resolve objects with.
//! - [`meta`]: the metadata store (Redis or embedded) behind one interface, its change feed
//!   and the snapshot cache workers serve from. The one module here that does IO.

pub mod cluster;
pub mod deploy;
pub mod format;
pub mod keys;
pub mod meta;
pub mod resource;
