//! The MinIO / S3 connector: the conformance suite and every probe and bucket answer of its
//! module docs against the fake MinIO (which verifies SigV4 signatures), configuration and
//! secret refusals, findings, a sentinel-secret scan, and the bucket calls against moto's
//! real S3 (signatures, keys and IAM policies checked).
//!
//! moto runs per test from `PATHOPS_TEST_MOTO_BIN` (CI exports it; unset, those tests skip
//! and fail in CI): its budget of unauthenticated calls (`INITIAL_NO_AUTH_ACTION_COUNT`) is
//! per process, so each test provisions its users, policies and buckets deterministically in
//! its first calls, and every later call is authenticated. This stands in for a shared
//! `PATHOPS_TEST_S3_URL`, whose state would depend on the tests that ran before.

#![cfg(feature = "minio")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::http::HttpPolicy;
use pathops_connectors::s3::{S3Connector, detail, evidence_policy};
use pathops_core::{
    CheckResult, Configuration, FailureCode, Finding, Integration, IntegrationConnector, Probe,
    Provider, Severity,
};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::minio::{FakeMinio, MinioUser};
use pathops_testkit::fixtures::IntegrationBuilder;
use pathops_testkit::moto::{AccessKey, Moto, moto_bin};
use secrecy::SecretString;
use serde_json::{Value, json};

fn connector() -> Arc<S3Connector> {
    Arc::new(S3Connector::builder().build().unwrap())
}

fn integration(url: &str, configuration: Value) -> Integration {
    IntegrationBuilder::new("acme", "evidence")
        .provider(Provider::MinIo)
        .base_url(url)
        .auth_ref("ref://acme/minio/keys")
        .configuration(configuration)
        .build()
}

fn secret(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_owned()))
}

fn keys(id: &str, key: &str) -> Option<SecretString> {
    secret(&FakeMinio::secret(id, key))
}

async fn test(c: &S3Connector, url: &str, cfg: Value, secret: Option<SecretString>) -> CheckResult {
    c.test_connection(&context(integration(url, cfg), secret, CHECK_TIMEOUT))
        .await
}

async fn health(
    c: &S3Connector,
    url: &str,
    cfg: Value,
    secret: Option<SecretString>,
) -> CheckResult {
    c.check_health(&context(integration(url, cfg), secret, CHECK_TIMEOUT))
        .await
}

fn evidence() -> Value {
    json!({"bucket": FakeMinio::BUCKET})
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

/// The paths (with queries) the fake received, in order.
fn calls(fake: &FakeMinio) -> Vec<String> {
    fake.requests()
        .iter()
        .map(|r| match &r.query {
            Some(q) => format!("{} {}?{q}", r.method, r.path),
            None => format!("{} {}", r.method, r.path),
        })
        .collect()
}

struct Harness {
    fake: FakeMinio,
    connector: Arc<S3Connector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(&self.fake.url(), evidence())
    }
    fn valid_secret(&self) -> Option<SecretString> {
        secret(&FakeMinio::default_secret())
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from(FakeMinio::secret(
            FakeMinio::ACCESS_KEY,
            "not-the-secret-key",
        ))
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({"bucket": "Not_A_Bucket"})).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.fake.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(minio_conformance, async {
    Harness {
        fake: FakeMinio::start_with_defaults().await,
        connector: connector(),
    }
});

#[tokio::test]
async fn the_probes_then_a_signed_head_bucket_prove_the_store() {
    let fake = FakeMinio::start_with_defaults().await;
    let c = connector();
    let r = test(
        &c,
        &fake.url(),
        evidence(),
        secret(&FakeMinio::default_secret()),
    )
    .await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(
        calls(&fake),
        [
            "GET /minio/health/live",
            "GET /minio/health/ready",
            "GET /minio/health/cluster",
            "HEAD /evidence",
        ]
    );
    assert_eq!(r.details[detail::WRITE_QUORUM], 3);
    assert_eq!(r.details[detail::HEALING_DRIVES], 0);
    assert_eq!(r.details[detail::STORAGE_CLASS_DEFAULTS], false);
    assert_eq!(r.details[detail::PROVED_BY], "HeadBucket");
    assert_eq!(r.details[detail::BUCKET_REGION], "us-east-1");
    assert_eq!(r.details[detail::ACCESS_KEY_ID], FakeMinio::ACCESS_KEY);
    assert_eq!(r.details[detail::FLAVOR], "minio");
    assert!(
        r.message.contains("write quorum (3 drives"),
        "{}",
        r.message
    );
    let head = &fake.requests_to("/evidence")[0];
    let auth = head.header("authorization").unwrap();
    assert!(
        auth.starts_with(&format!(
            "AWS4-HMAC-SHA256 Credential={}/",
            FakeMinio::ACCESS_KEY
        )) && auth.contains("/us-east-1/s3/aws4_request"),
        "{auth}"
    );
    assert!(head.header("x-amz-content-sha256").is_some());
    for probe in fake
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/minio"))
    {
        assert!(
            probe.header("authorization").is_none(),
            "the probes are unauthenticated"
        );
    }
    assert!(
        c.findings(&integration(&fake.url(), evidence()), &r)
            .is_empty()
    );

    fake.clear_requests();
    let r = health(
        &c,
        &fake.url(),
        evidence(),
        secret(&FakeMinio::default_secret()),
    )
    .await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(
        calls(&fake),
        ["GET /minio/health/cluster", "HEAD /evidence"]
    );
}

#[tokio::test]
async fn refused_keys_are_unauthenticated_and_named_from_minios_headers() {
    let fake = FakeMinio::start_with_defaults().await;
    let c = connector();
    let url = fake.url();
    let r = test(
        &c,
        &url,
        evidence(),
        keys(FakeMinio::ACCESS_KEY, "wrong-secret"),
    )
    .await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        r.message
    );
    assert_eq!(r.details[detail::S3_ERROR_CODE], "SignatureDoesNotMatch");
    assert!(
        r.message.contains("the secret access key is wrong"),
        "{}",
        r.message
    );
    assert!(r.message.contains(FakeMinio::ACCESS_KEY), "{}", r.message);
    assert_eq!(
        fake.requests_to("/evidence").len(),
        1,
        "MinIO's headers say why: no second call"
    );
    let f = c.findings(&integration(&url, evidence()), &r);
    assert_eq!(codes(&f), ["unauthenticated"]);
    assert!(
        f[0].title
            .contains("secret access key of PATHOPSEVIDENCE00001 is wrong"),
        "{}",
        f[0].title
    );

    let r = test(&c, &url, evidence(), keys("AKIAUNKNOWN000000000", "x")).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        r.message
    );
    assert_eq!(r.details[detail::S3_ERROR_CODE], "InvalidAccessKeyId");
    assert!(r.message.contains("unknown to the server"), "{}", r.message);
    let f = c.findings(&integration(&url, evidence()), &r);
    assert!(
        f[0].title.contains("AKIAUNKNOWN000000000 is unknown"),
        "{}",
        f[0].title
    );
}

#[tokio::test]
async fn s3s_bare_head_errors_are_explained_by_a_signed_listing() {
    let fake = FakeMinio::start_with_defaults().await;
    fake.set_error_headers(false);
    let c = connector();
    let url = fake.url();
    let r = test(
        &c,
        &url,
        evidence(),
        keys(FakeMinio::ACCESS_KEY, "wrong-secret"),
    )
    .await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        r.message
    );
    assert_eq!(r.details[detail::S3_ERROR_CODE], "SignatureDoesNotMatch");
    assert_eq!(
        calls(&fake)[3..],
        [
            "HEAD /evidence".to_owned(),
            "GET /evidence?list-type=2&max-keys=0".to_owned()
        ]
    );
    let listing = &fake.requests_to("/evidence")[1];
    assert!(
        listing.header("authorization").is_some(),
        "the listing is signed too"
    );

    let r = test(
        &c,
        &url,
        evidence(),
        keys(
            FakeMinio::NO_GRANT_ACCESS_KEY,
            FakeMinio::NO_GRANT_SECRET_KEY,
        ),
    )
    .await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("s3:ListBucket".into())
        }),
        "{}",
        r.message
    );
    assert_eq!(r.details[detail::S3_ERROR_CODE], "AccessDenied");

    // A 404 needs no explanation.
    fake.add_user(MinioUser {
        access_key: "PATHOPSEVERYTHING001".into(),
        secret_key: "every-bucket-secret".into(),
        buckets: vec!["*".into()],
    });
    fake.clear_requests();
    let r = test(
        &c,
        &url,
        json!({"bucket": "missing"}),
        keys("PATHOPSEVERYTHING001", "every-bucket-secret"),
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
    assert_eq!(fake.requests_to("/missing").len(), 1);
}

#[tokio::test]
async fn a_key_without_a_grant_is_permission_denied_and_gets_the_policy() {
    let fake = FakeMinio::start_with_defaults().await;
    let c = connector();
    let url = fake.url();
    let r = test(
        &c,
        &url,
        evidence(),
        keys(
            FakeMinio::NO_GRANT_ACCESS_KEY,
            FakeMinio::NO_GRANT_SECRET_KEY,
        ),
    )
    .await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("s3:ListBucket".into())
        }),
        "{}",
        r.message
    );
    assert_eq!(r.authentication, Probe::Passed, "the key itself is valid");
    assert!(r.message.contains("arn:aws:s3:::evidence"), "{}", r.message);
    let f = c.findings(&integration(&url, evidence()), &r);
    assert_eq!(codes(&f), ["missing_scope"]);
    let call = f[0].api_call.as_deref().unwrap();
    assert!(
        call.contains(
            "mc admin policy attach ALIAS pathops-evidence --user 'PATHOPSNOGRANT000001'"
        ),
        "{call}"
    );
    assert!(
        call.contains(&evidence_policy("evidence").to_string()),
        "{call}"
    );
    assert!(f[0].doc_link.as_deref().unwrap().contains("min.io"));
    let policy = evidence_policy("evidence");
    assert_eq!(policy["Statement"][0]["Resource"], "arn:aws:s3:::evidence");
    assert_eq!(
        policy["Statement"][1]["Resource"],
        "arn:aws:s3:::evidence/*"
    );
    assert_eq!(
        policy["Statement"][1]["Action"],
        json!(["s3:GetObject", "s3:PutObject"])
    );

    let aws = json!({"bucket": "evidence", "flavor": "s3"});
    let r = test(
        &c,
        &url,
        aws.clone(),
        keys(
            FakeMinio::NO_GRANT_ACCESS_KEY,
            FakeMinio::NO_GRANT_SECRET_KEY,
        ),
    )
    .await;
    let f = c.findings(&integration(&url, aws), &r);
    assert!(
        f[0].api_call
            .as_deref()
            .unwrap()
            .starts_with("aws iam put-user-policy"),
        "{:?}",
        f[0].api_call
    );
}

#[tokio::test]
async fn a_missing_bucket_is_not_found_naming_it_with_the_command_to_create_it() {
    let fake = FakeMinio::start_with_defaults().await;
    fake.add_user(MinioUser {
        access_key: "PATHOPSEVERYTHING001".into(),
        secret_key: "every-bucket-secret".into(),
        buckets: vec!["*".into()],
    });
    let c = connector();
    let url = fake.url();
    let everything = || keys("PATHOPSEVERYTHING001", "every-bucket-secret");
    let cfg = json!({"bucket": "audit-2026"});
    let r = test(&c, &url, cfg.clone(), everything()).await;
    assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
    assert!(
        r.message
            .contains("bucket audit-2026 does not exist on 127.0.0.1"),
        "{}",
        r.message
    );
    assert_eq!(r.details[detail::S3_ERROR_CODE], "NoSuchBucket");
    let f = c.findings(&integration(&url, cfg), &r);
    assert_eq!(codes(&f), ["not_found"]);
    assert_eq!(f[0].api_call.as_deref(), Some("mc mb 'ALIAS/audit-2026'"));
    assert!(f[0].title.contains("audit-2026"));

    // The same bucket seen from a generic S3 in another region: the AWS command.
    let aws = json!({"bucket": "audit-2026", "flavor": "s3", "region": "eu-west-1"});
    let mut r = r.clone();
    r.details.insert(detail::FLAVOR.into(), json!("s3"));
    r.details.insert(detail::REGION.into(), json!("eu-west-1"));
    let f = c.findings(&integration(&url, aws), &r);
    assert_eq!(
        f[0].api_call.as_deref(),
        Some(
            "aws s3api create-bucket --bucket 'audit-2026' --region 'eu-west-1' \
             --create-bucket-configuration LocationConstraint='eu-west-1'"
        )
    );
}

#[tokio::test]
async fn a_wrong_region_is_detected_and_named() {
    let fake = FakeMinio::start_with_defaults().await;
    let c = connector();
    let url = fake.url();
    let ok = || secret(&FakeMinio::default_secret());

    // A bucket in another region than the endpoint's: 301 with x-amz-bucket-region.
    let cfg = json!({"bucket": FakeMinio::EU_BUCKET});
    let r = test(&c, &url, cfg.clone(), ok()).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{}", r.message);
    assert_eq!(r.details[detail::BUCKET_REGION], "eu-west-1");
    assert_eq!(r.details[detail::PROBLEM], "wrong_region");
    assert_eq!(r.reachability, Probe::Passed, "the storage answered");
    assert!(
        r.message.contains(
            "bucket evidence-eu is in region eu-west-1, but the integration signs for us-east-1"
        ),
        "{}",
        r.message
    );
    let f = c.findings(&integration(&url, cfg), &r);
    assert_eq!(codes(&f), ["invalid_config"]);
    assert_eq!(
        f[0].title,
        "Bucket evidence-eu is in region eu-west-1, the integration signs for us-east-1"
    );
    assert_eq!(
        f[0].steps[0],
        "Set the integration's `region` to eu-west-1."
    );

    // Signed for another region than MinIO's: 400 AuthorizationHeaderMalformed, MinIO's
    // message naming the region it expects.
    let cfg = json!({"bucket": "evidence", "region": "eu-central-1"});
    let r = test(&c, &url, cfg.clone(), ok()).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{}", r.message);
    assert_eq!(r.details[detail::BUCKET_REGION], "us-east-1");
    assert_eq!(
        r.details[detail::S3_ERROR_CODE],
        "AuthorizationHeaderMalformed"
    );
    let f = c.findings(&integration(&url, cfg.clone()), &r);
    assert_eq!(
        f[0].api_call.as_deref(),
        Some("mc admin config get ALIAS site")
    );

    // The same without MinIO's headers: the listing's XML names it.
    fake.set_error_headers(false);
    let r = test(&c, &url, cfg, ok()).await;
    assert_eq!(
        r.details[detail::BUCKET_REGION],
        "us-east-1",
        "{}",
        r.message
    );
    assert_eq!(
        r.details[detail::S3_ERROR_CODE],
        "AuthorizationHeaderMalformed"
    );

    // S3's global endpoint without a region header at all.
    fake.inject(Fault::on("/evidence").status(301).times(1));
    let r = test(&c, &url, evidence(), ok()).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{}", r.message);
    assert!(
        r.message.contains("does not say which it expects"),
        "{}",
        r.message
    );
    let f = c.findings(&integration(&url, evidence()), &r);
    assert!(
        f[0].title
            .contains("refuses region us-east-1 for bucket evidence"),
        "{}",
        f[0].title
    );
}

#[tokio::test]
async fn no_write_quorum_is_unhealthy_with_the_quorum_reported() {
    let fake = FakeMinio::start(FakeMinio::broken_seed()).await;
    let c = connector();
    let url = fake.url();
    for r in [
        health(&c, &url, evidence(), secret(&FakeMinio::default_secret())).await,
        test(&c, &url, evidence(), secret(&FakeMinio::default_secret())).await,
    ] {
        assert_eq!(r.failure, Some(FailureCode::Unhealthy), "{}", r.message);
        assert!(
            r.message.contains("no write quorum (it needs 3 drives online in each erasure set to accept writes; 2 drives are healing)"),
            "{}",
            r.message
        );
        assert_eq!(r.details[detail::MINIO_HEALTH], "no_write_quorum");
        assert_eq!(r.details[detail::WRITE_QUORUM], 3);
        assert_eq!(r.details[detail::HEALING_DRIVES], 2);
        assert_eq!(r.reachability, Probe::Passed);
        let f = c.findings(&integration(&url, evidence()), &r);
        assert_eq!(
            codes(&f),
            ["tool_unhealthy"],
            "healing on a failed check is no extra warning"
        );
        assert_eq!(
            f[0].title,
            "MinIO has no write quorum (it needs 3 drives online in each erasure set)"
        );
        assert!(
            f[0].why.starts_with("2 drives are healing."),
            "{}",
            f[0].why
        );
    }
    assert!(
        fake.requests_to("/evidence").is_empty(),
        "no bucket call without quorum"
    );
    fake.set_write_quorum(true);
    assert!(
        health(&c, &url, evidence(), secret(&FakeMinio::default_secret()))
            .await
            .is_success()
    );
}

#[tokio::test]
async fn healing_drives_are_a_warning_on_a_passed_check() {
    let fake = FakeMinio::start_with_defaults().await;
    fake.set_healing_drives(1);
    let c = connector();
    let r = health(
        &c,
        &fake.url(),
        evidence(),
        secret(&FakeMinio::default_secret()),
    )
    .await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details[detail::HEALING_DRIVES], 1);
    assert!(r.message.contains("1 drives healing"), "{}", r.message);
    let f = c.findings(&integration(&fake.url(), evidence()), &r);
    assert_eq!(codes(&f), ["minio_healing_drives"]);
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].api_call.as_deref(), Some("mc admin heal ALIAS"));
}

#[tokio::test]
async fn a_starting_server_is_named_by_its_status() {
    let fake = FakeMinio::start_with_defaults().await;
    let c = connector();
    for (status, meaning) in [
        ("offline", "its object layer is not initialised yet"),
        ("iam-offline", "its IAM subsystem is still initialising"),
        (
            "bucket-metadata-offline",
            "it is still loading bucket metadata",
        ),
    ] {
        fake.set_server_status(Some(status));
        let r = test(
            &c,
            &fake.url(),
            evidence(),
            secret(&FakeMinio::default_secret()),
        )
        .await;
        assert_eq!(
            r.failure,
            Some(FailureCode::Unhealthy),
            "{status}: {}",
            r.message
        );
        assert!(
            r.message
                .contains(&format!("X-Minio-Server-Status: {status}"))
                && r.message.contains(meaning),
            "{}",
            r.message
        );
        assert_eq!(r.details[detail::SERVER_STATUS], status);
        let f = c.findings(&integration(&fake.url(), evidence()), &r);
        assert_eq!(f[0].title, format!("MinIO is still starting ({status})"));
    }
    // The bucket call itself, while starting: MinIO's XMinioServerNotInitialized.
    let r = CheckResult::failed(FailureCode::Unhealthy, Duration::ZERO, "x");
    assert!(
        c.findings(&integration(&fake.url(), evidence()), &r)
            .is_empty()
    );
    fake.set_server_status(None);
    fake.inject(
        Fault::on("/evidence")
            .status(503)
            .header("x-minio-error-code", "XMinioServerNotInitialized")
            .times(1),
    );
    let r = health(
        &c,
        &fake.url(),
        evidence(),
        secret(&FakeMinio::default_secret()),
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::Unhealthy), "{}", r.message);
    assert_eq!(r.details[detail::MINIO_HEALTH], "initialising");
}

#[tokio::test]
async fn live_and_ready_failures_say_which_layer_broke() {
    let fake = FakeMinio::start_with_defaults().await;
    let c = connector();
    let url = fake.url();
    fake.set_ready(false);
    let r = test(&c, &url, evidence(), secret(&FakeMinio::default_secret())).await;
    assert_eq!(r.failure, Some(FailureCode::Unhealthy), "{}", r.message);
    assert_eq!(r.details[detail::MINIO_HEALTH], "not_ready");
    assert!(
        r.message.contains("answered 503 (ServerBusy)"),
        "{}",
        r.message
    );
    assert_eq!(
        c.findings(&integration(&url, evidence()), &r)[0].title,
        "MinIO is not ready"
    );
    fake.set_live(false);
    let r = test(&c, &url, evidence(), secret(&FakeMinio::default_secret())).await;
    assert_eq!(
        r.details[detail::MINIO_HEALTH],
        "overloaded",
        "{}",
        r.message
    );
    assert_eq!(
        c.findings(&integration(&url, evidence()), &r)[0].title,
        "MinIO is overloaded"
    );
    fake.inject(
        Fault::on("/minio/health/live")
            .status(429)
            .header("Retry-After", "30"),
    );
    let r = test(&c, &url, evidence(), secret(&FakeMinio::default_secret())).await;
    assert!(
        matches!(
            r.failure,
            Some(FailureCode::RateLimited { reset_at: Some(_) })
        ),
        "{:?}",
        r.failure
    );
}

#[tokio::test]
async fn the_maintenance_probe_is_opt_in_and_warns() {
    let fake = FakeMinio::start_with_defaults().await;
    let c = connector();
    let url = fake.url();
    let cfg = json!({"bucket": "evidence", "maintenance": true});
    let r = test(&c, &url, cfg.clone(), secret(&FakeMinio::default_secret())).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details[detail::MAINTENANCE_SAFE], true);
    assert!(
        calls(&fake).contains(&"GET /minio/health/cluster?maintenance=true".to_owned()),
        "{:?}",
        calls(&fake)
    );
    fake.set_maintenance_safe(false);
    let r = test(&c, &url, cfg.clone(), secret(&FakeMinio::default_secret())).await;
    assert!(r.is_success(), "the store works: {}", r.message);
    assert_eq!(r.details[detail::MAINTENANCE_SAFE], false);
    let f = c.findings(&integration(&url, cfg.clone()), &r);
    assert_eq!(codes(&f), ["minio_maintenance_unsafe"]);
    assert_eq!(f[0].severity, Severity::Warning);
    fake.clear_requests();
    assert!(
        health(&c, &url, cfg, secret(&FakeMinio::default_secret()))
            .await
            .is_success()
    );
    assert!(
        !calls(&fake).iter().any(|c| c.contains("maintenance")),
        "the health check does not ask"
    );
    // Without the key, nothing asks either; a 412 from the plain probe is no quorum.
    fake.clear_requests();
    let r = test(&c, &url, evidence(), secret(&FakeMinio::default_secret())).await;
    assert!(r.is_success());
    assert!(!calls(&fake).iter().any(|c| c.contains("maintenance")));
    fake.inject(Fault::on("/minio/health/cluster").status(412).times(1));
    let r = health(&c, &url, evidence(), secret(&FakeMinio::default_secret())).await;
    assert_eq!(
        r.details[detail::MINIO_HEALTH],
        "no_write_quorum",
        "{}",
        r.message
    );
}

#[tokio::test]
async fn generic_s3_skips_the_probes_and_a_404_probe_says_so() {
    let fake = FakeMinio::start_with_defaults().await;
    let c = connector();
    let url = fake.url();
    let cfg = json!({"bucket": "evidence", "flavor": "s3"});
    let r = test(&c, &url, cfg, secret(&FakeMinio::default_secret())).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(calls(&fake), ["HEAD /evidence"]);
    assert!(r.details.get(detail::WRITE_QUORUM).is_none());

    fake.inject(Fault::on("/minio/health/live").status(404));
    let r = test(&c, &url, evidence(), secret(&FakeMinio::default_secret())).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::InvalidResponse),
        "{}",
        r.message
    );
    assert!(r.message.contains("set `flavor` to `s3`"), "{}", r.message);
    let f = c.findings(&integration(&url, evidence()), &r);
    assert_eq!(codes(&f), ["invalid_response"]);
}

#[tokio::test]
async fn virtual_hosted_addressing_signs_for_the_buckets_own_host() {
    let fake = FakeMinio::start_with_defaults().await;
    // The fake serves as the integration's HTTP proxy, so any host name reaches it.
    let c = S3Connector::builder()
        .with_http(HttpPolicy {
            allow_http: true,
            ..HttpPolicy::default()
        })
        .build()
        .unwrap();
    let cfg = json!({"bucket": "evidence", "addressing_style": "virtual", "proxy_url": fake.url()});
    let r = test(
        &c,
        "http://s3.pathops.test",
        cfg,
        secret(&FakeMinio::default_secret()),
    )
    .await;
    assert!(r.is_success(), "{}", r.message);
    let head = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "HEAD")
        .unwrap();
    assert_eq!(head.path, "/");
    assert_eq!(head.header("host"), Some("evidence.s3.pathops.test"));
    assert_eq!(r.details[detail::ADDRESSING_STYLE], "virtual");
    // On an IP address there is no bucket host.
    let cfg = json!({"bucket": "evidence", "addressing_style": "virtual"});
    let r = test(&c, &fake.url(), cfg, secret(&FakeMinio::default_secret())).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{}", r.message);
    assert!(
        r.message.contains("set `addressing_style` to `path`"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn bad_configuration_is_refused_by_name_before_any_call() {
    let fake = FakeMinio::start_with_defaults().await;
    let c = connector();
    let cfg = |v: Value| Configuration::new(v).unwrap();
    assert!(c.validate_config(&cfg(evidence())).await.is_ok());
    for (bad, key) in [
        (json!({}), "bucket"),
        (json!({"bucket": "ab"}), "bucket"),
        (
            json!({"bucket": "evidence", "bucket_name": "x"}),
            "bucket_name",
        ),
        (json!({"bucket": "evidence", "flavor": "aws"}), "flavor"),
        (json!({"bucket": "evidence", "region": "eu west"}), "region"),
        (
            json!({"bucket": "evidence", "addressing_style": "dns"}),
            "addressing_style",
        ),
        (
            json!({"bucket": "evidence", "proxy": "http://p:3128"}),
            "proxy",
        ),
    ] {
        let e = c
            .validate_config(&cfg(bad.clone()))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("`{key}`")), "{bad}: {e}");
        let r = test(&c, &fake.url(), bad, secret(&FakeMinio::default_secret())).await;
        assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{}", r.message);
    }
    assert!(fake.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_malformed_or_missing_secret_is_refused_without_echoing_it() {
    let fake = FakeMinio::start_with_defaults().await;
    let c = connector();
    for bad in [
        "AKIA-SHAPE-SENTINEL:wrong-shape-sentinel",
        r#"{"access_key_id": "AKIA", "secret": "wrong-shape-sentinel"}"#,
        r#"{"access_key_id": "", "secret_access_key": "wrong-shape-sentinel"}"#,
        r#"{"access_key_id": "AKIA", "secret_access_key": "wrong-shape-sentinel", "region": "x"}"#,
    ] {
        let r = test(&c, &fake.url(), evidence(), secret(bad)).await;
        assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{}", r.message);
        assert_eq!(r.details[detail::PROBLEM], "secret_shape");
        let printed = format!("{r:?} {}", serde_json::to_string(&r).unwrap());
        common::assert_no_sentinel("wrong-shape-sentinel", "the result", &printed);
        let f = c.findings(&integration(&fake.url(), evidence()), &r);
        assert_eq!(f[0].title, "The secret is not an S3 access key pair");
    }
    let r = test(&c, &fake.url(), evidence(), None).await;
    assert_eq!(r.failure, Some(FailureCode::SecretUnresolved));
    assert!(fake.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn status_codes_and_transport_failures() {
    let fake = FakeMinio::start_with_defaults().await;
    let c = connector();
    let url = fake.url();
    let ok = || secret(&FakeMinio::default_secret());
    fake.inject(Fault::on("/evidence").status(500).times(1));
    let r = test(&c, &url, evidence(), ok()).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::ServerError { status: 500 }),
        "{}",
        r.message
    );
    fake.inject(
        Fault::on("/evidence")
            .status(503)
            .header("x-minio-error-code", "SlowDown")
            .header("Retry-After", "20")
            .times(1),
    );
    let r = test(&c, &url, evidence(), ok()).await;
    assert!(
        matches!(
            r.failure,
            Some(FailureCode::RateLimited { reset_at: Some(_) })
        ),
        "{:?}: {}",
        r.failure,
        r.message
    );
    fake.inject(
        Fault::on("/evidence")
            .status(403)
            .header("x-minio-error-code", "RequestTimeTooSkewed")
            .times(1),
    );
    let r = test(&c, &url, evidence(), ok()).await;
    assert_eq!(r.failure, Some(FailureCode::Unauthenticated));
    assert!(
        r.message.contains("differ by more than 15 minutes"),
        "{}",
        r.message
    );
    let f = c.findings(&integration(&url, evidence()), &r);
    assert!(f[0].title.contains("clocks"), "{}", f[0].title);
    fake.inject(Fault::on("/minio/health/cluster").status(500).times(1));
    let r = health(&c, &url, evidence(), ok()).await;
    assert_eq!(r.failure, Some(FailureCode::ServerError { status: 500 }));

    let other = common::elsewhere().await;
    fake.inject(
        Fault::on("/evidence")
            .status(307)
            .header("Location", &format!("{}/evidence", other.url()))
            .times(1),
    );
    let r = test(&c, &url, evidence(), ok()).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::InvalidResponse),
        "{}",
        r.message
    );
    assert!(
        other.requests().is_empty(),
        "the signature never left for the other host"
    );

    let r = test(&c, "http://minio.pathops-test.invalid", evidence(), ok()).await;
    assert_eq!(r.failure, Some(FailureCode::Dns));
}

#[tokio::test]
async fn the_secret_key_never_appears_in_results_findings_errors_or_logs() {
    const SENTINEL: &str = "minio-SENTINEL-7f3e21";
    let logs = common::LogCapture::global();
    let fake = FakeMinio::start_with_defaults().await;
    fake.add_user(MinioUser {
        access_key: "PATHOPSSENTINEL00001".into(),
        secret_key: SENTINEL.into(),
        buckets: vec!["evidence".into()],
    });
    let c = connector();
    let mut printed = String::new();
    let mut run = async |cfg: Value, secret_text: String| {
        let ctx = context(
            integration(&fake.url(), cfg.clone()),
            secret(&secret_text),
            CHECK_TIMEOUT,
        );
        for r in [c.test_connection(&ctx).await, c.check_health(&ctx).await] {
            let f = c.findings(&integration(&fake.url(), cfg.clone()), &r);
            printed += &format!(
                "{r:?}\n{}\n{f:?}\n{}\n{ctx:?}\n{c:?}\n",
                serde_json::to_string(&r).unwrap(),
                serde_json::to_string(&f).unwrap()
            );
        }
    };
    let right = FakeMinio::secret("PATHOPSSENTINEL00001", SENTINEL);
    let wrong = FakeMinio::secret("PATHOPSSENTINEL00001", &format!("{SENTINEL}-wrong"));
    run(evidence(), right.clone()).await;
    run(evidence(), wrong).await;
    run(json!({"bucket": "evidence-eu"}), right.clone()).await;
    run(evidence(), format!("{SENTINEL} is not json")).await;
    fake.set_error_headers(false);
    run(json!({"bucket": "nope"}), right.clone()).await;
    fake.set_write_quorum(false);
    run(evidence(), right).await;
    assert!(
        printed.contains("PATHOPSSENTINEL00001"),
        "the key id is named"
    );
    common::assert_no_sentinel(SENTINEL, "results, findings and errors", &printed);
    common::assert_no_sentinel(SENTINEL, "logs", &logs.contents());
    for r in fake.requests() {
        for (name, value) in &r.headers {
            assert!(
                !value.contains(SENTINEL),
                "the secret key went out in {name}"
            );
        }
    }
}

/// moto with a broad user (every bucket action, and moto's `s3:HeadBucket`), a user
/// without a policy, a user with exactly [`evidence_policy`], and buckets `evidence`
/// (`us-east-1`) and `evidence-eu` (`eu-west-1`): ten free calls.
async fn moto() -> Option<(Moto, AccessKey, AccessKey, AccessKey)> {
    let bin = moto_bin()?;
    let moto = Moto::start(&bin, 10).await;
    let broad = moto
        .iam_user(
            "broad",
            Some(
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject",
                           "s3:PutObject", "s3:HeadBucket"],
                "Resource": "*"}]}),
            ),
        )
        .await;
    let none = moto.iam_user("no-policy", None).await;
    let scoped = moto
        .iam_user("scoped", Some(evidence_policy("evidence")))
        .await;
    moto.create_bucket("evidence", "us-east-1").await;
    moto.create_bucket("evidence-eu", "eu-west-1").await;
    Some((moto, broad, none, scoped))
}

fn s3(bucket: &str) -> Value {
    json!({"bucket": bucket, "flavor": "s3"})
}

#[tokio::test]
async fn moto_checks_the_keys_the_bucket_and_the_policy() {
    let Some((moto, broad, none, scoped)) = moto().await else {
        return;
    };
    let c = connector();
    let url = moto.url();
    let with = |k: &AccessKey| secret(&k.secret_json());

    let r = test(&c, url, s3("evidence"), with(&broad)).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details[detail::PROVED_BY], "HeadBucket");
    assert_eq!(r.details[detail::BUCKET_REGION], "us-east-1");

    // The policy the findings recommend is enough; moto authorises HEAD as its own
    // s3:HeadBucket, so the listing proves the bucket.
    let r = test(&c, url, s3("evidence"), with(&scoped)).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details[detail::PROVED_BY], "ListObjectsV2");

    let wrong = AccessKey {
        secret_access_key: "not-the-secret-key".into(),
        ..broad.clone()
    };
    let r = test(&c, url, s3("evidence"), with(&wrong)).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        r.message
    );
    assert_eq!(r.details[detail::S3_ERROR_CODE], "SignatureDoesNotMatch");

    let unknown = AccessKey {
        access_key_id: "AKIAUNKNOWN000000000".into(),
        secret_access_key: "an-unknown-keys-secret".into(),
    };
    let r = test(&c, url, s3("evidence"), with(&unknown)).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        r.message
    );
    assert_eq!(r.details[detail::S3_ERROR_CODE], "InvalidAccessKeyId");

    let r = test(&c, url, s3("evidence"), with(&none)).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("s3:ListBucket".into())
        }),
        "{}",
        r.message
    );
    assert_eq!(r.details[detail::S3_ERROR_CODE], "AccessDenied");

    let r = test(&c, url, s3("missing-bucket"), with(&broad)).await;
    assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
    assert!(r.message.contains("missing-bucket"), "{}", r.message);
    let f = c.findings(&integration(url, s3("missing-bucket")), &r);
    assert_eq!(
        f[0].api_call.as_deref(),
        Some("aws s3api create-bucket --bucket 'missing-bucket' --region us-east-1")
    );
}

#[tokio::test]
async fn moto_does_not_enforce_regions_but_reports_them_and_the_mismatch_is_named() {
    let Some((moto, broad, _, _)) = moto().await else {
        return;
    };
    let c = connector();
    let url = moto.url();
    let with = || secret(&broad.secret_json());
    let r = test(&c, url, s3("evidence-eu"), with()).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{}", r.message);
    assert_eq!(r.details[detail::BUCKET_REGION], "eu-west-1");
    assert!(
        r.message.contains("HEAD /evidence-eu answered 200"),
        "{}",
        r.message
    );
    let f = c.findings(&integration(url, s3("evidence-eu")), &r);
    assert_eq!(
        f[0].steps[1],
        "On AWS, use the bucket's regional endpoint https://s3.eu-west-1.amazonaws.com as the base URL."
    );
    assert_eq!(
        f[0].api_call.as_deref(),
        Some("aws s3api get-bucket-location --bucket 'evidence-eu'")
    );
    let cfg = json!({"bucket": "evidence-eu", "flavor": "s3", "region": "eu-west-1"});
    let r = test(&c, url, cfg, with()).await;
    assert!(r.is_success(), "{}", r.message);
    let cfg = json!({"bucket": "evidence", "flavor": "s3", "region": "eu-west-1"});
    let r = test(&c, url, cfg, with()).await;
    assert_eq!(
        r.details[detail::BUCKET_REGION],
        "us-east-1",
        "{}",
        r.message
    );
}

#[tokio::test]
async fn the_doctor_reports_the_connectors_findings_in_place_of_the_generic_ones() {
    use pathops_core::catalog::{Catalog, Principal};
    use pathops_core::doctor::{Doctor, Selection};
    use pathops_core::secret::StaticResolver;
    use pathops_core::webhook::ChallengeRegistry;
    use pathops_core::{AuthRef, ConnectorRegistry, NewIntegration};

    let fake = FakeMinio::start_with_defaults().await;
    let mut registry = ConnectorRegistry::new();
    registry.register(connector()).unwrap();
    let secrets = StaticResolver::new().with(
        AuthRef::parse("ref://acme/minio/keys").unwrap(),
        FakeMinio::default_secret(),
    );
    let catalog = Catalog::builder(Arc::new(pathops_store::MemoryStore::new()))
        .with_connectors(registry)
        .with_secrets(Arc::new(secrets))
        .build()
        .unwrap();
    let admin = Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap());
    for (name, bucket) in [
        ("evidence", FakeMinio::BUCKET),
        ("evidence-eu", FakeMinio::EU_BUCKET),
    ] {
        catalog
            .create(
                &admin,
                NewIntegration::builder(name, Provider::MinIo, fake.url())
                    .with_auth_ref("ref://acme/minio/keys")
                    .with_configuration(json!({"bucket": bucket}))
                    .build()
                    .unwrap(),
                true,
            )
            .await
            .unwrap();
    }
    let doctor = Doctor::builder(catalog, Arc::new(ChallengeRegistry::new())).build();
    let report = doctor.run(&admin, &Selection::All).await.unwrap();
    let by_name = |n: &str| {
        report
            .integrations
            .iter()
            .find(|i| i.name == n)
            .unwrap_or_else(|| panic!("{n} in {report:#?}"))
    };
    assert!(by_name("evidence").findings.is_empty(), "{report:#?}");
    let broken = &by_name("evidence-eu").findings;
    assert_eq!(
        codes(broken),
        ["invalid_config"],
        "one finding, the connector's: {broken:#?}"
    );
    assert_eq!(
        broken[0].title,
        "Bucket evidence-eu is in region eu-west-1, the integration signs for us-east-1"
    );
}
