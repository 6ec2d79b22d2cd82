//! Percent-encoding for `encoding-type=url` listings and decoding of `x-amz-tagging` values.

use std::fmt::Write as _;

/// Percent-encodes `s` as S3 does for `encoding-type=url`: unreserved characters and `/` are
/// kept, every other byte becomes `%XX`.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space). `None` if an
/// escape is malformed or the result is not UTF-8.
pub(crate) fn decode_form(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let key = "a b/ü#$%+&=?";
        let enc = encode(key);
        assert_eq!(enc, "a%20b/%C3%BC%23%24%25%2B%26%3D%3F");
        assert_eq!(decode_form(&enc).as_deref(), Some(key));
        assert_eq!(decode_form("a+b").as_deref(), Some("a b"));
        assert_eq!(decode_form("%zz"), None);
        assert_eq!(decode_form("%4"), None);
    }
}
