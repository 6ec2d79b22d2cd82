//! nexus-bench: an in-memory S3 backend, an aws-sdk-s3 load client and the orchestrator that
//! measures Nexus against the backend directly, in the same run. A command, not a test.

pub mod backend;
pub mod check;
pub mod chunked;
pub mod client;
pub mod complete;
pub mod compression;
pub mod contention;
pub mod control;
pub mod load;
pub mod machine;
pub mod matrix;
pub mod mesh;
pub mod ops;
pub mod pattern;
pub mod procs;
pub mod procstat;
pub mod range;
pub mod redis_server;
pub mod report;
pub mod stats;
pub mod streamlets;
pub mod units;
pub mod xml;
