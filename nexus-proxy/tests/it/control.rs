//! The control plane in a running worker: `--policies` applied at start, the policy set
//! deciding each bucket's key grammar and matching objects, live changes and deletes picked up
//! without a restart, Redis as the metadata store and the worker's behaviour when it is lost.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use nexus_core::meta::test_util::RedisServer;
use nexus_core::meta::{self, Batch, Change, ResourceKind};

use crate::support::metrics::scrape;
use crate::support::{Options, Proxy, bounded, policies_dir, raw};

/// An Aiven key under the example policy's prefix.
fn kafka_key(topic: &str, suffix: &str) -> String {
    format!(
        "tiered/{topic}-MWJ6FHTfRYy67jzwZdeqSQ/3/00000000000000001234-tqimKeZwStOEOwRzT3L5oQ.{suffix}"
    )
}

async fn put(proxy: &Proxy, bucket: &str, key: &str) {
    proxy
        .client()
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"segment"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

/// How many policies the example files in `policies/` hold.
fn examples() -> usize {
    std::fs::read_dir(policies_dir())
        .expect("policies/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            std::fs::read_to_string(&p)
                .expect("read")
                .lines()
                .filter(|l| *l == "kind: Policy")
                .count()
        })
        .sum()
}

async fn create_bucket(proxy: &Proxy, bucket: &str) {
    proxy
        .client()
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create {bucket}: {e:?}"));
}

/// Waits until the worker serves `revision`, and says how long it took.
async fn served_within(proxy: &Proxy, revision: u64) -> Duration {
    let started = Instant::now();
    assert!(
        proxy
            .control()
            .wait_for_revision(revision, Duration::from_secs(5))
            .await,
        "revision {revision} not served after 5 s (serving {})",
        proxy.control().revision()
    );
    started.elapsed()
}

#[tokio::test]
async fn example_policies_decide_grammar_and_matching_and_follow_changes() {
    bounded(60, "control plane", async {
        let opts = Options {
            policies: Some(policies_dir()),
            ..Options::default()
        };
        let proxy = Proxy::start(opts).await;
        let m = scrape(proxy.admin).await;
        assert_eq!(
            m.value("nexus_policies", &[]),
            examples() as f64,
            "{}",
            m.text
        );
        assert_eq!(m.value("nexus_policy_revision", &[]), 1.0);
        assert_eq!(m.value("nexus_metadata_fresh", &[]), 1.0);

        create_bucket(&proxy, "kafka-tiered").await;
        // No --key-grammar: the policy makes kafka-tiered a Kafka bucket with prefix tiered/.
        put(&proxy, "kafka-tiered", &kafka_key("logs-app", "log")).await;
        put(&proxy, "kafka-tiered", &kafka_key("logs-app", "indexes")).await;
        put(&proxy, "kafka-tiered", &kafka_key("orders", "log")).await;
        let m = scrape(proxy.admin).await;
        assert_eq!(
            m.value(
                "nexus_objects_classified_total",
                &[("system", "kafka"), ("kind", "chunk")]
            ),
            2.0
        );
        assert_eq!(
            m.value(
                "nexus_objects_classified_total",
                &[("system", "kafka"), ("kind", "aux")]
            ),
            1.0
        );
        assert_eq!(
            m.value(
                "nexus_objects_matched_total",
                &[("policy", "kafka-logs-zstd")]
            ),
            1.0,
            "only the logs-* data chunk matches: {}",
            m.text
        );

        // An operator applies a more specific policy for `orders`, through the same store the
        // CLI would use: the running worker picks it up without a restart.
        let store = meta::open(&format!(
            "file:{}",
            proxy.data_dir().join("meta.json").display()
        ))
        .await
        .expect("open the worker's store");
        let orders = std::fs::read_to_string(policies_dir().join("kafka-logs-zstd.yaml"))
            .expect("read")
            .replace("name: kafka-logs-zstd", "name: kafka-orders")
            .replace("\"logs-*\"", "\"orders\"");
        let parsed = nexus_core::resource::parse_str("orders.yaml", &orders);
        assert!(parsed.diags.is_empty(), "{:?}", parsed.diags);
        let body = parsed.resources[0].to_yaml();
        let out = store
            .apply(Batch::new(vec![Change::put(
                ResourceKind::Policy,
                "kafka-orders",
                body,
            )]))
            .await
            .expect("apply");
        let took = served_within(&proxy, out.revision).await;
        eprintln!("policy change served after {took:?}");
        put(&proxy, "kafka-tiered", &kafka_key("orders", "log")).await;
        let m = scrape(proxy.admin).await;
        assert_eq!(
            m.value("nexus_objects_matched_total", &[("policy", "kafka-orders")]),
            1.0
        );
        assert_eq!(m.value("nexus_policies", &[]), examples() as f64 + 1.0);

        // Deletes propagate too (the prototype never propagated them).
        let out = store
            .apply(Batch::new(vec![Change::delete(
                ResourceKind::Policy,
                "kafka-orders",
            )]))
            .await
            .expect("delete");
        served_within(&proxy, out.revision).await;
        put(&proxy, "kafka-tiered", &kafka_key("orders", "log")).await;
        let m = scrape(proxy.admin).await;
        assert_eq!(
            m.value("nexus_objects_matched_total", &[("policy", "kafka-orders")]),
            1.0
        );
        assert_eq!(m.value("nexus_policies", &[]), examples() as f64);

        // Restarting with the same --policies changes nothing (idempotent apply).
        let data = proxy.shutdown().await;
        let opts = Options {
            policies: Some(policies_dir()),
            ..Options::default()
        };
        let proxy = Proxy::start_in(opts, data).await;
        assert_eq!(
            proxy.control().revision(),
            out.revision,
            "re-applying unchanged files is a no-op"
        );
        proxy.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn invalid_policy_files_stop_the_start() {
    use clap::Parser as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: nexus/v1\nkind: Policy\nmetadata: {name: x}\nspec: {system: kafak}\n",
    )
    .expect("write");
    let data = tempfile::tempdir().expect("tempdir");
    let config = nexus_proxy::config::Args::try_parse_from([
        "nexus-proxy",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--data-dir",
        data.path().to_str().expect("utf-8"),
        "--policies",
        bad.to_str().expect("utf-8"),
    ])
    .expect("flags parse")
    .validate()
    .expect("flags are valid");
    let err = match nexus_proxy::app::start(config).await {
        Ok(_) => panic!("started with an invalid policy"),
        Err(e) => e,
    };
    let msg = err.to_string();
    assert!(
        matches!(err, nexus_proxy::app::StartError::Config(_)),
        "{msg}"
    );
    assert!(msg.contains("bad.yaml:4:16 (spec.system)"), "{msg}");
    assert!(msg.contains("did you mean `kafka`?"), "{msg}");
}

#[tokio::test]
async fn redis_metadata_changes_apply_live_and_loss_turns_not_ready_after_grace() {
    let Some(mut redis) = RedisServer::start("redis_metadata_changes") else {
        return;
    };
    bounded(60, "redis control plane", async {
        let opts = Options {
            meta: Some(redis.url()),
            policies: Some(policies_dir()),
            meta_grace: Duration::from_secs(1),
            ..Options::default()
        };
        let proxy = Proxy::start(opts).await;
        assert_eq!(proxy.control().policies().len(), examples());

        // Another client (the CLI) deletes a policy in Redis: pub/sub tells the worker.
        let cli = meta::open(&redis.url()).await.expect("second client");
        let out = cli
            .apply(Batch::new(vec![Change::delete(
                ResourceKind::Policy,
                "pulsar-offload-gzip",
            )]))
            .await
            .expect("delete");
        let took = served_within(&proxy, out.revision).await;
        eprintln!("redis change served after {took:?}");
        assert_eq!(proxy.control().policies().len(), examples() - 1);
        assert_eq!(raw::get(proxy.admin, "/readyz").await.status, 200);

        // Redis goes away: the worker keeps serving its last snapshot, then reports not ready.
        redis.stop();
        create_bucket(&proxy, "kafka-tiered").await;
        put(&proxy, "kafka-tiered", &kafka_key("logs-app", "log")).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if raw::get(proxy.admin, "/readyz").await.status == 503 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "still ready 10 s after losing Redis (grace 1 s)"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            proxy.control().policies().len(),
            examples() - 1,
            "the last snapshot is kept"
        );
        let m = scrape(proxy.admin).await;
        assert_eq!(m.value("nexus_metadata_fresh", &[]), 0.0);
        assert_eq!(
            m.value(
                "nexus_objects_matched_total",
                &[("policy", "kafka-logs-zstd")]
            ),
            1.0
        );

        // Redis is back (empty: no persistence): the worker follows it and is ready again.
        redis.restart();
        let deadline = Instant::now() + Duration::from_secs(10);
        while raw::get(proxy.admin, "/readyz").await.status != 200 {
            assert!(
                Instant::now() < deadline,
                "not ready 10 s after Redis came back"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        proxy.shutdown().await;
    })
    .await;
}

/// Writes under a policy record `policy@version` in the backend object's metadata
/// (`x-amz-meta-nexus-policy`); clients never see it and cannot set `x-amz-meta-nexus-*`.
#[tokio::test]
async fn writes_record_their_policy_which_clients_never_see() {
    use crate::support::backends::S3sFsServer;
    bounded(60, "recorded policy", async {
        let fs = S3sFsServer::start().await;
        let proxy = Proxy::start(Options {
            backend: Some(fs.endpoint.clone()),
            policies: Some(policies_dir()),
            ..Options::default()
        })
        .await;
        let direct = proxy.backend_client(&fs.endpoint);
        let client = proxy.client();
        create_bucket(&proxy, "kafka-tiered").await;
        let matched = kafka_key("logs-app", "log");
        let unmatched = kafka_key("logs-app", "indexes");
        for key in [&matched, &unmatched] {
            client
                .put_object()
                .bucket("kafka-tiered")
                .key(key)
                .metadata("origin", "broker-1")
                .body(ByteStream::from_static(b"segment"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
        }
        // Multipart uploads record it at Create.
        let mp = kafka_key("logs-web", "log");
        let up = client
            .create_multipart_upload()
            .bucket("kafka-tiered")
            .key(&mp)
            .send()
            .await
            .expect("create");
        let upload_id = up.upload_id().expect("id");
        let part = client
            .upload_part()
            .bucket("kafka-tiered")
            .key(&mp)
            .upload_id(upload_id)
            .part_number(1)
            .body(ByteStream::from_static(b"part"))
            .send()
            .await
            .expect("part");
        client
            .complete_multipart_upload()
            .bucket("kafka-tiered")
            .key(&mp)
            .upload_id(upload_id)
            .multipart_upload(
                aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .parts(
                        aws_sdk_s3::types::CompletedPart::builder()
                            .part_number(1)
                            .e_tag(part.e_tag().expect("etag"))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("complete");

        let version = proxy
            .control()
            .policies()
            .policies()
            .find(|p| p.name.as_str() == "kafka-logs-zstd")
            .expect("example policy")
            .version;
        let recorded = format!("kafka-logs-zstd@{version}");
        for key in [&matched, &mp] {
            let stored = direct
                .head_object()
                .bucket("kafka-tiered")
                .key(key)
                .send()
                .await
                .expect("direct head");
            let meta = stored.metadata().cloned().unwrap_or_default();
            assert_eq!(meta.get("nexus-policy"), Some(&recorded), "{key}: {meta:?}");
            let seen = client
                .head_object()
                .bucket("kafka-tiered")
                .key(key)
                .send()
                .await
                .expect("head");
            let meta = seen.metadata().cloned().unwrap_or_default();
            assert!(
                !meta.contains_key("nexus-policy"),
                "HEAD shows recorded metadata: {meta:?}"
            );
            let got = client
                .get_object()
                .bucket("kafka-tiered")
                .key(key)
                .send()
                .await
                .expect("get");
            let meta = got.metadata().cloned().unwrap_or_default();
            assert!(
                !meta.contains_key("nexus-policy"),
                "GET shows recorded metadata: {meta:?}"
            );
        }
        let seen = client
            .head_object()
            .bucket("kafka-tiered")
            .key(&matched)
            .send()
            .await
            .expect("head");
        assert_eq!(
            seen.metadata()
                .and_then(|m| m.get("origin"))
                .map(String::as_str),
            Some("broker-1")
        );
        // The example policy's streamlet is not deployed here: the writes were stored as sent
        // (the backend holds the plaintext) and counted.
        let stored = direct
            .get_object()
            .bucket("kafka-tiered")
            .key(&matched)
            .send()
            .await
            .expect("direct get");
        let body = stored.body.collect().await.expect("body").into_bytes();
        assert_eq!(body.as_ref(), b"segment");
        let m = scrape(proxy.admin).await;
        assert_eq!(
            m.value(
                "nexus_pipeline_skipped_total",
                &[("policy", "kafka-logs-zstd")]
            ),
            2.0,
            "{}",
            m.text
        );
        // Objects no policy matches carry nothing of Nexus's.
        let stored = direct
            .head_object()
            .bucket("kafka-tiered")
            .key(&unmatched)
            .send()
            .await
            .expect("direct head");
        let meta = stored.metadata().cloned().unwrap_or_default();
        assert_eq!(meta.len(), 1, "{meta:?}");

        // Reserved keys are refused, and nothing is stored.
        let refused = kafka_key("logs-new", "log");
        let err = client
            .put_object()
            .bucket("kafka-tiered")
            .key(&refused)
            .metadata("nexus-policy", "forged@1")
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .expect_err("reserved metadata accepted");
        assert_eq!(
            crate::support::status_and_code(&err),
            (400, "InvalidArgument".to_owned())
        );
        let err = client
            .create_multipart_upload()
            .bucket("kafka-tiered")
            .key(&refused)
            .metadata("Nexus-Format", "nxf1")
            .send()
            .await
            .expect_err("reserved metadata accepted");
        assert_eq!(
            crate::support::status_and_code(&err),
            (400, "InvalidArgument".to_owned())
        );
        let missing = direct
            .head_object()
            .bucket("kafka-tiered")
            .key(&refused)
            .send()
            .await;
        assert!(missing.is_err(), "a refused write stored something");
        proxy.shutdown().await;
    })
    .await;
}
