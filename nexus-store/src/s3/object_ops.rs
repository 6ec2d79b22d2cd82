//! Object reads and deletes: GetObject, HeadObject, DeleteObject, DeleteObjects.
//!
//! GetObject streams the backend's body straight to the client. When the client asks for
//! checksums (`x-amz-checksum-mode: ENABLED`) the SDK also checks the backend's full-object
//! checksum while streaming; a mismatch ends the body with an error instead of passing corrupt
//! bytes on.

use aws_sdk_s3::Client;
use s3s::dto::{
    DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput, DeleteObjectsOutput, GetObjectInput,
    GetObjectOutput, HeadObjectInput, HeadObjectOutput,
};
use s3s::{S3Request, S3Response, S3Result};
use s3s_aws::conv::try_into_aws as aws;

use super::forward::respond;

pub(crate) async fn get_object(
    c: &Client,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let GetObjectInput {
        bucket,
        checksum_mode,
        expected_bucket_owner,
        if_match,
        if_modified_since,
        if_none_match,
        if_unmodified_since,
        key,
        part_number,
        range,
        request_payer,
        response_cache_control,
        response_content_disposition,
        response_content_encoding,
        response_content_language,
        response_content_type,
        response_expires,
        sse_customer_algorithm,
        sse_customer_key,
        sse_customer_key_md5,
        version_id,
    } = req.input;
    let result = c
        .get_object()
        .bucket(bucket)
        .set_checksum_mode(aws(checksum_mode)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .set_if_match(aws(if_match)?)
        .set_if_modified_since(aws(if_modified_since)?)
        .set_if_none_match(aws(if_none_match)?)
        .set_if_unmodified_since(aws(if_unmodified_since)?)
        .key(key)
        .set_part_number(aws(part_number)?)
        .set_range(aws(range)?)
        .set_request_payer(aws(request_payer)?)
        .set_response_cache_control(aws(response_cache_control)?)
        .set_response_content_disposition(aws(response_content_disposition)?)
        .set_response_content_encoding(aws(response_content_encoding)?)
        .set_response_content_language(aws(response_content_language)?)
        .set_response_content_type(aws(response_content_type)?)
        .set_response_expires(aws(response_expires)?)
        .set_sse_customer_algorithm(aws(sse_customer_algorithm)?)
        .set_sse_customer_key(aws(sse_customer_key)?)
        .set_sse_customer_key_md5(aws(sse_customer_key_md5)?)
        .set_version_id(aws(version_id)?)
        .send()
        .await;
    respond("GetObject", result)
}

pub(crate) async fn head_object(
    c: &Client,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let HeadObjectInput {
        bucket,
        checksum_mode,
        expected_bucket_owner,
        if_match,
        if_modified_since,
        if_none_match,
        if_unmodified_since,
        key,
        part_number,
        range,
        request_payer,
        response_cache_control,
        response_content_disposition,
        response_content_encoding,
        response_content_language,
        response_content_type,
        response_expires,
        sse_customer_algorithm,
        sse_customer_key,
        sse_customer_key_md5,
        version_id,
    } = req.input;
    let result = c
        .head_object()
        .bucket(bucket)
        .set_checksum_mode(aws(checksum_mode)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .set_if_match(aws(if_match)?)
        .set_if_modified_since(aws(if_modified_since)?)
        .set_if_none_match(aws(if_none_match)?)
        .set_if_unmodified_since(aws(if_unmodified_since)?)
        .key(key)
        .set_part_number(aws(part_number)?)
        .set_range(aws(range)?)
        .set_request_payer(aws(request_payer)?)
        .set_response_cache_control(aws(response_cache_control)?)
        .set_response_content_disposition(aws(response_content_disposition)?)
        .set_response_content_encoding(aws(response_content_encoding)?)
        .set_response_content_language(aws(response_content_language)?)
        .set_response_content_type(aws(response_content_type)?)
        .set_response_expires(aws(response_expires)?)
        .set_sse_customer_algorithm(aws(sse_customer_algorithm)?)
        .set_sse_customer_key(aws(sse_customer_key)?)
        .set_sse_customer_key_md5(aws(sse_customer_key_md5)?)
        .set_version_id(aws(version_id)?)
        .send()
        .await;
    respond("HeadObject", result)
}

pub(crate) async fn delete_object(
    c: &Client,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let DeleteObjectInput {
        bucket,
        bypass_governance_retention,
        expected_bucket_owner,
        if_match,
        if_match_last_modified_time,
        if_match_size,
        key,
        mfa,
        request_payer,
        version_id,
    } = req.input;
    let result = c
        .delete_object()
        .bucket(bucket)
        .set_bypass_governance_retention(aws(bypass_governance_retention)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .set_if_match(aws(if_match)?)
        .set_if_match_last_modified_time(aws(if_match_last_modified_time)?)
        .set_if_match_size(aws(if_match_size)?)
        .key(key)
        .set_mfa(aws(mfa)?)
        .set_request_payer(aws(request_payer)?)
        .set_version_id(aws(version_id)?)
        .send()
        .await;
    respond("DeleteObject", result)
}

/// The request body is re-serialized by the SDK, which computes the checksum S3 requires for
/// it (in the algorithm the client named, CRC32 otherwise).
pub(crate) async fn delete_objects(
    c: &Client,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let DeleteObjectsInput {
        bucket,
        bypass_governance_retention,
        checksum_algorithm,
        delete,
        expected_bucket_owner,
        mfa,
        request_payer,
    } = req.input;
    let result = c
        .delete_objects()
        .bucket(bucket)
        .set_bypass_governance_retention(aws(bypass_governance_retention)?)
        .set_checksum_algorithm(aws(checksum_algorithm)?)
        .delete(aws(delete)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .set_mfa(aws(mfa)?)
        .set_request_payer(aws(request_payer)?)
        .send()
        .await;
    respond("DeleteObjects", result)
}
