#![allow(clippy::unwrap_used)] // test code: a panic is a failed test
use clap::Parser;

use super::*;

fn parse(args: &[&str]) -> Result<Config, String> {
    let mut argv = vec!["nexus-proxy"];
    argv.extend_from_slice(args);
    Args::try_parse_from(argv)
        .map_err(|e| e.to_string())?
        .validate()
        .map_err(|e| e.to_string())
}

#[test]
fn defaults_are_the_embedded_quickstart() {
    let c = parse(&[]).expect("defaults are valid");
    assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
    assert_eq!(c.admin_listen.to_string(), "127.0.0.1:9100");
    assert!(
        matches!(c.backend, BackendConfig::Embedded { ref data_dir } if data_dir.ends_with("nexus-data"))
    );
    assert!(c.credentials.quickstart);
    assert_eq!(c.credentials.access_key, QUICKSTART_ACCESS_KEY);
    assert_eq!(c.virtual_host_domains, vec!["localhost".to_owned()]);
    assert!(c.tls.is_none());
    assert_eq!(c.complete_put_max, 5 << 30, "what one PUT takes");
}

#[test]
fn complete_put_max_stays_within_s3s_part_sizes() {
    assert_eq!(
        parse(&["--complete-put-max", "5242880"])
            .unwrap()
            .complete_put_max,
        5 << 20
    );
    for bad in ["5242879", "5368709121", "0"] {
        let e = parse(&["--complete-put-max", bad]).expect_err(bad);
        assert!(
            e.contains("--complete-put-max") && e.contains("5 MiB"),
            "{e}"
        );
    }
}

#[test]
fn s3_backend_needs_credentials_and_a_url() {
    let e = parse(&["--backend-endpoint", "http://127.0.0.1:9"]).unwrap_err();
    assert!(e.contains("--backend-access-key"), "{e}");
    let e = parse(&[
        "--backend-endpoint",
        "ftp://x",
        "--backend-access-key",
        "a",
        "--backend-secret-key",
        "b",
    ])
    .unwrap_err();
    assert!(e.contains("http:// or https://"), "{e}");
    let e = parse(&["--backend-access-key", "a"]).unwrap_err();
    assert!(e.contains("need --backend-endpoint"), "{e}");
    let c = parse(&[
        "--backend-endpoint",
        "http://127.0.0.1:9",
        "--backend-access-key",
        "a",
        "--backend-secret-key",
        "b",
        "--backend-path-style",
    ])
    .expect("valid");
    assert!(matches!(
        c.backend,
        BackendConfig::S3 {
            path_style: true,
            ..
        }
    ));
}

#[test]
fn credentials_come_in_pairs() {
    assert!(
        parse(&["--access-key", "a"])
            .unwrap_err()
            .contains("together")
    );
    assert!(
        parse(&["--access-key", "", "--secret-key", ""])
            .unwrap_err()
            .contains("empty")
    );
    let c = parse(&["--access-key", "a", "--secret-key", "b"]).expect("valid");
    assert!(!c.credentials.quickstart);
}

#[test]
fn tls_needs_both_existing_files() {
    assert!(
        parse(&["--tls-cert", "/nonexistent.pem"])
            .unwrap_err()
            .contains("together")
    );
    let e = parse(&[
        "--tls-cert",
        "/nonexistent.pem",
        "--tls-key",
        "/nonexistent.key",
    ])
    .unwrap_err();
    assert!(e.contains("no such file"), "{e}");
}

#[test]
fn listen_addresses_are_checked() {
    assert!(parse(&["--listen", "nope"]).is_err());
    let e = parse(&[
        "--listen",
        "127.0.0.1:9000",
        "--admin-listen",
        "127.0.0.1:9000",
    ])
    .unwrap_err();
    assert!(e.contains("separate"), "{e}");
    // Two ephemeral ports are two different ports.
    parse(&["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]).expect("both ephemeral");
}

#[test]
fn key_grammars_parse_with_prefixes() {
    let c = parse(&["--key-grammar", "kafka-tiered=kafka:tiered/,offload=pulsar"]).expect("valid");
    assert_eq!(c.grammars.len(), 2);
    assert_eq!(c.grammars[0].0, "kafka-tiered");
    assert_eq!(c.grammars[0].1.system(), System::Kafka);
    assert_eq!(c.grammars[1].1.system(), System::Pulsar);
    assert!(
        parse(&["--key-grammar", "b=kafak"])
            .unwrap_err()
            .contains("kafak")
    );
    assert!(
        parse(&["--key-grammar", "nobucket"])
            .unwrap_err()
            .contains("BUCKET=SYSTEM")
    );
}

#[test]
fn virtual_host_domains_are_validated() {
    let c = parse(&["--virtual-host-domain", "S3.Example.com.,localhost"]).expect("valid");
    assert_eq!(
        c.virtual_host_domains,
        vec!["s3.example.com".to_owned(), "localhost".to_owned()]
    );
    assert!(parse(&["--virtual-host-domain", "http://x"]).is_err());
    assert!(parse(&["--virtual-host-domain", "x:9000"]).is_err());
}

#[test]
fn mesh_flags_are_checked_before_anything_starts() {
    let redis = ["--meta", "redis://127.0.0.1:6379"];
    let secret = ["--cluster-secret", "0123456789abcdef"];
    let with = |extra: &[&str]| {
        let mut a = vec!["--swarmlet", "edge"];
        a.extend_from_slice(&redis);
        a.extend_from_slice(&secret);
        a.extend_from_slice(extra);
        parse(&a)
    };
    let c = with(&["--hardware", "gpu,fpga,gpu"]).unwrap();
    let m = c.mesh.expect("mesh");
    assert_eq!((m.swarmlet.as_str(), m.location.as_str()), ("edge", "edge"));
    assert_eq!(m.hardware, vec!["fpga".to_owned(), "gpu".to_owned()]);
    assert_eq!(m.advertise, "http://127.0.0.1:9000");
    assert!(parse(&[]).unwrap().mesh.is_none());
    let cases: [(Vec<&str>, &str); 8] = [
        (vec!["--swarmlet", "edge"], "Redis"),
        (
            vec!["--swarmlet", "edge", "--meta", "redis://h"],
            "--cluster-secret",
        ),
        (
            vec![
                "--swarmlet",
                "edge",
                "--meta",
                "redis://h",
                "--cluster-secret",
                "short",
            ],
            "16 bytes",
        ),
        (
            vec![
                "--swarmlet",
                "Edge_1",
                "--meta",
                "redis://h",
                "--cluster-secret",
                "0123456789abcdef",
            ],
            "--swarmlet",
        ),
        (vec!["--location", "edge"], "need --swarmlet"),
        (
            vec![
                "--swarmlet",
                "e",
                "--meta",
                "redis://h",
                "--cluster-secret",
                "0123456789abcdef",
                "--listen",
                "0.0.0.0:9000",
            ],
            "--advertise",
        ),
        (
            vec![
                "--swarmlet",
                "e",
                "--meta",
                "redis://h",
                "--cluster-secret",
                "0123456789abcdef",
                "--advertise",
                "https://x:1",
            ],
            "must be http://",
        ),
        (
            vec![
                "--swarmlet",
                "e",
                "--meta",
                "redis://h",
                "--cluster-secret",
                "0123456789abcdef",
                "--hardware",
                "GPU",
            ],
            "--hardware",
        ),
    ];
    for (args, want) in cases {
        let e = parse(&args).unwrap_err();
        assert!(e.contains(want), "{args:?}: {e}");
    }
}

#[test]
fn a_tls_worker_advertises_https_and_verifies_peers_with_the_cluster_ca() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_file, key_file) = (dir.path().join("w.crt"), dir.path().join("w.key"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    let (cert_file, key_file, empty) = (
        cert_file.to_str().unwrap(),
        key_file.to_str().unwrap(),
        empty.to_str().unwrap(),
    );
    let with = |extra: &[&str]| {
        let mut a = vec![
            "--swarmlet",
            "edge",
            "--meta",
            "redis://127.0.0.1:6379",
            "--cluster-secret",
            "0123456789abcdef",
            "--tls-cert",
            cert_file,
            "--tls-key",
            key_file,
        ];
        a.extend_from_slice(extra);
        parse(&a)
    };
    let m = with(&[]).unwrap().mesh.expect("mesh");
    assert_eq!(m.advertise, "https://127.0.0.1:9000");
    assert!(with(&["--advertise", "https://10.0.0.5:9443/"]).is_ok());
    assert!(with(&["--cluster-ca", cert_file]).is_ok());
    for (extra, want) in [
        (vec!["--advertise", "http://x:1"], "must be https://"),
        (
            vec!["--cluster-ca", "/nonexistent.pem"],
            "--cluster-ca /nonexistent.pem",
        ),
        (vec!["--cluster-ca", empty], "no PEM certificate"),
    ] {
        let e = with(&extra).unwrap_err();
        assert!(e.contains(want), "{extra:?}: {e}");
    }
    let e = parse(&["--cluster-ca", cert_file]).unwrap_err();
    assert!(e.contains("need --swarmlet"), "{e}");
}
