//! Integration tests of the Nexus worker over real sockets with real clients.
//!
//! Every test starts a worker in process (`nexus_proxy::app::start`, loopback ports, a temp data
//! directory) or the built `nexus-proxy` binary, puts a real store behind it (the embedded
//! store, s3s-fs served over HTTP in process, or moto_server as a child process) and talks to it
//! with aws-sdk-s3 (plain HTTP and TLS) or with hand-built, hand-signed requests.
//!
//! Areas that depend on the store run once per store: `embedded` and `s3s_fs` tests in each
//! area module, and one `moto::all_areas` test that runs every area against one moto server.

mod support;

mod addressing;
mod admin;
mod auth;
mod binary;
mod buckets;
mod control;
mod faults;
mod listing;
mod mesh;
mod moto;
mod multipart;
mod objects;
mod payloads;
mod pipeline;
mod reads;
mod replays;
mod sources;
mod tagging;
