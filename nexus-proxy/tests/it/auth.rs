//! Authentication: presigned URLs (SDK presigning), wrong secrets, unknown access keys,
//! anonymous requests.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use bytes::Bytes;

use crate::support::raw::{self, send_presigned};
use crate::support::sigv4::{Payload, Req, object_path};
use crate::support::{Env, bounded, status_and_code};

fn headers(p: &PresignedRequest) -> impl Iterator<Item = (String, String)> + '_ {
    p.headers().map(|(k, v)| (k.to_owned(), v.to_owned()))
}

#[tokio::test]
async fn presigned_urls() {
    bounded(30, "presigned URLs", async {
        let env = Env::embedded().await;
        let b = env.bucket("it-presigned").await;
        let addr = env.proxy.s3;
        let in_5_min = PresigningConfig::expires_in(Duration::from_secs(300)).expect("config");

        // PUT through a presigned URL, then GET it back through another.
        let put = env
            .client
            .put_object()
            .bucket(&b)
            .key("pre signed/ü#1")
            .presigned(in_5_min.clone())
            .await
            .expect("presign PUT");
        let body = Bytes::from_static(b"uploaded with a presigned URL");
        let res = send_presigned(addr, put.method(), put.uri(), headers(&put), body.clone()).await;
        assert_eq!(res.status, 200, "presigned PUT: {}", res.text());
        assert_eq!(env.get(&b, "pre signed/ü#1").await, body);

        let get = env
            .client
            .get_object()
            .bucket(&b)
            .key("pre signed/ü#1")
            .presigned(in_5_min)
            .await
            .expect("presign GET");
        let res = send_presigned(addr, get.method(), get.uri(), headers(&get), Bytes::new()).await;
        assert_eq!(res.status, 200, "presigned GET: {}", res.text());
        assert_eq!(res.body, body);

        // Tampered: another key under the same signature, or a changed signature.
        let other_key = get.uri().replace("pre%20signed", "pre%20signeD");
        assert_ne!(other_key, get.uri());
        let res = send_presigned(addr, "GET", &other_key, headers(&get), Bytes::new()).await;
        assert_eq!(
            res.status_code(),
            (403, "SignatureDoesNotMatch".to_owned()),
            "{}",
            res.text()
        );
        let uri = get.uri();
        let at = uri.find("X-Amz-Signature=").expect("signature") + "X-Amz-Signature=".len();
        let flipped = if &uri[at..=at] == "0" { "1" } else { "0" };
        let tampered = format!("{}{flipped}{}", &uri[..at], &uri[at + 1..]);
        let res = send_presigned(addr, "GET", &tampered, headers(&get), Bytes::new()).await;
        assert_eq!(
            res.status_code(),
            (403, "SignatureDoesNotMatch".to_owned()),
            "{}",
            res.text()
        );

        // Expired: signed an hour ago, valid for a minute.
        let expired = PresigningConfig::builder()
            .start_time(SystemTime::now() - Duration::from_secs(3600))
            .expires_in(Duration::from_secs(60))
            .build()
            .expect("config");
        let get = env
            .client
            .get_object()
            .bucket(&b)
            .key("pre signed/ü#1")
            .presigned(expired.clone())
            .await
            .expect("presign GET");
        let res = send_presigned(addr, "GET", get.uri(), headers(&get), Bytes::new()).await;
        assert_eq!(
            res.status_code(),
            (403, "AccessDenied".to_owned()),
            "expired GET: {}",
            res.text()
        );
        let put = env
            .client
            .put_object()
            .bucket(&b)
            .key("expired")
            .presigned(expired)
            .await
            .expect("presign PUT");
        let res = send_presigned(
            addr,
            "PUT",
            put.uri(),
            headers(&put),
            Bytes::from_static(b"x"),
        )
        .await;
        assert_eq!(res.status, 403, "expired PUT: {}", res.text());
        assert_eq!(
            env.head_status(&b, "expired").await,
            404,
            "expired PUT stored"
        );
    })
    .await;
}

#[tokio::test]
async fn wrong_credentials_and_anonymous_requests_are_refused() {
    bounded(30, "credentials", async {
        let env = Env::embedded().await;
        let b = env.bucket("it-auth").await;
        env.put(&b, "k", b"secret data").await;

        let bad_secret = env
            .proxy
            .client_with(crate::support::ACCESS_KEY, "not-the-secret");
        let err = bad_secret
            .get_object()
            .bucket(&b)
            .key("k")
            .send()
            .await
            .expect_err("bad secret");
        assert_eq!(
            status_and_code(&err),
            (403, "SignatureDoesNotMatch".to_owned())
        );
        assert!(
            err.raw_response()
                .and_then(|r| r.headers().get("x-amz-request-id"))
                .is_some(),
            "a refused signature still gets a request id"
        );
        let err = bad_secret
            .put_object()
            .bucket(&b)
            .key("k")
            .body(b"overwritten".to_vec().into())
            .send()
            .await
            .expect_err("bad secret");
        assert_eq!(
            status_and_code(&err),
            (403, "SignatureDoesNotMatch".to_owned())
        );
        let err = bad_secret
            .list_buckets()
            .send()
            .await
            .expect_err("bad secret");
        assert_eq!(
            status_and_code(&err),
            (403, "SignatureDoesNotMatch".to_owned())
        );

        let stranger = env
            .proxy
            .client_with("who-is-this", crate::support::SECRET_KEY);
        let err = stranger
            .get_object()
            .bucket(&b)
            .key("k")
            .send()
            .await
            .expect_err("unknown key");
        assert_eq!(
            status_and_code(&err),
            (403, "InvalidAccessKeyId".to_owned())
        );

        // Anonymous: no signature at all.
        let host = env.proxy.s3.to_string();
        for req in [
            Req::new("GET", host.clone(), object_path(&b, "k")).anonymous(),
            Req::new("PUT", host.clone(), object_path(&b, "k"))
                .body(b"anonymous".to_vec())
                .anonymous(),
            Req::new("GET", host.clone(), "/").anonymous(),
            Req::new("GET", host.clone(), format!("/{b}")).anonymous(),
        ] {
            let what = format!("{} {}", req.method(), req.uri());
            let res = raw::send(env.proxy.s3, None, req).await;
            assert_eq!(
                res.status_code(),
                (403, "AccessDenied".to_owned()),
                "anonymous {what}"
            );
            assert!(
                res.header("x-amz-request-id").is_some(),
                "request id on {what}"
            );
        }

        // A hand-signed request with the right keys passes (the signer is sound).
        let res = raw::send(
            env.proxy.s3,
            None,
            Req::new("GET", host, object_path(&b, "k")).signed(Payload::Hex),
        )
        .await;
        assert_eq!(res.status, 200, "{}", res.text());
        assert_eq!(
            env.get(&b, "k").await,
            b"secret data",
            "nothing was overwritten"
        );
    })
    .await;
}
