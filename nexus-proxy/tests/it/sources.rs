//! Data-source streamlets decide reads before the store sees them: the shipped `read-rules`
//! streamlet (built by `scripts/build-streamlets.sh`) under a policy, serving from a named
//! store (by the host, and read by the streamlet itself through `sources`), generating a body,
//! denying, failing; and a compressing policy on the named store's keys, so a routed read is
//! decoded too.

use aws_sdk_s3::primitives::ByteStream;

use crate::pipeline::{dist, logs};
use crate::support::{Options, Proxy, bounded, quoted_md5, status_and_code};

const POLICIES: &str = r#"
apiVersion: nexus/v1
kind: Store
metadata:
  name: cold
spec:
  embedded: {}
---
apiVersion: nexus/v1
kind: Policy
metadata:
  name: reads-routed
spec:
  system: generic
  target:
    bucket: reads
    streams: ["archive", "secret", "banner", "mirror", "broken", "plain", "nowhere"]
  pipeline:
    - streamlet: read-rules
      location: edge
      params:
        denyPrefix: secret/
        denyStatus: 403
        sourcePrefix: archive/
        readPrefix: mirror/
        sourceReplace: cold/
        store: cold
        generatePrefix: banner/
        text: "hello\n"
        repeat: 3
        failPrefix: broken/
  output:
    alternatives: [cold]
---
apiVersion: nexus/v1
kind: Policy
metadata:
  name: reads-cold-zstd
spec:
  system: generic
  target:
    bucket: reads
    streams: ["cold"]
  pipeline:
    - streamlet: compress-zstd
      location: edge
      params:
        level: 3
"#;

async fn get(
    client: &aws_sdk_s3::Client,
    key: &str,
    range: Option<&str>,
) -> Result<(Vec<u8>, Option<String>, Option<i64>), (u16, String)> {
    match client
        .get_object()
        .bucket("reads")
        .key(key)
        .set_range(range.map(str::to_owned))
        .send()
        .await
    {
        Ok(out) => {
            let etag = out.e_tag().map(str::to_owned);
            let len = out.content_length();
            let body = out.body.collect().await.map_err(|e| (0, e.to_string()))?;
            Ok((body.into_bytes().to_vec(), etag, len))
        }
        Err(e) => Err(status_and_code(&e)),
    }
}

#[tokio::test]
async fn data_source_streamlets_decide_reads() {
    bounded(120, "data-source streamlets", async {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("reads.yaml"), POLICIES).expect("policies");
        let proxy = Proxy::start(Options {
            policies: Some(dir.path().to_owned()),
            streamlets: Some(dist()),
            ..Options::default()
        })
        .await;
        let client = proxy.client();
        client
            .create_bucket()
            .bucket("reads")
            .send()
            .await
            .expect("bucket");
        let cold = logs(3 << 20);
        let put = client
            .put_object()
            .bucket("reads")
            .key("cold/segment-1")
            .body(ByteStream::from(cold.clone()))
            .send()
            .await
            .expect("put to the named store's keys");
        assert_eq!(put.e_tag(), Some(quoted_md5(&cold).as_str()));
        client
            .put_object()
            .bucket("reads")
            .key("plain/x")
            .body(ByteStream::from_static(b"stored as sent"))
            .send()
            .await
            .expect("put plain");

        // Served from the named store by the host: decoded (it is stored compressed), with
        // the stored object's ETag, ranges and HEAD.
        let (body, etag, len) = get(&client, "archive/segment-1", None)
            .await
            .expect("routed GET");
        assert!(body == cold, "routed read differs");
        assert_eq!(etag.as_deref(), Some(quoted_md5(&cold).as_str()));
        assert_eq!(len, Some(cold.len() as i64));
        let (body, _, _) = get(&client, "archive/segment-1", Some("bytes=2000000-2000099"))
            .await
            .expect("routed range");
        assert!(body == cold[2_000_000..2_000_100]);
        let head = client
            .head_object()
            .bucket("reads")
            .key("archive/segment-1")
            .send()
            .await
            .expect("routed HEAD");
        assert_eq!(head.content_length(), Some(cold.len() as i64));
        assert_eq!(
            get(&client, "archive/missing", None).await.err(),
            Some((404, "NoSuchKey".to_owned()))
        );

        // Read by the streamlet itself (sources.open), served as a body of unknown length.
        let (body, etag, _) = get(&client, "mirror/segment-1", None)
            .await
            .expect("mirrored GET");
        assert!(body == cold, "mirrored read differs ({} bytes)", body.len());
        assert_eq!(etag, None, "a generated body has no ETag");
        let (body, _, _) = get(&client, "mirror/segment-1", Some("bytes=10-19"))
            .await
            .expect("mirrored range");
        assert_eq!(
            body,
            cold[10..20],
            "the streamlet reads the range it was given"
        );
        assert_eq!(
            get(&client, "mirror/missing", None)
                .await
                .err()
                .map(|e| e.0),
            Some(404)
        );

        // Generated, denied, failing.
        let (body, _, len) = get(&client, "banner/today", None).await.expect("generated");
        assert_eq!(body, b"hello\nhello\nhello\n");
        assert_eq!(len, Some(18));
        // A generated body is the whole object: the host answers ranges of it (206).
        for (range, want, content_range) in [
            ("bytes=2-7", &b"llo\nhe"[..], "bytes 2-7/18"),
            ("bytes=15-", &b"lo\n"[..], "bytes 15-17/18"),
            ("bytes=-4", &b"llo\n"[..], "bytes 14-17/18"),
        ] {
            let out = client
                .get_object()
                .bucket("reads")
                .key("banner/today")
                .range(range)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{range}: {e:?}"));
            assert_eq!(out.content_range(), Some(content_range), "{range}");
            let got = out.body.collect().await.expect("body").into_bytes();
            assert_eq!(&got[..], want, "{range}");
        }
        assert_eq!(
            get(&client, "banner/today", Some("bytes=18-"))
                .await
                .err()
                .map(|e| e.0),
            Some(416)
        );
        let head = client
            .head_object()
            .bucket("reads")
            .key("banner/today")
            .send()
            .await
            .expect("head generated");
        assert_eq!(head.content_length(), Some(18));
        assert_eq!(
            get(&client, "secret/plans", None).await.err(),
            Some((403, "AccessDenied".to_owned()))
        );
        assert_eq!(
            get(&client, "broken/x", None).await.err().map(|e| e.0),
            Some(503)
        );

        // No rule: the read passes to the store.
        let (body, _, _) = get(&client, "plain/x", None).await.expect("passed");
        assert_eq!(body, b"stored as sent");

        // The worker is fine afterwards, and the failures were counted.
        let m = crate::support::metrics::scrape(proxy.admin).await;
        assert!(
            m.value(
                "nexus_streamlet_failures_total",
                &[
                    ("streamlet", "read-rules"),
                    ("stage", "0"),
                    ("reason", "error")
                ]
            ) >= 1.0,
            "{}",
            m.text
        );
        proxy.shutdown().await;
    })
    .await;
}

/// A data-source stage and a byte stage in one policy: writes skip the data-source stage and
/// are compressed; reads run it first, then decode what is stored.
#[tokio::test]
async fn a_data_source_stage_beside_a_byte_stage() {
    bounded(60, "data-source and byte stages", async {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("mixed.yaml"),
            r#"
apiVersion: nexus/v1
kind: Policy
metadata:
  name: mixed
spec:
  system: generic
  target:
    bucket: mixed
  pipeline:
    - streamlet: read-rules
      location: edge
      params:
        denyPrefix: secret/
        denyStatus: 404
    - streamlet: compress-zstd
      location: edge
      params:
        level: 3
"#,
        )
        .expect("policy");
        let proxy = Proxy::start(Options {
            policies: Some(dir.path().to_owned()),
            streamlets: Some(dist()),
            ..Options::default()
        })
        .await;
        let client = proxy.client();
        client
            .create_bucket()
            .bucket("mixed")
            .send()
            .await
            .expect("bucket");
        let data = logs(2_500_000);
        for key in ["open/a.log", "secret/b.log"] {
            client
                .put_object()
                .bucket("mixed")
                .key(key)
                .body(ByteStream::from(data.clone()))
                .send()
                .await
                .expect("put");
        }
        let m = crate::support::metrics::scrape(proxy.admin).await;
        let stored = m.value("nexus_pipeline_stored_bytes_total", &[("policy", "mixed")]);
        assert!(
            stored > 0.0 && stored * 3.0 < 2.0 * data.len() as f64,
            "both written compressed: {stored}"
        );
        let got = client
            .get_object()
            .bucket("mixed")
            .key("open/a.log")
            .send()
            .await
            .expect("get");
        assert_eq!(got.e_tag(), Some(quoted_md5(&data).as_str()));
        assert!(
            got.body
                .collect()
                .await
                .expect("body")
                .into_bytes()
                .as_ref()
                == data.as_slice()
        );
        let err = client
            .get_object()
            .bucket("mixed")
            .key("secret/b.log")
            .send()
            .await
            .expect_err("denied");
        assert_eq!(status_and_code(&err), (404, "NoSuchKey".to_owned()));
        let err = client
            .head_object()
            .bucket("mixed")
            .key("secret/b.log")
            .send()
            .await
            .expect_err("HEAD denied too");
        assert_eq!(status_and_code(&err).0, 404);
        proxy.shutdown().await;
    })
    .await;
}
