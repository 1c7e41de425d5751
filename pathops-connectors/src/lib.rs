//! # pathops-connectors
//!
//! Provider connectors for PathOps. Each implements [`pathops_core::IntegrationConnector`]
//! (a full connection test and a cheap health check that return a
//! [`CheckResult`](pathops_core::CheckResult), never an error), lives in its own module behind a
//! cargo feature named after the provider, and follows the vendor's documented behaviour (status codes, headers, body
//! shapes) exactly, written down in its module docs. Connectors that
//! can ask their tool for a test webhook delivery (GitLab's hook test, GitHub's hook ping)
//! say so in their capabilities and implement the contract's
//! [`expected_delivery`](pathops_core::IntegrationConnector::expected_delivery) (what the
//! delivery will look like, so the doctor can register a challenge first) and
//! [`trigger_delivery`](pathops_core::IntegrationConnector::trigger_delivery) (the trigger call).
//!
//! | module | what lives there |
//! |---|---|
//! | [`http`] | the shared HTTP policy: one reqwest client per configuration, connect/request timeouts bounded by the check's deadline, per-integration proxy and CA, `User-Agent: pathops/<version>`, body cap, same-origin redirects only, egress allowlist and private-address switch, offline mode; transport errors and their failure codes |
//! | `gitlab` | [`GitLabConnector`](gitlab::GitLabConnector): identity, token scopes and expiry, version, project, hook state; hook test trigger and the delivery it makes |
//! | `github` | [`GitHubAppConnector`](github::GitHubAppConnector): API root normalization, App JWT, cached installation tokens, rate limit; hook ping and the `ping` it delivers |
//! | `github::actions` | `GitHubActionsConnector`: a GitHub App's access to a repository's workflow runs (`actions:read`), with the App connector's JWT and token cache |
//! | `gitlab::ci` | `GitLabCiConnector`: a token's access to a project's pipelines (`read_api`, Reporter), with the GitLab connector's requests and token introspection |
//! | `gitea` | the Gitea / Forgejo API base (API root, token header, scope refusals, version, pagination); `GiteaConnector`: repository access, the hook's state, the hook test and the push it queues, what keeps Gitea from sending it (an empty repository, an inactive hook) found before triggering |
//! | `azure_devops` | `AzureDevOpsConnector`: a PAT's identity, project, repository and service hook subscription (a 203 sign-in page read as a refused token), the test notification followed to its result |
//! | `bitbucket` | `BitbucketConnector`: Bitbucket Data Center's repository access for an HTTP access token (401 `AuthorisationException` told apart from a refused token), the webhook's state, the webhook test endpoint's synchronous ping and what the receiver answered it; Bitbucket Cloud's API tokens, access tokens and retired app passwords, and its round trip from the receiver's record (no test endpoint) |
//! | `gitea::actions` | `GiteaActionsConnector`: a token's access to a repository's Actions tasks, Actions switched off reported as such |
//! | `harbor` | [`HarborConnector`](harbor::HarborConnector): health by component, robot credentials proved where Harbor cannot downgrade them |
//! | `oci` | [`OciConnector`](oci::OciConnector): one OCI Distribution client for generic registries, Docker Hub, GHCR, Quay, ECR (SigV4 `GetAuthorizationToken`), ACR (Entra exchange), Artifact Registry (service-account assertion) and Artifactory: `/v2/` challenge (Basic or Bearer), token service with per-integration token cache, repository pull scope, registry error codes |
//! | `jenkins` | [`JenkinsConnector`](jenkins::JenkinsConnector): API token over Basic, `whoAmI` (an anonymous 200 is refused), version from `X-Jenkins` even on 401/403, context paths, CSRF crumb issuer (off is a warning) |
//! | `argocd` | [`ArgoCdConnector`](argocd::ArgoCdConnector): `healthz`, version (short when anonymous), userinfo (always 200: `loggedIn: false` is refused), an RBAC-protected call telling 401 from 403 |
//! | `circleci` | [`CircleCiConnector`](circleci::CircleCiConnector): API v2 `/me` with `Circle-Token` (a project token is reported as the wrong kind), project visibility, rate limits |
//! | `s3` | [`S3Connector`](s3::S3Connector): MinIO and S3-compatible object storage (the evidence store): MinIO's health probes (write quorum, healing drives, server status) and a SigV4-signed `HeadBucket` on the evidence bucket, with the region, key and permission errors told apart |
//! | `vault` | [`VaultResolver`](vault::VaultResolver): a [`SecretResolver`](pathops_core::SecretResolver) for KV v2 |
//! | `directping` | `DirectPingConnector`: the PathOps direct-ping protocol, both directions |
//! | `receiver` | `receiver::router` / `receiver::router_with`: the axum routes of the webhook receiver (`/webhooks/{gitlab,github,gitea,bitbucket,azure-devops,standard,ping}`), bounded in body size, time and requests in flight |
//! | `api` | `api::Api`: the catalog's REST API (`/api/v1/integrations`, plugins, doctor runs) as one axum router with its OpenAPI 3.1 document, problem+json errors and a static bearer-token resolver; mounts the receiver |
//! | `nats` | an event sink publishing CloudEvents to NATS JetStream |
//! | `redis` | an event sink appending CloudEvents to Valkey/Redis Streams, idempotent by event id; a stream follower for consumers |
//! | `plugin` | `plugin::PluginLoader` and `plugin::PluginConnector`: out-of-process connector plugins (a manifest beside an executable, JSON-RPC 2.0 over stdio, isolated processes, quarantine), and `plugin::serve` to write one; the protocol's specification is in the module docs |
//! | [`kafka_guide`] | how to write a Kafka sink against `EventSink` (the contract; no Kafka code ships) |
//! | [`registry`] | connectors by provider at run time; a disabled provider is an error naming its feature |
//!
//! ## Security model
//!
//! The operator who builds the [`HttpPolicy`](http::HttpPolicy) is trusted; the tenants who
//! write integrations and the tools that answer are not. Every connector sends through one
//! [`HttpClient`](http::HttpClient), which guarantees, whatever a tenant configured or a tool
//! answered:
//!
//! - a request carrying a credential goes only to the integration's own origin (or the API
//!   root its connector derives from it), never over plain `http://` except to loopback unless
//!   the operator set `allow_http`, and redirects never leave the origin;
//! - with private addresses blocked (the [`HttpPolicy::multi_tenant`](http::HttpPolicy::multi_tenant)
//!   preset), no call reaches a private or special-purpose address, whether written in the URL,
//!   returned by DNS or embedded in an IPv6 form, and no tenant proxy is used unless the
//!   operator allowlisted it (`socks5h` never);
//! - response bodies are capped and clients cached per distinct setting are bounded.
//!
//! Which references a tenant's integrations may resolve is decided before a connector runs, by
//! the catalog's `AuthRefPolicy` in `pathops-core`.
//!
//! ## The doctor's webhook test
//!
//! `pathops_core::doctor::Doctor` drives the two SCM connectors through the contract: it asks
//! [`expected_delivery`](pathops_core::IntegrationConnector::expected_delivery) what the tool
//! will send, registers a challenge with it, calls
//! [`trigger_delivery`](pathops_core::IntegrationConnector::trigger_delivery), and waits for the
//! delivery at the receiver. GitLab delivers inside the trigger call (its 201 or 422 already
//! says how the delivery went); GitHub answers 204 and delivers the `ping` on its own, and
//! Gitea answers 204 and queues a push (so its connector first checks what would make Gitea
//! send nothing). None of them calls a mutating endpoint other than the test trigger and the
//! ping.
//!
//! ## Feature flags
//!
//! | feature | default | enables |
//! |---|---|---|
//! | `full` | **on** | all of the below (embedders who want less use `default-features = false`) |
//! | `gitlab` | via `full` | the GitLab connector |
//! | `github-app` | via `full` | the GitHub App connector (adds `jsonwebtoken`, `sha2`) |
//! | `github-actions` | via `full` | the GitHub Actions connector (implies `github-app`) |
//! | `gitlab-ci` | via `full` | the GitLab CI connector (implies `gitlab`) |
//! | `gitea` | via `full` | the Gitea / Forgejo connector and the Gitea API base |
//! | `azure-devops` | via `full` | the Azure DevOps connector |
//! | `bitbucket` | via `full` | the Bitbucket connector (Data Center and Cloud) |
//! | `gitea-actions` | via `full` | the Gitea Actions connector (implies `gitea`) |
//! | `harbor` | via `full` | the Harbor connector |
//! | `oci` | via `full` | the OCI Distribution connector (generic, Docker Hub, GHCR, Quay, ECR, ACR, Artifact Registry, Artifactory; adds `aws-sigv4`, `jsonwebtoken`) |
//! | `jenkins` | via `full` | the Jenkins connector |
//! | `argocd` | via `full` | the Argo CD connector |
//! | `circleci` | via `full` | the CircleCI connector |
//! | `minio` | via `full` | the MinIO / S3 connector (adds `aws-sigv4`, `quick-xml`) |
//! | `vault` | via `full` | the Vault secret resolver |
//! | `directping` | via `full` | the direct-ping connector |
//! | `receiver` | via `full` | the axum webhook receiver router (adds `axum`) |
//! | `api` | via `full` | the REST API router (adds `utoipa`, `utoipa-axum`, `serde_path_to_error`, `subtle`; implies `receiver`) |
//! | `nats` | via `full` | the NATS JetStream event sink (adds `async-nats`, `bytes`) |
//! | `redis` | via `full` | the Valkey/Redis Streams event sink (adds `redis`) |
//! | `plugin` | via `full` | out-of-process plugins: loader, host, SDK (adds `tokio-util`, `futures`, `libc`, `sha2`) |
//!
//! Each feature builds alone (`cargo check -p pathops-connectors --no-default-features --features gitlab`).
//! TLS is rustls (reqwest's `rustls` feature, aws-lc-rs provider) with the platform's roots
//! plus any configured CA.
//!
//! ## Quick start
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use pathops_connectors::gitlab::GitLabConnector;
//! use pathops_connectors::http::HttpPolicy;
//! use pathops_core::{ConnectorContext, IntegrationConnector, Provider};
//! use pathops_testkit::fake::gitlab::FakeGitLab;
//! use pathops_testkit::fixtures::IntegrationBuilder;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let gitlab = FakeGitLab::start_with_defaults().await; // a real HTTP server on 127.0.0.1
//! let connector = GitLabConnector::builder()
//!     .with_http(HttpPolicy { request_timeout: Duration::from_secs(10), ..HttpPolicy::default() })
//!     .build()?;
//! let integration = IntegrationBuilder::new("acme", "GitLab")
//!     .provider(Provider::GitLab)
//!     .base_url(&gitlab.url())
//!     .configuration(serde_json::json!({ "project": "platform/api" }))
//!     .build();
//! let secret = Some(FakeGitLab::API_TOKEN.to_owned().into()); // normally from a SecretResolver
//! let ctx = ConnectorContext::new(Arc::new(integration), secret, Duration::from_secs(5));
//! let result = connector.test_connection(&ctx).await;
//! assert!(result.is_success(), "{}", result.message);
//! assert_eq!(result.details["token"]["scopes"], serde_json::json!(["api"]));
//! # Ok::<(), pathops_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! ## Adding a connector
//!
//! 1. Add a module and a feature named after the provider (and to `full`), and a row in
//!    [`registry::PROVIDERS`] and its match arms.
//! 2. Build the struct with a builder (`with_http`, `with_clock`; `build()` validates once) that
//!    holds an [`http::HttpClient`]; send every call through it so the deadline, egress policy,
//!    redirects and body cap apply.
//! 3. Write one `classify(response, now) -> Option<FailureCode>` from the provider's
//!    documented status codes and headers, starting from
//!    [`http::status::default_failure`]. Build credential headers with
//!    [`HttpRequest::credential`](http::HttpRequest::credential) only: it marks them sensitive
//!    and is the one place a secret leaves its `SecretString`.
//! 4. Add a fake to `pathops-testkit` (`fake::FakeServer` gives binding, a request log, faults
//!    and shutdown on drop) and, in `tests/`, implement
//!    `pathops_testkit::connector_suite::ConnectorHarness` and invoke
//!    `pathops_testkit::connector_conformance_tests!(my_conformance, async { harness })`
//!    (one test per check); then add per-status, transport and
//!    sentinel-secret tests like `tests/gitlab.rs`.
//!
//! Run everything with `cargo test -p pathops-connectors --all-features`.

#![cfg_attr(docsrs, feature(doc_cfg))]
#[cfg(feature = "api")]
pub mod api;
#[cfg(feature = "argocd")]
pub mod argocd;
#[cfg(any(feature = "oci", feature = "minio"))]
mod aws;
// The HTTP connectors' shared check plumbing.
#[cfg(feature = "azure-devops")]
pub mod azure_devops;
#[cfg(feature = "bitbucket")]
pub mod bitbucket;
#[cfg(any(
    feature = "gitlab",
    feature = "github-app",
    feature = "harbor",
    feature = "oci",
    feature = "jenkins",
    feature = "argocd",
    feature = "circleci",
    feature = "minio",
    feature = "gitea",
    feature = "bitbucket",
    feature = "azure-devops"
))]
mod check;
#[cfg(feature = "circleci")]
pub mod circleci;
#[cfg(feature = "directping")]
pub mod directping;
#[cfg(feature = "gitea")]
pub mod gitea;
#[cfg(feature = "github-app")]
pub mod github;
#[cfg(feature = "gitlab")]
pub mod gitlab;
#[cfg(feature = "harbor")]
pub mod harbor;
pub mod http;
#[cfg(feature = "jenkins")]
pub mod jenkins;
pub mod kafka_guide;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "oci")]
pub mod oci;
#[cfg(all(feature = "plugin", unix))]
pub mod plugin;
#[cfg(feature = "receiver")]
pub mod receiver;
#[cfg(feature = "redis")]
pub mod redis;
pub mod registry;
#[cfg(feature = "minio")]
pub mod s3;
#[cfg(feature = "vault")]
pub mod vault;

/// The `User-Agent` of every request: `pathops/<crate version>`.
pub const USER_AGENT: &str = concat!("pathops/", env!("CARGO_PKG_VERSION"));

/// The README's quick start, compiled as a doc test so it cannot drift from the API.
#[cfg(all(doctest, feature = "directping"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeQuickStart;
