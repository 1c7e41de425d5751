//! The MinIO / S3-compatible object storage connector (feature `minio`, provider
//! [`Provider::MinIo`], type object storage): PathOps's evidence store. It proves that the
//! store is up, can accept writes, and that the integration's access key may use the
//! evidence bucket. It never writes: the bucket call is a `HEAD` (or a listing of zero keys).
//!
//! | operation | `flavor: minio` (the default) | `flavor: s3` |
//! |---|---|---|
//! | [`test_connection`](pathops_core::IntegrationConnector::test_connection) | `GET /minio/health/live`, `GET /minio/health/ready`, `GET /minio/health/cluster` (and with `maintenance: true`, `GET /minio/health/cluster?maintenance=true`), then the bucket call | the bucket call |
//! | [`check_health`](pathops_core::IntegrationConnector::check_health) | `GET /minio/health/cluster`, then the bucket call | the bucket call |
//!
//! The connection test walks the probes from the cheapest up, so a failure says which layer
//! broke (the process, a dependency, the drives). The health check keeps the two calls that
//! matter for an evidence store: write quorum, and access to the bucket.
//!
//! # MinIO's health probes
//!
//! Unauthenticated, no body; decided on the status and headers (MinIO's
//! `cmd/healthcheck-handler.go`):
//!
//! | probe | 200 | failure |
//! |---|---|---|
//! | `live` | the process is up (`X-Minio-Server-Status: offline` while its object layer starts is reported as a detail) | `503`: overloaded (its request queue is over capacity) → `unhealthy`; `429` (AIStor) → `rate_limited`; `404` → not MinIO (`invalid_response`: set `flavor: s3`) |
//! | `ready` | ready to serve (KMS and etcd, when configured, reachable) | any error status (the failing dependency's, or `503` when overloaded) → `unhealthy`, with the error code of the body when there is one |
//! | `cluster` | this node sees **write quorum**: `X-Minio-Write-Quorum` (drives per erasure set needed for writes), `X-Minio-Storage-Class-Defaults`, `X-Minio-Healing-Drives` go into the details; healing drives become a warning finding on the passed result | `503` → `unhealthy`: while starting, named by `X-Minio-Server-Status` (`offline`, `bucket-metadata-offline`, `iam-offline`); otherwise **no write quorum**, with the quorum and healing drives reported |
//! | `cluster?maintenance=true` | this node can be taken down without losing write quorum | `412`: it cannot (a warning finding, the check still passes: the store works); `503` as above |
//!
//! The maintenance probe asks about the node the base URL names, so it is opt-in (a load
//! balancer's answer would be about whichever node served it). Read quorum
//! (`/minio/health/cluster/read`) is not asked: an evidence store that cannot write is
//! already broken.
//!
//! # The bucket call
//!
//! `HEAD /<bucket>` signed with AWS Signature Version 4 (the `aws-sigv4` crate; S3's
//! settings: `x-amz-content-sha256`, the path signed as sent) for the configured region,
//! service `s3`. S3 answers `HEAD` without a body, so a `400` or `403` does not say why;
//! MinIO puts the code in `x-minio-error-code` (and its message in `x-minio-error-desc`).
//! When the headers carry no code, the connector sends a signed
//! `GET /<bucket>?list-type=2&max-keys=0` (ListObjectsV2, which needs the same permission,
//! `s3:ListBucket`) and reads `<Code>` from its XML error body. If that listing succeeds,
//! the bucket is proved by it (moto, for one, authorises `HEAD` separately).
//!
//! | answer | result |
//! |---|---|
//! | `200` | passed; `x-amz-bucket-region` other than the configured region → `invalid_config` naming both (servers that do not enforce regions, such as moto, answer 200 anyway) |
//! | `SignatureDoesNotMatch`, `InvalidAccessKeyId`, `InvalidToken`, `ExpiredToken`, `AccessKeyDisabled` | `unauthenticated`, naming the access key id and why |
//! | `RequestTimeTooSkewed` | `unauthenticated`: the clocks differ by more than 15 minutes |
//! | `AccessDenied` (or a `403` that says nothing) | `permission_denied` (`s3:ListBucket`) |
//! | `404` / `NoSuchBucket` | `not_found`, naming the bucket |
//! | `301`, `AuthorizationHeaderMalformed`, `PermanentRedirect`, `InvalidRegion`, or a `400` with another region in `x-amz-bucket-region` | `invalid_config`: the wrong region, named from `x-amz-bucket-region`, the XML `<Region>` or MinIO's `expecting '…'` |
//! | `XMinioServerNotInitialized` | `unhealthy` |
//! | `SlowDown`, `ServerBusy` | `rate_limited` (`Retry-After`) |
//! | anything else | as [`status::default_failure`](crate::http::status::default_failure) |
//!
//! # Generic S3
//!
//! AWS S3, Ceph RGW, moto and other implementations have no `/minio/health` routes; they are
//! served with `flavor: s3`, chosen in the configuration, not detected: a `404` from a health
//! route cannot tell "another S3" from "a proxy that does not route `/minio`" or a broken
//! MinIO, and other servers answer those paths in their own ways (AWS treats
//! `/minio/health/live` as an object in a bucket named `minio`; moto answers 500). A MinIO
//! integration whose health route answers 404 fails, saying to set `flavor: s3` if that is
//! what it is.
//!
//! # Configuration
//!
//! | key | meaning |
//! |---|---|
//! | `bucket` | **required**: the evidence bucket, checked against S3's bucket naming rules |
//! | `region` | the region requests are signed for (default `us-east-1`; MinIO's site region, or the AWS region of the bucket) |
//! | `addressing_style` | `path` (default: `https://host/<bucket>`) or `virtual` (`https://<bucket>.host/`: AWS's default, MinIO with `MINIO_DOMAIN`; needs a host name, and over TLS a bucket without dots so the wildcard certificate matches) |
//! | `flavor` | `minio` (default) or `s3` |
//! | `maintenance` | `true`: also ask `/minio/health/cluster?maintenance=true` (MinIO only; the base URL must name a node) |
//! | `proxy_url`, `ca_certificate_pem` | the HTTP settings of [`IntegrationHttp`](crate::http::IntegrationHttp) |
//!
//! Any other key is refused, naming it. The secret behind the auth ref is JSON
//! `{"access_key_id", "secret_access_key", "session_token"?}` (as for ECR); anything else is
//! `invalid_config`, and the secret is not echoed. With virtual-hosted addressing the
//! signed calls go to the bucket's host (`<bucket>.<base host>`), and only there.
//!
//! # Findings
//!
//! [`findings`](pathops_core::IntegrationConnector::findings) turns the results into fixes:
//! the wrong region (set `region`), a missing bucket (`mc mb` / `aws s3api create-bucket`),
//! access denied (a policy granting `s3:ListBucket` on the bucket and `s3:GetObject` /
//! `s3:PutObject` on its objects, [`evidence_policy`]), refused keys, no write quorum or a
//! starting server, and warnings for healing drives and an unsafe maintenance.

mod answer;
mod bucket;
mod config;
mod findings;
mod health;

use std::sync::Arc;

use async_trait::async_trait;
use pathops_core::clock::SystemClock;
use pathops_core::{
    Capabilities, Capability, CheckResult, Clock, Configuration, ConnectorContext, Error,
    FailureCode, Finding, Integration, IntegrationConnector, Provider, Result,
};
use serde_json::json;
use tracing::instrument;

use crate::aws::AwsKeys;
use crate::check::Check;
use crate::http::{HttpClient, HttpPolicy};

pub use config::{AddressingStyle, DEFAULT_REGION, Flavor, KEYS, S3Config, validate_bucket};
pub use findings::evidence_policy;

/// The keys of the details this connector puts on its results.
pub mod detail {
    /// `minio` or `s3`.
    pub const FLAVOR: &str = "flavor";
    /// The bucket checked.
    pub const BUCKET: &str = "bucket";
    /// The region signed for.
    pub const REGION: &str = "region";
    /// `path` or `virtual`.
    pub const ADDRESSING_STYLE: &str = "addressing_style";
    /// The access key id used (an identifier, never the secret key).
    pub const ACCESS_KEY_ID: &str = "access_key_id";
    /// The bucket's region as the server reported it.
    pub const BUCKET_REGION: &str = "bucket_region";
    /// The S3 error code of a failed bucket call.
    pub const S3_ERROR_CODE: &str = "s3_error_code";
    /// `HeadBucket` or `ListObjectsV2`: which call proved the bucket.
    pub const PROVED_BY: &str = "proved_by";
    /// `X-Minio-Write-Quorum`.
    pub const WRITE_QUORUM: &str = "write_quorum";
    /// `X-Minio-Storage-Class-Defaults`.
    pub const STORAGE_CLASS_DEFAULTS: &str = "storage_class_defaults";
    /// `X-Minio-Healing-Drives` (0 when absent).
    pub const HEALING_DRIVES: &str = "healing_drives";
    /// `X-Minio-Server-Status`, when MinIO sent one.
    pub const SERVER_STATUS: &str = "server_status";
    /// Whether write quorum survives taking the node down (with `maintenance: true`).
    pub const MAINTENANCE_SAFE: &str = "maintenance_safe";
    /// Which MinIO probe failed and how: `overloaded`, `not_ready`, `initialising`,
    /// `no_write_quorum`.
    pub const MINIO_HEALTH: &str = "minio_health";
    /// What was wrong with the integration itself: `configuration`, `secret_shape`,
    /// `wrong_region`, `not_minio`.
    pub const PROBLEM: &str = "problem";
}

/// The MinIO / S3 connector; see the [module docs](self).
#[derive(Debug)]
pub struct S3Connector {
    http: HttpClient,
    clock: Arc<dyn Clock>,
}

/// Builds an [`S3Connector`]; setters never fail, [`build`](Self::build) validates.
#[derive(Debug, Default)]
pub struct S3ConnectorBuilder {
    policy: HttpPolicy,
    clock: Option<Arc<dyn Clock>>,
}

impl S3ConnectorBuilder {
    /// The HTTP policy (default [`HttpPolicy::default`]).
    pub fn with_http(mut self, policy: HttpPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock for `Retry-After` (default the system clock). Signatures always use the
    /// system time: the server compares it with its own.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The connector; [`Error::InvalidConfig`] when the HTTP policy is unusable.
    pub fn build(self) -> Result<S3Connector> {
        Ok(S3Connector {
            http: HttpClient::new(self.policy)?,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
        })
    }
}

type Step<T> = std::result::Result<T, CheckResult>;

impl S3Connector {
    /// A builder with the default policy.
    pub fn builder() -> S3ConnectorBuilder {
        S3ConnectorBuilder::default()
    }

    fn keys(check: &Check<'_>) -> Step<AwsKeys> {
        let Some(secret) = check.ctx.secret.as_ref() else {
            return Err(check.failed(
                FailureCode::SecretUnresolved,
                "a MinIO / S3 integration needs its access key behind the auth ref",
            ));
        };
        AwsKeys::from_secret(secret)
            .filter(|k| !k.is_blank())
            .ok_or_else(|| {
                check
                    .failed(
                        FailureCode::InvalidConfig,
                        "the secret must be JSON {\"access_key_id\", \"secret_access_key\", \
                         \"session_token\"?} with a non-empty key id and secret key",
                    )
                    .with_detail(detail::PROBLEM, "secret_shape")
            })
    }

    async fn steps(&self, check: &Check<'_>, full: bool) -> Step<CheckResult> {
        let config =
            S3Config::from_configuration(&check.ctx.integration.configuration).map_err(|e| {
                check
                    .failed(FailureCode::InvalidConfig, e.to_string())
                    .with_detail(detail::PROBLEM, "configuration")
            })?;
        let with_config = |r: CheckResult| {
            r.with_detail(detail::FLAVOR, config.flavor.as_str())
                .with_detail(detail::BUCKET, config.bucket.as_str())
                .with_detail(detail::REGION, config.region.as_str())
                .with_detail(detail::ADDRESSING_STYLE, config.addressing_style.as_str())
        };
        let keys = Self::keys(check).map_err(with_config)?;
        let with_key = |r: CheckResult| {
            with_config(r).with_detail(detail::ACCESS_KEY_ID, keys.access_key_id.as_str())
        };
        let now = self.clock.now();
        let mut minio = Vec::new();
        let mut summary = String::new();
        if config.flavor == Flavor::Minio {
            if full {
                if let Some(state) = health::live(check, now).await.map_err(with_key)? {
                    minio.push((detail::SERVER_STATUS, json!(state)));
                }
                health::ready(check, now).await.map_err(with_key)?;
            }
            let cluster = health::cluster(check, now).await.map_err(with_key)?;
            summary = match cluster.write_quorum {
                Some(n) => format!("MinIO has write quorum ({n} drives per erasure set)"),
                None => "MinIO has write quorum".to_owned(),
            };
            if let Some(n) = cluster.healing_drives {
                summary.push_str(&format!(", {n} drives healing"));
            }
            minio.extend(cluster.details());
            if full && config.maintenance {
                let safe = health::maintenance_safe(check, now)
                    .await
                    .map_err(with_key)?;
                if !safe {
                    summary.push_str(", but this node cannot be taken down without losing it");
                }
                minio.push((detail::MAINTENANCE_SAFE, json!(safe)));
            }
            summary.push_str("; ");
        }
        let proved = bucket::prove(check, &keys, &config, now)
            .await
            .map_err(|r| {
                let mut r = with_key(r);
                for (key, value) in &minio {
                    r = r.with_detail(key, value.clone());
                }
                r
            })?;
        let mut result = with_key(check.passed(format!(
            "{summary}access key {} may use bucket {} ({}, {})",
            keys.access_key_id, config.bucket, proved.by, config.region
        )));
        for (key, value) in minio.into_iter().chain(bucket::details(&proved)) {
            result = result.with_detail(key, value);
        }
        Ok(result)
    }
}

#[async_trait]
impl IntegrationConnector for S3Connector {
    fn provider(&self) -> Provider {
        Provider::MinIo
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new([Capability::TestConnection, Capability::HealthCheck])
    }

    async fn validate_config(&self, configuration: &Configuration) -> Result<()> {
        S3Config::from_configuration(configuration)
            .map(|_| ())
            .map_err(Error::from)
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "minio", action = "test_connection"))]
    async fn test_connection(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        match self.steps(&check, true).await {
            Ok(r) | Err(r) => r,
        }
    }

    #[instrument(skip_all, fields(integration_id = %ctx.integration.id, tenant_id = %ctx.integration.tenant_id, provider = "minio", action = "check_health"))]
    async fn check_health(&self, ctx: &ConnectorContext) -> CheckResult {
        let check = Check::start(&self.http, ctx);
        match self.steps(&check, false).await {
            Ok(r) | Err(r) => r,
        }
    }

    fn findings(&self, integration: &Integration, result: &CheckResult) -> Vec<Finding> {
        findings::for_result(integration, result)
    }
}
