//! MinIO's health probes (`/minio/health/*`): unauthenticated, no body, decided on the status
//! and MinIO's `X-Minio-*` headers.

use pathops_core::{CheckResult, FailureCode};
use reqwest::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::answer::Evidence;
use super::detail;
use crate::check::{Check, http_failure_message};
use crate::http::{HttpRequest, HttpResponse, status};

type Step<T> = Result<T, CheckResult>;

/// What `/minio/health/cluster` reported when it answered 200.
#[derive(Debug, Clone, Default)]
pub(super) struct Cluster {
    /// `X-Minio-Write-Quorum`: drives of each erasure set that must be online for writes.
    pub(super) write_quorum: Option<u64>,
    /// `X-Minio-Storage-Class-Defaults`: the node runs on the default storage class.
    pub(super) storage_class_defaults: Option<bool>,
    /// `X-Minio-Healing-Drives`: drives being healed (absent when none).
    pub(super) healing_drives: Option<u64>,
}

impl Cluster {
    fn read(response: &HttpResponse) -> Self {
        let number = |name: &str| response.header(name).and_then(|v| v.trim().parse().ok());
        Self {
            write_quorum: number("x-minio-write-quorum"),
            storage_class_defaults: response
                .header("x-minio-storage-class-defaults")
                .and_then(|v| v.trim().parse().ok()),
            healing_drives: number("x-minio-healing-drives").filter(|n| *n > 0),
        }
    }

    /// The details a result carries.
    pub(super) fn details(&self) -> [(&'static str, Value); 3] {
        [
            (detail::WRITE_QUORUM, json!(self.write_quorum)),
            (
                detail::STORAGE_CLASS_DEFAULTS,
                json!(self.storage_class_defaults),
            ),
            (
                detail::HEALING_DRIVES,
                json!(self.healing_drives.unwrap_or(0)),
            ),
        ]
    }
}

/// What `X-Minio-Server-Status` says, in words (`cmd/healthcheck-handler.go`).
fn server_status_meaning(status: &str) -> &'static str {
    match status {
        "offline" => "its object layer is not initialised yet",
        "bucket-metadata-offline" => "it is still loading bucket metadata",
        "iam-offline" => "its IAM subsystem is still initialising",
        _ => "it reports an unknown server status",
    }
}

/// `X-Minio-Server-Status`, when MinIO sent one (only while it is starting).
pub(super) fn server_status(response: &HttpResponse) -> Option<String> {
    response
        .header("x-minio-server-status")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic()))
}

fn not_minio(check: &Check<'_>, path: &str) -> CheckResult {
    check
        .failed(
            FailureCode::InvalidResponse,
            format!(
                "GET {path} answered 404: not a MinIO server, or a proxy that does not route \
                 /minio/health; for another S3 implementation set `flavor` to `s3`"
            ),
        )
        .with_detail(detail::PROBLEM, "not_minio")
}

fn other(
    check: &Check<'_>,
    path: &str,
    response: &HttpResponse,
    now: OffsetDateTime,
) -> CheckResult {
    let code = status::default_failure(response.status, &response.headers, now)
        .unwrap_or(FailureCode::InvalidResponse);
    check.failed(code, http_failure_message(&format!("GET {path}"), response))
}

async fn probe(check: &Check<'_>, path: &str) -> Step<HttpResponse> {
    let url = check.ctx.integration.base_url.join(path);
    check.send(HttpRequest::new(Method::GET, url)).await
}

/// `GET /minio/health/live`: the process is up. 503 (or 429 on AIStor) means its request
/// queue is over capacity. Returns `X-Minio-Server-Status` (MinIO answers 200 with
/// `offline` while its object layer starts).
pub(super) async fn live(check: &Check<'_>, now: OffsetDateTime) -> Step<Option<String>> {
    const PATH: &str = "/minio/health/live";
    let response = probe(check, PATH).await?;
    match response.status.as_u16() {
        200..=299 => Ok(server_status(&response)),
        404 => Err(not_minio(check, PATH)),
        429 => Err(other(check, PATH, &response, now)),
        503 => Err(check
            .failed(
                FailureCode::Unhealthy,
                "GET /minio/health/live answered 503: MinIO is up but overloaded (its request \
                 queue is over capacity)",
            )
            .with_detail(detail::MINIO_HEALTH, "overloaded")),
        _ => Err(other(check, PATH, &response, now)),
    }
}

/// `GET /minio/health/ready`: ready to serve, its KMS and etcd (when configured) reachable.
/// Any error status is the failing dependency's, or 503 when overloaded: the server is not
/// ready.
pub(super) async fn ready(check: &Check<'_>, now: OffsetDateTime) -> Step<()> {
    const PATH: &str = "/minio/health/ready";
    let response = probe(check, PATH).await?;
    match response.status.as_u16() {
        200..=299 => Ok(()),
        404 => Err(not_minio(check, PATH)),
        429 => Err(other(check, PATH, &response, now)),
        code => {
            let evidence = Evidence::from_response(&response);
            let why = evidence.code.map(|c| format!(" ({c})")).unwrap_or_default();
            Err(check
                .failed(
                    FailureCode::Unhealthy,
                    format!(
                        "GET /minio/health/ready answered {code}{why}: MinIO is not ready: its \
                         KMS or etcd is unreachable, or it is overloaded"
                    ),
                )
                .with_detail(detail::MINIO_HEALTH, "not_ready"))
        }
    }
}

/// The failure of a cluster probe that answered 503: still starting (named by
/// `X-Minio-Server-Status`), else no write quorum.
fn no_quorum(check: &Check<'_>, path: &str, response: &HttpResponse) -> CheckResult {
    let cluster = Cluster::read(response);
    if let Some(state) = server_status(response) {
        return check
            .failed(
                FailureCode::Unhealthy,
                format!(
                    "GET {path} answered 503 with X-Minio-Server-Status: {state}: MinIO is \
                     starting: {}",
                    server_status_meaning(&state)
                ),
            )
            .with_detail(detail::MINIO_HEALTH, "initialising")
            .with_detail(detail::SERVER_STATUS, state);
    }
    let quorum = match cluster.write_quorum {
        Some(n) => format!("it needs {n} drives online in each erasure set to accept writes"),
        None => "it did not say its write quorum".to_owned(),
    };
    let healing = match cluster.healing_drives {
        Some(n) => format!("; {n} drives are healing"),
        None => String::new(),
    };
    let mut result = check
        .failed(
            FailureCode::Unhealthy,
            format!("GET {path} answered 503: MinIO has no write quorum ({quorum}{healing})"),
        )
        .with_detail(detail::MINIO_HEALTH, "no_write_quorum");
    for (key, value) in cluster.details() {
        result = result.with_detail(key, value);
    }
    result
}

/// `GET /minio/health/cluster`: this node sees write quorum (200); 503 without it, or with
/// `X-Minio-Server-Status` while starting.
pub(super) async fn cluster(check: &Check<'_>, now: OffsetDateTime) -> Step<Cluster> {
    const PATH: &str = "/minio/health/cluster";
    let response = probe(check, PATH).await?;
    match response.status.as_u16() {
        200..=299 => Ok(Cluster::read(&response)),
        404 => Err(not_minio(check, PATH)),
        // Not asked for (no `?maintenance=true`), but the same verdict if a proxy adds it.
        503 | 412 => Err(no_quorum(check, PATH, &response)),
        _ => Err(other(check, PATH, &response, now)),
    }
}

/// `GET /minio/health/cluster?maintenance=true`: whether write quorum survives taking this
/// node down (200) or not (412). A 503 is the cluster's own lack of quorum.
pub(super) async fn maintenance_safe(check: &Check<'_>, now: OffsetDateTime) -> Step<bool> {
    const PATH: &str = "/minio/health/cluster?maintenance=true";
    let response = probe(check, PATH).await?;
    match response.status.as_u16() {
        200..=299 => Ok(true),
        412 => Ok(false),
        404 => Err(not_minio(check, PATH)),
        503 => Err(no_quorum(check, PATH, &response)),
        _ => Err(other(check, PATH, &response, now)),
    }
}
