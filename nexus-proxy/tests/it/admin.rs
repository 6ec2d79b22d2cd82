//! The admin port (`/metrics`, `/healthz`, `/readyz`) and the request id on every response.

use std::collections::HashSet;

use aws_sdk_s3::operation::RequestId as _;
use aws_sdk_s3::primitives::ByteStream;
use nexus_core::keys::{KeyGrammar, System};

use crate::support::metrics::scrape;
use crate::support::raw;
use crate::support::sigv4::{Payload, Req, object_path};
use crate::support::{Env, Kind, Options, Proxy, bounded, pattern_seeded};

const TOPIC_ID: &str = "AbCdEfGhIjKlMnOpQrStUw";
const SEGMENT_ID: &str = "MWJ6FHTfRYy67jzwZdeqSQ";

#[tokio::test]
async fn metrics_count_requests_bytes_latency_and_classes() {
    bounded(30, "metrics", async {
        let proxy = Proxy::start(Options {
            grammars: vec![("it-kafka".to_owned(), KeyGrammar::new(System::Kafka))],
            ..Options::default()
        })
        .await;
        let client = proxy.client();
        let env = Env::from_proxy(Kind::Embedded, proxy, client);
        let b = env.bucket("it-kafka").await;
        let segment = pattern_seeded(123_456, 1);
        let key = format!("prefix/topic-{TOPIC_ID}/0/00000000000000000000-{SEGMENT_ID}.log");
        let index = format!("prefix/topic-{TOPIC_ID}/0/00000000000000000000-{SEGMENT_ID}.indexes");
        let manifest =
            format!("prefix/topic-{TOPIC_ID}/0/00000000000000000000-{SEGMENT_ID}.rsm-manifest");
        env.put(&b, &key, &segment).await;
        env.put(&b, &index, b"index").await;
        env.put(&b, &manifest, b"{}").await;
        env.put(&b, "not/a/kafka/key", b"other").await;
        assert_eq!(env.get(&b, &key).await, segment);
        let err = env
            .client
            .get_object()
            .bucket(&b)
            .key("missing")
            .send()
            .await
            .expect_err("missing");
        assert_eq!(crate::support::status_and_code(&err).0, 404);

        let m = scrape(env.proxy.admin).await;
        let v = |name: &str, labels: &[(&str, &str)]| m.value(name, labels);
        assert_eq!(
            v(
                "nexus_s3_requests_total",
                &[("op", "PutObject"), ("status", "200")]
            ),
            4.0,
            "{}",
            m.text
        );
        assert_eq!(
            v(
                "nexus_s3_requests_total",
                &[("op", "CreateBucket"), ("status", "200")]
            ),
            1.0
        );
        assert_eq!(
            v(
                "nexus_s3_requests_total",
                &[("op", "GetObject"), ("status", "200")]
            ),
            1.0
        );
        assert_eq!(
            v(
                "nexus_s3_requests_total",
                &[("op", "GetObject"), ("status", "404")]
            ),
            1.0
        );
        let put_in = v("nexus_s3_received_bytes_total", &[("op", "PutObject")]);
        assert_eq!(
            put_in,
            (segment.len() + 5 + 2 + 5) as f64,
            "bytes in by PutObject"
        );
        let get_out = v("nexus_s3_sent_bytes_total", &[("op", "GetObject")]);
        assert!(
            get_out >= segment.len() as f64,
            "bytes out by GetObject: {get_out}"
        );
        assert_eq!(
            v(
                "nexus_s3_request_duration_seconds_count",
                &[("op", "PutObject")]
            ),
            4.0
        );
        assert!(
            v(
                "nexus_s3_request_duration_seconds_sum",
                &[("op", "PutObject")]
            ) > 0.0
        );
        assert_eq!(
            v(
                "nexus_s3_request_duration_seconds_bucket",
                &[("op", "PutObject"), ("le", "+Inf")]
            ),
            4.0,
            "latency histogram"
        );
        assert!(
            m.text.contains("nexus_s3_request_duration_seconds_bucket{"),
            "histogram buckets"
        );
        assert_eq!(
            v(
                "nexus_objects_classified_total",
                &[("system", "kafka"), ("kind", "chunk")]
            ),
            2.0,
            "PUT and GET of the segment:\n{}",
            m.text
        );
        assert_eq!(
            v(
                "nexus_objects_classified_total",
                &[("system", "kafka"), ("kind", "aux")]
            ),
            1.0
        );
        assert_eq!(
            v(
                "nexus_objects_classified_total",
                &[("system", "kafka"), ("kind", "metadata")]
            ),
            1.0
        );
        assert_eq!(
            v("nexus_objects_classified_total", &[("system", "generic")]),
            2.0,
            "the other key, PUT and GET missing"
        );
        assert_eq!(v("nexus_s3_in_flight_requests", &[]), 0.0);
        assert!(m.has("nexus_build_info"));
    })
    .await;
}

#[tokio::test]
async fn health_readiness_and_request_ids() {
    bounded(30, "admin and request ids", async {
        let env = Env::embedded().await;
        let admin = env.proxy.admin;
        let res = raw::get(admin, "/healthz").await;
        assert_eq!((res.status, res.text().trim()), (200, "ok"));
        let res = raw::get(admin, "/readyz").await;
        assert_eq!((res.status, res.text().trim()), (200, "ready"));
        assert_eq!(raw::get(admin, "/nothing-here").await.status, 404);
        let post = http::Request::builder()
            .method("POST")
            .uri("/metrics")
            .header("host", admin.to_string())
            .body(raw::full(bytes::Bytes::new()))
            .expect("request");
        assert_eq!(raw::send(admin, None, post).await.status, 405);

        // Every S3 response carries an id, distinct per request: successes, S3 errors,
        // authentication failures.
        let b = env.bucket("it-ids").await;
        let host = env.proxy.s3.to_string();
        let mut ids = HashSet::new();
        let mut conn = raw::Conn::open(env.proxy.s3, None).await;
        let requests = [
            Req::new("PUT", host.clone(), object_path(&b, "k"))
                .body(b"x".to_vec())
                .signed(Payload::Hex),
            Req::new("GET", host.clone(), object_path(&b, "k")).signed(Payload::Hex),
            Req::new("GET", host.clone(), object_path(&b, "missing")).signed(Payload::Hex),
            Req::new("GET", host.clone(), object_path("it-no-bucket", "k")).signed(Payload::Hex),
            Req::new("GET", host.clone(), object_path(&b, "k")).anonymous(),
        ];
        for req in requests {
            let what = format!("{} {}", req.method(), req.uri());
            let res = conn.send(req).await;
            let id = res
                .header("x-amz-request-id")
                .unwrap_or_else(|| panic!("{what}: no request id"))
                .to_owned();
            assert!(
                id.len() >= 16 && id.bytes().all(|c| c.is_ascii_alphanumeric()),
                "{what}: id {id:?}"
            );
            if res.status >= 400 {
                assert!(
                    res.text().contains(&format!("<RequestId>{id}</RequestId>")),
                    "{what}: error body names the id: {}",
                    res.text()
                );
            }
            assert!(ids.insert(id), "{what}: id reused");
        }
        let out = env
            .client
            .put_object()
            .bucket(&b)
            .key("sdk")
            .body(ByteStream::from_static(b"y"))
            .send()
            .await
            .expect("put");
        let id = out.request_id().expect("the SDK sees the request id");
        assert!(!ids.contains(id));
    })
    .await;
}
