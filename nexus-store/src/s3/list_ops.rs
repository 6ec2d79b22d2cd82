//! Listings: ListObjects, ListObjectsV2, ListMultipartUploads, ListParts.

use aws_sdk_s3::Client;
use s3s::dto::{
    ListMultipartUploadsInput, ListMultipartUploadsOutput, ListObjectsInput, ListObjectsOutput,
    ListObjectsV2Input, ListObjectsV2Output, ListPartsInput, ListPartsOutput,
};
use s3s::{S3Request, S3Response, S3Result};
use s3s_aws::conv::try_into_aws as aws;

use super::forward::respond;

pub(crate) async fn list_objects(
    c: &Client,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let ListObjectsInput {
        bucket,
        delimiter,
        encoding_type,
        expected_bucket_owner,
        marker,
        max_keys,
        optional_object_attributes,
        prefix,
        request_payer,
    } = req.input;
    let result = c
        .list_objects()
        .bucket(bucket)
        .set_delimiter(aws(delimiter)?)
        .set_encoding_type(aws(encoding_type)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .set_marker(aws(marker)?)
        .set_max_keys(aws(max_keys)?)
        .set_optional_object_attributes(aws(optional_object_attributes)?)
        .set_prefix(aws(prefix)?)
        .set_request_payer(aws(request_payer)?)
        .send()
        .await;
    respond("ListObjects", result)
}

pub(crate) async fn list_objects_v2(
    c: &Client,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let ListObjectsV2Input {
        bucket,
        continuation_token,
        delimiter,
        encoding_type,
        expected_bucket_owner,
        fetch_owner,
        max_keys,
        optional_object_attributes,
        prefix,
        request_payer,
        start_after,
    } = req.input;
    let result = c
        .list_objects_v2()
        .bucket(bucket)
        .set_continuation_token(aws(continuation_token)?)
        .set_delimiter(aws(delimiter)?)
        .set_encoding_type(aws(encoding_type)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .set_fetch_owner(aws(fetch_owner)?)
        .set_max_keys(aws(max_keys)?)
        .set_optional_object_attributes(aws(optional_object_attributes)?)
        .set_prefix(aws(prefix)?)
        .set_request_payer(aws(request_payer)?)
        .set_start_after(aws(start_after)?)
        .send()
        .await;
    respond("ListObjectsV2", result)
}

pub(crate) async fn list_multipart_uploads(
    c: &Client,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let ListMultipartUploadsInput {
        bucket,
        delimiter,
        encoding_type,
        expected_bucket_owner,
        key_marker,
        max_uploads,
        prefix,
        request_payer,
        upload_id_marker,
    } = req.input;
    let result = c
        .list_multipart_uploads()
        .bucket(bucket)
        .set_delimiter(aws(delimiter)?)
        .set_encoding_type(aws(encoding_type)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .set_key_marker(aws(key_marker)?)
        .set_max_uploads(aws(max_uploads)?)
        .set_prefix(aws(prefix)?)
        .set_request_payer(aws(request_payer)?)
        .set_upload_id_marker(aws(upload_id_marker)?)
        .send()
        .await;
    respond("ListMultipartUploads", result)
}

pub(crate) async fn list_parts(
    c: &Client,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let ListPartsInput {
        bucket,
        expected_bucket_owner,
        key,
        max_parts,
        part_number_marker,
        request_payer,
        sse_customer_algorithm,
        sse_customer_key,
        sse_customer_key_md5,
        upload_id,
    } = req.input;
    let result = c
        .list_parts()
        .bucket(bucket)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .key(key)
        .set_max_parts(aws(max_parts)?)
        .set_part_number_marker(part_number_marker.map(|n| n.to_string()))
        .set_request_payer(aws(request_payer)?)
        .set_sse_customer_algorithm(aws(sse_customer_algorithm)?)
        .set_sse_customer_key(aws(sse_customer_key)?)
        .set_sse_customer_key_md5(aws(sse_customer_key_md5)?)
        .upload_id(upload_id)
        .send()
        .await;
    respond("ListParts", result)
}
