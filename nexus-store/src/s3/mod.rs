//! Any S3 endpoint through aws-sdk-s3 (work in progress).
