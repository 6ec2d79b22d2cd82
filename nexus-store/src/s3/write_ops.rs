//! Object writes: PutObject and CopyObject.
//!
//! PutObject streams the client's (already decoded) body to the backend with
//! `UNSIGNED-PAYLOAD`: the proxy does not hash every byte a second time. Checksum values the
//! client sent in headers (`Content-MD5`, `x-amz-checksum-*`) are forwarded so the backend
//! verifies them; a checksum the client sent as a trailer is recomputed by the SDK on the way
//! out (see [`checksum_in_trailer`]).

use aws_sdk_s3::Client;
use s3s::dto::{CopyObjectInput, CopyObjectOutput, PutObjectInput, PutObjectOutput};
use s3s::{S3Request, S3Response, S3Result};
use s3s_aws::conv::try_into_aws as aws;

use super::forward::{checksum_in_trailer, respond, sdk_computes_checksum, strip_aws_chunked};

pub(crate) async fn put_object(
    c: &Client,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let PutObjectInput {
        acl,
        body,
        bucket,
        bucket_key_enabled,
        cache_control,
        checksum_algorithm,
        checksum_crc32,
        checksum_crc32c,
        checksum_crc64nvme,
        checksum_sha1,
        checksum_sha256,
        content_disposition,
        content_encoding,
        content_language,
        content_length,
        content_md5,
        content_type,
        expected_bucket_owner,
        expires,
        grant_full_control,
        grant_read,
        grant_read_acp,
        grant_write_acp,
        if_match,
        if_none_match,
        key,
        metadata,
        object_lock_legal_hold_status,
        object_lock_mode,
        object_lock_retain_until_date,
        request_payer,
        sse_customer_algorithm,
        sse_customer_key,
        sse_customer_key_md5,
        ssekms_encryption_context,
        ssekms_key_id,
        server_side_encryption,
        storage_class,
        tagging,
        website_redirect_location,
        write_offset_bytes,
    } = req.input;
    let trailer = checksum_in_trailer(
        checksum_algorithm.as_ref(),
        &[
            checksum_crc32.as_ref(),
            checksum_crc32c.as_ref(),
            checksum_crc64nvme.as_ref(),
            checksum_sha1.as_ref(),
            checksum_sha256.as_ref(),
        ],
    );
    let builder = c
        .put_object()
        .set_acl(aws(acl)?)
        .set_body(aws(body)?)
        .bucket(bucket)
        .set_bucket_key_enabled(aws(bucket_key_enabled)?)
        .set_cache_control(aws(cache_control)?)
        .set_checksum_algorithm(aws(checksum_algorithm)?)
        .set_checksum_crc32(aws(checksum_crc32)?)
        .set_checksum_crc32_c(aws(checksum_crc32c)?)
        .set_checksum_crc64_nvme(aws(checksum_crc64nvme)?)
        .set_checksum_sha1(aws(checksum_sha1)?)
        .set_checksum_sha256(aws(checksum_sha256)?)
        .set_content_disposition(aws(content_disposition)?)
        .set_content_encoding(aws(strip_aws_chunked(content_encoding))?)
        .set_content_language(aws(content_language)?)
        .set_content_length(aws(content_length)?)
        .set_content_md5(aws(content_md5)?)
        .set_content_type(aws(content_type)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .set_expires(aws(expires)?)
        .set_grant_full_control(aws(grant_full_control)?)
        .set_grant_read(aws(grant_read)?)
        .set_grant_read_acp(aws(grant_read_acp)?)
        .set_grant_write_acp(aws(grant_write_acp)?)
        .set_if_match(aws(if_match)?)
        .set_if_none_match(aws(if_none_match)?)
        .key(key)
        .set_metadata(aws(metadata)?)
        .set_object_lock_legal_hold_status(aws(object_lock_legal_hold_status)?)
        .set_object_lock_mode(aws(object_lock_mode)?)
        .set_object_lock_retain_until_date(aws(object_lock_retain_until_date)?)
        .set_request_payer(aws(request_payer)?)
        .set_sse_customer_algorithm(aws(sse_customer_algorithm)?)
        .set_sse_customer_key(aws(sse_customer_key)?)
        .set_sse_customer_key_md5(aws(sse_customer_key_md5)?)
        .set_ssekms_encryption_context(aws(ssekms_encryption_context)?)
        .set_ssekms_key_id(aws(ssekms_key_id)?)
        .set_server_side_encryption(aws(server_side_encryption)?)
        .set_storage_class(aws(storage_class)?)
        .set_tagging(aws(tagging)?)
        .set_website_redirect_location(aws(website_redirect_location)?)
        .set_write_offset_bytes(aws(write_offset_bytes)?);
    let mut op = builder.customize().disable_payload_signing();
    if trailer {
        op = op.config_override(sdk_computes_checksum());
    }
    respond("PutObject", op.send().await)
}

pub(crate) async fn copy_object(
    c: &Client,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let CopyObjectInput {
        acl,
        bucket,
        bucket_key_enabled,
        cache_control,
        checksum_algorithm,
        content_disposition,
        content_encoding,
        content_language,
        content_type,
        copy_source,
        copy_source_if_match,
        copy_source_if_modified_since,
        copy_source_if_none_match,
        copy_source_if_unmodified_since,
        copy_source_sse_customer_algorithm,
        copy_source_sse_customer_key,
        copy_source_sse_customer_key_md5,
        expected_bucket_owner,
        expected_source_bucket_owner,
        expires,
        grant_full_control,
        grant_read,
        grant_read_acp,
        grant_write_acp,
        key,
        metadata,
        metadata_directive,
        object_lock_legal_hold_status,
        object_lock_mode,
        object_lock_retain_until_date,
        request_payer,
        sse_customer_algorithm,
        sse_customer_key,
        sse_customer_key_md5,
        ssekms_encryption_context,
        ssekms_key_id,
        server_side_encryption,
        storage_class,
        tagging,
        tagging_directive,
        website_redirect_location,
    } = req.input;
    let result = c
        .copy_object()
        .set_acl(aws(acl)?)
        .bucket(bucket)
        .set_bucket_key_enabled(aws(bucket_key_enabled)?)
        .set_cache_control(aws(cache_control)?)
        .set_checksum_algorithm(aws(checksum_algorithm)?)
        .set_content_disposition(aws(content_disposition)?)
        .set_content_encoding(aws(strip_aws_chunked(content_encoding))?)
        .set_content_language(aws(content_language)?)
        .set_content_type(aws(content_type)?)
        .copy_source(aws(copy_source)?)
        .set_copy_source_if_match(aws(copy_source_if_match)?)
        .set_copy_source_if_modified_since(aws(copy_source_if_modified_since)?)
        .set_copy_source_if_none_match(aws(copy_source_if_none_match)?)
        .set_copy_source_if_unmodified_since(aws(copy_source_if_unmodified_since)?)
        .set_copy_source_sse_customer_algorithm(aws(copy_source_sse_customer_algorithm)?)
        .set_copy_source_sse_customer_key(aws(copy_source_sse_customer_key)?)
        .set_copy_source_sse_customer_key_md5(aws(copy_source_sse_customer_key_md5)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .set_expected_source_bucket_owner(aws(expected_source_bucket_owner)?)
        .set_expires(aws(expires)?)
        .set_grant_full_control(aws(grant_full_control)?)
        .set_grant_read(aws(grant_read)?)
        .set_grant_read_acp(aws(grant_read_acp)?)
        .set_grant_write_acp(aws(grant_write_acp)?)
        .key(key)
        .set_metadata(aws(metadata)?)
        .set_metadata_directive(aws(metadata_directive)?)
        .set_object_lock_legal_hold_status(aws(object_lock_legal_hold_status)?)
        .set_object_lock_mode(aws(object_lock_mode)?)
        .set_object_lock_retain_until_date(aws(object_lock_retain_until_date)?)
        .set_request_payer(aws(request_payer)?)
        .set_sse_customer_algorithm(aws(sse_customer_algorithm)?)
        .set_sse_customer_key(aws(sse_customer_key)?)
        .set_sse_customer_key_md5(aws(sse_customer_key_md5)?)
        .set_ssekms_encryption_context(aws(ssekms_encryption_context)?)
        .set_ssekms_key_id(aws(ssekms_key_id)?)
        .set_server_side_encryption(aws(server_side_encryption)?)
        .set_storage_class(aws(storage_class)?)
        .set_tagging(aws(tagging)?)
        .set_tagging_directive(aws(tagging_directive)?)
        .set_website_redirect_location(aws(website_redirect_location)?)
        .send()
        .await;
    respond("CopyObject", result)
}
