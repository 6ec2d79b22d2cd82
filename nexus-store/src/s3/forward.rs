//! Pieces every forwarded operation shares: answering from the SDK's result, and cleaning the
//! request fields that must not reach the backend as the client sent them.

use aws_sdk_s3::config::RequestChecksumCalculation;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use s3s::dto::ChecksumAlgorithm;
use s3s::{S3Error, S3Response, S3Result};
use s3s_aws::conv::AwsConversion;

use super::backend_error::{from_sdk_error, unavailable};

/// The client's answer for the SDK's `result` of operation `op`: the output converted field by
/// field (the body stays a stream), or the mapped error.
pub(crate) fn respond<T, E>(
    op: &'static str,
    result: Result<T::Target, SdkError<E, HttpResponse>>,
) -> S3Result<S3Response<T>>
where
    T: AwsConversion,
    S3Error: From<T::Error>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(output) => match T::try_from_aws(output) {
            Ok(output) => Ok(S3Response::new(output)),
            Err(e) => {
                let e = S3Error::from(e);
                Err(unavailable(&format!(
                    "{op}: unusable response: {}",
                    e.message().unwrap_or_else(|| e.code().as_str())
                )))
            }
        },
        Err(e) => Err(from_sdk_error(op, e)),
    }
}

/// `Content-Encoding` without `aws-chunked`: that coding describes how the client framed its
/// body for the proxy, not the object (the SDK adds its own when it frames the backend body).
/// `None` when nothing else remains.
pub(crate) fn strip_aws_chunked(content_encoding: Option<String>) -> Option<String> {
    let value = content_encoding?;
    let is_chunked = |coding: &str| coding.trim().eq_ignore_ascii_case("aws-chunked");
    if !value.split(',').any(is_chunked) {
        return Some(value);
    }
    let kept: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !is_chunked(c))
        .collect();
    (!kept.is_empty()).then(|| kept.join(","))
}

/// The client named a checksum algorithm (`x-amz-sdk-checksum-algorithm`) but sent no checksum
/// value in a header: the value travelled in the aws-chunked trailer, which s3s consumed. The
/// backend would reject the algorithm without a value, so the SDK computes the same checksum
/// over the bytes it forwards and sends it as its own trailer; the backend then verifies and
/// stores the checksum the client asked for.
pub(crate) fn checksum_in_trailer(
    algorithm: Option<&ChecksumAlgorithm>,
    header_values: &[Option<&String>],
) -> bool {
    algorithm.is_some() && header_values.iter().all(Option::is_none)
}

/// Per-request override: let the SDK compute the checksum the client asked for (see
/// [`checksum_in_trailer`]).
pub(crate) fn sdk_computes_checksum() -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::default()
        .request_checksum_calculation(RequestChecksumCalculation::WhenSupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_aws_chunked() {
        let s = |v: &str| strip_aws_chunked(Some(v.to_owned()));
        assert_eq!(s("aws-chunked"), None);
        assert_eq!(s("aws-chunked,gzip"), Some("gzip".to_owned()));
        assert_eq!(s("gzip, AWS-Chunked"), Some("gzip".to_owned()));
        assert_eq!(s("gzip, br"), Some("gzip, br".to_owned()));
        assert_eq!(s(""), Some(String::new()));
        assert_eq!(strip_aws_chunked(None), None);
    }

    #[test]
    fn trailer_checksum_detection() {
        let crc = ChecksumAlgorithm::from_static(ChecksumAlgorithm::CRC32);
        let value = "AAAAAA==".to_owned();
        assert!(checksum_in_trailer(Some(&crc), &[None, None]));
        assert!(!checksum_in_trailer(Some(&crc), &[Some(&value), None]));
        assert!(!checksum_in_trailer(None, &[None]));
    }
}
