//! The doctor over the three CI connectors and their fakes: each connector's own finding
//! replaces the doctor's generic one for the same failure, CI integrations get no webhook
//! check, and a healthy CI integration gets no error.

#![cfg(all(
    feature = "github-actions",
    feature = "gitlab-ci",
    feature = "gitea-actions"
))]

use std::sync::Arc;
use std::time::Duration;

use pathops_connectors::gitea::actions::GiteaActionsConnector;
use pathops_connectors::github::actions::GitHubActionsConnector;
use pathops_connectors::gitlab::ci::GitLabCiConnector;
use pathops_core::catalog::{Catalog, Principal};
use pathops_core::doctor::{Doctor, IntegrationReport, Outcome, Selection, Severity};
use pathops_core::secret::StaticResolver;
use pathops_core::webhook::ChallengeRegistry;
use pathops_core::{ConnectorRegistry, NewIntegration, Provider};
use pathops_store::MemoryStore;
use pathops_testkit::fake::gitea::FakeGitea;
use pathops_testkit::fake::github::FakeGitHub;
use pathops_testkit::fake::gitlab::{FakeGitLab, GitLabToken};
use serde_json::json;

#[tokio::test]
async fn each_ci_connectors_finding_replaces_the_generic_one() {
    let github = FakeGitHub::start_enterprise().await;
    let gitlab = FakeGitLab::start_with_defaults().await;
    let gitea = FakeGitea::start_with_defaults().await;
    gitlab.add_token(GitLabToken::new(
        FakeGitLab::USER_ID,
        "glpat-read-user",
        &["read_user"],
    ));

    let mut registry = ConnectorRegistry::new();
    registry
        .register(Arc::new(GitHubActionsConnector::builder().build().unwrap()))
        .unwrap();
    registry
        .register(Arc::new(GitLabCiConnector::builder().build().unwrap()))
        .unwrap();
    registry
        .register(Arc::new(GiteaActionsConnector::builder().build().unwrap()))
        .unwrap();
    let secrets = StaticResolver::new()
        .with(
            "ref://acme/github/key".parse().unwrap(),
            FakeGitHub::TEST_APP_PRIVATE_KEY_PEM,
        )
        .with(
            "ref://acme/gitlab/read-user".parse().unwrap(),
            "glpat-read-user",
        )
        .with(
            "ref://acme/gitlab/read-api".parse().unwrap(),
            FakeGitLab::READ_API_TOKEN,
        )
        .with("ref://acme/gitea/token".parse().unwrap(), FakeGitea::TOKEN);
    let catalog = Catalog::builder(Arc::new(MemoryStore::new()))
        .with_connectors(registry)
        .with_secrets(Arc::new(secrets))
        .with_check_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let admin = Principal::admin("acme".parse().unwrap(), "alice".parse().unwrap());
    for (name, provider, url, auth_ref, configuration) in [
        (
            "actions",
            Provider::GitHubActions,
            github.url(),
            "ref://acme/github/key",
            json!({"app_id": FakeGitHub::APP_ID, "installation_id": FakeGitHub::INSTALLATION_ID, "owner": "acme", "repo": "platform"}),
        ),
        (
            "pipelines",
            Provider::GitLabCi,
            gitlab.url(),
            "ref://acme/gitlab/read-user",
            json!({"project": FakeGitLab::PROJECT_ID}),
        ),
        (
            "pipelines-ok",
            Provider::GitLabCi,
            gitlab.url(),
            "ref://acme/gitlab/read-api",
            json!({"project": FakeGitLab::PROJECT_PATH}),
        ),
        (
            "tasks",
            Provider::GiteaActions,
            gitea.url(),
            "ref://acme/gitea/token",
            json!({"owner": FakeGitea::OWNER, "repo": FakeGitea::REPO}),
        ),
    ] {
        catalog
            .create(
                &admin,
                NewIntegration::builder(name, provider, url)
                    .with_auth_ref(auth_ref)
                    .with_configuration(configuration)
                    .build()
                    .unwrap(),
                true,
            )
            .await
            .unwrap();
    }
    github.set_installation_permission(FakeGitHub::INSTALLATION_ID, "actions", None);
    gitea.set_actions_enabled(false);

    let doctor = Doctor::builder(catalog, Arc::new(ChallengeRegistry::new())).build();
    let report = doctor.run(&admin, &Selection::All).await.unwrap();
    let by_name = |name: &str| -> &IntegrationReport {
        report.integrations.iter().find(|r| r.name == name).unwrap()
    };
    for r in &report.integrations {
        assert!(r.webhook.is_none(), "{}: CI has no webhook check", r.name);
        let codes: Vec<&str> = r.findings.iter().map(|f| f.code.as_str()).collect();
        let mut unique = codes.clone();
        unique.dedup();
        assert_eq!(codes, unique, "{}: one finding per code", r.name);
    }

    let actions = by_name("actions");
    assert_eq!(actions.failure_code.as_deref(), Some("permission_denied"));
    assert_eq!(actions.findings[0].code, "missing_scope");
    assert_eq!(
        actions.findings[0].title,
        "The GitHub App lacks actions:read on acme/platform"
    );
    assert!(
        actions.findings[0]
            .steps
            .iter()
            .any(|s| s.contains("Actions to Read-only"))
    );

    let pipelines = by_name("pipelines");
    assert_eq!(pipelines.failure_code.as_deref(), Some("permission_denied"));
    assert_eq!(
        pipelines.findings[0].title,
        "The GitLab token lacks the read_api scope, which reading pipelines needs"
    );

    let tasks = by_name("tasks");
    assert_eq!(tasks.failure_code.as_deref(), Some("unhealthy"));
    assert_eq!(tasks.findings.len(), 1, "{:#?}", tasks.findings);
    assert_eq!(tasks.findings[0].code, "tool_unhealthy");
    assert_eq!(
        tasks.findings[0].title,
        "Actions is disabled for acme/platform"
    );

    let ok = by_name("pipelines-ok");
    assert_eq!(ok.outcome, Outcome::Passed, "{}", ok.message);
    assert!(
        ok.findings.iter().all(|f| f.severity != Severity::Error),
        "{:#?}",
        ok.findings
    );
}
