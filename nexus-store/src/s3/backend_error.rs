//! What the client sees when the backend fails: every `SdkError` becomes an `S3Error`.
//!
//! - The backend answered with an S3 error: its code, message and HTTP status pass through.
//! - The backend answered 2xx with an error document (S3 does this for CompleteMultipartUpload,
//!   CopyObject and UploadPartCopy): the code's own status, 500 `InternalError` for an unknown
//!   code. Never a 2xx with an error body.
//! - 304 Not Modified keeps the backend's `ETag`, `Last-Modified` and caching headers.
//! - The backend could not be reached, timed out, reset the connection or answered something
//!   that is not S3 (no parsable error, 5xx without an error document): 503
//!   `ServiceUnavailable`, "backend unavailable: …", which every SDK retries.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::Headers;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use s3s::{S3Error, S3ErrorCode};

/// Headers a 304 carries over from the backend (RFC 9110 §15.4.5, plus `Last-Modified`).
const NOT_MODIFIED_HEADERS: [HeaderName; 6] = [
    http::header::ETAG,
    http::header::LAST_MODIFIED,
    http::header::CACHE_CONTROL,
    http::header::EXPIRES,
    http::header::VARY,
    http::header::CONTENT_LOCATION,
];

/// Turns a failed backend call of operation `op` into the error the client receives.
pub(crate) fn from_sdk_error<E>(op: &'static str, err: SdkError<E, HttpResponse>) -> S3Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let mut mapped = match &err {
        SdkError::ServiceError(ctx) => {
            let raw = ctx.raw();
            let meta = ctx.err().meta();
            from_backend_response(
                raw.status().as_u16(),
                meta.code(),
                meta.message(),
                raw.headers(),
            )
        }
        SdkError::ConstructionFailure(_) => S3Error::with_message(
            S3ErrorCode::InternalError,
            format!("cannot build the backend request: {}", error_chain(&err)),
        ),
        // Dispatch failure, timeout, reset connection, unreadable response, and any kind a
        // later SDK adds: the backend is down or broken.
        _ => unavailable(&error_chain(&err)),
    };
    log(op, &mapped, &err);
    mapped.set_source(Box::new(err));
    mapped
}

/// Server-side failures are worth a warning (the backend is sick); client errors are routine.
fn log<E: std::error::Error + 'static>(
    op: &str,
    mapped: &S3Error,
    err: &SdkError<E, HttpResponse>,
) {
    let code = mapped.code().as_str();
    let status = mapped.status_code().map_or(0, |s| s.as_u16());
    if status >= 500 {
        tracing::warn!(op, code, status, error = %DisplayErrorContext(err), "backend call failed");
    } else {
        tracing::debug!(op, code, status, error = %DisplayErrorContext(err), "backend answered with an error");
    }
}

/// `err` and its sources, `: `-separated (what `DisplayErrorContext` prints, without its
/// trailing `Debug` dump, which is for logs, not for clients).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(source) = next {
        let text = source.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = source.source();
    }
    out
}

/// 503 `ServiceUnavailable` with a message that says the backend is at fault.
pub(crate) fn unavailable(why: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::ServiceUnavailable,
        format!("backend unavailable: {why}"),
    )
}

/// Maps an error response: `status` as received, `code`/`message` as parsed by the SDK (absent
/// when the body was empty or not an S3 error document).
pub(crate) fn from_backend_response(
    status: u16,
    code: Option<&str>,
    message: Option<&str>,
    headers: &Headers,
) -> S3Error {
    let code = code
        .filter(|c| !c.is_empty())
        .and_then(|c| S3ErrorCode::from_bytes(c.as_bytes()));
    let status = StatusCode::from_u16(status).ok();
    let mut err = match (status, code) {
        (Some(s), Some(code)) if s.is_success() => error_in_success_response(s, code),
        (Some(s), None) if s.is_success() => {
            return unavailable(&format!(
                "HTTP {s} that is neither the expected response nor an S3 error"
            ));
        }
        (Some(StatusCode::NOT_MODIFIED), code) => {
            let mut err = S3Error::new(code.unwrap_or(S3ErrorCode::NotModified));
            err.set_status_code(StatusCode::NOT_MODIFIED);
            err.set_headers(not_modified_headers(headers));
            err
        }
        (Some(s), Some(code)) => {
            let mut err = S3Error::new(code);
            err.set_status_code(s);
            err
        }
        (Some(s), None) if s.is_server_error() => {
            return unavailable(&format!("HTTP {s} without an S3 error document"));
        }
        (Some(s), None) => {
            let mut err = S3Error::new(code_for_bare_status(s));
            err.set_status_code(s);
            err
        }
        (None, _) => return unavailable("invalid HTTP status"),
    };
    if let Some(message) = message {
        err.set_message(message.to_owned());
    }
    err
}

/// A 2xx carrying an error document: answer with the code's own status, never 2xx.
fn error_in_success_response(status: StatusCode, code: S3ErrorCode) -> S3Error {
    match code.status_code().filter(|s| !s.is_success()) {
        Some(proper) => {
            let mut err = S3Error::new(code);
            err.set_status_code(proper);
            err
        }
        None => S3Error::with_message(
            S3ErrorCode::InternalError,
            format!(
                "backend answered HTTP {status} with error code {}",
                code.as_str()
            ),
        ),
    }
}

/// The code S3 implies for a 3xx/4xx without a body (HEAD responses never have one).
fn code_for_bare_status(status: StatusCode) -> S3ErrorCode {
    match status.as_u16() {
        301 => S3ErrorCode::PermanentRedirect,
        307 => S3ErrorCode::TemporaryRedirect,
        400 => S3ErrorCode::Custom("BadRequest".into()),
        403 => S3ErrorCode::AccessDenied,
        404 => S3ErrorCode::Custom("NotFound".into()),
        405 => S3ErrorCode::MethodNotAllowed,
        409 => S3ErrorCode::Custom("Conflict".into()),
        411 => S3ErrorCode::MissingContentLength,
        412 => S3ErrorCode::PreconditionFailed,
        416 => S3ErrorCode::InvalidRange,
        _ => S3ErrorCode::InvalidRequest,
    }
}

fn not_modified_headers(from: &Headers) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in NOT_MODIFIED_HEADERS {
        for value in from.get_all(name.as_str()) {
            if let Ok(value) = HeaderValue::from_str(value) {
                out.append(name.clone(), value);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(status: u16, code: Option<&str>) -> S3Error {
        from_backend_response(status, code, Some("m"), &Headers::new())
    }

    #[test]
    fn passes_backend_code_message_and_status() {
        let e = map(404, Some("NoSuchKey"));
        assert_eq!(e.code(), &S3ErrorCode::NoSuchKey);
        assert_eq!(e.status_code(), Some(StatusCode::NOT_FOUND));
        assert_eq!(e.message(), Some("m"));
        let e = map(501, Some("NotImplemented"));
        assert_eq!(e.status_code(), Some(StatusCode::NOT_IMPLEMENTED));
        let e = map(418, Some("Teapot"));
        assert_eq!(e.code().as_str(), "Teapot");
        assert_eq!(e.status_code(), Some(StatusCode::IM_A_TEAPOT));
    }

    #[test]
    fn never_answers_2xx_with_an_error() {
        let e = map(200, Some("SlowDown"));
        assert_eq!(e.status_code(), Some(StatusCode::SERVICE_UNAVAILABLE));
        let e = map(200, Some("InternalError"));
        assert_eq!(e.status_code(), Some(StatusCode::INTERNAL_SERVER_ERROR));
        let e = map(200, Some("SomethingNew"));
        assert_eq!(e.code(), &S3ErrorCode::InternalError);
        assert_eq!(e.status_code(), Some(StatusCode::INTERNAL_SERVER_ERROR));
        let e = map(200, None);
        assert_eq!(e.code(), &S3ErrorCode::ServiceUnavailable);
        assert_eq!(e.status_code(), Some(StatusCode::SERVICE_UNAVAILABLE));
    }

    #[test]
    fn bare_statuses() {
        let e = map(404, None);
        assert_eq!(
            (e.code().as_str(), e.status_code()),
            ("NotFound", Some(StatusCode::NOT_FOUND))
        );
        let e = map(412, None);
        assert_eq!(e.code(), &S3ErrorCode::PreconditionFailed);
        let e = map(502, None);
        assert_eq!(e.code(), &S3ErrorCode::ServiceUnavailable);
        assert_eq!(e.status_code(), Some(StatusCode::SERVICE_UNAVAILABLE));
    }

    #[test]
    fn not_modified_keeps_validators() {
        let mut h = Headers::new();
        h.insert("etag", "\"abc\"");
        h.insert("last-modified", "Wed, 21 Oct 2015 07:28:00 GMT");
        h.insert("content-type", "application/xml");
        let e = from_backend_response(304, None, None, &h);
        assert_eq!(e.code(), &S3ErrorCode::NotModified);
        assert_eq!(e.status_code(), Some(StatusCode::NOT_MODIFIED));
        let headers = e.headers().cloned().unwrap_or_default();
        assert_eq!(
            headers.get("etag").map(HeaderValue::as_bytes),
            Some(&b"\"abc\""[..])
        );
        assert!(headers.contains_key("last-modified"));
        assert!(!headers.contains_key("content-type"));
    }
}
