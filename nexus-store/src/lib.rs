//! Nexus object stores.
//!
//! Every store implements [`s3s::S3`], so the worker's front end talks to all of them through one
//! interface with S3's own semantics:
//! - [`local::LocalStore`]: the embedded local-directory store, the default when no backend is
//!   configured (a single `nexus-proxy` is then a complete S3 server);
//! - [`s3::S3Backend`]: any S3 endpoint through `aws-sdk-s3`.

pub mod checksum;
pub mod conditions;
pub mod local;
pub mod s3;
