//! Correctness of the in-memory backend and the load client (no timing): starts the backend on
//! 127.0.0.1:0 in-process and talks to it with aws-sdk-s3.

use std::net::SocketAddr;
use std::time::Duration;

use nexus_bench::client::{self, ClientOptions};
use nexus_bench::load::{self, LoadSpec, Op};
use nexus_bench::{backend, check, ops};

async fn start() -> SocketAddr {
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let (addr, _task) = backend::start(any_port).await.expect("backend starts");
    addr
}

fn client(addr: SocketAddr, checksums: bool) -> aws_sdk_s3::Client {
    client::build(&ClientOptions {
        endpoint: format!("http://{addr}"),
        access_key: "k".into(),
        secret_key: "s".into(),
        checksums,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_pass_against_the_backend() {
    let addr = start().await;
    let failed: Vec<String> = check::run(&client(addr, false), &client(addr, true), "b")
        .await
        .into_iter()
        .filter_map(|o| o.result.err().map(|e| format!("{}: {e:#}", o.name)))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_and_sizes_recorded() {
    let addr = start().await;
    let c = client(addr, false);
    let err = ops::put(&c, "nobucket", "k", 10).await.unwrap_err();
    assert!(format!("{err:#}").contains("NoSuchBucket"), "{err:#}");
    c.create_bucket().bucket("b").send().await.unwrap();
    ops::put(&c, "b", "big", (5 << 20) + 1).await.unwrap();
    assert_eq!(ops::head(&c, "b", "big").await.unwrap(), (5 << 20) + 1);
    let listed = c.list_objects_v2().bucket("b").send().await.unwrap();
    let keys: Vec<_> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["big"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_runs_are_bounded_and_error_free() {
    let addr = start().await;
    let c = client(addr, false);
    c.create_bucket().bucket("b").send().await.unwrap();
    for op in [Op::Put, Op::Get] {
        let spec = LoadSpec {
            op,
            bucket: "b".into(),
            size: 3 << 20,
            concurrency: 4,
            requests: 20,
            max_duration: Duration::from_secs(30),
        };
        let r = load::run(&c, &spec).await;
        assert_eq!((r.ok, r.errors), (20, 0), "{op}: {r}");
        assert_eq!(r.bytes, 20 * (3 << 20));
        assert_eq!(r.latencies.len(), 20);
    }
    // The duration bound stops a run long before its request count.
    let spec = LoadSpec {
        op: Op::Get,
        bucket: "b".into(),
        size: 4096,
        concurrency: 2,
        requests: u64::MAX,
        max_duration: Duration::from_millis(300),
    };
    let r = load::run(&c, &spec).await;
    assert!(r.ok > 0 && r.errors == 0, "{r}");
    assert!(r.elapsed < Duration::from_secs(5), "{r}");
}
