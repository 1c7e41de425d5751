//! The GitLab CI connector against the fake GitLab: conformance, the pipelines call and
//! every status of the reference, token scopes from introspection, the role check, projects
//! by id or encoded path, configuration refused by name, findings, and a sentinel-secret scan.

#![cfg(feature = "gitlab-ci")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::gitlab::ci::GitLabCiConnector;
use pathops_core::connector::detail;
use pathops_core::{
    CheckResult, Configuration, FailureCode, Finding, Integration, IntegrationConnector, Probe,
    Provider, Severity,
};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::gitlab::{
    FakeGitLab, GitLabPipeline, GitLabProject, GitLabToken, GitLabUser,
};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::{Value, json};

const P: u64 = FakeGitLab::PROJECT_ID;

fn pipelines_path() -> String {
    format!("/api/v4/projects/{P}/pipelines")
}

fn connector() -> Arc<GitLabCiConnector> {
    Arc::new(GitLabCiConnector::builder().build().unwrap())
}

fn integration(url: &str, configuration: Value) -> Integration {
    IntegrationBuilder::new("acme", "GitLab CI")
        .provider(Provider::GitLabCi)
        .base_url(url)
        .configuration(configuration)
        .build()
}

fn secret(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_owned()))
}

async fn test(c: &GitLabCiConnector, i: &Integration, token: &str) -> CheckResult {
    c.test_connection(&context(i.clone(), secret(token), CHECK_TIMEOUT))
        .await
}

async fn health(c: &GitLabCiConnector, i: &Integration, token: &str) -> CheckResult {
    c.check_health(&context(i.clone(), secret(token), CHECK_TIMEOUT))
        .await
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

struct Harness {
    gitlab: FakeGitLab,
    connector: Arc<GitLabCiConnector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(&self.gitlab.url(), json!({"project": P}))
    }
    fn valid_secret(&self) -> Option<SecretString> {
        secret(FakeGitLab::READ_API_TOKEN)
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("glpat-not-a-token".to_owned())
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({"project": P, "hook_id": 3})).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.gitlab.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(gitlab_ci_conformance, async {
    Harness {
        gitlab: FakeGitLab::start_with_defaults().await,
        connector: connector(),
    }
});

#[tokio::test]
async fn the_test_reports_identity_scopes_role_and_the_latest_pipeline() {
    let gl = FakeGitLab::start_with_defaults().await;
    let c = connector();
    let i = integration(&gl.url(), json!({"project": FakeGitLab::PROJECT_PATH}));
    let r = test(&c, &i, FakeGitLab::READ_API_TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(
        r.details["latest_pipeline"]["id"],
        FakeGitLab::LATEST_PIPELINE_ID
    );
    assert_eq!(r.details["latest_pipeline"]["status"], "success");
    assert_eq!(r.details["latest_pipeline"]["ref"], "main");
    assert_eq!(r.details["pipeline_count"], 2);
    assert_eq!(r.details["user"]["username"], "pathops-bot");
    assert_eq!(r.details["project"]["access_level"], 40);
    assert_eq!(r.details["project"]["path_with_namespace"], "platform/api");
    assert_eq!(r.details[detail::TOKEN_SCOPES], json!(["read_api"]));
    assert_eq!(r.details["rate_limit"]["limit"], 2000);
    assert!(r.message.contains("@pathops-bot"), "{}", r.message);
    let paths: Vec<String> = gl.requests().iter().map(|q| q.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/v4/user",
            "/api/v4/personal_access_tokens/self",
            "/api/v4/projects/platform%2Fapi",
            "/api/v4/projects/platform%2Fapi/pipelines",
        ],
        "the path is percent-encoded as the GitLab connector encodes it"
    );
    let last = gl.requests().pop().unwrap();
    assert_eq!(last.query.as_deref(), Some("per_page=1"));
    assert_eq!(
        last.header("private-token"),
        Some(FakeGitLab::READ_API_TOKEN)
    );

    gl.clear_requests();
    let bearer = integration(&gl.url(), json!({"project": P, "token_type": "bearer"}));
    let h = health(&c, &bearer, FakeGitLab::API_TOKEN).await;
    assert!(h.is_success(), "{}", h.message);
    let only = gl.requests();
    assert_eq!(only.len(), 1, "health is the pipelines call alone");
    assert_eq!(only[0].path, pipelines_path());
    assert_eq!(
        only[0].header("authorization"),
        Some(format!("Bearer {}", FakeGitLab::API_TOKEN).as_str())
    );
}

#[tokio::test]
async fn a_project_without_pipelines_passes_with_no_pipelines_yet() {
    let gl = FakeGitLab::start_with_defaults().await;
    gl.add_project(GitLabProject::new(77, "platform/new").member(FakeGitLab::USER_ID, 30));
    let c = connector();
    let i = integration(&gl.url(), json!({"project": "77"}));
    let r = test(&c, &i, FakeGitLab::API_TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert!(r.message.contains("no pipelines yet"), "{}", r.message);
    assert_eq!(r.details["latest_pipeline"], Value::Null);
    assert_eq!(r.details["pipeline_count"], 0);
    let findings = c.findings(&i, &r);
    assert_eq!(codes(&findings), ["no_pipelines_yet"]);
    assert_eq!(findings[0].severity, Severity::Info);
    assert!(
        findings[0].steps[0].contains(&format!("{}/platform/new/-/pipelines/new", gl.url())),
        "{:?}",
        findings[0].steps
    );
    let with = test(
        &c,
        &integration(&gl.url(), json!({"project": P})),
        FakeGitLab::API_TOKEN,
    )
    .await;
    assert!(
        c.findings(&integration(&gl.url(), json!({"project": P})), &with)
            .is_empty()
    );
}

#[tokio::test]
async fn a_token_without_read_api_is_named_from_introspection_or_the_refusal() {
    let gl = FakeGitLab::start_with_defaults().await;
    gl.add_token(GitLabToken::new(
        FakeGitLab::USER_ID,
        "glpat-read-user",
        &["read_user"],
    ));
    let c = connector();
    let i = integration(&gl.url(), json!({"project": P}));
    let r = test(&c, &i, "glpat-read-user").await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("read_api".into())
        }),
        "{}",
        r.message
    );
    assert!(r.message.contains("[read_user]"), "{}", r.message);
    assert_eq!(r.details["cause"], "scope_missing");
    assert_eq!(r.details[detail::TOKEN_SCOPES], json!(["read_user"]));
    assert!(
        gl.requests_to(&pipelines_path()).is_empty(),
        "introspection decided before the pipelines call"
    );
    // Health has no introspection: GitLab's insufficient_scope answer names the scope.
    let h = health(&c, &i, "glpat-read-user").await;
    assert_eq!(
        h.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("read_api".into())
        }),
        "{}",
        h.message
    );
    let findings = c.findings(&i, &h);
    assert_eq!(codes(&findings), ["missing_scope"]);
    let steps = findings[0].steps.join("\n");
    assert!(
        steps.contains(&format!(
            "{}/-/user_settings/personal_access_tokens",
            gl.url()
        )),
        "{steps}"
    );
    assert!(steps.contains("read_api"), "{steps}");
}

#[tokio::test]
async fn a_role_below_reporter_cannot_read_a_private_projects_pipelines() {
    let gl = FakeGitLab::start_with_defaults().await;
    gl.add_user(GitLabUser::new(7, "guest-bot"));
    gl.add_token(GitLabToken::new(7, "glpat-guest", &["read_api"]));
    gl.add_project(
        GitLabProject::new(43, "platform/secret")
            .member(7, 10)
            .pipeline(GitLabPipeline::new(700, 1)),
    );
    let c = connector();
    let i = integration(&gl.url(), json!({"project": "platform/secret"}));
    let r = test(&c, &i, "glpat-guest").await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: None
        }),
        "{}",
        r.message
    );
    assert_eq!(r.details["cause"], "role_too_low");
    assert_eq!(r.details[detail::HTTP_STATUS], 403);
    assert!(r.message.contains("Reporter"), "{}", r.message);
    assert!(r.message.contains("403 Forbidden"), "{}", r.message);
    assert_eq!(r.details["project"]["access_level"], 10);
    let findings = c.findings(&i, &r);
    assert_eq!(codes(&findings), ["missing_scope"]);
    assert!(
        findings[0].title.contains("@guest-bot"),
        "{}",
        findings[0].title
    );
    assert!(
        findings[0].why.contains("access level is 10"),
        "{}",
        findings[0].why
    );
    assert!(
        findings[0].steps[0].contains(&format!("{}/platform/secret/-/project_members", gl.url())),
        "{:?}",
        findings[0].steps
    );
    assert_eq!(
        findings[0].api_call.as_deref(),
        Some(
            "POST /api/v4/projects/43/members with {\"user_id\": 7, \"access_level\": 20}   # as a Maintainer"
        )
    );
    // A public project's pipelines are open to the guest.
    gl.add_project(
        GitLabProject::new(44, "platform/open")
            .visibility("public")
            .member(7, 10)
            .pipeline(GitLabPipeline::new(800, 1).status("running")),
    );
    let open = test(
        &c,
        &integration(&gl.url(), json!({"project": 44})),
        "glpat-guest",
    )
    .await;
    assert!(open.is_success(), "{}", open.message);
    assert_eq!(open.details["latest_pipeline"]["status"], "running");
}

#[tokio::test]
async fn status_codes_of_the_reference_map_to_failure_codes() {
    let gl = FakeGitLab::start_with_defaults().await;
    let c = connector();
    let i = integration(&gl.url(), json!({"project": P}));
    let t = FakeGitLab::API_TOKEN;

    let invisible = integration(&gl.url(), json!({"project": "platform/missing"}));
    for r in [
        test(&c, &invisible, t).await,
        health(&c, &invisible, t).await,
    ] {
        assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
        assert_eq!(r.details["cause"], "project_not_visible");
        assert!(r.message.contains("404 Project Not Found"), "{}", r.message);
        let findings = c.findings(&invisible, &r);
        assert_eq!(codes(&findings), ["not_found"]);
        assert_eq!(
            findings[0].api_call.as_deref(),
            Some("GET /api/v4/projects/platform%2Fmissing")
        );
    }

    let refused = health(&c, &i, "glpat-wrong").await;
    assert_eq!(refused.failure, Some(FailureCode::Unauthenticated));
    assert_eq!(refused.authentication, Probe::Failed);
    assert_eq!(codes(&c.findings(&i, &refused)), ["unauthenticated"]);
    let anonymous = c
        .check_health(&context(i.clone(), None, CHECK_TIMEOUT))
        .await;
    assert_eq!(anonymous.failure, Some(FailureCode::Unauthenticated));
    assert!(
        anonymous.message.contains("no credential configured"),
        "{}",
        anonymous.message
    );

    gl.inject(
        Fault::on(&pipelines_path())
            .status(429)
            .header("Retry-After", "30")
            .body("Retry later")
            .times(1),
    );
    assert!(matches!(
        health(&c, &i, t).await.failure,
        Some(FailureCode::RateLimited { reset_at: Some(_) })
    ));
    gl.inject(
        Fault::on(&pipelines_path())
            .status(429)
            .header("RateLimit-Reset", "1795435200")
            .times(1),
    );
    assert_eq!(
        health(&c, &i, t).await.failure,
        Some(FailureCode::RateLimited {
            reset_at: time::OffsetDateTime::from_unix_timestamp(1795435200).ok()
        })
    );
    for status in [500u16, 503] {
        gl.inject(Fault::on(&pipelines_path()).status(status).times(1));
        assert_eq!(
            health(&c, &i, t).await.failure,
            Some(FailureCode::ServerError { status })
        );
    }
    gl.inject(
        Fault::on(&pipelines_path())
            .status(200)
            .body(r#"{"not":"an array"}"#)
            .times(1),
    );
    assert_eq!(
        health(&c, &i, t).await.failure,
        Some(FailureCode::InvalidResponse)
    );
    gl.inject(
        Fault::on(&pipelines_path())
            .status(200)
            .body(r#"[{"status":"success"}]"#)
            .times(1),
    );
    assert_eq!(
        health(&c, &i, t).await.failure,
        Some(FailureCode::InvalidResponse)
    );
    gl.inject(
        Fault::on(&pipelines_path())
            .status(403)
            .body(
                r#"{"error":"insufficient_scope","error_description":"x","scope":"api read_api"}"#,
            )
            .times(1),
    );
    assert_eq!(
        health(&c, &i, t).await.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: Some("read_api".into())
        }),
        "the least of the scopes GitLab accepts is named"
    );
    gl.inject(
        Fault::on("/api/v4/personal_access_tokens/self")
            .status(503)
            .times(1),
    );
    assert_eq!(
        test(&c, &i, t).await.failure,
        Some(FailureCode::ServerError { status: 503 })
    );
    // An OAuth token has no introspection: the test goes on to the pipelines.
    gl.inject(
        Fault::on("/api/v4/personal_access_tokens/self")
            .status(401)
            .times(1),
    );
    let r = test(&c, &i, t).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["token"]["introspection"], "unavailable");
}

#[tokio::test]
async fn bad_configuration_is_refused_by_name() {
    let gl = FakeGitLab::start_with_defaults().await;
    let c = connector();
    let cfg = |v: Value| Configuration::new(v).unwrap();
    assert!(c.validate_config(&cfg(json!({"project": P}))).await.is_ok());
    for (configuration, named) in [
        (json!({"project": P, "hook_id": 3}), "`hook_id`"),
        (json!({"project": P, "trigger": "push_events"}), "`trigger`"),
        (json!({"project": P, "pipeline": 1}), "`pipeline`"),
        (json!({}), "project"),
        (json!({"project": "no-namespace"}), "project"),
        (json!({"project": P, "token_type": "basic"}), "token_type"),
        (json!({"project": P, "proxy_url": "ftp://x"}), "proxy_url"),
    ] {
        let err = c
            .validate_config(&cfg(configuration.clone()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(named), "{named}: {err}");
        let r = test(
            &c,
            &integration(&gl.url(), configuration),
            FakeGitLab::API_TOKEN,
        )
        .await;
        assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{named}");
        assert!(r.message.contains(named), "{named}: {}", r.message);
    }
    assert!(
        gl.requests().is_empty(),
        "nothing is sent for a bad configuration"
    );
}

#[tokio::test]
async fn the_token_never_appears_in_results_errors_or_logs() {
    const SENTINEL: &str = "glpat-SENTINEL-ci-77aa";
    let logs = common::LogCapture::global();
    let gl = FakeGitLab::start_with_defaults().await;
    gl.add_token(GitLabToken::new(
        FakeGitLab::USER_ID,
        SENTINEL,
        &["read_api"],
    ));
    gl.add_token(GitLabToken::new(
        FakeGitLab::USER_ID,
        "glpat-SENTINEL-ci-77aa-user",
        &["read_user"],
    ));
    let c = connector();
    let mut printed = String::new();
    for (token, project) in [
        (SENTINEL, json!(P)),
        ("glpat-SENTINEL-ci-77aa-user", json!(P)),
        ("glpat-SENTINEL-ci-77aa-wrong", json!(P)),
        (SENTINEL, json!("platform/missing")),
    ] {
        for token_type in ["private_token", "bearer"] {
            let i = integration(
                &gl.url(),
                json!({"project": project, "token_type": token_type}),
            );
            let ctx = context(i.clone(), secret(token), CHECK_TIMEOUT);
            for r in [c.test_connection(&ctx).await, c.check_health(&ctx).await] {
                printed += &format!(
                    "{r:?}\n{}\n{:?}\n",
                    serde_json::to_string(&r).unwrap(),
                    c.findings(&i, &r)
                );
            }
            printed += &format!("{ctx:?}\n{c:?}\n");
        }
    }
    common::assert_no_sentinel("SENTINEL", "results, findings and errors", &printed);
    common::assert_no_sentinel("SENTINEL", "logs", &logs.contents());
}
