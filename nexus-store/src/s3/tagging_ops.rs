//! Object tags: GetObjectTagging, PutObjectTagging, DeleteObjectTagging.

use aws_sdk_s3::Client;
use s3s::dto::{
    DeleteObjectTaggingInput, DeleteObjectTaggingOutput, GetObjectTaggingInput,
    GetObjectTaggingOutput, PutObjectTaggingInput, PutObjectTaggingOutput,
};
use s3s::{S3Request, S3Response, S3Result};
use s3s_aws::conv::try_into_aws as aws;

use super::forward::respond;

pub(crate) async fn get_object_tagging(
    c: &Client,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let GetObjectTaggingInput {
        bucket,
        expected_bucket_owner,
        key,
        request_payer,
        version_id,
    } = req.input;
    let result = c
        .get_object_tagging()
        .bucket(bucket)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .key(key)
        .set_request_payer(aws(request_payer)?)
        .set_version_id(aws(version_id)?)
        .send()
        .await;
    respond("GetObjectTagging", result)
}

/// The tag set is re-serialized by the SDK, so the client's `Content-MD5` (a digest of the
/// client's XML, not of ours) is not forwarded; the SDK adds the checksum S3 requires over the
/// body it sends, in the algorithm the client named (CRC32 otherwise).
pub(crate) async fn put_object_tagging(
    c: &Client,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let PutObjectTaggingInput {
        bucket,
        checksum_algorithm,
        content_md5: _,
        expected_bucket_owner,
        key,
        request_payer,
        tagging,
        version_id,
    } = req.input;
    let result = c
        .put_object_tagging()
        .bucket(bucket)
        .set_checksum_algorithm(aws(checksum_algorithm)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .key(key)
        .set_request_payer(aws(request_payer)?)
        .tagging(aws(tagging)?)
        .set_version_id(aws(version_id)?)
        .send()
        .await;
    respond("PutObjectTagging", result)
}

pub(crate) async fn delete_object_tagging(
    c: &Client,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let DeleteObjectTaggingInput {
        bucket,
        expected_bucket_owner,
        key,
        version_id,
    } = req.input;
    let result = c
        .delete_object_tagging()
        .bucket(bucket)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .key(key)
        .set_version_id(aws(version_id)?)
        .send()
        .await;
    respond("DeleteObjectTagging", result)
}
