//! ECR end to end against real implementations: `GetAuthorizationToken` signed with SigV4
//! against moto's server (which checks signatures and keys once its first unauthenticated
//! calls are used up), then the registry half against the CNCF distribution registry with
//! the `AWS` user and the password ECR returned. Skips without `PATHOPS_TEST_MOTO_BIN` and
//! `PATHOPS_TEST_REGISTRY_BIN` (and fails in CI, which sets both). moto runs per test
//! ([`pathops_testkit::moto`]), so its budget of unauthenticated calls is this test's own.
#![cfg(feature = "oci")]

use base64::Engine as _;
use pathops_connectors::http::HttpPolicy;
use pathops_connectors::oci::OciConnector;
use pathops_core::{CheckResult, FailureCode, Integration, IntegrationConnector, Provider};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, context};
use pathops_testkit::fixtures::IntegrationBuilder;
use pathops_testkit::moto::{AccessKey, Moto};
use pathops_testkit::registry::{RegistryAuth, RegistryServer, push_image, registry_bin};
use secrecy::SecretString;
use serde_json::json;

/// An IAM user allowed `ecr:GetAuthorizationToken`, and its access key (three calls).
async fn ecr_user(moto: &Moto) -> AccessKey {
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}]});
    moto.iam_user("pathops", Some(policy)).await
}

/// The password `GetAuthorizationToken` hands out, as a client of ECR would read it.
async fn ecr_password(moto: &Moto, key: &AccessKey) -> String {
    let (status, text) = moto
        .call(
            "ecr",
            key.pair(),
            &[
                ("content-type", "application/x-amz-json-1.1"),
                (
                    "x-amz-target",
                    "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
                ),
            ],
            "{}",
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let token = v["authorizationData"][0]["authorizationToken"]
        .as_str()
        .unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .unwrap();
    String::from_utf8(decoded)
        .unwrap()
        .split_once(':')
        .unwrap()
        .1
        .to_owned()
}

fn integration(registry: &str) -> Integration {
    IntegrationBuilder::new("acme", "ecr")
        .provider(Provider::Ecr)
        .base_url(registry)
        .auth_ref("ref://acme/ecr/keys")
        .configuration(json!({"region": "us-east-1", "repository": "team/app"}))
        .build()
}

async fn check(connector: &OciConnector, i: Integration, secret: String) -> CheckResult {
    let result = connector
        .test_connection(&context(
            i,
            Some(SecretString::from(secret.clone())),
            CHECK_TIMEOUT,
        ))
        .await;
    let text = serde_json::to_string(&result).unwrap();
    let secret_key = serde_json::from_str::<serde_json::Value>(&secret)
        .ok()
        .and_then(|v| v["secret_access_key"].as_str().map(str::to_owned))
        .unwrap_or_default();
    assert!(
        secret_key.is_empty() || !text.contains(&secret_key),
        "{text}"
    );
    result
}

#[tokio::test]
async fn ecr_signs_get_authorization_token_and_logs_in_as_aws() {
    let (Some(moto), Some(registry_bin)) = (
        pathops_testkit::services::service_url("PATHOPS_TEST_MOTO_BIN"),
        registry_bin(),
    ) else {
        return;
    };
    let moto = Moto::start(&moto, 3).await;
    let key = ecr_user(&moto).await;
    let (key_id, secret_key) = (key.access_key_id.clone(), key.secret_access_key.clone());
    let password = ecr_password(&moto, &key).await;
    let registry = RegistryServer::start(
        &registry_bin,
        RegistryAuth::Htpasswd(vec![("AWS".to_owned(), password.clone())]),
    )
    .await;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"))
    );
    push_image(registry.url(), "team/app", Some(&basic)).await;

    let connector = OciConnector::builder(Provider::Ecr)
        .with_http(HttpPolicy::default())
        .with_ecr_endpoint(format!("{}/", moto.url()))
        .build()
        .unwrap();
    let i = integration(registry.url());
    let keys = json!({"access_key_id": key_id, "secret_access_key": secret_key}).to_string();
    let ok = check(&connector, i.clone(), keys.clone()).await;
    assert!(ok.is_success(), "{}", ok.message);
    assert_eq!(ok.details["auth_scheme"], "basic");
    // moto's token "expires" in 2015: expired on arrival, so it is used for its check and
    // never cached; the next check asks again.
    let again = check(&connector, i.clone(), keys).await;
    assert!(again.is_success(), "{}", again.message);
    assert_eq!(connector.token_requests(), 2);

    let wrong =
        json!({"access_key_id": key_id, "secret_access_key": "not-the-secret-key"}).to_string();
    let refused = check(&connector, i.clone(), wrong).await;
    assert_eq!(
        refused.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        refused.message
    );
    let unknown = json!({"access_key_id": "AKIAUNKNOWN000000000", "secret_access_key": "an-unknown-keys-secret"}).to_string();
    let refused = check(&connector, i.clone(), unknown).await;
    assert_eq!(
        refused.failure,
        Some(FailureCode::Unauthenticated),
        "{}",
        refused.message
    );
    let shape = check(&connector, i, "not json".to_owned()).await;
    assert_eq!(
        shape.failure,
        Some(FailureCode::InvalidConfig),
        "{}",
        shape.message
    );
}
