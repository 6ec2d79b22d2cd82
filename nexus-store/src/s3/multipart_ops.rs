//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload.
//!
//! UploadPart streams like PutObject (unsigned payload, header checksums forwarded, trailer
//! checksums recomputed). CompleteMultipartUpload can fail with an error document inside a 200;
//! the error mapping answers that with the code's own status.

use aws_sdk_s3::Client;
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CreateMultipartUploadInput, CreateMultipartUploadOutput,
    UploadPartCopyInput, UploadPartCopyOutput, UploadPartInput, UploadPartOutput,
};
use s3s::{S3Request, S3Response, S3Result};
use s3s_aws::conv::try_into_aws as aws;

use super::forward::{checksum_in_trailer, respond, sdk_computes_checksum, strip_aws_chunked};

pub(crate) async fn create_multipart_upload(
    c: &Client,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let CreateMultipartUploadInput {
        acl,
        bucket,
        bucket_key_enabled,
        cache_control,
        checksum_algorithm,
        checksum_type,
        content_disposition,
        content_encoding,
        content_language,
        content_type,
        expected_bucket_owner,
        expires,
        grant_full_control,
        grant_read,
        grant_read_acp,
        grant_write_acp,
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
    } = req.input;
    let result = c
        .create_multipart_upload()
        .set_acl(aws(acl)?)
        .bucket(bucket)
        .set_bucket_key_enabled(aws(bucket_key_enabled)?)
        .set_cache_control(aws(cache_control)?)
        .set_checksum_algorithm(aws(checksum_algorithm)?)
        .set_checksum_type(aws(checksum_type)?)
        .set_content_disposition(aws(content_disposition)?)
        .set_content_encoding(aws(strip_aws_chunked(content_encoding))?)
        .set_content_language(aws(content_language)?)
        .set_content_type(aws(content_type)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .set_expires(aws(expires)?)
        .set_grant_full_control(aws(grant_full_control)?)
        .set_grant_read(aws(grant_read)?)
        .set_grant_read_acp(aws(grant_read_acp)?)
        .set_grant_write_acp(aws(grant_write_acp)?)
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
        .send()
        .await;
    respond("CreateMultipartUpload", result)
}

pub(crate) async fn upload_part(
    c: &Client,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let UploadPartInput {
        body,
        bucket,
        checksum_algorithm,
        checksum_crc32,
        checksum_crc32c,
        checksum_crc64nvme,
        checksum_sha1,
        checksum_sha256,
        content_length,
        content_md5,
        expected_bucket_owner,
        key,
        part_number,
        request_payer,
        sse_customer_algorithm,
        sse_customer_key,
        sse_customer_key_md5,
        upload_id,
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
        .upload_part()
        .set_body(aws(body)?)
        .bucket(bucket)
        .set_checksum_algorithm(aws(checksum_algorithm)?)
        .set_checksum_crc32(aws(checksum_crc32)?)
        .set_checksum_crc32_c(aws(checksum_crc32c)?)
        .set_checksum_crc64_nvme(aws(checksum_crc64nvme)?)
        .set_checksum_sha1(aws(checksum_sha1)?)
        .set_checksum_sha256(aws(checksum_sha256)?)
        .set_content_length(aws(content_length)?)
        .set_content_md5(aws(content_md5)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .key(key)
        .part_number(part_number)
        .set_request_payer(aws(request_payer)?)
        .set_sse_customer_algorithm(aws(sse_customer_algorithm)?)
        .set_sse_customer_key(aws(sse_customer_key)?)
        .set_sse_customer_key_md5(aws(sse_customer_key_md5)?)
        .upload_id(upload_id);
    let mut op = builder.customize().disable_payload_signing();
    if trailer {
        op = op.config_override(sdk_computes_checksum());
    }
    respond("UploadPart", op.send().await)
}

pub(crate) async fn upload_part_copy(
    c: &Client,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let UploadPartCopyInput {
        bucket,
        copy_source,
        copy_source_if_match,
        copy_source_if_modified_since,
        copy_source_if_none_match,
        copy_source_if_unmodified_since,
        copy_source_range,
        copy_source_sse_customer_algorithm,
        copy_source_sse_customer_key,
        copy_source_sse_customer_key_md5,
        expected_bucket_owner,
        expected_source_bucket_owner,
        key,
        part_number,
        request_payer,
        sse_customer_algorithm,
        sse_customer_key,
        sse_customer_key_md5,
        upload_id,
    } = req.input;
    let result = c
        .upload_part_copy()
        .bucket(bucket)
        .copy_source(aws(copy_source)?)
        .set_copy_source_if_match(aws(copy_source_if_match)?)
        .set_copy_source_if_modified_since(aws(copy_source_if_modified_since)?)
        .set_copy_source_if_none_match(aws(copy_source_if_none_match)?)
        .set_copy_source_if_unmodified_since(aws(copy_source_if_unmodified_since)?)
        .set_copy_source_range(aws(copy_source_range)?)
        .set_copy_source_sse_customer_algorithm(aws(copy_source_sse_customer_algorithm)?)
        .set_copy_source_sse_customer_key(aws(copy_source_sse_customer_key)?)
        .set_copy_source_sse_customer_key_md5(aws(copy_source_sse_customer_key_md5)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .set_expected_source_bucket_owner(aws(expected_source_bucket_owner)?)
        .key(key)
        .part_number(part_number)
        .set_request_payer(aws(request_payer)?)
        .set_sse_customer_algorithm(aws(sse_customer_algorithm)?)
        .set_sse_customer_key(aws(sse_customer_key)?)
        .set_sse_customer_key_md5(aws(sse_customer_key_md5)?)
        .upload_id(upload_id)
        .send()
        .await;
    respond("UploadPartCopy", result)
}

pub(crate) async fn complete_multipart_upload(
    c: &Client,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let CompleteMultipartUploadInput {
        bucket,
        checksum_crc32,
        checksum_crc32c,
        checksum_crc64nvme,
        checksum_sha1,
        checksum_sha256,
        checksum_type,
        expected_bucket_owner,
        if_match,
        if_none_match,
        key,
        mpu_object_size,
        multipart_upload,
        request_payer,
        sse_customer_algorithm,
        sse_customer_key,
        sse_customer_key_md5,
        upload_id,
    } = req.input;
    let result = c
        .complete_multipart_upload()
        .bucket(bucket)
        .set_checksum_crc32(aws(checksum_crc32)?)
        .set_checksum_crc32_c(aws(checksum_crc32c)?)
        .set_checksum_crc64_nvme(aws(checksum_crc64nvme)?)
        .set_checksum_sha1(aws(checksum_sha1)?)
        .set_checksum_sha256(aws(checksum_sha256)?)
        .set_checksum_type(aws(checksum_type)?)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .set_if_match(aws(if_match)?)
        .set_if_none_match(aws(if_none_match)?)
        .key(key)
        .set_mpu_object_size(aws(mpu_object_size)?)
        .set_multipart_upload(aws(multipart_upload)?)
        .set_request_payer(aws(request_payer)?)
        .set_sse_customer_algorithm(aws(sse_customer_algorithm)?)
        .set_sse_customer_key(aws(sse_customer_key)?)
        .set_sse_customer_key_md5(aws(sse_customer_key_md5)?)
        .upload_id(upload_id)
        .send()
        .await;
    respond("CompleteMultipartUpload", result)
}

pub(crate) async fn abort_multipart_upload(
    c: &Client,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let AbortMultipartUploadInput {
        bucket,
        expected_bucket_owner,
        if_match_initiated_time,
        key,
        request_payer,
        upload_id,
    } = req.input;
    let result = c
        .abort_multipart_upload()
        .bucket(bucket)
        .set_expected_bucket_owner(aws(expected_bucket_owner)?)
        .set_if_match_initiated_time(aws(if_match_initiated_time)?)
        .key(key)
        .set_request_payer(aws(request_payer)?)
        .upload_id(upload_id)
        .send()
        .await;
    respond("AbortMultipartUpload", result)
}
