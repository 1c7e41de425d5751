//! The GitHub Actions connector against the fake GitHub (GHES shape): conformance, the runs
//! call and every status of the reference, the installation lookup, tokens never shared
//! across integrations, refused tokens dropped from the cache, configuration refused by name,
//! findings, and a sentinel-secret scan.

#![cfg(feature = "github-actions")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::github::GitHubAppConnector;
use pathops_connectors::github::actions::GitHubActionsConnector;
use pathops_core::connector::detail;
use pathops_core::{
    CheckResult, Configuration, FailureCode, Finding, Integration, IntegrationConnector, Provider,
    Severity,
};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::github::FakeGitHub;
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::{Value, json};

const APP: u64 = FakeGitHub::APP_ID;
const INST: u64 = FakeGitHub::INSTALLATION_ID;
const RUNS: &str = "/api/v3/repos/acme/platform/actions/runs";

fn connector() -> Arc<GitHubActionsConnector> {
    Arc::new(GitHubActionsConnector::builder().build().unwrap())
}

fn config() -> Value {
    json!({"app_id": APP, "installation_id": INST, "owner": "acme", "repo": "platform"})
}

fn integration(base_url: &str, configuration: Value) -> Integration {
    IntegrationBuilder::new("acme", "GitHub Actions")
        .provider(Provider::GitHubActions)
        .base_url(base_url)
        .configuration(configuration)
        .build()
}

fn key() -> Option<SecretString> {
    Some(SecretString::from(
        FakeGitHub::TEST_APP_PRIVATE_KEY_PEM.to_owned(),
    ))
}

async fn test(c: &GitHubActionsConnector, i: &Integration) -> CheckResult {
    c.test_connection(&context(i.clone(), key(), CHECK_TIMEOUT))
        .await
}

async fn health(c: &GitHubActionsConnector, i: &Integration) -> CheckResult {
    c.check_health(&context(i.clone(), key(), CHECK_TIMEOUT))
        .await
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

struct Harness {
    github: FakeGitHub,
    connector: Arc<GitHubActionsConnector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(&self.github.url(), config())
    }
    fn valid_secret(&self) -> Option<SecretString> {
        key()
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from(FakeGitHub::TEST_OTHER_PRIVATE_KEY_PEM.to_owned())
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({"app_id": APP, "owner": "acme"})).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.github.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(github_actions_conformance, async {
    Harness {
        github: FakeGitHub::start_enterprise().await,
        connector: connector(),
    }
});

#[tokio::test]
async fn the_test_authenticates_like_the_app_and_reports_the_latest_run() {
    let gh = FakeGitHub::start_enterprise().await;
    let c = connector();
    let i = integration(&gh.url(), config());
    let r = test(&c, &i).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["total_count"], 2);
    assert_eq!(r.details["latest_run"]["id"], FakeGitHub::LATEST_RUN_ID);
    assert_eq!(r.details["latest_run"]["status"], "completed");
    assert_eq!(r.details["latest_run"]["conclusion"], "success");
    assert_eq!(
        r.details["latest_run"]["created_at"],
        "2026-01-02T10:00:00Z"
    );
    assert_eq!(r.details["app"]["slug"], "pathops-test");
    assert_eq!(r.details["installation"]["account"], "acme");
    assert_eq!(r.details["repository"], "acme/platform");
    assert!(r.details["rate_limit"]["remaining"].as_u64().unwrap() > 4000);
    assert!(r.message.contains("2 workflow runs"), "{}", r.message);
    let paths: Vec<String> = gh.requests().iter().map(|q| q.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/v3/app",
            "/api/v3/app/installations/77",
            "/api/v3/app/installations/77/access_tokens",
            RUNS,
        ]
    );
    let runs = &gh.requests_to(RUNS)[0];
    assert_eq!(runs.query.as_deref(), Some("per_page=1"));
    assert!(
        runs.header("authorization")
            .unwrap()
            .starts_with("Bearer ghs_"),
        "the runs call uses the installation token"
    );
    assert_eq!(runs.header("x-github-api-version"), Some("2022-11-28"));
    assert_eq!(runs.header("accept"), Some("application/vnd.github+json"));

    // Health is the runs call alone, with the cached token.
    gh.clear_requests();
    let h = health(&c, &i).await;
    assert!(h.is_success(), "{}", h.message);
    assert_eq!(h.details["latest_run"]["id"], FakeGitHub::LATEST_RUN_ID);
    let paths: Vec<String> = gh.requests().iter().map(|q| q.path.clone()).collect();
    assert_eq!(paths, [RUNS]);
    assert_eq!(gh.issued_tokens(), 1);
}

#[tokio::test]
async fn without_an_installation_id_the_installation_is_looked_up() {
    let gh = FakeGitHub::start_enterprise().await;
    let c = connector();
    let cfg = json!({"app_id": FakeGitHub::CLIENT_ID, "owner": "acme", "repo": "platform"});
    let r = test(&c, &integration(&gh.url(), cfg.clone())).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["installation"]["id"], INST);
    assert!(
        !gh.requests_to("/api/v3/repos/acme/platform/installation")
            .is_empty()
    );
    let h = health(&c, &integration(&gh.url(), cfg)).await;
    assert!(h.is_success(), "{}", h.message);

    // A repository the App is not installed on: the lookup answers 404.
    let elsewhere = json!({"app_id": APP, "owner": "acme", "repo": "elsewhere"});
    for r in [
        test(&c, &integration(&gh.url(), elsewhere.clone())).await,
        health(&c, &integration(&gh.url(), elsewhere.clone())).await,
    ] {
        assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
        assert_eq!(r.details["cause"], "app_not_installed");
        assert!(r.message.contains("not installed"), "{}", r.message);
        assert_eq!(r.details["repository"], "acme/elsewhere");
    }
}

#[tokio::test]
async fn a_repository_outside_the_installation_is_not_found_with_install_steps() {
    let gh = FakeGitHub::start_enterprise().await;
    let c = connector();
    let i = integration(
        &gh.url(),
        json!({"app_id": APP, "installation_id": INST, "owner": "acme", "repo": "elsewhere"}),
    );
    let r = test(&c, &i).await;
    assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
    assert_eq!(r.details["cause"], "app_not_installed");
    assert_eq!(r.details[detail::HTTP_STATUS], 404);
    assert!(r.message.contains("installation 77"), "{}", r.message);
    assert!(r.message.contains("selected"), "{}", r.message);
    let findings = c.findings(&i, &r);
    assert_eq!(codes(&findings), ["not_found"]);
    let steps = findings[0].steps.join("\n");
    let web = gh.url();
    assert!(
        steps.contains(&format!(
            "{web}/organizations/acme/settings/installations/77"
        )),
        "{steps}"
    );
    assert!(
        steps.contains(&format!("{web}/github-apps/pathops-test/installations/new")),
        "{steps}"
    );
    assert!(
        findings[0]
            .api_call
            .as_deref()
            .unwrap()
            .contains("/repos/acme/elsewhere/installation")
    );
    let h = health(&c, &i).await;
    assert_eq!(h.failure, Some(FailureCode::NotFound));
    assert_eq!(
        c.findings(&i, &h)[0].code,
        "not_found",
        "health results get the same advice"
    );

    // An installation id the App does not have.
    let unknown = integration(
        &gh.url(),
        json!({"app_id": APP, "installation_id": 4040, "owner": "acme", "repo": "platform"}),
    );
    let r = test(&c, &unknown).await;
    assert_eq!(r.failure, Some(FailureCode::NotFound));
    assert_eq!(r.details["cause"], "installation_not_found");
    assert!(c.findings(&unknown, &r)[0].title.contains("4040"));
}

#[tokio::test]
async fn a_missing_actions_permission_names_actions_read_and_the_refused_token_is_dropped() {
    let gh = FakeGitHub::start_enterprise().await;
    gh.set_installation_permission(INST, "actions", None);
    let c = connector();
    let i = integration(&gh.url(), config());
    let r = test(&c, &i).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("actions:read".into())
        }),
        "{}",
        r.message
    );
    assert!(r.message.contains("actions:read"), "{}", r.message);
    assert!(
        r.message.contains("Resource not accessible by integration"),
        "{}",
        r.message
    );
    assert_eq!(r.details["cause"], "actions_permission_missing");
    let findings = c.findings(&i, &r);
    assert_eq!(codes(&findings), ["missing_scope"]);
    let steps = findings[0].steps.join("\n");
    assert!(
        steps.contains(&format!(
            "{}/organizations/acme/settings/apps/pathops-test/permissions",
            gh.url()
        )),
        "{steps}"
    );
    assert!(steps.contains("Actions to Read-only"), "{steps}");
    assert!(steps.contains("settings/installations/77"), "{steps}");

    // The owner grants the permission: the next check mints a new token and passes, where
    // a cached token (minted without it) would still be refused for up to an hour.
    assert_eq!(gh.issued_tokens(), 1);
    gh.set_installation_permission(INST, "actions", Some("read"));
    let h = health(&c, &i).await;
    assert!(h.is_success(), "{}", h.message);
    assert_eq!(gh.issued_tokens(), 2);
}

#[tokio::test]
async fn tokens_are_never_shared_across_integrations() {
    let gh = FakeGitHub::start_enterprise().await;
    let c = connector();
    let first = integration(&gh.url(), config());
    let second = integration(&gh.url(), config());
    assert_ne!(first.id, second.id);
    for i in [&first, &second, &first, &second] {
        let r = health(&c, i).await;
        assert!(r.is_success(), "{}", r.message);
    }
    assert_eq!(
        gh.issued_tokens(),
        2,
        "one token per integration, each reused"
    );
    let used: std::collections::BTreeSet<String> = gh
        .requests_to(RUNS)
        .iter()
        .filter_map(|q| q.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(used.len(), 2, "each integration sent its own token");

    // A GitHub App integration of the same App and installation, on the App connector,
    // mints its own token too.
    let app = GitHubAppConnector::builder().build().unwrap();
    let app_integration = IntegrationBuilder::new("acme", "GitHub")
        .provider(Provider::GitHubApp)
        .base_url(&gh.url())
        .configuration(json!({"app_id": APP, "installation_id": INST}))
        .build();
    let r = app
        .check_health(&context(app_integration, key(), CHECK_TIMEOUT))
        .await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(gh.issued_tokens(), 3);
}

#[tokio::test]
async fn status_codes_of_the_reference_map_to_failure_codes() {
    let gh = FakeGitHub::start_enterprise().await;
    let c = connector();
    let i = integration(&gh.url(), config());
    let reset = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
    gh.inject(
        Fault::on(RUNS)
            .status(403)
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-reset", &reset.to_string())
            .body(r#"{"message":"API rate limit exceeded for installation ID 77."}"#)
            .times(1),
    );
    let r = health(&c, &i).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::RateLimited {
            reset_at: time::OffsetDateTime::from_unix_timestamp(reset).ok()
        }),
        "a 403 with no calls left is a rate limit, not a permission: {}",
        r.message
    );
    gh.inject(
        Fault::on(RUNS)
            .status(403)
            .body(r#"{"message":"You have exceeded a secondary rate limit."}"#)
            .times(1),
    );
    assert!(matches!(
        health(&c, &i).await.failure,
        Some(FailureCode::RateLimited { .. })
    ));
    gh.inject(
        Fault::on(RUNS)
            .status(429)
            .header("retry-after", "30")
            .times(1),
    );
    assert!(matches!(
        health(&c, &i).await.failure,
        Some(FailureCode::RateLimited { reset_at: Some(_) })
    ));
    for status in [500u16, 502, 503] {
        gh.inject(Fault::on(RUNS).status(status).times(1));
        assert_eq!(
            health(&c, &i).await.failure,
            Some(FailureCode::ServerError { status })
        );
    }
    gh.inject(Fault::on(RUNS).status(200).body("{not json").times(1));
    assert_eq!(
        health(&c, &i).await.failure,
        Some(FailureCode::InvalidResponse)
    );
    gh.inject(Fault::on(RUNS).status(200).body(r#"{"runs":[]}"#).times(1));
    let r = health(&c, &i).await;
    assert_eq!(r.failure, Some(FailureCode::InvalidResponse));
    assert!(r.message.contains("total_count"), "{}", r.message);

    // A 401 drops the cached token: the next check mints another.
    let before = gh.issued_tokens();
    gh.inject(
        Fault::on(RUNS)
            .status(401)
            .body(r#"{"message":"Bad credentials"}"#)
            .times(1),
    );
    let r = health(&c, &i).await;
    assert_eq!(r.failure, Some(FailureCode::Unauthenticated));
    assert!(health(&c, &i).await.is_success());
    assert_eq!(gh.issued_tokens(), before + 1);

    // The App's own calls keep the App connector's mapping.
    gh.inject(Fault::on("/api/v3/app").status(500).times(1));
    assert_eq!(
        test(&c, &i).await.failure,
        Some(FailureCode::ServerError { status: 500 })
    );
    gh.set_suspended(INST, true);
    let suspended = test(&c, &integration(&gh.url(), config())).await;
    assert!(
        matches!(
            suspended.failure,
            Some(FailureCode::PermissionDenied { .. })
        ),
        "{}",
        suspended.message
    );
    assert!(
        suspended.message.contains("suspended"),
        "{}",
        suspended.message
    );
}

#[tokio::test]
async fn bad_configuration_is_refused_by_name() {
    let gh = FakeGitHub::start_enterprise().await;
    let c = connector();
    let cfg = |v: Value| Configuration::new(v).unwrap();
    assert!(c.validate_config(&cfg(config())).await.is_ok());
    for (configuration, named) in [
        (
            json!({"app_id": APP, "owner": "acme", "repo": "platform", "repository": "acme/platform"}),
            "`repository`",
        ),
        (
            json!({"app_id": APP, "owner": "acme", "repo": "platform", "hook_id": 3}),
            "`hook_id`",
        ),
        (json!({"app_id": APP, "repo": "platform"}), "owner"),
        (json!({"app_id": APP, "owner": "acme"}), "repo"),
        (json!({"owner": "acme", "repo": "platform"}), "app_id"),
        (
            json!({"app_id": APP, "owner": "a c", "repo": "platform"}),
            "owner",
        ),
        (
            json!({"app_id": APP, "owner": "acme", "repo": "platform", "api_url": "ftp://x"}),
            "api_url",
        ),
    ] {
        let err = c
            .validate_config(&cfg(configuration.clone()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(named), "{named}: {err}");
        let r = test(&c, &integration(&gh.url(), configuration)).await;
        assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{named}");
        assert!(r.message.contains(named), "{named}: {}", r.message);
    }
    assert!(
        gh.requests().is_empty(),
        "nothing is sent for a bad configuration"
    );
    let no_key = c
        .test_connection(&context(
            integration(&gh.url(), config()),
            None,
            CHECK_TIMEOUT,
        ))
        .await;
    assert_eq!(no_key.failure, Some(FailureCode::InvalidConfig));
    assert!(no_key.message.contains("private key"), "{}", no_key.message);
}

#[tokio::test]
async fn findings_for_a_wrong_key_few_calls_left_and_no_runs() {
    let gh = FakeGitHub::start_enterprise().await;
    let c = connector();
    let i = integration(&gh.url(), config());
    let wrong = c
        .test_connection(&context(
            i.clone(),
            Some(SecretString::from(
                FakeGitHub::TEST_OTHER_PRIVATE_KEY_PEM.to_owned(),
            )),
            CHECK_TIMEOUT,
        ))
        .await;
    assert_eq!(wrong.failure, Some(FailureCode::Unauthenticated));
    let findings = c.findings(&i, &wrong);
    assert_eq!(codes(&findings), ["unauthenticated"]);
    assert!(findings[0].steps.join(" ").contains("private key"));

    gh.set_rate_limit(100, time::OffsetDateTime::now_utc().unix_timestamp() + 60);
    let low = health(&c, &i).await;
    assert!(low.is_success(), "{}", low.message);
    assert_eq!(low.details["warnings"].as_array().unwrap().len(), 1);
    let findings = c.findings(&i, &low);
    assert_eq!(codes(&findings), ["rate_limit_low"]);
    assert_eq!(findings[0].severity, Severity::Warning);

    // A repository covered by the installation that never ran a workflow.
    let mut seed = FakeGitHub::default_seed();
    seed.installations[0].repositories.push("acme/quiet".into());
    let quiet = FakeGitHub::builder()
        .enterprise()
        .seed(seed)
        .start()
        .await
        .unwrap();
    let i = integration(
        &quiet.url(),
        json!({"app_id": APP, "installation_id": INST, "owner": "acme", "repo": "quiet"}),
    );
    let r = test(&c, &i).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["total_count"], 0);
    assert_eq!(r.details["latest_run"], Value::Null);
    assert!(r.message.contains("no workflow runs yet"), "{}", r.message);
    let findings = c.findings(&i, &r);
    assert_eq!(codes(&findings), ["no_workflow_runs"]);
    assert_eq!(findings[0].severity, Severity::Info);
}

#[tokio::test]
async fn the_private_key_and_tokens_never_appear_in_results_errors_or_logs() {
    let logs = common::LogCapture::global();
    let gh = FakeGitHub::start_enterprise().await;
    let c = connector();
    let mut printed = String::new();
    for (secret, cfg) in [
        (FakeGitHub::TEST_APP_PRIVATE_KEY_PEM, config()),
        (FakeGitHub::TEST_OTHER_PRIVATE_KEY_PEM, config()),
        ("garbage", config()),
        (
            FakeGitHub::TEST_APP_PRIVATE_KEY_PEM,
            json!({"app_id": APP, "owner": "acme", "repo": "elsewhere"}),
        ),
    ] {
        let i = integration(&gh.url(), cfg);
        let ctx = context(
            i.clone(),
            Some(SecretString::from(secret.to_owned())),
            CHECK_TIMEOUT,
        );
        for r in [c.test_connection(&ctx).await, c.check_health(&ctx).await] {
            printed += &format!(
                "{r:?}\n{}\n{:?}\n",
                serde_json::to_string(&r).unwrap(),
                c.findings(&i, &r)
            );
        }
        printed += &format!("{ctx:?}\n{c:?}\n");
    }
    gh.set_installation_permission(INST, "actions", None);
    let r = health(&c, &integration(&gh.url(), config())).await;
    printed += &format!("{r:?}\n");
    // Every credential that went over the wire: the JWTs and the installation tokens.
    let sent: Vec<String> = gh
        .requests()
        .iter()
        .filter_map(|q| q.header("authorization"))
        .filter_map(|a| a.strip_prefix("Bearer "))
        .map(str::to_owned)
        .collect();
    assert!(sent.iter().any(|t| t.starts_with("ghs_")));
    let key_line = FakeGitHub::TEST_APP_PRIVATE_KEY_PEM.lines().nth(1).unwrap();
    for (what, text) in [
        ("results, findings and errors", printed.as_str()),
        ("logs", logs.contents().as_str()),
    ] {
        common::assert_no_sentinel(key_line, what, text);
        common::assert_no_sentinel("PRIVATE KEY", what, text);
        for token in &sent {
            common::assert_no_sentinel(token, what, text);
        }
    }
}
