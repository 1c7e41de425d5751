//! The Gitea Actions connector against the fake Gitea: conformance, the Actions tasks call,
//! Actions switched off on the instance or the repository (including for administrators, who
//! Gitea lets through), scope refusals in both of Gitea's wordings, the Actions unit refused,
//! servers without the route, Forgejo, configuration refused by name, findings, and a
//! sentinel-secret scan (Gitea echoes an unknown token in its 401).

#![cfg(feature = "gitea-actions")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pathops_connectors::gitea::actions::GiteaActionsConnector;
use pathops_core::connector::detail;
use pathops_core::{
    CheckResult, Configuration, FailureCode, Finding, Integration, IntegrationConnector, Probe,
    Provider, Severity,
};
use pathops_testkit::connector_suite::{CHECK_TIMEOUT, ConnectorHarness, context};
use pathops_testkit::fake::Fault;
use pathops_testkit::fake::gitea::{FakeGitea, GiteaRepo, GiteaToken, GiteaUser, ScopeMessage};
use pathops_testkit::fixtures::IntegrationBuilder;
use secrecy::SecretString;
use serde_json::{Value, json};

const O: &str = FakeGitea::OWNER;
const R: &str = FakeGitea::REPO;

fn tasks_path() -> String {
    format!("/api/v1/repos/{O}/{R}/actions/tasks")
}

fn connector() -> Arc<GiteaActionsConnector> {
    Arc::new(GiteaActionsConnector::builder().build().unwrap())
}

fn integration(url: &str, configuration: Value) -> Integration {
    IntegrationBuilder::new("acme", "Gitea Actions")
        .provider(Provider::GiteaActions)
        .base_url(url)
        .configuration(configuration)
        .build()
}

fn repo() -> Value {
    json!({"owner": O, "repo": R})
}

fn secret(s: &str) -> Option<SecretString> {
    Some(SecretString::from(s.to_owned()))
}

async fn test(c: &GiteaActionsConnector, i: &Integration, token: &str) -> CheckResult {
    c.test_connection(&context(i.clone(), secret(token), CHECK_TIMEOUT))
        .await
}

async fn health(c: &GiteaActionsConnector, i: &Integration, token: &str) -> CheckResult {
    c.check_health(&context(i.clone(), secret(token), CHECK_TIMEOUT))
        .await
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

struct Harness {
    gitea: FakeGitea,
    connector: Arc<GiteaActionsConnector>,
}

#[async_trait]
impl ConnectorHarness for Harness {
    fn connector(&self) -> Arc<dyn IntegrationConnector> {
        self.connector.clone()
    }
    fn integration(&self) -> Integration {
        integration(&self.gitea.url(), repo())
    }
    fn valid_secret(&self) -> Option<SecretString> {
        secret(FakeGitea::TOKEN)
    }
    fn invalid_secret(&self) -> SecretString {
        SecretString::from("not-a-gitea-token".to_owned())
    }
    fn invalid_configuration(&self) -> Option<Configuration> {
        Some(Configuration::new(json!({"owner": O})).unwrap())
    }
    async fn set_latency(&self, latency: Duration) {
        self.gitea.set_latency(latency);
    }
}

pathops_testkit::connector_conformance_tests!(gitea_actions_conformance, async {
    Harness {
        gitea: FakeGitea::start_with_defaults().await,
        connector: connector(),
    }
});

#[tokio::test]
async fn the_test_reports_version_identity_and_the_latest_task() {
    let g = FakeGitea::start_with_defaults().await;
    let c = connector();
    let i = integration(&g.url(), repo());
    let r = test(&c, &i, FakeGitea::TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["total_count"], 2);
    assert_eq!(r.details["pagination_total"], 2);
    assert_eq!(r.details["latest_task"]["id"], FakeGitea::LATEST_TASK_ID);
    assert_eq!(r.details["latest_task"]["status"], "success");
    assert_eq!(r.details["latest_task"]["workflow_id"], "ci.yml");
    assert_eq!(r.details["version"], FakeGitea::DEFAULT_VERSION);
    assert_eq!(r.details["product"], "Gitea");
    assert_eq!(r.details["user"]["login"], FakeGitea::LOGIN);
    assert_eq!(r.details["repo"]["has_actions"], true);
    assert_eq!(r.details["warnings"], json!([]));
    assert!(
        r.message.contains("as pathops-bot") && r.message.contains("Gitea 1.24.2"),
        "{}",
        r.message
    );
    assert!(c.findings(&i, &r).is_empty());
    let paths: Vec<String> = g.requests().iter().map(|q| q.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/v1/version".to_owned(),
            "/api/v1/user".to_owned(),
            format!("/api/v1/repos/{O}/{R}"),
            tasks_path(),
        ]
    );
    let tasks = &g.requests_to(&tasks_path())[0];
    assert_eq!(tasks.query.as_deref(), Some("limit=1"));
    assert_eq!(
        tasks.header("authorization"),
        Some(format!("token {}", FakeGitea::TOKEN).as_str())
    );

    g.clear_requests();
    let h = health(&c, &i, FakeGitea::REPO_TOKEN).await;
    assert!(h.is_success(), "{}", h.message);
    let paths: Vec<String> = g.requests().iter().map(|q| q.path.clone()).collect();
    assert_eq!(paths, [format!("/api/v1/repos/{O}/{R}"), tasks_path()]);

    // A base URL given with /api/v1 is not doubled.
    let with_api = integration(&g.api_url(), repo());
    assert!(health(&c, &with_api, FakeGitea::TOKEN).await.is_success());
}

#[tokio::test]
async fn actions_switched_off_is_reported_even_to_administrators() {
    let g = FakeGitea::start_with_defaults().await;
    g.add_user(GiteaUser::new(4, "root").admin());
    g.add_token(GiteaToken::new(4, "gitea-root-token", &["all"]));
    let c = connector();
    let i = integration(&g.url(), repo());
    for (switch, what) in [
        ("instance", "[actions] ENABLED"),
        ("repository", "settings"),
    ] {
        match switch {
            "instance" => g.set_actions_enabled(false),
            _ => g.set_repo_actions(O, R, false),
        }
        for token in [FakeGitea::TOKEN, "gitea-root-token"] {
            for r in [test(&c, &i, token).await, health(&c, &i, token).await] {
                assert_eq!(
                    r.failure,
                    Some(FailureCode::Unhealthy),
                    "{switch} {token}: {}",
                    r.message
                );
                assert_eq!(r.details["cause"], "actions_disabled");
                assert_eq!(r.details["actions_enabled"], false);
                assert!(r.message.contains(what), "{}", r.message);
                let findings = c.findings(&i, &r);
                assert_eq!(codes(&findings), ["tool_unhealthy"]);
                let steps = findings[0].steps.join("\n");
                assert!(steps.contains("`[actions] ENABLED = true`"), "{steps}");
                assert!(
                    steps.contains(&format!("{}/{O}/{R}/settings", g.url())),
                    "{steps}"
                );
                assert!(
                    findings[0]
                        .api_call
                        .as_deref()
                        .unwrap()
                        .contains("has_actions")
                );
            }
        }
        g.set_actions_enabled(true);
        g.set_repo_actions(O, R, true);
    }
    // Gitea itself lets an administrator list the tasks with the unit off: only the
    // repository's has_actions tells, which is why it is read first.
    g.set_repo_actions(O, R, false);
    let listed = reqwest::Client::new()
        .get(format!("{}{}", g.url(), tasks_path()))
        .header("authorization", "token gitea-root-token")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
}

#[tokio::test]
async fn scope_refusals_name_the_scope_in_both_wordings() {
    let g = FakeGitea::start_with_defaults().await;
    let c = connector();
    let i = integration(&g.url(), repo());
    for style in [ScopeMessage::Listed, ScopeMessage::Detailed] {
        g.set_scope_message(style);
        for r in [
            test(&c, &i, FakeGitea::USER_TOKEN).await,
            health(&c, &i, FakeGitea::USER_TOKEN).await,
        ] {
            assert_eq!(
                r.failure,
                Some(FailureCode::PermissionDenied {
                    missing_scope: Some("read:repository".into())
                }),
                "{style:?}: {}",
                r.message
            );
            assert_eq!(r.details["cause"], "scope_missing");
            let findings = c.findings(&i, &r);
            assert_eq!(codes(&findings), ["missing_scope"]);
            assert!(
                findings[0].steps[0].contains(&format!("{}/user/settings/applications", g.url())),
                "{:?}",
                findings[0].steps
            );
        }
        // Without read:user the identity is a warning; the repository calls prove the token.
        let r = test(&c, &i, FakeGitea::REPO_TOKEN).await;
        assert!(r.is_success(), "{style:?}: {}", r.message);
        assert!(r.details.get("user").is_none());
        let warnings = r.details["warnings"].as_array().unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].as_str().unwrap().contains("read:user"));
        assert_eq!(codes(&c.findings(&i, &r)), ["identity_scope_missing"]);
    }
}

#[tokio::test]
async fn a_user_without_the_actions_unit_is_refused() {
    let g = FakeGitea::start_with_defaults().await;
    g.set_collaborator_actions(O, R, FakeGitea::USER_ID, false);
    let c = connector();
    let i = integration(&g.url(), repo());
    let r = test(&c, &i, FakeGitea::TOKEN).await;
    assert_eq!(
        r.failure,
        Some(FailureCode::PermissionDenied {
            missing_scope: None
        }),
        "{}",
        r.message
    );
    assert_eq!(r.details["cause"], "actions_forbidden");
    assert_eq!(r.details[detail::HTTP_STATUS], 403);
    assert!(
        r.message
            .contains("user should have specific read permission"),
        "{}",
        r.message
    );
    let findings = c.findings(&i, &r);
    assert_eq!(codes(&findings), ["missing_scope"]);
    assert!(
        findings[0].title.contains("pathops-bot"),
        "{}",
        findings[0].title
    );
    assert!(
        findings[0].steps[0].contains(&format!("{}/{O}/{R}/settings/collaboration", g.url())),
        "{:?}",
        findings[0].steps
    );
}

#[tokio::test]
async fn invisible_repositories_and_servers_without_the_route_are_not_found() {
    let g = FakeGitea::start_with_defaults().await;
    let c = connector();
    let missing = integration(&g.url(), json!({"owner": O, "repo": "missing"}));
    for r in [
        test(&c, &missing, FakeGitea::TOKEN).await,
        health(&c, &missing, FakeGitea::TOKEN).await,
    ] {
        assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
        assert_eq!(r.details["cause"], "repo_not_visible");
        let findings = c.findings(&missing, &r);
        assert_eq!(codes(&findings), ["not_found"]);
        assert_eq!(
            findings[0].api_call.as_deref(),
            Some("GET /api/v1/repos/acme/missing")
        );
    }
    g.add_user(GiteaUser::new(3, "outsider"));
    g.add_token(GiteaToken::new(3, "gitea-outsider", &["read:repository"]));
    let hidden = health(&c, &integration(&g.url(), repo()), "gitea-outsider").await;
    assert_eq!(
        hidden.failure,
        Some(FailureCode::NotFound),
        "a private repository is hidden"
    );

    g.set_version("1.21.11");
    let i = integration(&g.url(), repo());
    let r = test(&c, &i, FakeGitea::TOKEN).await;
    assert_eq!(r.failure, Some(FailureCode::NotFound), "{}", r.message);
    assert_eq!(r.details["cause"], "actions_api_missing");
    assert!(
        r.message.contains("Gitea 1.21.11 is older than 1.22"),
        "{}",
        r.message
    );
    let findings = c.findings(&i, &r);
    assert_eq!(codes(&findings), ["not_found"]);
    assert!(
        findings[0].steps[0].contains("1.22"),
        "{:?}",
        findings[0].steps
    );
    assert_eq!(
        health(&c, &i, FakeGitea::TOKEN).await.details["cause"],
        "actions_api_missing"
    );
}

#[tokio::test]
async fn forgejo_is_recognised_and_served_by_the_same_route() {
    let g = FakeGitea::start_with_defaults().await;
    g.set_version("11.0.3+gitea-1.22.0");
    let c = connector();
    let r = test(&c, &integration(&g.url(), repo()), FakeGitea::TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["product"], "Forgejo");
    assert!(
        r.message.contains("Forgejo 11.0.3+gitea-1.22.0"),
        "{}",
        r.message
    );
}

#[tokio::test]
async fn a_repository_without_tasks_passes_with_a_finding() {
    let g = FakeGitea::start_with_defaults().await;
    g.add_repo(GiteaRepo::new(300, O, "quiet").collaborator(FakeGitea::USER_ID, "write"));
    let c = connector();
    let i = integration(&g.url(), json!({"owner": O, "repo": "quiet"}));
    let r = test(&c, &i, FakeGitea::TOKEN).await;
    assert!(r.is_success(), "{}", r.message);
    assert_eq!(r.details["total_count"], 0);
    assert_eq!(r.details["latest_task"], Value::Null);
    assert!(r.message.contains("no tasks yet"), "{}", r.message);
    let findings = c.findings(&i, &r);
    assert_eq!(codes(&findings), ["no_action_tasks"]);
    assert_eq!(findings[0].severity, Severity::Info);
}

#[tokio::test]
async fn status_codes_and_malformed_answers() {
    let g = FakeGitea::start_with_defaults().await;
    let c = connector();
    let i = integration(&g.url(), repo());
    let t = FakeGitea::TOKEN;
    let refused = test(&c, &i, "gitea-wrong").await;
    assert_eq!(refused.failure, Some(FailureCode::Unauthenticated));
    assert_eq!(refused.authentication, Probe::Failed);
    assert!(
        refused.message.contains("access token does not exist"),
        "{}",
        refused.message
    );
    assert_eq!(codes(&c.findings(&i, &refused)), ["unauthenticated"]);
    let anonymous = c
        .test_connection(&context(i.clone(), None, CHECK_TIMEOUT))
        .await;
    assert_eq!(anonymous.failure, Some(FailureCode::Unauthenticated));
    assert!(
        anonymous.message.contains("token is required"),
        "{}",
        anonymous.message
    );
    assert!(
        anonymous.message.contains("no token configured"),
        "{}",
        anonymous.message
    );

    g.inject(
        Fault::on(&tasks_path())
            .status(429)
            .header("Retry-After", "20")
            .times(1),
    );
    assert!(matches!(
        health(&c, &i, t).await.failure,
        Some(FailureCode::RateLimited { reset_at: Some(_) })
    ));
    for status in [500u16, 502] {
        g.inject(Fault::on(&tasks_path()).status(status).times(1));
        assert_eq!(
            health(&c, &i, t).await.failure,
            Some(FailureCode::ServerError { status })
        );
    }
    for body in [
        "{not json",
        r#"{"workflow_runs": []}"#,
        r#"{"total_count": 1}"#,
    ] {
        g.inject(Fault::on(&tasks_path()).status(200).body(body).times(1));
        assert_eq!(
            health(&c, &i, t).await.failure,
            Some(FailureCode::InvalidResponse),
            "{body}"
        );
    }
    g.inject(
        Fault::on(&format!("/api/v1/repos/{O}/{R}"))
            .status(200)
            .body(r#"{"id": 1}"#)
            .times(1),
    );
    assert_eq!(
        health(&c, &i, t).await.failure,
        Some(FailureCode::InvalidResponse)
    );
    g.inject(Fault::on("/api/v1/version").status(200).body("{}").times(1));
    assert_eq!(
        test(&c, &i, t).await.failure,
        Some(FailureCode::InvalidResponse)
    );
    g.inject(Fault::on("/api/v1/version").status(503).times(1));
    assert_eq!(
        test(&c, &i, t).await.failure,
        Some(FailureCode::ServerError { status: 503 })
    );
}

#[tokio::test]
async fn bad_configuration_is_refused_by_name() {
    let g = FakeGitea::start_with_defaults().await;
    let c = connector();
    let cfg = |v: Value| Configuration::new(v).unwrap();
    assert!(c.validate_config(&cfg(repo())).await.is_ok());
    for (configuration, named) in [
        (
            json!({"owner": O, "repo": R, "repository": "acme/platform"}),
            "`repository`",
        ),
        (json!({"owner": O, "repo": R, "hook_id": 1}), "`hook_id`"),
        (json!({"repo": R}), "owner"),
        (json!({"owner": O}), "repo"),
        (json!({"owner": "a c", "repo": R}), "owner"),
        (json!({"owner": O, "repo": ".."}), "repo"),
        (
            json!({"owner": O, "repo": R, "proxy_url": "ftp://x"}),
            "proxy_url",
        ),
    ] {
        let err = c
            .validate_config(&cfg(configuration.clone()))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(named), "{named}: {err}");
        let r = test(&c, &integration(&g.url(), configuration), FakeGitea::TOKEN).await;
        assert_eq!(r.failure, Some(FailureCode::InvalidConfig), "{named}");
        assert!(r.message.contains(named), "{named}: {}", r.message);
    }
    assert!(
        g.requests().is_empty(),
        "nothing is sent for a bad configuration"
    );
}

#[tokio::test]
async fn the_token_never_appears_even_where_gitea_echoes_it() {
    const SENTINEL: &str = "gitea-SENTINEL-0099aa";
    let logs = common::LogCapture::global();
    let g = FakeGitea::start_with_defaults().await;
    g.add_token(GiteaToken::new(
        FakeGitea::USER_ID,
        SENTINEL,
        &["read:repository"],
    ));
    g.add_token(GiteaToken::new(
        FakeGitea::USER_ID,
        "gitea-SENTINEL-0099aa-user",
        &["read:user"],
    ));
    let c = connector();
    let mut printed = String::new();
    for token in [
        SENTINEL,
        "gitea-SENTINEL-0099aa-user",
        // Unknown: Gitea answers 401 `access token does not exist [sha: <this token>]`.
        "gitea-SENTINEL-0099aa-wrong",
    ] {
        for cfg in [repo(), json!({"owner": O, "repo": "missing"})] {
            let i = integration(&g.url(), cfg);
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
    assert!(
        printed.contains("access token does not exist"),
        "the 401 path was exercised"
    );
    common::assert_no_sentinel("SENTINEL", "results, findings and errors", &printed);
    common::assert_no_sentinel("SENTINEL", "logs", &logs.contents());
}
