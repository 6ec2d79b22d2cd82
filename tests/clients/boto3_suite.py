#!/usr/bin/env python3
"""boto3 against a running nexus-proxy: the S3 surface brokers and operators use.

Env: NEXUS_ENDPOINT (http://127.0.0.1:PORT), NEXUS_ACCESS_KEY, NEXUS_SECRET_KEY.
Prints one line per check and a closing 'N passed, N failed' line; exits 1 on any failure.
"""
import hashlib
import io
import os
import sys
import traceback
import urllib.request
import uuid

import boto3
import botocore
from botocore.config import Config

ENDPOINT = os.environ["NEXUS_ENDPOINT"]
AK = os.environ["NEXUS_ACCESS_KEY"]
SK = os.environ["NEXUS_SECRET_KEY"]


def client(secret=SK, **cfg):
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id=AK,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **cfg),
    )


s3 = client()
BUCKET = f"boto3-{uuid.uuid4().hex[:12]}"
results = []


def check(fn):
    name = fn.__name__
    try:
        fn()
        results.append((name, None))
        print(f"ok   {name}", flush=True)
    except Exception as e:  # noqa: BLE001 - report every failure
        results.append((name, e))
        print(f"FAIL {name}: {e!r}", flush=True)
        traceback.print_exc()
    return fn


def error_code(fn):
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("expected an error")


@check
def create_and_head_bucket():
    s3.create_bucket(Bucket=BUCKET)
    s3.head_bucket(Bucket=BUCKET)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert BUCKET in names, names


SPECIAL_KEYS = [
    "plain.txt",
    "/leading/slash",
    "double//slash",
    "hash#and$dollar",
    "with space/and+plus",
    "unicodé/日本語/ключ",
    "tiered/logs-MWJ6FHTfRYy67jzwZdeqSQ/7/00000000000000001234-tqimKeZwStOEOwRzT3L5oQ.log",
    "/pravega/scope/stream/0.#epoch.0$attributes.index.E-1-O-0.0a1b2c3d-0000-4000-8000-000000000000",
]


@check
def put_get_special_keys():
    for i, key in enumerate(SPECIAL_KEYS):
        body = f"body {i} of {key}".encode()
        r = s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata={"idx": str(i)})
        assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), r["ETag"]
        got = s3.get_object(Bucket=BUCKET, Key=key)
        assert got["Body"].read() == body, key
        assert got["Metadata"] == {"idx": str(i)}, got["Metadata"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    for key in SPECIAL_KEYS:
        assert key in keys, (key, keys)


@check
def ranges_and_conditionals():
    body = bytes(range(256)) * 40
    etag = s3.put_object(Bucket=BUCKET, Key="r", Body=body)["ETag"]
    assert s3.get_object(Bucket=BUCKET, Key="r", Range="bytes=10-19")["Body"].read() == body[10:20]
    assert s3.get_object(Bucket=BUCKET, Key="r", Range="bytes=10000-")["Body"].read() == body[10000:]
    assert s3.get_object(Bucket=BUCKET, Key="r", Range="bytes=-7")["Body"].read() == body[-7:]
    assert s3.get_object(Bucket=BUCKET, Key="r", IfMatch=etag)["ETag"] == etag
    code, status = error_code(lambda: s3.get_object(Bucket=BUCKET, Key="r", IfNoneMatch=etag))
    assert status == 304, (code, status)
    code, status = error_code(lambda: s3.get_object(Bucket=BUCKET, Key="r", IfMatch='"0000"'))
    assert status == 412, (code, status)
    head = s3.head_object(Bucket=BUCKET, Key="r")
    assert head["ContentLength"] == len(body) and head["ETag"] == etag


@check
def copy_object_and_tagging():
    s3.put_object(Bucket=BUCKET, Key="src", Body=b"copy me", Tagging="a=1&b=2")
    s3.copy_object(Bucket=BUCKET, Key="dst", CopySource={"Bucket": BUCKET, "Key": "src"})
    assert s3.get_object(Bucket=BUCKET, Key="dst")["Body"].read() == b"copy me"
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=BUCKET, Key="src")["TagSet"]}
    assert tags == {"a": "1", "b": "2"}, tags
    s3.put_object_tagging(Bucket=BUCKET, Key="dst", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    tags = s3.get_object_tagging(Bucket=BUCKET, Key="dst")["TagSet"]
    assert tags == [{"Key": "k", "Value": "v"}], tags
    s3.delete_object_tagging(Bucket=BUCKET, Key="dst")
    assert s3.get_object_tagging(Bucket=BUCKET, Key="dst")["TagSet"] == []


@check
def multipart_upload_with_copy_part():
    part = os.urandom(5 * 1024 * 1024)
    key = "mp/object"
    up = s3.create_multipart_upload(Bucket=BUCKET, Key=key, Metadata={"role": "data"})
    uid = up["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    assert any(u["UploadId"] == uid for u in listed), listed
    # Out of order, with a re-upload of part 1.
    e2 = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=2, Body=part[:1024])["ETag"]
    s3.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=1, Body=b"x" * len(part))
    e1 = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=1, Body=part)["ETag"]
    s3.put_object(Bucket=BUCKET, Key="copy-src", Body=b"0123456789" * 1000)
    e3 = s3.upload_part_copy(
        Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=3,
        CopySource={"Bucket": BUCKET, "Key": "copy-src"}, CopySourceRange="bytes=100-199",
    )["CopyPartResult"]["ETag"]
    # Part 2 is not the last part and is < 5 MiB: the completion must be refused.
    code, status = error_code(lambda: s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2},
                                   {"PartNumber": 3, "ETag": e3}]}))
    assert code == "EntityTooSmall", code
    parts = s3.list_parts(Bucket=BUCKET, Key=key, UploadId=uid)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 2, 3], parts
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 3, "ETag": e3}]})
    got = s3.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == part + (b"0123456789" * 1000)[100:200]
    assert got["ETag"].endswith('-2"'), got["ETag"]
    assert got["Metadata"] == {"role": "data"}, got["Metadata"]


@check
def managed_transfer_multipart():
    data = os.urandom(12 * 1024 * 1024 + 7)
    cfg = boto3.s3.transfer.TransferConfig(multipart_threshold=5 * 1024 * 1024,
                                           multipart_chunksize=5 * 1024 * 1024, max_concurrency=4)
    s3.upload_fileobj(io.BytesIO(data), BUCKET, "managed", Config=cfg)
    out = io.BytesIO()
    s3.download_fileobj(BUCKET, "managed", out, Config=cfg)
    assert out.getvalue() == data


@check
def abort_multipart():
    uid = s3.create_multipart_upload(Bucket=BUCKET, Key="aborted")["UploadId"]
    s3.upload_part(Bucket=BUCKET, Key="aborted", UploadId=uid, PartNumber=1, Body=b"abc")
    s3.abort_multipart_upload(Bucket=BUCKET, Key="aborted", UploadId=uid)
    code, _ = error_code(lambda: s3.list_parts(Bucket=BUCKET, Key="aborted", UploadId=uid))
    assert code == "NoSuchUpload", code


@check
def list_v1_v2_with_delimiter_and_pages():
    for i in range(7):
        s3.put_object(Bucket=BUCKET, Key=f"list/{i // 3}/k{i}", Body=b"")
    r = s3.list_objects(Bucket=BUCKET, Prefix="list/", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["list/0/", "list/1/", "list/2/"], r
    seen, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        r = s3.list_objects_v2(Bucket=BUCKET, Prefix="list/", MaxKeys=2, **kw)
        seen += [o["Key"] for o in r.get("Contents", [])]
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert seen == sorted(f"list/{i // 3}/k{i}" for i in range(7)), seen


@check
def presigned_get():
    s3.put_object(Bucket=BUCKET, Key="presigned", Body=b"signed in the url")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "presigned"}, ExpiresIn=60)
    with urllib.request.urlopen(url) as r:  # noqa: S310 - loopback only
        assert r.read() == b"signed in the url"


@check
def bad_signature_and_missing_bucket():
    code, status = error_code(lambda: client(secret="wrong").list_objects_v2(Bucket=BUCKET))
    assert (code, status) == ("SignatureDoesNotMatch", 403), (code, status)
    code, status = error_code(lambda: s3.get_object(Bucket=f"missing-{BUCKET}", Key="x"))
    assert (code, status) == ("NoSuchBucket", 404), (code, status)
    code, status = error_code(lambda: s3.get_object(Bucket=BUCKET, Key="no/such/key"))
    assert (code, status) == ("NoSuchKey", 404), (code, status)


@check
def delete_objects_and_bucket():
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    for i in range(0, len(keys), 1000):
        r = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})
        assert not r.get("Errors"), r.get("Errors")
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
    s3.delete_bucket(Bucket=BUCKET)
    code, status = error_code(lambda: s3.head_bucket(Bucket=BUCKET))
    assert status == 404, (code, status)


failed = [n for n, e in results if e is not None]
print(f"boto3: {len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
