//! The internal protocol refuses what is not signed by the cluster, loops, and bodies damaged
//! in transit; a correctly signed hop from outside the worker is served like a forward.

use bytes::Bytes;
use http::HeaderMap;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use nexus_proxy::mesh::sign::{self, BODY_CRC32C, CONTENT_LENGTH, HopInfo};

use super::{BUCKET, Mesh, SECRET, Spec, segment_key};
use crate::pipeline::logs;
use crate::support::metrics::scrape;
use crate::support::raw::{self, RawBody};
use crate::support::sigv4::{Payload, Req, object_path};
use crate::support::{bounded, md5_hex};

/// The broker's signed PUT of `body`, turned into a hop: chunked, with the CRC32C trailer
/// (`crc_ok: false` sends a wrong one) and the route headers signed with `secret`.
fn hop_request(
    host: &str,
    key: &str,
    body: &[u8],
    secret: &[u8],
    hop: HopInfo,
    crc_ok: bool,
) -> http::Request<RawBody> {
    let req = Req::new("PUT", host, object_path(BUCKET, key))
        .body(Bytes::copy_from_slice(body))
        .signed(Payload::Hex);
    let (mut parts, _) = req.into_parts();
    let len = parts.headers.remove("content-length").expect("length");
    parts.headers.insert(CONTENT_LENGTH, len);
    parts
        .headers
        .insert("trailer", BODY_CRC32C.parse().expect("valid"));
    let uri = parts
        .uri
        .path_and_query()
        .expect("valid")
        .as_str()
        .to_owned();
    sign::sign(secret, "PUT", &uri, &mut parts.headers, hop);
    let crc = crc32c::crc32c(body) ^ u32::from(!crc_ok);
    let mut trailers = HeaderMap::new();
    trailers.insert(BODY_CRC32C, format!("{crc:08x}").parse().expect("valid"));
    let frames = vec![
        Ok(Frame::data(Bytes::copy_from_slice(&body[..body.len() / 2]))),
        Ok(Frame::data(Bytes::copy_from_slice(&body[body.len() / 2..]))),
        Ok(Frame::trailers(trailers)),
    ];
    let body: RawBody = BodyExt::boxed(StreamBody::new(futures::stream::iter(frames)));
    http::Request::from_parts(parts, body)
}

fn hop(n: u32, path: &[&str], epoch: u64) -> HopInfo {
    HopInfo {
        hop: n,
        path: path.iter().map(|s| (*s).to_owned()).collect(),
        epoch,
        policy_revision: 0,
        request_id: "00000000000000AB".into(),
        date: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_forged_looping_and_damaged_hops_are_refused() {
    let Some(mesh) = Mesh::start("mesh::security", vec![Spec::edge(), Spec::edge()]).await else {
        return;
    };
    bounded(120, "security", async {
        let view = mesh.wait_members(2).await;
        mesh.bucket().await;
        let epoch = view.swarmlets["edge"].epoch;
        // A key owned by worker 0, and one owned by worker 1.
        let key_of = |owner: usize| {
            (0..200u64)
                .map(|p| segment_key(p, 1))
                .find(|k| mesh.owner_of(&view, k) == owner)
                .expect("a partition per worker")
        };
        let (key, other) = (key_of(0), key_of(1));
        let w = &mesh.workers[0];
        let me = w.id(&view);
        let host = w.s3.to_string();
        let body = logs(300_000);
        let send = |req| raw::send(w.s3, None, req);

        // Unsigned: a route header without a signature.
        let mut unsigned = hop_request(
            &host,
            &key,
            &body,
            SECRET.as_bytes(),
            hop(1, &["x"], epoch),
            true,
        );
        unsigned.headers_mut().remove(sign::SIGNATURE);
        assert_eq!(
            send(unsigned).await.status_code(),
            (403, "AccessDenied".into())
        );
        // Forged: signed with another secret.
        let forged = hop_request(
            &host,
            &key,
            &body,
            b"not-the-cluster-secret",
            hop(1, &["x"], epoch),
            true,
        );
        let res = send(forged).await;
        assert_eq!(
            res.status_code(),
            (403, "AccessDenied".into()),
            "{}",
            res.text()
        );
        // Tampered after signing: another hop count.
        let mut tampered = hop_request(
            &host,
            &key,
            &body,
            SECRET.as_bytes(),
            hop(1, &["x"], epoch),
            true,
        );
        tampered
            .headers_mut()
            .insert(sign::HOP, "2".parse().expect("valid"));
        assert_eq!(send(tampered).await.status, 403);
        // A loop (this worker is on the path) and the hop limit.
        let looped = hop_request(
            &host,
            &key,
            &body,
            SECRET.as_bytes(),
            hop(2, &["x", &me], epoch),
            true,
        );
        assert_eq!(
            send(looped).await.status_code(),
            (508, "LoopDetected".into())
        );
        let far = hop_request(
            &host,
            &key,
            &body,
            SECRET.as_bytes(),
            hop(sign::MAX_HOPS + 1, &["x"], epoch),
            true,
        );
        assert_eq!(send(far).await.status_code(), (508, "LoopDetected".into()));
        // A body damaged in transit never becomes an object.
        let damaged = hop_request(
            &host,
            &key,
            &body,
            SECRET.as_bytes(),
            hop(1, &["x"], epoch),
            false,
        );
        let res = send(damaged).await;
        assert!(res.status >= 400, "damaged body answered {}", res.status);
        let head = w
            .client()
            .head_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await;
        assert!(head.is_err(), "a damaged hop was stored");
        // A forwarded request for a partition this worker does not own: retryable, not re-forwarded.
        let moved = hop_request(
            &host,
            &other,
            &body,
            SECRET.as_bytes(),
            hop(1, &["x"], epoch),
            true,
        );
        assert_eq!(send(moved).await.status_code(), (503, "SlowDown".into()));
        // A correct hop is served, with the request id it carries.
        let good = hop_request(
            &host,
            &key,
            &body,
            SECRET.as_bytes(),
            hop(1, &["x"], epoch),
            true,
        );
        let res = send(good).await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(res.header("x-amz-request-id"), Some("00000000000000AB"));
        let got = w
            .client()
            .get_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .expect("get");
        assert_eq!(
            md5_hex(&got.body.collect().await.expect("valid").into_bytes()),
            md5_hex(&body)
        );

        let m = scrape(w.admin).await;
        assert_eq!(
            m.value("nexus_mesh_refused_total", &[("reason", "signature")]),
            3.0,
            "{}",
            m.text
        );
        assert_eq!(
            m.value("nexus_mesh_refused_total", &[("reason", "loop")]),
            2.0
        );
        assert_eq!(
            m.value("nexus_mesh_refused_total", &[("reason", "moved")]),
            1.0
        );
    })
    .await;
}
