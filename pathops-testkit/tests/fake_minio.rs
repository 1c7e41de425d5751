//! The fake MinIO on its own: it verifies SigV4 honestly (a request altered after signing,
//! a wrong secret, a wrong payload hash, an old date or no signature are refused with S3's
//! codes), answers its health probes by its switches, and runs from `pathops-fake minio`
//! with the documented broken seed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use pathops_testkit::fake::minio::{FakeMinio, MinioSeed};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The headers of `method url` signed for S3 with `secret` at `time`.
fn sign(
    method: &str,
    url: &str,
    key: (&str, &str),
    region: &str,
    time: SystemTime,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    let identity = aws_credential_types::Credentials::new(key.0, key.1, None, None, "test").into();
    let mut settings = aws_sigv4::http_request::SigningSettings::default();
    settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
    settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    settings.uri_path_normalization_mode =
        aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = aws_sigv4::http_request::SignableRequest::new(
        method,
        url,
        extra.iter().copied(),
        aws_sigv4::http_request::SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .unwrap()
        .into_parts();
    extra
        .iter()
        .copied()
        .chain(instructions.headers())
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

async fn send(method: &str, url: &str, headers: &[(String, String)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().request(method.parse().unwrap(), url);
    for (n, v) in headers {
        request = request.header(n, v);
    }
    request.send().await.unwrap()
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

fn good() -> (&'static str, &'static str) {
    (FakeMinio::ACCESS_KEY, FakeMinio::SECRET_KEY)
}

#[tokio::test]
async fn a_correct_signature_passes_and_every_alteration_is_refused() {
    let fake = FakeMinio::start_with_defaults().await;
    let url = format!("{}/evidence", fake.url());
    let now = SystemTime::now();
    let signed = sign("HEAD", &url, good(), "us-east-1", now, &[]);
    let r = send("HEAD", &url, &signed).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-amz-bucket-region"), Some("us-east-1"));
    assert_eq!(header(&r, "server"), Some("MinIO"));

    let code = |r: &reqwest::Response| header(r, "x-minio-error-code").map(str::to_owned);
    // No signature at all.
    let r = send("HEAD", &url, &[]).await;
    assert_eq!(
        (r.status().as_u16(), code(&r).as_deref()),
        (403, Some("AccessDenied"))
    );
    // The wrong secret.
    let r = send(
        "HEAD",
        &url,
        &sign(
            "HEAD",
            &url,
            (FakeMinio::ACCESS_KEY, "wrong"),
            "us-east-1",
            now,
            &[],
        ),
    )
    .await;
    assert_eq!(
        (r.status().as_u16(), code(&r).as_deref()),
        (403, Some("SignatureDoesNotMatch"))
    );
    // Signed for one bucket, sent to another.
    let other = format!("{}/evidence-eu", fake.url());
    let r = send("HEAD", &other, &signed).await;
    assert_eq!(
        (r.status().as_u16(), code(&r).as_deref()),
        (403, Some("SignatureDoesNotMatch"))
    );
    // Signed as HEAD, sent as GET with a query.
    let r = send("GET", &format!("{url}?list-type=2"), &signed).await;
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("<Code>SignatureDoesNotMatch</Code>")
    );
    // A signed header changed after signing.
    let with_header = sign(
        "HEAD",
        &url,
        good(),
        "us-east-1",
        now,
        &[("x-amz-meta-tag", "a")],
    );
    assert_eq!(send("HEAD", &url, &with_header).await.status(), 200);
    let altered: Vec<_> = with_header
        .iter()
        .map(|(n, v)| {
            if n == "x-amz-meta-tag" {
                (n.clone(), "b".to_owned())
            } else {
                (n.clone(), v.clone())
            }
        })
        .collect();
    let r = send("HEAD", &url, &altered).await;
    assert_eq!(code(&r).as_deref(), Some("SignatureDoesNotMatch"));
    // One character of the signature flipped.
    let flipped: Vec<_> = signed
        .iter()
        .map(|(n, v)| {
            if n == "authorization" {
                let mut v = v.clone();
                let last = v.pop().unwrap();
                v.push(if last == '0' { '1' } else { '0' });
                (n.clone(), v)
            } else {
                (n.clone(), v.clone())
            }
        })
        .collect();
    let r = send("HEAD", &url, &flipped).await;
    assert_eq!(code(&r).as_deref(), Some("SignatureDoesNotMatch"));
    // A payload hash that is not the body's.
    let lying: Vec<_> = signed
        .iter()
        .map(|(n, v)| {
            if n == "x-amz-content-sha256" {
                (n.clone(), "0".repeat(64))
            } else {
                (n.clone(), v.clone())
            }
        })
        .collect();
    let r = send("HEAD", &url, &lying).await;
    assert_eq!(
        (r.status().as_u16(), code(&r).as_deref()),
        (400, Some("XAmzContentSHA256Mismatch"))
    );
    assert_eq!(
        signed
            .iter()
            .find(|(n, _)| n == "x-amz-content-sha256")
            .map(|(_, v)| v.as_str()),
        Some(EMPTY_SHA256)
    );
    // Twenty minutes old.
    let old = sign(
        "HEAD",
        &url,
        good(),
        "us-east-1",
        now - Duration::from_secs(1200),
        &[],
    );
    let r = send("HEAD", &url, &old).await;
    assert_eq!(
        (r.status().as_u16(), code(&r).as_deref()),
        (403, Some("RequestTimeTooSkewed"))
    );
    // An unknown key.
    let r = send(
        "HEAD",
        &url,
        &sign("HEAD", &url, ("AKIANOBODY", "x"), "us-east-1", now, &[]),
    )
    .await;
    assert_eq!(code(&r).as_deref(), Some("InvalidAccessKeyId"));
}

#[tokio::test]
async fn regions_grants_and_buckets_answer_as_s3_does() {
    let fake = FakeMinio::start_with_defaults().await;
    let now = SystemTime::now();
    let head = |bucket: &str, key: (&'static str, &'static str), region: &'static str| {
        let url = format!("{}/{bucket}", fake.url());
        async move {
            let headers = sign("HEAD", &url, key, region, now, &[]);
            send("HEAD", &url, &headers).await
        }
    };
    let r = head("evidence", good(), "eu-west-1").await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        header(&r, "x-minio-error-code"),
        Some("AuthorizationHeaderMalformed")
    );
    assert!(
        header(&r, "x-minio-error-desc")
            .unwrap()
            .contains("expecting 'us-east-1'")
    );
    assert!(
        r.text().await.unwrap().is_empty(),
        "HEAD answers have no body"
    );
    let r = head("evidence-eu", good(), "us-east-1").await;
    assert_eq!(r.status(), 301);
    assert_eq!(header(&r, "x-amz-bucket-region"), Some("eu-west-1"));
    let no_grant = (
        FakeMinio::NO_GRANT_ACCESS_KEY,
        FakeMinio::NO_GRANT_SECRET_KEY,
    );
    let r = head("evidence", no_grant, "us-east-1").await;
    assert_eq!(header(&r, "x-minio-error-code"), Some("AccessDenied"));
    let r = head("missing", no_grant, "us-east-1").await;
    assert_eq!(r.status(), 403, "policy is checked before existence");
    fake.set_error_headers(false);
    let r = head("missing", good(), "us-east-1").await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        header(&r, "x-minio-error-code"),
        None,
        "S3's bare HEAD errors"
    );

    let url = format!("{}/evidence?list-type=2&max-keys=0", fake.url());
    let r = send(
        "GET",
        &url,
        &sign("GET", &url, good(), "eu-west-1", now, &[]),
    )
    .await;
    let body = r.text().await.unwrap();
    assert!(
        body.contains("<Code>AuthorizationHeaderMalformed</Code>"),
        "{body}"
    );
    assert!(body.contains("<Region>us-east-1</Region>"), "{body}");
    let r = send(
        "GET",
        &url,
        &sign("GET", &url, good(), "us-east-1", now, &[]),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<KeyCount>0</KeyCount>"));
    let url = format!("{}/evidence?location", fake.url());
    let r = send(
        "GET",
        &url,
        &sign("GET", &url, good(), "us-east-1", now, &[]),
    )
    .await;
    assert!(
        r.text()
            .await
            .unwrap()
            .contains(">us-east-1</LocationConstraint>")
    );
    // Objects are not emulated: the call is named.
    let r = reqwest::get(format!("{}/evidence/report.json", fake.url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("does not emulate GET /evidence/report.json")
    );
}

#[tokio::test]
async fn the_health_probes_follow_their_switches() {
    let fake = FakeMinio::start_with_defaults().await;
    let get = |path: &str| reqwest::get(format!("{}{path}", fake.url()));
    let r = get("/minio/health/cluster").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-minio-write-quorum"), Some("3"));
    assert_eq!(header(&r, "x-minio-storage-class-defaults"), Some("false"));
    assert_eq!(header(&r, "x-minio-healing-drives"), None);
    assert_eq!(
        header(
            &get("/minio/health/cluster/read").await.unwrap(),
            "x-minio-read-quorum"
        ),
        Some("2")
    );
    fake.set_maintenance_safe(false);
    assert_eq!(
        get("/minio/health/cluster?maintenance=true")
            .await
            .unwrap()
            .status(),
        412
    );
    assert_eq!(get("/minio/health/cluster").await.unwrap().status(), 200);
    fake.set_write_quorum(false);
    fake.set_healing_drives(2);
    let r = get("/minio/health/cluster").await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(header(&r, "x-minio-healing-drives"), Some("2"));
    assert_eq!(
        get("/minio/health/cluster?maintenance=true")
            .await
            .unwrap()
            .status(),
        412
    );
    fake.set_server_status(Some("iam-offline"));
    let r = get("/minio/health/cluster").await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(header(&r, "x-minio-server-status"), Some("iam-offline"));
    assert_eq!(header(&r, "x-minio-write-quorum"), None);
    fake.set_server_status(Some("offline"));
    let r = get("/minio/health/live").await.unwrap();
    assert_eq!(r.status(), 200, "live does not contact dependencies");
    assert_eq!(header(&r, "x-minio-server-status"), Some("offline"));
    fake.set_live(false);
    let r = get("/minio/health/live").await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.text().await.unwrap().contains("<Code>ServerBusy</Code>"));
    let r = reqwest::Client::new()
        .head(format!("{}/minio/health/ready", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "ready is down with live");
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn pathops_fake_runs_the_documented_broken_seed() {
    let dir = std::env::temp_dir().join(format!("pathops-fake-minio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed = dir.join("broken.json");
    // The seed of the module docs, verbatim.
    let text = r#"{"health": {"write_quorum": false, "healing_drives": 2},
 "users": [{"access_key": "PATHOPSEVIDENCE00001",
            "secret_key": "fake-minio-secret-key-evidence-0000000000",
            "buckets": ["evidence"]}],
 "buckets": [{"name": "evidence"}]}"#;
    let parsed: MinioSeed = serde_json::from_str(text).unwrap();
    assert!(!parsed.health.write_quorum);
    std::fs::write(&seed, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pathops-fake"))
        .args(["minio", "--seed", seed.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _child = Killed(child);
    let info: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(info["provider"], "minio");
    let r = reqwest::get(format!(
        "{}/minio/health/cluster",
        info["url"].as_str().unwrap()
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(header(&r, "x-minio-healing-drives"), Some("2"));
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        serde_json::from_str::<MinioSeed>(r#"{"regions": "x"}"#).is_err(),
        "unknown seed keys are refused"
    );
}
