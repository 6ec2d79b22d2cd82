//! Bucket operations: CreateBucket, HeadBucket, ListBuckets, DeleteBucket, GetBucketLocation.
//!
//! Every input is destructured without `..`, so a field s3s adds fails the build here instead
//! of being dropped silently.

use aws_sdk_s3::Client;
use s3s::dto::{
    CreateBucketInput, CreateBucketOutput, DeleteBucketInput, DeleteBucketOutput,
    GetBucketLocationInput, GetBucketLocationOutput, HeadBucketInput, HeadBucketOutput,
    ListBucketsInput, ListBucketsOutput,
};
use s3s::{S3Request, S3Response, S3Result};
use s3s_aws::conv::try_into_aws as aws;

use super::forward::respond;

pub(crate) async fn create_bucket(
    c: &Client,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let CreateBucketInput {
        acl,
        bucket,
        create_bucket_configuration,
        grant_full_control,
        grant_read,
        grant_read_acp,
        grant_write,
        grant_write_acp,
        object_lock_enabled_for_bucket,
        object_ownership,
    } = req.input;
    let result = c
        .create_bucket()
        .set_acl(aws(acl)?)
        .bucket(bucket)
        .set_create_bucket_configuration(aws(create_bucket_configuration)?)
        .set_grant_full_control(aws(grant_full_control)?)
        .set_grant_read(aws(grant_read)?)
        .set_grant_read_acp(aws(grant_read_acp)?)
        .set_grant_write(aws(grant_write)?)
        .set_grant_write_acp(aws(grant_write_acp)?)
        .set_object_lock_enabled_for_bucket(aws(object_lock_enabled_for_bucket)?)
        .set_object_ownership(aws(object_ownership)?)
        .send()
        .await;
    respond("CreateBucket", result)
}

pub(crate) async fn head_bucket(
    c: &Client,
    req: S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    let HeadBucketInput {
        bucket,
        expected_bucket_owner,
    } = req.input;
    let result = c
        .head_bucket()
        .bucket(bucket)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .send()
        .await;
    respond("HeadBucket", result)
}

pub(crate) async fn list_buckets(
    c: &Client,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let ListBucketsInput {
        bucket_region,
        continuation_token,
        max_buckets,
        prefix,
    } = req.input;
    let result = c
        .list_buckets()
        .set_bucket_region(aws(bucket_region)?)
        .set_continuation_token(aws(continuation_token)?)
        .set_max_buckets(aws(max_buckets)?)
        .set_prefix(aws(prefix)?)
        .send()
        .await;
    respond("ListBuckets", result)
}

pub(crate) async fn delete_bucket(
    c: &Client,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    let DeleteBucketInput {
        bucket,
        expected_bucket_owner,
    } = req.input;
    let result = c
        .delete_bucket()
        .bucket(bucket)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .send()
        .await;
    respond("DeleteBucket", result)
}

pub(crate) async fn get_bucket_location(
    c: &Client,
    req: S3Request<GetBucketLocationInput>,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    let GetBucketLocationInput {
        bucket,
        expected_bucket_owner,
    } = req.input;
    let result = c
        .get_bucket_location()
        .bucket(bucket)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .send()
        .await;
    respond("GetBucketLocation", result)
}
