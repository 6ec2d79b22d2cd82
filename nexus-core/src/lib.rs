//! The shared Nexus model, used by the worker and the CLI. No IO.
//!
//! - [`keys`]: the key grammars of the tiering systems (Kafka/Aiven, Pulsar, Pravega, Redpanda,
//!   generic): object key → system, kind, stream, partition, sequence.

pub mod keys;
