//! The GitHub App connector against the fake GitHub (GHES and api.github.com shapes):
//! conformance, JWT rules, the installation-token cache, rate limits, status codes, transport
//! failures, hook pings and a sentinel-secret scan.

#![cfg(feature = "github-app")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use pathops_connectors::github::GitHubAppConnector;
use pathops_connectors::http::HttpPolicy;
use pathops_core::connector::detail;
use pathops_core::webhook::{DeliveryKind, Expectation};
use pathops_core::{
    CheckResult, Clock, Configuration, ConnectorContext, DeliveryRequest, FailureCode, Integration,
    IntegrationConnector, Provider,
};
use pathops_testkit::clock::ManualClock;
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::github::{FakeGitHub, GitHubRepoHook};
use pathops_testkit::fake::{FakeServer, Fault};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::{Value, json};

const APP: u64 = FakeGitHub::APP_ID;
const INST: u64 = FakeGitHub::INSTALLATION_ID;

fn connector() -> Arc<GitHubAppConnector> {
    Arc::new(GitHubAppConnector::builder().build().unwrap())
}

fn integration(base_url: &str, configuration: Value) -> Integration {
    IntegrationBuilder::new("acme", "GitHub")
        .provider(Provider::GitHubApp)
        .base_url(base_url)
        .configuration(configuration)
        .build()
}

fn key() -> Option<SecretString> {
    Some(SecretString::from(
        FakeGitHub::TEST_APP_PRIVATE_KEY_PEM.to_owned(),
    ))
}

async fn test(c: &GitHubAppConnector, i: Integration) -> CheckResult {
    c.test_connection(&context(i, key(), CHECK_TIMEOUT)).await
}

struct Harness {
    github: FakeGitHub,
    connector: Arc<GitHubAppConnector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        // GHES shape: the base URL is the server root, the connector appends /api/v3.
        integration(
            &self.github.url(),
            json!({"app_id": APP, "installation_id": INST}),
        )
    }
    fn valid_secret(&self) -> Option<SecretString> {
        key()
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from(FakeGitHub::TEST_OTHER_PRIVATE_KEY_PEM.to_owned())
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({"installation_id": INST})).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.github.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(github_app_conformance, async {
    Harness {
        github: FakeGitHub::start_enterprise().await,
        connector: connector(),
    }
});

#[tokio::test]
async fn enterprise_shape_reports_app_installation_and_rate_limit() {
    let gh = FakeGitHub::start_enterprise().await;
    let c = connector();
    let r = test(
        &c,
        integration(&gh.url(), json!({"app_id": APP, "installation_id": INST})),
    )
    .await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["app"]["slug"], "pathops-test");
    assert_eq!(
        r.details["enterprise_version"],
        FakeGitHub::ENTERPRISE_VERSION
    );
    assert_eq!(r.details["installation"]["id"], INST);
    assert!(r.details["rate_limit"]["remaining"].as_u64().unwrap() > 4000);
    let paths: Vec<String> = gh.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/v3/app",
            "/api/v3/app/installations/77/access_tokens",
            "/api/v3/rate_limit"
        ]
    );
    let first = &gh.requests()[0];
    assert_eq!(first.header("accept"), Some("application/vnd.github+json"));
    assert_eq!(first.header("x-github-api-version"), Some("2022-11-28"));
    assert!(first.header("user-agent").unwrap().starts_with("pathops/"));
    let third = &gh.requests()[2];
    assert!(
        third
            .header("authorization")
            .unwrap()
            .starts_with("Bearer ghs_"),
        "rate_limit uses the installation token"
    );
}

#[tokio::test]
async fn root_shape_through_an_explicit_api_url_and_jwt_claims() {
    let gh = FakeGitHub::start().await;
    let c = connector();
    // The base URL is never used to derive the root when api_url is set.
    let i = integration(
        "https://github.com",
        json!({"app_id": FakeGitHub::CLIENT_ID, "api_url": gh.api_url()}),
    );
    let r = test(&c, i).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["installations"][0]["id"], INST);
    assert_eq!(gh.requests()[0].path, "/app");
    let jwt = gh.requests()[0]
        .header("authorization")
        .unwrap()
        .strip_prefix("Bearer ")
        .unwrap()
        .to_owned();
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&jwt).unwrap();
    assert_eq!(claims["iss"], FakeGitHub::CLIENT_ID);
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 600, "iat 60 s back, exp 9 min ahead");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(iat < now && exp > now);

    let numeric = integration(
        "https://github.com",
        json!({"app_id": APP, "api_url": gh.api_url()}),
    );
    assert!(test(&c, numeric).await.is_success());
    let jwt = gh
        .requests()
        .last()
        .unwrap()
        .header("authorization")
        .unwrap()[7..]
        .to_owned();
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&jwt).unwrap();
    assert_eq!(
        claims["iss"],
        json!(APP),
        "a numeric App ID is sent as a number"
    );
}

#[tokio::test]
async fn the_fake_enforces_githubs_jwt_time_rules() {
    let fake_clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let gh = FakeGitHub::builder()
        .clock(fake_clock.clone())
        .start()
        .await
        .unwrap();
    let cfg = json!({"app_id": APP, "api_url": gh.api_url()});
    let skewed = |offset: time::Duration| {
        GitHubAppConnector::builder()
            .with_clock(Arc::new(ManualClock::new(fake_clock.now() + offset)))
            .build()
            .unwrap()
    };
    let ahead = test(
        &skewed(time::Duration::minutes(20)),
        integration("https://github.com", cfg.clone()),
    )
    .await;
    assert_eq!(ahead.failure, Some(FailureCode::Unauthenticated));
    assert!(
        ahead.message.contains("'Issued at' claim ('iat')"),
        "{}",
        ahead.message
    );
    let behind = test(
        &skewed(-time::Duration::minutes(20)),
        integration("https://github.com", cfg.clone()),
    )
    .await;
    assert!(
        behind
            .message
            .contains("'Expiration time' claim ('exp') must be a numeric value"),
        "{}",
        behind.message
    );

    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(FakeGitHub::TEST_APP_PRIVATE_KEY_PEM.as_bytes())
            .unwrap();
    let now = fake_clock.now().unix_timestamp();
    let far = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &json!({"iat": now - 60, "exp": now + 900, "iss": APP}),
        &key,
    )
    .unwrap();
    let r = reqwest::Client::new()
        .get(format!("{}/app", gh.api_url()))
        .bearer_auth(far)
        .header("user-agent", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["message"],
        "'Expiration time' claim ('exp') is too far in the future"
    );
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"iat": now - 60, "exp": now + 60, "iss": APP}),
        &jsonwebtoken::EncodingKey::from_secret(b"k"),
    )
    .unwrap();
    let r = reqwest::Client::new()
        .get(format!("{}/app", gh.api_url()))
        .bearer_auth(hs)
        .header("user-agent", "t")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = reqwest::Client::new()
        .get(format!("{}/app", gh.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        403,
        "GitHub refuses requests without a User-Agent"
    );
}

#[tokio::test]
async fn installation_tokens_are_cached_until_shortly_before_expiry() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let gh = FakeGitHub::builder()
        .enterprise()
        .clock(clock.clone())
        .start()
        .await
        .unwrap();
    let c = GitHubAppConnector::builder()
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let i = integration(&gh.url(), json!({"app_id": APP, "installation_id": INST}));
    let ctx = context(i, key(), CHECK_TIMEOUT);
    for _ in 0..3 {
        let r = c.check_health(&ctx).await;
        assert!(r.is_success(), "{}", r.message);
    }
    assert_eq!(
        gh.issued_tokens(),
        1,
        "one token serves every call while fresh"
    );
    let r = c.test_connection(&ctx).await;
    assert_eq!(r.details["installation"]["cached"], true);
    clock.advance(Duration::from_secs(54 * 60));
    assert!(c.check_health(&ctx).await.is_success());
    assert_eq!(gh.issued_tokens(), 1, "still more than 5 minutes left");
    clock.advance(Duration::from_secs(2 * 60));
    assert!(c.check_health(&ctx).await.is_success());
    assert_eq!(gh.issued_tokens(), 2, "refreshed 5 minutes before expiry");
    let wrong = context(
        integration(&gh.url(), json!({"app_id": APP, "installation_id": INST})),
        Some(SecretString::from(
            FakeGitHub::TEST_OTHER_PRIVATE_KEY_PEM.to_owned(),
        )),
        CHECK_TIMEOUT,
    );
    assert_eq!(
        c.check_health(&wrong).await.failure,
        Some(FailureCode::Unauthenticated),
        "no token reuse across keys"
    );
}

#[tokio::test]
async fn rate_limits_are_reported_and_classified() {
    let gh = FakeGitHub::start_enterprise().await;
    let c = connector();
    let i = || integration(&gh.url(), json!({"app_id": APP}));
    // Without a repository the test runs on App JWT calls, which GitHub counts in the App's
    // own budget.
    gh.set_app_rate_limit(3, 1_795_435_200);
    let r = test(&c, i()).await;
    assert!(r.is_success(), "{}", r.message);
    assert!(
        r.details["warnings"][0]
            .as_str()
            .unwrap()
            .contains("API calls left"),
        "{:?}",
        r.details
    );
    gh.set_app_rate_limit(0, 1_795_435_200);
    let r = test(&c, i()).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::RateLimited {
            reset_at: Some(time::macros::datetime!(2026-11-23 12:00 UTC))
        }),
        "a 403 with x-ratelimit-remaining: 0 is a rate limit, not a permission problem ({})",
        r.message
    );
    gh.set_app_rate_limit(5000, 1_795_435_200);
    gh.inject(
        Fault::on("/api/v3/app")
            .status(403)
            .body(r#"{"message":"You have exceeded a secondary rate limit."}"#)
            .times(1),
    );
    assert!(matches!(
        test(&c, i()).await.failure,
        Some(FailureCode::RateLimited { .. })
    ));
    gh.inject(
        Fault::on("/api/v3/app")
            .status(429)
            .header("Retry-After", "60")
            .times(1),
    );
    assert!(matches!(
        test(&c, i()).await.failure,
        Some(FailureCode::RateLimited { reset_at: Some(_) })
    ));
    gh.inject(
        Fault::on("/api/v3/app")
            .status(403)
            .body(r#"{"message":"Resource not accessible by integration"}"#)
            .times(1),
    );
    assert_eq!(
        test(&c, i()).await.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: None
        })
    );
}

#[tokio::test]
async fn status_codes_and_transport_failures() {
    let gh = FakeGitHub::start_enterprise().await;
    let c = connector();
    let url = gh.url();
    let r = test(
        &c,
        integration(&url, json!({"app_id": APP, "installation_id": 999})),
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
    gh.set_suspended(INST, true);
    let r = test(
        &c,
        integration(&url, json!({"app_id": APP, "installation_id": INST})),
    )
    .await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: None
        }),
        "{}",
        r.message
    );
    gh.set_suspended(INST, false);
    let r = test(&c, integration(&url, json!({"app_id": 1}))).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::Unauthenticated),
        "an unknown App"
    );
    gh.inject(
        Fault::on("/api/v3/app")
            .status(422)
            .body(r#"{"message":"Validation Failed"}"#)
            .times(1),
    );
    assert_eq!(
        test(&c, integration(&url, json!({"app_id": APP})))
            .await
            .failure,
        Some(FailureCode::InvalidResponse)
    );
    for status in [500u16, 503] {
        gh.inject(Fault::on("/api/v3/app").status(status).times(1));
        assert_eq!(
            test(&c, integration(&url, json!({"app_id": APP})))
                .await
                .failure,
            Some(FailureCode::ServerError { status })
        );
    }
    gh.inject(
        Fault::on("/api/v3/app")
            .status(200)
            .body("not json")
            .times(1),
    );
    assert_eq!(
        test(&c, integration(&url, json!({"app_id": APP})))
            .await
            .failure,
        Some(FailureCode::InvalidResponse)
    );
    let small = GitHubAppConnector::builder()
        .with_http(HttpPolicy {
            max_body_bytes: 128,
            ..HttpPolicy::default()
        })
        .build()
        .unwrap();
    assert_eq!(
        test(&small, integration(&url, json!({"app_id": APP})))
            .await
            .failure,
        Some(FailureCode::InvalidResponse)
    );
    let other = common::elsewhere().await;
    gh.inject(
        Fault::on("/api/v3/app")
            .status(301)
            .header("Location", &format!("{}/api/v3/app", other.url()))
            .times(1),
    );
    let r = test(&c, integration(&url, json!({"app_id": APP}))).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidResponse));
    assert!(
        other.requests().is_empty(),
        "the JWT never reached the other host"
    );
    let r = test(
        &c,
        integration("https://ghes.pathops-test.invalid", json!({"app_id": APP})),
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::Dns));
    let not_a_key = c
        .test_connection(&context(
            integration(&url, json!({"app_id": APP})),
            Some(SecretString::from("nope".to_owned())),
            CHECK_TIMEOUT,
        ))
        .await;
    assert_eq!(not_a_key.failure, Some(FailureCode::InvalidConfig));
    assert!(gh.requests_to("/api/v3/app").len() >= 5);
}

async fn receiver() -> FakeServer {
    let router = axum::Router::new().route("/hooks/github", axum::routing::post(|| async { "ok" }));
    FakeServer::bind("127.0.0.1:0".parse().unwrap(), router)
        .await
        .unwrap()
}

async fn hook_ping(c: &GitHubAppConnector, ctx: &ConnectorContext) -> CheckResult {
    c.trigger_delivery(ctx, &DeliveryRequest::HookPing).await
}

#[tokio::test]
async fn hook_pings_deliver_a_signed_ping() {
    let gh = FakeGitHub::start_enterprise().await;
    let rx = receiver().await;
    gh.add_hook(GitHubRepoHook {
        id: 5,
        repository: FakeGitHub::REPOSITORY.into(),
        url: format!("{}/hooks/github", rx.url()),
        secret: Some("hook-secret".into()),
        events: vec!["push".into()],
    });
    let c = connector();
    let cfg = json!({"app_id": APP, "installation_id": INST, "repository": FakeGitHub::REPOSITORY, "hook_id": 5});
    let configured = integration(&gh.url(), cfg);
    assert_eq!(
        c.expected_delivery(&configured, &DeliveryRequest::HookPing)
            .await,
        Some((
            DeliveryKind::GitHub,
            Expectation {
                hook_id: Some(5),
                event: Some("ping".into()),
                ..Expectation::default()
            }
        ))
    );
    let r = hook_ping(&c, &context(configured, key(), CHECK_TIMEOUT)).await;
    assert!(r.is_success(), "{r:?}");
    assert_eq!(r.details[detail::HTTP_STATUS], 204);
    assert_eq!(r.details[detail::HOOK_ID], 5);
    assert_eq!(r.details[detail::PROJECT], FakeGitHub::REPOSITORY);
    let ping = &rx.requests()[0];
    assert_eq!(ping.header("x-github-event"), Some("ping"));
    assert_eq!(ping.header("x-github-hook-id"), Some("5"));
    assert!(
        ping.header("user-agent")
            .unwrap()
            .starts_with("GitHub-Hookshot/")
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"hook-secret").unwrap();
    mac.update(&ping.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        ping.header("x-hub-signature-256"),
        Some(format!("sha256={expected}").as_str())
    );
    assert_eq!(ping.json().unwrap()["hook_id"], 5);
    assert_eq!(gh.deliveries()[0].status, Some(200));

    let missing = json!({"app_id": APP, "installation_id": INST, "repository": FakeGitHub::REPOSITORY, "hook_id": 6});
    let r = hook_ping(
        &c,
        &context(integration(&gh.url(), missing), key(), CHECK_TIMEOUT),
    )
    .await;
    assert_eq!(r.failure, Some(FailureCode::NotFound));
    assert_eq!(r.details[detail::HTTP_STATUS], 404);
    let unconfigured = integration(&gh.url(), json!({"app_id": APP}));
    assert_eq!(
        c.expected_delivery(&unconfigured, &DeliveryRequest::HookPing)
            .await,
        None
    );
    let r = hook_ping(&c, &context(unconfigured.clone(), key(), CHECK_TIMEOUT)).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidConfig));
    // GitLab's hook test is not GitHub's to trigger.
    let test = DeliveryRequest::WebhookTest {
        trigger: "push_events".into(),
    };
    assert_eq!(c.expected_delivery(&unconfigured, &test).await, None);
    let r = c
        .trigger_delivery(&context(unconfigured, key(), CHECK_TIMEOUT), &test)
        .await;
    assert_eq!(r.failure, Some(FailureCode::Unsupported));
}

#[tokio::test]
async fn the_private_key_and_tokens_never_appear_in_results_errors_or_logs() {
    let logs = common::LogCapture::global();
    let gh = FakeGitHub::start_enterprise().await;
    let rx = receiver().await;
    gh.add_hook(GitHubRepoHook {
        id: 5,
        repository: FakeGitHub::REPOSITORY.into(),
        url: format!("{}/hooks/github", rx.url()),
        secret: None,
        events: vec![],
    });
    let c = connector();
    let cfg = json!({"app_id": APP, "installation_id": INST, "repository": FakeGitHub::REPOSITORY, "hook_id": 5});
    let mut printed = String::new();
    for secret in [
        FakeGitHub::TEST_APP_PRIVATE_KEY_PEM,
        FakeGitHub::TEST_OTHER_PRIVATE_KEY_PEM,
        "garbage",
    ] {
        let ctx = context(
            integration(&gh.url(), cfg.clone()),
            Some(SecretString::from(secret.to_owned())),
            CHECK_TIMEOUT,
        );
        let r = c.test_connection(&ctx).await;
        printed += &format!("{r:?}\n{}\n", serde_json::to_string(&r).unwrap());
        printed += &format!(
            "{:?}\n{:?}\n{ctx:?}\n{c:?}\n",
            c.check_health(&ctx).await,
            hook_ping(&c, &ctx).await
        );
    }
    let key_line = FakeGitHub::TEST_APP_PRIVATE_KEY_PEM.lines().nth(1).unwrap();
    for (what, text) in [
        ("results and errors", printed.as_str()),
        ("logs", logs.contents().as_str()),
    ] {
        common::assert_no_sentinel(key_line, what, text);
        common::assert_no_sentinel("PRIVATE KEY", what, text);
        common::assert_no_sentinel("ghs_", what, text);
        common::assert_no_sentinel("eyJ", what, text);
    }
}

/// Real GitHub clients send installation tokens as `Authorization: token …` as often as
/// `Bearer …`; `/rate_limit` is anonymous-friendly but refuses a credential it cannot verify.
#[tokio::test]
async fn the_fake_reads_tokens_like_github() {
    let gh = FakeGitHub::start_enterprise().await;
    let c = connector();
    let r = test(
        &c,
        integration(&gh.url(), json!({"app_id": APP, "installation_id": INST})),
    )
    .await;
    assert!(r.is_success(), "{}", r.message);
    let token = gh
        .requests()
        .iter()
        .filter_map(|q| q.header("authorization").map(str::to_owned))
        .find_map(|a| a.strip_prefix("Bearer ghs_").map(|t| format!("ghs_{t}")))
        .expect("the connector used an installation token");
    let http = reqwest::Client::new();
    let get = |auth: Option<String>| {
        let mut req = http
            .get(format!("{}/rate_limit", gh.api_url()))
            .header("user-agent", "pathops-test");
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        req.send()
    };
    let anonymous = get(None).await.unwrap();
    assert_eq!(anonymous.status(), 200);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["resources"]["core"]["limit"], 60);
    for garbage in ["token nope", "Bearer ghs_unknown"] {
        let refused = get(Some(garbage.to_owned())).await.unwrap();
        assert_eq!(refused.status(), 401, "{garbage}");
    }
    for scheme in ["token", "Bearer"] {
        let ok = get(Some(format!("{scheme} {token}"))).await.unwrap();
        assert_eq!(ok.status(), 200, "{scheme}");
    }
    gh.add_hook(pathops_testkit::fake::github::GitHubRepoHook {
        id: 9,
        repository: FakeGitHub::REPOSITORY.into(),
        url: "http://127.0.0.1:9/webhooks/github".into(),
        secret: None,
        events: vec!["push".into()],
    });
    let ping = http
        .post(format!(
            "{}/repos/{}/hooks/9/pings",
            gh.api_url(),
            FakeGitHub::REPOSITORY
        ))
        .header("user-agent", "pathops-test")
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), 204);
}
