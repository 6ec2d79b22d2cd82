//! A backend that is down: every request is a 503 with a retryable code (the SDKs retry it),
//! never a panic, never a 2xx; the worker stays alive and healthy.

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

use crate::support::backends::{S3sFsServer, free_port};
use crate::support::metrics::scrape;
use crate::support::raw;
use crate::support::{ACCESS_KEY, Options, Proxy, SECRET_KEY, bounded, status_and_code};

fn assert_unavailable<E: ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    r: Result<impl std::fmt::Debug, SdkError<E>>,
) {
    let err = r.expect_err(what);
    let (status, code) = status_and_code(&err);
    assert_eq!(status, 503, "{what}: {err:?}");
    if what.starts_with("Head") {
        // HEAD answers have no body, so no code: the SDKs retry on the 503 status.
        return;
    }
    assert!(
        matches!(code.as_str(), "ServiceUnavailable" | "SlowDown"),
        "{what}: code {code} is not one the SDKs retry"
    );
}

async fn all_unavailable(c: &aws_sdk_s3::Client, bucket: &str) {
    assert_unavailable("ListBuckets", c.list_buckets().send().await);
    assert_unavailable(
        "CreateBucket",
        c.create_bucket().bucket("it-new").send().await,
    );
    assert_unavailable("HeadBucket", c.head_bucket().bucket(bucket).send().await);
    assert_unavailable(
        "PutObject",
        c.put_object()
            .bucket(bucket)
            .key("k")
            .body(ByteStream::from(vec![7_u8; 100_000]))
            .send()
            .await,
    );
    assert_unavailable(
        "GetObject",
        c.get_object().bucket(bucket).key("k").send().await,
    );
    assert_unavailable(
        "HeadObject",
        c.head_object().bucket(bucket).key("k").send().await,
    );
    assert_unavailable(
        "ListObjectsV2",
        c.list_objects_v2().bucket(bucket).send().await,
    );
    assert_unavailable(
        "CreateMultipartUpload",
        c.create_multipart_upload()
            .bucket(bucket)
            .key("k")
            .send()
            .await,
    );
}

#[tokio::test]
async fn nothing_listening_at_the_backend_is_503() {
    bounded(60, "backend down", async {
        let proxy = Proxy::start(Options {
            backend: Some(format!("http://127.0.0.1:{}", free_port())),
            ..Options::default()
        })
        .await;
        all_unavailable(&proxy.client(), "it-down").await;

        // The SDK's standard retry policy retries the 503: three attempts reach the proxy.
        let retrying = aws_sdk_s3::Client::from_conf(
            proxy
                .client_config(ACCESS_KEY, SECRET_KEY)
                .force_path_style(true)
                .retry_config(
                    RetryConfig::standard()
                        .with_max_attempts(3)
                        .with_initial_backoff(std::time::Duration::from_millis(10)),
                )
                .build(),
        );
        let before = scrape(proxy.admin).await.value(
            "nexus_s3_requests_total",
            &[("op", "GetObject"), ("status", "503")],
        );
        assert_unavailable(
            "GetObject with retries",
            retrying
                .get_object()
                .bucket("it-down")
                .key("k")
                .send()
                .await,
        );
        let m = scrape(proxy.admin).await;
        let after = m.value(
            "nexus_s3_requests_total",
            &[("op", "GetObject"), ("status", "503")],
        );
        assert_eq!(after - before, 3.0, "the SDK retried the 503:\n{}", m.text);
        assert_eq!(
            m.value("nexus_s3_requests_total", &[("status", "500")]),
            0.0,
            "no request failed with 500 (a panic):\n{}",
            m.text
        );
        assert_eq!(raw::get(proxy.admin, "/healthz").await.status, 200);
        assert_eq!(raw::get(proxy.admin, "/readyz").await.status, 200);
    })
    .await;
}

#[tokio::test]
async fn backend_stopped_under_a_running_worker_is_503() {
    bounded(60, "backend stopped", async {
        let fs = S3sFsServer::start().await;
        let proxy = Proxy::start(Options {
            backend: Some(fs.endpoint.clone()),
            ..Options::default()
        })
        .await;
        let c = proxy.client();
        c.create_bucket()
            .bucket("it-stopped")
            .send()
            .await
            .expect("bucket");
        c.put_object()
            .bucket("it-stopped")
            .key("k")
            .body(ByteStream::from_static(b"before the outage"))
            .send()
            .await
            .expect("put");
        fs.stop();
        all_unavailable(&c, "it-stopped").await;
        let m = scrape(proxy.admin).await;
        assert_eq!(
            m.value("nexus_s3_requests_total", &[("status", "500")]),
            0.0,
            "{}",
            m.text
        );
        assert_eq!(raw::get(proxy.admin, "/healthz").await.status, 200);
    })
    .await;
}
