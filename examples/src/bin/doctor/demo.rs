//! The demo world: the testkit's fake GitLab, GitHub, Gitea, Bitbucket Data Center, Azure DevOps, Harbor, GHCR, Jenkins, Argo CD,
//! MinIO and direct-ping tool on loopback, their secrets in files under a temporary directory (read by the built-in
//! `FileResolver`, as `--secrets-dir` does for real catalogs), and a set of integrations of
//! which some are broken on purpose.
//!
//! | integration | provider | what the doctor finds |
//! |---|---|---|
//! | `azure-devops-legacy` | Azure DevOps | the service hook subscription was disabled by the system after failed deliveries: reported before testing |
//! | `azure-devops-platform` | Azure DevOps | the test notification arrives with the subscription's Basic credentials: passes |
//! | `bitbucket-legacy` | Bitbucket | the webhook's secret is stale: Bitbucket's test ping is refused by the receiver, and Bitbucket's answer says so |
//! | `bitbucket-platform` | Bitbucket | the webhook test endpoint's ping arrives signed: passes |
//! | `gitea-fresh` | Gitea | the repository has no commits, so Gitea's hook test would send nothing: reported before triggering |
//! | `gitea-platform` | Gitea | the hook test's push arrives signed: passes |
//! | `github-platform` | GitHub App | the hook ping arrives signed: passes |
//! | `gitlab-docs` | GitLab | the token has `read_api` only: the hook test needs `api` |
//! | `gitlab-legacy` | GitLab | the hook is auto-disabled, and still points at a retired receiver path |
//! | `gitlab-payments` | GitLab | the hook's secret token is stale: the delivery is rejected |
//! | `gitlab-platform` | GitLab | the test delivery arrives and verifies: passes |
//! | `ghcr-mirror` | GHCR | the account's token is valid but may not pull the repository |
//! | `ghcr-platform` | GHCR | the token service issues a token that pulls the repository: passes |
//! | `harbor-ci` | Harbor | the robot's password is wrong |
//! | `harbor-dr` | Harbor | nothing listens at the host: unreachable |
//! | `harbor-prod` | Harbor | healthy, robot accepted: passes |
//! | `argocd-prod` | Argo CD | the account token is logged in and may list applications: passes |
//! | `argocd-staging` | Argo CD | the token was revoked: `userinfo` answers 200 with `loggedIn: false` |
//! | `jenkins-ci` | Jenkins | the API token is accepted by `whoAmI`, CSRF protection is on: passes |
//! | `jenkins-legacy` | Jenkins | paused for maintenance: skipped, never contacted |
//! | `jenkins-nightly` | Jenkins | the API token was revoked: 401, with the version still read from `X-Jenkins` |
//! | `minio-archive` | MinIO | the bucket lives in `eu-west-1` but the integration says `us-east-1` |
//! | `minio-evidence` | MinIO | write quorum, and the key may read the evidence bucket: passes |
//! | `zastava-eu` | Zastava | the direct ping passes both ways |

use std::path::Path;
use std::sync::Arc;

use pathops_core::catalog::{Catalog, Principal};
use pathops_core::secret::FileResolver;
use pathops_core::{NewIntegration, Provider, SecretResolver, TenantId};
use pathops_testkit::fake::argocd::FakeArgoCd;
use pathops_testkit::fake::azure_devops::{AzureSubscription, FakeAzureDevOps};
use pathops_testkit::fake::bitbucket_dc::{
    BitbucketHook, BitbucketPermission, BitbucketRepo, FakeBitbucketDc,
};
use pathops_testkit::fake::gitea::{FakeGitea, GiteaHook, GiteaRepo};
use pathops_testkit::fake::github::{FakeGitHub, GitHubRepoHook};
use pathops_testkit::fake::gitlab::{FakeGitLab, GitLabHook, GitLabProject, GitLabToken};
use pathops_testkit::fake::harbor::{FakeHarbor, HarborRobot};
use pathops_testkit::fake::jenkins::FakeJenkins;
use pathops_testkit::fake::minio::FakeMinio;
use pathops_testkit::fake::oci::{FakeOciRegistry, Flavor};
use pathops_testkit::fake::ping_tool::FakePingTool;
use serde_json::json;

// The demo's secrets. They live only in the fakes and in the secret files; the doctor
// resolves them at call time and never prints them (the CLI test scans for `SENTINEL`).
const GITLAB_API_TOKEN: &str = "glpat-demo-api-SENTINEL-7f3a";
const GITLAB_READ_TOKEN: &str = "glpat-demo-read-SENTINEL-91c0";
const GITLAB_HOOK_SECRET: &str = "demo-gitlab-hook-SENTINEL-52e1";
const GITLAB_STALE_HOOK_SECRET: &str = "demo-stale-hook-SENTINEL-0b9d";
const GITHUB_HOOK_SECRET: &str = "demo-github-hook-SENTINEL-c4d2";
const HARBOR_ROBOT: &str = "robot$ci+pathops-demo";
const HARBOR_ROBOT_SECRET: &str = "demo-harbor-robot-SENTINEL-6a17";
const HARBOR_WRONG_SECRET: &str = "demo-harbor-old-SENTINEL-e830";
const PING_SECRET: &str = "demo-zastava-SENTINEL-3f55";
const GITEA_HOOK_SECRET: &str = "demo-gitea-hook-SENTINEL-8d04";
const BITBUCKET_HOOK_SECRET: &str = "demo-bitbucket-hook-SENTINEL-1c7e";
// Each Bitbucket hook has its own secret: Data Center's test ping names no repository.
const BITBUCKET_LEGACY_HOOK_SECRET: &str = "demo-bitbucket-legacy-SENTINEL-4b20";
const BITBUCKET_STALE_HOOK_SECRET: &str = "demo-bitbucket-stale-SENTINEL-a913";
const AZURE_HOOK_PASSWORD: &str = "demo-azdo-hook-SENTINEL-77d1";

/// The fakes and the secret directory; dropping it stops the fakes and removes the files.
#[derive(Debug)]
pub(crate) struct Demo {
    gitlab: FakeGitLab,
    github: FakeGitHub,
    gitea: FakeGitea,
    bitbucket: FakeBitbucketDc,
    azure: FakeAzureDevOps,
    harbor: FakeHarbor,
    ghcr: FakeOciRegistry,
    jenkins: FakeJenkins,
    argocd: FakeArgoCd,
    minio: FakeMinio,
    ping_tool: FakePingTool,
    dir: tempfile::TempDir,
    tenant: TenantId,
}

impl Demo {
    /// Starts the fakes on `127.0.0.1:0` and writes the secret files.
    pub(crate) async fn start(tenant: TenantId) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
        let gitlab = FakeGitLab::start_with_defaults().await;
        let user = FakeGitLab::USER_ID;
        gitlab.add_token(GitLabToken::new(user, GITLAB_API_TOKEN, &["api"]));
        gitlab.add_token(GitLabToken::new(user, GITLAB_READ_TOKEN, &["read_api"]));
        for (id, path) in [
            (43, "payments/api"),
            (44, "legacy/monolith"),
            (45, "docs/site"),
        ] {
            gitlab.add_project(GitLabProject::new(id, path).member(user, 40));
        }
        let harbor = FakeHarbor::start_with_defaults().await;
        harbor.add_robot(HarborRobot {
            name: HARBOR_ROBOT.to_owned(),
            secret: HARBOR_ROBOT_SECRET.to_owned(),
            disabled: false,
            projects: vec!["ci".to_owned()],
        });
        let ping_tool = FakePingTool::start(PING_SECRET)
            .await
            .map_err(|e| format!("the direct-ping tool: {e}"))?;
        let demo = Self {
            gitlab,
            github: FakeGitHub::start_enterprise().await,
            gitea: FakeGitea::start_with_defaults().await,
            bitbucket: FakeBitbucketDc::start_with_defaults().await,
            azure: FakeAzureDevOps::start_with_defaults().await,
            harbor,
            ghcr: FakeOciRegistry::start(Flavor::Ghcr).await,
            jenkins: FakeJenkins::start_with_defaults().await,
            argocd: FakeArgoCd::start_with_defaults().await,
            minio: FakeMinio::start_with_defaults().await,
            ping_tool,
            dir,
            tenant,
        };
        for (provider, key, secret) in [
            ("gitlab", "api-token", GITLAB_API_TOKEN),
            ("gitlab", "read-token", GITLAB_READ_TOKEN),
            ("gitlab", "hook-secret", GITLAB_HOOK_SECRET),
            ("github", "app-key", FakeGitHub::TEST_APP_PRIVATE_KEY_PEM),
            ("github", "hook-secret", GITHUB_HOOK_SECRET),
            ("gitea", "token", FakeGitea::HOOK_TOKEN),
            ("gitea", "hook-secret", GITEA_HOOK_SECRET),
            ("bitbucket", "token", FakeBitbucketDc::ADMIN_TOKEN),
            ("bitbucket", "hook-secret", BITBUCKET_HOOK_SECRET),
            (
                "bitbucket",
                "legacy-hook-secret",
                BITBUCKET_LEGACY_HOOK_SECRET,
            ),
            // One token per integration: the doctor spaces hook tests that share a base URL
            // and a credential (GitLab's limit), which would make the demo wait.
            ("bitbucket", "legacy-token", FakeBitbucketDc::ADMIN_TOKEN),
            ("azure-devops", "pat", FakeAzureDevOps::PAT),
            ("azure-devops", "legacy-pat", FakeAzureDevOps::PAT),
            ("azure-devops", "hook-password", AZURE_HOOK_PASSWORD),
            ("harbor", "prod-robot", HARBOR_ROBOT_SECRET),
            ("harbor", "ci-robot", HARBOR_WRONG_SECRET),
            ("zastava", "agent-token", PING_SECRET),
            ("ghcr", "pat", FakeOciRegistry::PASSWORD),
            ("jenkins", "ci-token", FakeJenkins::API_TOKEN),
            ("jenkins", "nightly-token", FakeJenkins::REVOKED_API_TOKEN),
            ("argocd", "prod-token", FakeArgoCd::TOKEN),
            ("argocd", "staging-token", FakeArgoCd::REVOKED_TOKEN),
            ("minio", "evidence-keys", &FakeMinio::default_secret()),
        ] {
            demo.write_secret(provider, key, secret)?;
        }
        Ok(demo)
    }

    /// Where the demo keeps its files (the secrets, and the catalog once it is SQLite).
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The built-in file resolver over the secret files.
    pub(crate) fn resolver(&self) -> Arc<dyn SecretResolver> {
        Arc::new(FileResolver::new(self.dir.path().join("secrets")))
    }

    fn write_secret(&self, provider: &str, key: &str, secret: &str) -> Result<(), String> {
        let dir = self
            .dir
            .path()
            .join("secrets")
            .join(self.tenant.to_string())
            .join(provider);
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join(key), secret))
            .map_err(|e| format!("writing a demo secret file: {e}"))
    }

    fn auth_ref(&self, provider: &str, key: &str) -> String {
        format!("ref://{}/{provider}/{key}", self.tenant)
    }

    /// Configures the fakes' hooks to deliver to `public_url` and registers the
    /// integrations (see the [module docs](self)).
    pub(crate) async fn register(
        &self,
        catalog: &Catalog,
        principal: &Principal,
        public_url: &str,
    ) -> Result<(), String> {
        let receiver = format!("{public_url}/webhooks/gitlab");
        let gl = &self.gitlab;
        let platform_hook = gl.add_hook(GitLabHook::new(42, &receiver).token(GITLAB_HOOK_SECRET));
        let payments_hook =
            gl.add_hook(GitLabHook::new(43, &receiver).token(GITLAB_STALE_HOOK_SECRET));
        let disabled_until = time::OffsetDateTime::now_utc() + time::Duration::hours(2);
        let disabled_until = disabled_until
            .replace_nanosecond(0)
            .unwrap_or(disabled_until)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let legacy_hook = gl.add_hook(
            GitLabHook::new(44, &format!("{public_url}/hooks/gitlab"))
                .token(GITLAB_HOOK_SECRET)
                .alert_status("temporarily_disabled", Some(&disabled_until)),
        );
        let docs_hook = gl.add_hook(GitLabHook::new(45, &receiver).token(GITLAB_HOOK_SECRET));
        self.github.add_hook(GitHubRepoHook {
            id: 5,
            repository: FakeGitHub::REPOSITORY.to_owned(),
            url: format!("{public_url}/webhooks/github"),
            secret: Some(GITHUB_HOOK_SECRET.to_owned()),
            events: vec!["push".to_owned()],
        });

        let gitea_receiver = format!("{public_url}/webhooks/gitea");
        self.gitea.add_hook(
            FakeGitea::OWNER,
            FakeGitea::REPO,
            GiteaHook::new(7, &gitea_receiver).secret(GITEA_HOOK_SECRET),
        );
        self.gitea.add_repo(
            GiteaRepo::new(101, FakeGitea::OWNER, "fresh")
                .collaborator(FakeGitea::HOOK_USER_ID, "admin")
                .empty()
                .hook(GiteaHook::new(8, &gitea_receiver).secret(GITEA_HOOK_SECRET)),
        );
        let gitea = |name: &str, repo: &str, hook: u64| {
            NewIntegration::builder(name, Provider::Gitea, self.gitea.url())
                .with_auth_ref(self.auth_ref("gitea", "token"))
                .with_configuration(json!({
                    "owner": FakeGitea::OWNER,
                    "repo": repo,
                    "hook_id": hook,
                    "webhook_secret_ref": self.auth_ref("gitea", "hook-secret"),
                }))
                .build()
        };
        let bitbucket_receiver = format!("{public_url}/webhooks/bitbucket");
        self.bitbucket.add_hook(
            FakeBitbucketDc::PROJECT,
            FakeBitbucketDc::SLUG,
            BitbucketHook::new(7, &bitbucket_receiver).secret(BITBUCKET_HOOK_SECRET),
        );
        self.bitbucket.add_repo(BitbucketRepo {
            id: 43,
            project: FakeBitbucketDc::PROJECT.to_owned(),
            slug: "legacy".to_owned(),
            public: false,
            permissions: vec![(
                FakeBitbucketDc::ADMIN.to_owned(),
                BitbucketPermission::RepoAdmin,
            )],
            hooks: vec![
                BitbucketHook::new(8, &bitbucket_receiver).secret(BITBUCKET_STALE_HOOK_SECRET),
            ],
        });
        let bitbucket = |name: &str, slug: &str, hook: u64, token: &str, secret: &str| {
            NewIntegration::builder(name, Provider::Bitbucket, self.bitbucket.url())
                .with_auth_ref(self.auth_ref("bitbucket", token))
                .with_configuration(json!({
                    "project_key": FakeBitbucketDc::PROJECT,
                    "repo_slug": slug,
                    "hook_id": hook,
                    "webhook_secret_ref": self.auth_ref("bitbucket", secret),
                }))
                .build()
        };
        let azure_receiver = format!("{public_url}/webhooks/azure-devops");
        let azure_platform = self.azure.add_subscription(AzureSubscription::new(
            &azure_receiver,
            "pathops",
            AZURE_HOOK_PASSWORD,
        ));
        let mut disabled = AzureSubscription::new(&azure_receiver, "pathops", AZURE_HOOK_PASSWORD);
        disabled.status = "disabledBySystem".to_owned();
        let azure_legacy = self.azure.add_subscription(disabled);
        let azure = |name: &str, subscription: &str, pat: &str| {
            NewIntegration::builder(name, Provider::AzureDevOps, self.azure.organization_url())
                .with_auth_ref(self.auth_ref("azure-devops", pat))
                .with_configuration(json!({
                    "project": FakeAzureDevOps::PROJECT,
                    "repository": FakeAzureDevOps::REPOSITORY,
                    "subscription_id": subscription,
                    "webhook_secret_ref": self.auth_ref("azure-devops", "hook-password"),
                }))
                .build()
        };
        let gitlab = |name: &str, project: u64, hook: u64, token: &str| {
            NewIntegration::builder(name, Provider::GitLab, gl.url())
                .with_auth_ref(self.auth_ref("gitlab", token))
                .with_environment("production")
                .with_configuration(json!({
                    "project": project,
                    "hook_id": hook,
                    "webhook_secret_ref": self.auth_ref("gitlab", "hook-secret"),
                }))
                .build()
        };
        let harbor = |name: &str, url: String, secret: &str| {
            NewIntegration::builder(name, Provider::Harbor, url)
                .with_auth_ref(self.auth_ref("harbor", secret))
                .with_configuration(json!({ "username": HARBOR_ROBOT }))
                .build()
        };
        let ghcr = |name: &str, user: &str| {
            NewIntegration::builder(name, Provider::Ghcr, self.ghcr.url())
                .with_auth_ref(self.auth_ref("ghcr", "pat"))
                .with_configuration(json!({
                    "username": user,
                    "repository": FakeOciRegistry::REPOSITORY,
                }))
                .build()
        };
        let jenkins = |name: &str, token: &str| {
            NewIntegration::builder(name, Provider::Jenkins, self.jenkins.base_url())
                .with_auth_ref(self.auth_ref("jenkins", token))
                .with_configuration(json!({ "username": FakeJenkins::USER }))
                .build()
        };
        let argocd = |name: &str, token: &str| {
            NewIntegration::builder(name, Provider::ArgoCd, self.argocd.url())
                .with_auth_ref(self.auth_ref("argocd", token))
                .build()
        };
        let minio = |name: &str, bucket: &str| {
            NewIntegration::builder(name, Provider::MinIo, self.minio.url())
                .with_auth_ref(self.auth_ref("minio", "evidence-keys"))
                .with_configuration(json!({ "bucket": bucket }))
                .build()
        };
        let unreachable = format!("http://127.0.0.1:{}", pathops_testkit::fake::refused_port());
        let inputs = [
            gitlab("gitlab-platform", 42, platform_hook, "api-token"),
            gitlab("gitlab-payments", 43, payments_hook, "api-token"),
            gitlab("gitlab-legacy", 44, legacy_hook, "api-token"),
            gitlab("gitlab-docs", 45, docs_hook, "read-token"),
            NewIntegration::builder("github-platform", Provider::GitHubApp, self.github.url())
                .with_auth_ref(self.auth_ref("github", "app-key"))
                .with_configuration(json!({
                    "app_id": FakeGitHub::APP_ID,
                    "installation_id": FakeGitHub::INSTALLATION_ID,
                    "repository": FakeGitHub::REPOSITORY,
                    "hook_id": 5,
                    "webhook_secret_ref": self.auth_ref("github", "hook-secret"),
                }))
                .build(),
            gitea("gitea-platform", FakeGitea::REPO, 7),
            gitea("gitea-fresh", "fresh", 8),
            bitbucket(
                "bitbucket-platform",
                FakeBitbucketDc::SLUG,
                7,
                "token",
                "hook-secret",
            ),
            bitbucket(
                "bitbucket-legacy",
                "legacy",
                8,
                "legacy-token",
                "legacy-hook-secret",
            ),
            azure("azure-devops-platform", &azure_platform, "pat"),
            azure("azure-devops-legacy", &azure_legacy, "legacy-pat"),
            harbor("harbor-prod", self.harbor.url(), "prod-robot"),
            harbor("harbor-ci", self.harbor.url(), "ci-robot"),
            harbor("harbor-dr", unreachable, "prod-robot"),
            ghcr("ghcr-platform", FakeOciRegistry::USER),
            ghcr("ghcr-mirror", FakeOciRegistry::STRANGER),
            jenkins("jenkins-ci", "ci-token"),
            jenkins("jenkins-nightly", "nightly-token"),
            argocd("argocd-prod", "prod-token"),
            argocd("argocd-staging", "staging-token"),
            minio("minio-evidence", FakeMinio::BUCKET),
            minio("minio-archive", FakeMinio::EU_BUCKET),
            NewIntegration::builder("zastava-eu", Provider::Zastava, self.ping_tool.url())
                .with_auth_ref(self.auth_ref("zastava", "agent-token"))
                .build(),
        ];
        for input in inputs {
            let input = input.map_err(|e| format!("a demo integration: {e}"))?;
            catalog
                .create(principal, input, true)
                .await
                .map_err(|e| format!("registering a demo integration: {e}"))?;
        }
        let jenkins = NewIntegration::builder(
            "jenkins-legacy",
            Provider::Jenkins,
            "https://jenkins.legacy.example.invalid",
        )
        .with_configuration(json!({ "username": FakeJenkins::USER }))
        .build()
        .map_err(|e| format!("a demo integration: {e}"))?;
        let jenkins = catalog
            .create(principal, jenkins, true)
            .await
            .map_err(|e| format!("registering a demo integration: {e}"))?;
        catalog
            .pause(
                principal,
                jenkins.id,
                "being decommissioned",
                Some("CHG-1042"),
            )
            .await
            .map_err(|e| format!("pausing a demo integration: {e}"))?;
        Ok(())
    }
}
