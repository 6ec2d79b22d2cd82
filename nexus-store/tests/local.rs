//! The embedded store (`nexus_store::local::LocalStore`) driven by the real aws-sdk-s3 client
//! through s3s, in process. Each test has its own directory and bucket.

#[path = "local/support.rs"]
mod support;

#[path = "local/buckets.rs"]
mod buckets;
#[path = "local/objects.rs"]
mod objects;
