//! Fake provider servers: real HTTP servers on `127.0.0.1:0` that emulate the parts of each
//! provider PathOps calls, log every request, take injected faults and stop when dropped.
//!
//! | fake | emulates |
//! |---|---|
//! | [`server`] | what every fake shares: [`FakeServer`], [`Fault`], [`RecordedRequest`] |
//! | [`azure_devops`] | Azure DevOps Services REST: `connectionData`, projects, Git repositories, service hook subscriptions (password masked), test notifications delivered asynchronously with the stored Basic credentials and followed to their result; a bad PAT answered with the 203 sign-in page, a missing scope with `TF400813` |
//! | [`bitbucket_cloud`] | Bitbucket Cloud REST 2.0: user, repositories and webhooks for API tokens (Basic with the e-mail), app passwords (401 once retired, the default) and access tokens, scope refusals naming what is required; real signed `repo:push` deliveries on demand (Cloud has no test endpoint) |
//! | [`bitbucket_dc`] | Bitbucket Data Center REST 1.0: application properties, repositories and webhooks under repository permissions capped by the token's (401 `AuthorisationException` when lacking one), HTTP access tokens and Basic, `X-AUSERNAME`, the webhook test endpoint sending a signed `diagnostics:ping` synchronously and answering with its outcome |
//! | [`gitea`] | Gitea / Forgejo REST v1: version, user, repositories (`has_actions`, `empty`), the Actions tasks and runs lists, hooks CRUD and the hook test (204, then an asynchronous push with Gitea's or Forgejo's signed headers, recorded like Gitea's delivery history), scoped tokens with Gitea's exact refusals, `[actions] ENABLED`, `[webhook] ALLOWED_HOST_LIST` and `DELIVER_TIMEOUT`, `[security] DISABLE_WEBHOOKS` |
//! | [`github`] | GitHub App (api.github.com and GHES `/api/v3` shapes): JWT rules, installations, installation tokens, rate limit, signed hook pings, Actions workflow runs |
//! | [`harbor`] | Harbor v2: ping, health (always 200), systeminfo, users/current (412 for robots), projects; bad Basic credentials are anonymous |
//! | [`oci`] | the OCI Distribution API as a generic registry, Docker Hub (token service on a second server, rate-limit headers), GHCR, Quay, ACR (Entra exchange), Artifact Registry (no `service`, a Google token endpoint verifying the service-account assertion) and Artifactory (ping, version, repository path); ECR's SigV4-verified `GetAuthorizationToken` and Basic registry ([`oci::FakeEcr`]) |
//! | [`minio`] | MinIO's health probes (write quorum, maintenance, healing drives, server status) and S3's `HeadBucket` / `ListObjectsV2` / `GetBucketLocation` with SigV4 verified, per-bucket regions, grants per key, MinIO's or S3's `HEAD` errors |
//! | [`vault`] | HashiCorp Vault: `sys/health`, token lookup-self, KV v2 reads; 403 for a bad token |
//! | [`ping_tool`] | a tool speaking the PathOps direct-ping protocol, with switches to break either direction |
//! | [`jenkins`] | Jenkins: `whoAmI` (anonymous vs authenticated), crumb issuer (404 with CSRF off), Overall/Read 403s with Jenkins' headers, `X-Jenkins` on every answer, API tokens over Basic (401 page for wrong ones), optional context path |
//! | [`argocd`] | Argo CD: `healthz`, version (short when anonymous), userinfo (always 200), applications and projects under RBAC per token (401 bad token, 403 denied) |
//! | [`gitlab`] | GitLab REST v4: user, token introspection, projects, pipelines, hooks CRUD, events, the synchronous hook test trigger |
//! | [`circleci`] | CircleCI API v2: `/me` for personal tokens (401 for project tokens, like a bad token), project lookup (404 when not visible), a rate-limit switch (429 + `Retry-After`) |

pub mod argocd;
pub mod azure_devops;
pub mod bitbucket_cloud;
pub mod bitbucket_dc;
pub mod circleci;
pub mod gitea;
pub mod github;
pub mod gitlab;
pub mod harbor;
pub mod jenkins;
pub mod minio;
pub mod oci;
pub mod ping_tool;
pub mod server;
mod sigv4;
pub mod vault;

pub use server::{FakeServer, Fault, RecordedRequest, refused_port};
