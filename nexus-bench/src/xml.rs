//! The few S3 XML bodies the in-memory backend returns.

use std::fmt::Write;

const XML_DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Escapes text for an XML element.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `<Error>` body with an optional resource (bucket or key).
pub fn error(code: &str, message: &str, resource: &str, request_id: &str) -> String {
    format!(
        "{XML_DECL}<Error><Code>{code}</Code><Message>{}</Message><Resource>{}</Resource>\
         <RequestId>{request_id}</RequestId></Error>",
        escape(message),
        escape(resource)
    )
}

/// `ListAllMyBucketsResult` for the given bucket names.
pub fn list_buckets(names: &[String]) -> String {
    let mut s = format!(
        "{XML_DECL}<ListAllMyBucketsResult><Owner><ID>nexus-bench</ID>\
         <DisplayName>nexus-bench</DisplayName></Owner><Buckets>"
    );
    for name in names {
        let _ = write!(
            s,
            "<Bucket><Name>{}</Name><CreationDate>2025-01-01T00:00:00.000Z</CreationDate></Bucket>",
            escape(name)
        );
    }
    s.push_str("</Buckets></ListAllMyBucketsResult>");
    s
}

/// One object of a listing.
pub struct Listed<'a> {
    pub key: &'a str,
    pub size: u64,
    pub etag: &'a str,
}

/// `ListBucketResult` (V2) without continuation: the first `max_keys` matches.
pub fn list_objects_v2(
    bucket: &str,
    prefix: &str,
    objects: &[Listed<'_>],
    truncated: bool,
) -> String {
    let mut s = format!(
        "{XML_DECL}<ListBucketResult><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount>\
         <MaxKeys>1000</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
        escape(bucket),
        escape(prefix),
        objects.len()
    );
    for o in objects {
        let _ = write!(
            s,
            "<Contents><Key>{}</Key><LastModified>2025-01-01T00:00:00.000Z</LastModified>\
             <ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            escape(o.key),
            escape(o.etag),
            o.size
        );
    }
    s.push_str("</ListBucketResult>");
    s
}
