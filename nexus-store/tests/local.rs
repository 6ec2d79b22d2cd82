//! The embedded store (`nexus_store::local::LocalStore`) driven by the real aws-sdk-s3 client
//! through s3s, in process. Each test has its own directory and bucket.

#[path = "local/support.rs"]
mod support;

#[path = "local/buckets.rs"]
mod buckets;
#[path = "local/conditional.rs"]
mod conditional;
#[path = "local/copy.rs"]
mod copy;
#[path = "local/durability.rs"]
mod durability;
#[path = "local/integrity.rs"]
mod integrity;
#[path = "local/list.rs"]
mod list;
#[path = "local/multipart.rs"]
mod multipart;
#[path = "local/objects.rs"]
mod objects;
#[path = "local/tagging.rs"]
mod tagging;
#[path = "local/uploads.rs"]
mod uploads;
