//! PutObject, GetObject, HeadObject: bodies, keys, ranges, properties.

use aws_sdk_s3::primitives::ByteStream;

use crate::support::{Env, code, data, etag_of, status};

#[tokio::test]
async fn put_get_sizes() {
    let env = Env::with_bucket("sizes").await;
    for (i, len) in [0_usize, 1, 5 * 1024 * 1024 + 1].into_iter().enumerate() {
        let body = data(len, i as u64);
        let key = format!("obj-{len}");
        let etag = env.put("sizes", &key, &body).await;
        assert_eq!(etag, etag_of(&body));
        assert_eq!(env.get("sizes", &key).await, body);
        let head = env.client.head_object().bucket("sizes").key(&key).send().await.expect("head");
        assert_eq!(head.content_length(), Some(len as i64));
        assert_eq!(head.e_tag(), Some(etag.as_str()));
        assert_eq!(head.content_type(), Some("application/octet-stream"), "the SDK sends one");
    }
}
