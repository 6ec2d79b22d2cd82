//! Virtual-host addressing (`bucket.<domain>`, the domain configurable) next to path-style.

use aws_sdk_s3::primitives::ByteStream;

use crate::support::raw;
use crate::support::sigv4::{Payload, Req, uri_encode};
use crate::support::{Env, Kind, Options, Proxy, bounded};

/// aws-sdk-s3 with virtual-host addressing: it sends `Host: bucket.localhost:PORT`.
#[tokio::test]
async fn sdk_virtual_host_and_path_style_see_the_same_buckets() {
    bounded(30, "virtual host (SDK)", async {
        let proxy = Proxy::start(Options::default()).await;
        let vhost = proxy.virtual_host_client();
        let path = proxy.client();
        vhost
            .create_bucket()
            .bucket("it-vhost")
            .send()
            .await
            .expect("create bucket, virtual-host style");
        path.head_bucket()
            .bucket("it-vhost")
            .send()
            .await
            .expect("visible path-style");
        for key in ["a/b.log", "/pravega//scope/seg#1", "sp ace/ü"] {
            vhost
                .put_object()
                .bucket("it-vhost")
                .key(key)
                .body(ByteStream::from(key.as_bytes().to_vec()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("vhost put {key:?}: {e:?}"));
            let got = path
                .get_object()
                .bucket("it-vhost")
                .key(key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("path-style get {key:?}: {e:?}"));
            let body = got.body.collect().await.expect("body").into_bytes();
            assert_eq!(&body[..], key.as_bytes(), "{key:?}");
        }
        let listed = vhost
            .list_objects_v2()
            .bucket("it-vhost")
            .send()
            .await
            .expect("vhost list");
        let mut keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["/pravega//scope/seg#1", "a/b.log", "sp ace/ü"]);
    })
    .await;
}

/// Hand-built requests with the `Host` header of our choosing, and another base domain.
#[tokio::test]
async fn host_header_selects_the_bucket_only_under_a_configured_domain() {
    bounded(30, "virtual host (raw)", async {
        let proxy = Proxy::start(Options {
            virtual_host_domains: vec!["s3.nexus.test".to_owned()],
            ..Options::default()
        })
        .await;
        let client = proxy.client();
        let port = proxy.s3.port();
        let env = Env::from_proxy(Kind::Embedded, proxy, client);
        let b = env.bucket("it-domain").await;
        env.put(&b, "/lead//key", b"pravega chunk").await;
        let addr = env.proxy.s3;

        let vhost = format!("{b}.s3.nexus.test:{port}");
        let path = format!("/{}", uri_encode("/lead//key", false));
        let res = raw::send(
            addr,
            None,
            Req::new("GET", vhost.clone(), path.clone()).signed(Payload::Hex),
        )
        .await;
        assert_eq!(res.status, 200, "virtual-host GET: {}", res.text());
        assert_eq!(&res.body[..], b"pravega chunk");

        let res = raw::send(
            addr,
            None,
            Req::new("PUT", vhost.clone(), "/written/by/vhost")
                .body(b"vhost put".to_vec())
                .signed(Payload::Hex),
        )
        .await;
        assert_eq!(res.status, 200, "virtual-host PUT: {}", res.text());
        assert_eq!(env.get(&b, "written/by/vhost").await, b"vhost put");

        let res = raw::send(
            addr,
            None,
            Req::new("GET", vhost, "/")
                .query("list-type", "2")
                .query("prefix", "written/")
                .signed(Payload::Hex),
        )
        .await;
        assert_eq!(res.status, 200, "virtual-host list: {}", res.text());
        assert!(
            res.text().contains("<Key>written/by/vhost</Key>"),
            "{}",
            res.text()
        );

        // `localhost` is not a configured domain here: the host names no bucket, the path does.
        let res = raw::send(
            addr,
            None,
            Req::new("GET", format!("{b}.localhost:{port}"), "/written/by/vhost")
                .signed(Payload::Hex),
        )
        .await;
        assert_eq!(
            res.status_code(),
            (404, "NoSuchBucket".to_owned()),
            "{}",
            res.text()
        );
        let res = raw::send(
            addr,
            None,
            Req::new(
                "GET",
                format!("{b}.localhost:{port}"),
                format!("/{b}/written/by/vhost"),
            )
            .signed(Payload::Hex),
        )
        .await;
        assert_eq!(
            res.status,
            200,
            "path-style under another host name: {}",
            res.text()
        );
    })
    .await;
}
